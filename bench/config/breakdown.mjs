#!/usr/bin/env node
// Where a whole `keepalived-ts -t -f FILE` process spends its time, on the generated 52,003-line
// file: spawns fresh processes that run the config test's steps one by one with time marks (Node
// start-up, import of the -t module graph, preprocess + parse, keyword checks + model, report, exit)
// and prints the median of each step. Preprocess and parse run interleaved (the preprocessor streams
// lines into the parser), as in loadConfig. The module graph is imported as the bin does: the bundle
// dist/keepalived-ts.mjs when built, else dist/main.js; exit is timed both as Node ends by itself
// and with process.exit() once the result is out (what the bin does for -t). Needs `npm run build`.
// BENCH_RUNS (default 9) fresh processes; BENCH_FILE to time another file; NODE_FLAGS for node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

if (process.argv[2] === '--child') {
  // one fresh process: the steps of runCli's config test, each after a time mark
  const marks = { start: performance.timeOrigin };
  const mark = (name) => {
    marks[name] = performance.timeOrigin + performance.now();
  };
  marks.bootstrapComplete = performance.timeOrigin + performance.nodeTiming.bootstrapComplete;
  mark('entry');
  await import(pathToFileURL(join(root, 'dist', process.argv[5] ?? 'main.js')).href);
  mark('imported');
  const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  const { LineParser } = await dist('config/parse.js');
  const { preprocessInto } = await dist('config/preprocess.js');
  const { ConfigBuilder } = await dist('config/check.js');
  const { DiagnosticSink, configTestExitCode, formatDiagnostic } = await dist('config/diagnostics.js');
  const { sysfsInterfaceExists, systemScriptEnv } = await dist('config/load.js');
  mark('ready');
  const diags = new DiagnosticSink();
  const parser = new LineParser(diags);
  const files = preprocessInto(process.argv[3], { configId: 'bench', allConfig: false }, diags, parser);
  const ast = parser.end();
  mark('parsed');
  const config = new ConfigBuilder(diags, {
    configId: 'bench',
    files,
    interfaceExists: sysfsInterfaceExists,
    scripts: systemScriptEnv,
  }).build(ast);
  Object.freeze(config);
  mark('built');
  const text = diags.list.map((d) => `${formatDiagnostic(d)}\n`).join('');
  if (text) process.stderr.write(text);
  process.exitCode = configTestExitCode(diags.list);
  mark('reported');
  process.stdout.write(JSON.stringify(marks));
  if (process.argv[4] === 'exit-now') process.exit();
} else {
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
      ['whole process', 'spawn', 'end'],
    ];
    const entry = existsSync(join(root, 'dist/keepalived-ts.mjs')) ? 'keepalived-ts.mjs' : 'main.js';
    for (const mode of (process.env.MODES ?? 'natural,exit-now').split(',')) {
      const rows = steps.map(() => []);
      for (let i = 0; i < RUNS; i++) {
        const spawn = performance.timeOrigin + performance.now();
        const r = spawnSync(
          process.execPath,
          [
            ...(process.env.NODE_FLAGS ?? '').split(' ').filter(Boolean),
            fileURLToPath(import.meta.url),
            '--child',
            file,
            mode,
          ],
          {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          },
        );
        const m = { ...JSON.parse(r.stdout), spawn, end: performance.timeOrigin + performance.now() };
        for (const [j, [, a, b]] of steps.entries()) rows[j]?.push(m[b] - m[a]);
      }
      console.log(
        `whole -t process, steps (median of ${RUNS} fresh processes; dist/${entry}; exit: ${mode})`,
      );
      for (const [j, [name]] of steps.entries())
        console.log(`  ${name.padEnd(46)} ${median(rows[j] ?? []).toFixed(1)} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
