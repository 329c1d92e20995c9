#!/usr/bin/env node
// Where a whole `keepalived-ts -t -f FILE` process spends its time, on the generated 52,003-line
// file: spawns fresh processes (breakdown-child.cjs) that run the config test's steps one by one with
// time marks (Node start-up, loading the -t code, preprocess + parse, keyword checks + model, report,
// exit) and prints the median of each step. Preprocess and parse run interleaved (the preprocessor
// streams lines into the parser), as in loadConfig. The code is loaded as the bin loads it: the
// bundle dist/keepalived-ts.cjs when built, else dist/main.js; exit is timed both as Node ends by
// itself and with process.exit() once the result is out (what the bin does for -t). Needs
// `npm run build`.
// BENCH_RUNS (default 9) fresh processes; BENCH_FILE to time another file; NODE_FLAGS for node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-breakdown-'));
try {
  let file = process.env.BENCH_FILE;
  if (!file) {
    const { generate } = await import(join(here, 'generate.mjs'));
    file = join(dir, 'keepalived.conf');
    writeFileSync(file, generate());
  }
  const steps = [
    ['node start-up (exec to bootstrap complete)', 'spawn', 'bootstrapComplete'],
    ['entry script reached', 'bootstrapComplete', 'entry'],
    ['import of the -t module graph', 'entry', 'imported'],
    ['preprocess + parse (streamed)', 'ready', 'parsed'],
    ['keyword checks + model + freeze', 'parsed', 'built'],
    ['report + exit code', 'built', 'reported'],
    ['exit (event loop drain, teardown)', 'reported', 'end'],
    // less the bench's own load of the stage modules (between 'imported' and 'ready')
    ['whole process (sum of the above)', 'spawn', 'end'],
  ];
  const entry = existsSync(join(root, 'dist/keepalived-ts.cjs')) ? 'keepalived-ts.cjs' : 'main.js';
  for (const mode of (process.env.MODES ?? 'natural,exit-now').split(',')) {
    const rows = steps.map(() => []);
    for (let i = 0; i < RUNS; i++) {
      const spawn = performance.timeOrigin + performance.now();
      const r = spawnSync(
        process.execPath,
        [
          ...(process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean),
          join(here, 'breakdown-child.cjs'),
          file,
          mode,
        ],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      if (r.status === null || !r.stdout)
        throw new Error(`breakdown-child.cjs failed: ${r.error ?? r.signal}`);
      const m = { ...JSON.parse(r.stdout), spawn, end: performance.timeOrigin + performance.now() };
      for (const [j, [, a, b]] of steps.entries())
        rows[j]?.push(m[b] - m[a] - (a === 'spawn' && b === 'end' ? m.ready - m.imported : 0));
    }
    console.log(`whole -t process, steps (median of ${RUNS} fresh processes; dist/${entry}; exit: ${mode})`);
    for (const [j, [name]] of steps.entries())
      console.log(`  ${name.padEnd(46)} ${median(rows[j] ?? []).toFixed(1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
