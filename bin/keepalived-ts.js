#!/usr/bin/env node
// Entry point installed as `keepalived-ts`: runs the compiled daemon (built by `npm ci`).
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`keepalived-ts: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
