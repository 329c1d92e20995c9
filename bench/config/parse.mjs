#!/usr/bin/env node
// Config parse + validate on a generated 50,000-line keepalived.conf (1,000 vrrp_instances,
// 1,000 virtual servers x 10 real servers), side by side with Debian's `keepalived -t -f` on the
// same file. Prints our first load in a fresh process (cold JIT), our steady-state load (median after
// warm-up loads), our whole `keepalived-ts -t` process, keepalived -t (and on a three-line file, its
// own start-up), the ratios and which targets are met; writes bench/results/config.json.
// Needs `npm run build` first (imports dist/). Target: under 1 s and faster than keepalived.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { loadConfig, sysfsInterfaceExists, systemScriptEnv } = await import(join(root, 'dist/config/load.js'));
const { configTestExitCode, DiagnosticSink } = await import(join(root, 'dist/config/diagnostics.js'));
const { preprocess } = await import(join(root, 'dist/config/preprocess.js'));
const { parseLines } = await import(join(root, 'dist/config/parse.js'));
const { ConfigBuilder } = await import(join(root, 'dist/config/check.js'));
const { generate } = await import(join(here, 'generate.mjs'));
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
/** Loads after the first that are not counted in the steady-state median (JIT tiers still settling). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const dir = mkdtempSync(join(tmpdir(), 'kt-bench-config-'));
try {
  const file = join(dir, 'keepalived.conf');
  const text = generate();
  writeFileSync(file, text);
  const lines = text.split('\n').length - 1;

  // ours, in process: preprocess + parse + keyword checks + defaults + freeze, with the config
  // test's interface and script checks
  const ours = [];
  let coldMs = 0;
  let oursExit = -1;
  let counts = {};
  for (let i = 0; i < RUNS + 1 + WARMUP; i++) {
    const t0 = process.hrtime.bigint();
    const { config, diagnostics } = loadConfig(file, {
      configId: 'bench',
      interfaceExists: sysfsInterfaceExists,
      scripts: systemScriptEnv,
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i > WARMUP) ours.push(ms);
    else if (i === 0) coldMs = ms; // the first run also compiles the code (cold JIT)
    oursExit = configTestExitCode(diagnostics);
    counts = {
      vrrpInstances: config.vrrpInstances.length,
      virtualServers: config.virtualServers.length,
      realServers: config.virtualServers.reduce((n, vs) => n + vs.realServers.length, 0),
    };
  }

  // where the in-process time goes: the three stages of loadConfig run one by one (warm)
  const phases = { preprocessMs: [], parseMs: [], buildMs: [] };
  for (let i = 0; i < RUNS; i++) {
    const diags = new DiagnosticSink();
    const t0 = process.hrtime.bigint();
    const pp = preprocess(file, { configId: 'bench', allConfig: false }, diags);
    const t1 = process.hrtime.bigint();
    const ast = parseLines(pp.lines, diags);
    const t2 = process.hrtime.bigint();
    new ConfigBuilder(diags, {
      configId: 'bench',
      files: pp.files,
      interfaceExists: sysfsInterfaceExists,
      scripts: systemScriptEnv,
    }).build(ast);
    const t3 = process.hrtime.bigint();
    phases.preprocessMs.push(Number(t1 - t0) / 1e6);
    phases.parseMs.push(Number(t2 - t1) / 1e6);
    phases.buildMs.push(Number(t3 - t2) / 1e6);
  }
  const phaseMedians = Object.fromEntries(
    Object.entries(phases).map(([k, v]) => [k, Number(median(v).toFixed(1))]),
  );

  // heap the loaded model keeps alive (what a running daemon holds for this file)
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const kept = loadConfig(file, { configId: 'bench' });
  gc();
  const modelHeapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  if (kept.config.vrrpInstances.length !== counts.vrrpInstances) throw new Error('model lost');

  // whole processes, interleaved so both see the same machine load:
  // `node bin/keepalived-ts.js -t -f FILE` (Node start-up included) and keepalived -t -f FILE
  const oursCli = [];
  const ka = [];
  let oursCliExit = null;
  let kaExit = null;
  const KA = '/usr/sbin/keepalived';
  const haveKa = existsSync(KA);
  const kaEmpty = [];
  const emptyFile = join(dir, 'empty.conf');
  writeFileSync(emptyFile, 'global_defs {\n    router_id bench\n}\n');
  for (let i = 0; i < RUNS; i++) {
    let t0 = process.hrtime.bigint();
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/keepalived-ts.js'), '-t', '-f', file, '-i', 'bench'],
      {
        stdio: 'ignore',
      },
    );
    oursCli.push(Number(process.hrtime.bigint() - t0) / 1e6);
    oursCliExit = r.status;
    if (haveKa) {
      t0 = process.hrtime.bigint();
      const k = spawnSync(KA, ['-t', '-f', file, '-i', 'bench'], { stdio: 'ignore', timeout: 120_000 });
      ka.push(Number(process.hrtime.bigint() - t0) / 1e6);
      kaExit = k.status;
      // keepalived's own start-up and exit: -t on a three-line file
      t0 = process.hrtime.bigint();
      spawnSync(KA, ['-t', '-f', emptyFile, '-i', 'bench'], { stdio: 'ignore', timeout: 120_000 });
      kaEmpty.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }

  const oursMs = median(ours);
  const cliMs = median(oursCli);
  const kaMs = ka.length ? median(ka) : null;
  const kaEmptyMs = kaEmpty.length ? median(kaEmpty) : null;
  const targets = {
    parseValidateUnder1s: oursMs < 1000 && coldMs < 1000,
    steadyStateFasterThanKeepalived: kaMs === null ? null : oursMs < kaMs,
    firstLoadFasterThanKeepalived: kaMs === null ? null : coldMs < kaMs,
    wholeProcessUnder1s: cliMs < 1000,
    wholeProcessFasterThanKeepalived: kaMs === null ? null : cliMs < kaMs,
  };
  const result = {
    lines,
    ...counts,
    runs: RUNS,
    warmupRuns: WARMUP,
    oursParseValidateMs: Number(oursMs.toFixed(1)),
    oursFirstRunMs: Number(coldMs.toFixed(1)),
    oursPhasesMs: phaseMedians,
    oursModelHeapMb: Number(modelHeapMb.toFixed(1)),
    oursCliMs: Number(cliMs.toFixed(1)),
    keepalivedMs: kaMs === null ? null : Number(kaMs.toFixed(1)),
    keepalivedEmptyConfigMs: kaEmptyMs === null ? null : Number(kaEmptyMs.toFixed(1)),
    ratioKeepalivedOverOursFirstLoad: kaMs === null ? null : Number((kaMs / coldMs).toFixed(2)),
    ratioKeepalivedOverOurs: kaMs === null ? null : Number((kaMs / oursMs).toFixed(2)),
    ratioKeepalivedOverOursCli: kaMs === null ? null : Number((kaMs / cliMs).toFixed(2)),
    oursExit,
    oursCliExit,
    keepalivedExit: kaExit,
    targets,
    node: process.version,
  };
  const yes = (b) => (b === null ? 'n/a (keepalived not installed)' : b ? 'MET' : 'NOT MET');
  console.log(
    `config: ${lines} lines, ${counts.vrrpInstances} vrrp_instances, ${counts.virtualServers} virtual servers, ${counts.realServers} real servers`,
  );
  console.log(
    `  (1) ours  first load in a fresh process (cold JIT: a daemon start):    ${result.oursFirstRunMs} ms  (exit ${oursExit})`,
  );
  console.log(
    `  (2) ours  steady state (median of ${RUNS} after ${WARMUP} warm-up loads: a reload): ${result.oursParseValidateMs} ms`,
  );
  console.log(
    `      stages (medians): preprocess ${phaseMedians.preprocessMs} ms, parse (line parser + nearley) ${phaseMedians.parseMs} ms, keyword checks + model ${phaseMedians.buildMs} ms`,
  );
  console.log(`      heap kept by the loaded model: ${result.oursModelHeapMb} MiB`);
  console.log(
    `  (3) ours  keepalived-ts -t (whole process, median):   ${result.oursCliMs} ms  (exit ${oursCliExit})`,
  );
  if (ka.length) {
    console.log(
      `  (4) keepalived -t (whole process, median):             ${result.keepalivedMs} ms  (exit ${kaExit}); on a three-line file: ${result.keepalivedEmptyConfigMs} ms`,
    );
    console.log(
      `  ratio keepalived -t / ours: ${result.ratioKeepalivedOverOursFirstLoad} (first load), ${result.ratioKeepalivedOverOurs} (steady state), ${result.ratioKeepalivedOverOursCli} (whole process); > 1 means ours is faster`,
    );
  } else console.log('  keepalived not installed: no comparison');
  console.log('  targets (issue 4: under 1 s and faster than keepalived):');
  console.log(`    parse+validate under 1 s (first load and steady):  ${yes(targets.parseValidateUnder1s)}`);
  console.log(
    `    first load faster than keepalived -t:              ${yes(targets.firstLoadFasterThanKeepalived)}`,
  );
  console.log(
    `    steady state faster than keepalived -t:            ${yes(targets.steadyStateFasterThanKeepalived)}`,
  );
  console.log(`    whole -t process under 1 s:                        ${yes(targets.wholeProcessUnder1s)}`);
  console.log(
    `    whole -t process faster than keepalived:           ${yes(targets.wholeProcessFasterThanKeepalived)}`,
  );
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'config.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
