#!/usr/bin/env node
// Entry point installed as `keepalived-ts`: runs the compiled daemon (built by `npm ci`).
// dist/keepalived-ts.mjs is the one-file bundle of what -t, --dump-config, -v, -h and --signum need
// (scripts/build-bundle.mjs); without it, or for daemon mode and genhash, dist/main.js runs as is.
import { statSync } from 'node:fs';

const argv = process.argv.slice(2);
const bundle = new URL('../dist/keepalived-ts.mjs', import.meta.url);

const fail = (err) => {
  process.stderr.write(`keepalived-ts: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
};

/** Waits until what was written to a stream has left the process (pipes and files are synchronous on Linux). */
const flushed = (stream) =>
  stream.writableLength === 0 ? undefined : new Promise((resolve) => stream.once('drain', resolve));

const mtime = (url) => statSync(url, { throwIfNoEntry: false })?.mtimeMs;

/** The bundle, unless missing or older than one of the dist/ files it was made from (tsc run alone). */
async function loadBundle() {
  const built = mtime(bundle);
  if (built === undefined) return undefined;
  const quick = await import(bundle.href);
  const stale = quick.bundledFrom.some(
    (f) => (mtime(new URL(`../dist/${f}`, import.meta.url)) ?? Infinity) > built,
  );
  return stale ? undefined : quick;
}

const run = async () => {
  const quick = await loadBundle();
  if (quick?.isOneShot(argv)) {
    const code = await quick.main(argv);
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    // nothing is left to do: do not wait for the compiler threads still optimising the loader
    process.exit(code);
  }
  const { isOneShot, main } = await import('../dist/main.js');
  const code = await main(argv);
  if (typeof code === 'number') process.exitCode = code;
  if (isOneShot(argv)) {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  }
};

run().catch(fail);
