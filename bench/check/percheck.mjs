#!/usr/bin/env node
// Cost of one health check in the checker worker, without the daemon and without IPVS:
// PERCHECK_SERVERS real servers (default 2,000: half HTTP_GET with digest, half TCP_CHECK, delay_loop 1,
// retry 1, connect_timeout 2) served by fixtures/backends.mjs, checked for PERCHECK_SECONDS (default 20)
// by the checker worker_thread exactly as the daemon runs it (worker.ts serveScheduler over the
// worker's parentPort, the real runners, the system clock).
// Everything runs inside one network namespace this script creates (real servers on 198.51.100.x/32
// addresses of its loopback); the namespace and the backends are removed on exit.
// Reports checks completed per second (total, and by kind as counted by the backends), CPU µs per
// check of the worker thread (/proc/thread-self/schedstat: ns on CPU), the process's CPU, RSS and the
// worker's V8 heap. Writes bench/results/percheck.json.
// The sources are compiled into a private directory (as checkers.mjs does), so this measures the
// working tree. Env: PERCHECK_SERVERS=2000 PERCHECK_SECONDS=20 PERCHECK_WARMUP=3 (s before the window)
//   PERCHECK_CONCURRENCY=256  PERCHECK_YOUNG_MB (the worker's young generation limit; default the daemon's)
//   PERCHECK_CPU_PROF=DIR (write a --cpu-prof profile of the worker there)
//   PERCHECK_HEAP_PROF=FILE (sampled allocations over the window, those freed by major GCs included)
//   PERCHECK_HEAP_SNAPSHOT=FILE (a heap snapshot of the worker at the end of the window)
//   PERCHECK_PORTS=20 (ports per kind and address: more for more servers, up to 240 addresses)
//   PERCHECK_KINDS=http,tcp (check kinds; one kind alone gives its own cost per check)
//   PERCHECK_SRC (another tree to compile, holding src/ and package.json, e.g. `git archive BASE src
//   package.json` unpacked, for a before/after pair)
//   PERCHECK_NODE_FLAGS (node/V8 flags for the measuring process, e.g. --trace-gc)
//   PERCHECK_LABEL (a name stored with the figures)  PERCHECK_DIST (use an already compiled tree)
// Needs root (network namespace).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const env = process.env;
const SERVERS = Number(env.PERCHECK_SERVERS ?? 2000);
const SECONDS = Number(env.PERCHECK_SECONDS ?? 20);
const WARMUP = Number(env.PERCHECK_WARMUP ?? 3);
const CONCURRENCY = Number(env.PERCHECK_CONCURRENCY ?? 256);
const PORTS = Number(env.PERCHECK_PORTS ?? 20); // per kind and address
const KINDS = (env.PERCHECK_KINDS ?? 'http,tcp').split(',').filter((k) => k === 'http' || k === 'tcp');
const ADDRS = Math.ceil(SERVERS / PORTS / Math.max(1, KINDS.length));
if (ADDRS > 240) throw new Error(`PERCHECK_SERVERS ${SERVERS}: at most ${240 * PORTS * KINDS.length}`);
const HTTP_BASE = 8000;
const TCP_BASE = 9000;
const r3 = (x) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000);
const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });

if (env.PERCHECK_INNER) await inner();
else outer();

/** Compiles the worker and everything it imports into a private directory. */
function build() {
  const src = env.PERCHECK_SRC ?? root;
  const dir = mkdtempSync(join(os.tmpdir(), 'kt-percheck-'));
  const dist = join(dir, 'dist');
  // Files others are editing may not type-check at this moment; tsc still emits, so check the output.
  spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
      ...['--skipLibCheck', '--types', 'node', '--outDir', dist, '--rootDir', src],
      join(src, 'src/check/worker.ts'),
    ],
    { stdio: 'pipe' },
  );
  readFileSync(join(dist, 'src/check/worker.js')); // throws when the build did not produce it
  symlinkSync(join(root, 'native'), join(dist, 'native'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return { dir, dist };
}

function outer() {
  const id = randomBytes(3).toString('hex');
  const ns = `ktpc${id}`;
  const b = env.PERCHECK_DIST ? { dir: null, dist: env.PERCHECK_DIST } : build();
  let code = 1;
  try {
    sh('ip', 'netns', 'add', ns);
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    for (let i = 0; i < ADDRS; i++) sh('ip', '-n', ns, 'addr', 'add', `198.51.100.${10 + i}/32`, 'dev', 'lo');
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        ...(env.PERCHECK_NODE_FLAGS ?? '').split(' ').filter(Boolean),
        fileURLToPath(import.meta.url),
      ],
      {
        stdio: 'inherit',
        env: { ...env, PERCHECK_INNER: '1', PERCHECK_DIST: b.dist },
      },
    );
    code = r.status ?? 1;
  } finally {
    try {
      sh('ip', 'netns', 'del', ns);
    } catch {}
    if (b.dir) rmSync(b.dir, { recursive: true, force: true });
  }
  process.exitCode = code;
}

/** The worker's entry: the daemon's serveScheduler on parentPort, plus a `bench` probe it never sees. */
function entrySource(dist) {
  const worker = pathToFileURL(join(dist, 'src/check/worker.js')).href;
  return `import { readFileSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import v8 from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { serveScheduler } from ${JSON.stringify(worker)};
const listeners = [];
let session;
parentPort.on('message', (m) => {
  if (m?.type === 'bench-heapprof') {
    // sampled allocations that outlived a scavenge and died in old space (what makes the heap grow)
    if (!session) {
      session = new inspector.Session();
      session.connect();
      session.post('HeapProfiler.enable');
      session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true });
      parentPort.postMessage({ type: 'bench' });
    } else session.post('HeapProfiler.stopSampling', (err, r) => {
      writeFileSync(m.file, JSON.stringify(err ?? r.profile));
      parentPort.postMessage({ type: 'bench', file: m.file });
    });
    return;
  }
  if (m?.type === 'bench-snapshot') { parentPort.postMessage({ type: 'bench', file: v8.writeHeapSnapshot(m.file) }); return; }
  if (m?.type !== 'bench') { for (const fn of listeners) fn(m); return; }
  const cpuNs = Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
  const h = v8.getHeapStatistics();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1024)]));
  parentPort.postMessage({ type: 'bench', cpuNs, heapUsed: h.used_heap_size, heapTotal: h.total_heap_size,
    external: process.memoryUsage().external, spacesKiB: spaces });
});
serveScheduler({ postMessage: (m) => parentPort.postMessage(m), on: (_e, fn) => listeners.push(fn) }, workerData);
`;
}

async function inner() {
  const dist = env.PERCHECK_DIST;
  const { Worker } = await import('node:worker_threads');
  const backends = spawn(
    process.execPath,
    [join(here, 'fixtures/backends.mjs'), String(HTTP_BASE), String(TCP_BASE), String(PORTS)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const kill = () => {
    try {
      process.kill(backends.pid, 'SIGKILL');
    } catch {}
  };
  process.on('exit', kill);
  const lines = readline.createInterface({ input: backends.stdout })[Symbol.asyncIterator]();
  if ((await lines.next()).value !== 'ready') throw new Error('backends did not start');
  let served = { at: 0, http: 0, tcp: 0 };
  (async () => {
    for await (const l of { [Symbol.asyncIterator]: () => lines }) {
      const m = /^count (\d+) (\d+) (\d+)$/.exec(l);
      if (m) served = { at: Number(m[1]), http: Number(m[2]), tcp: Number(m[3]) };
    }
  })();

  const digest = createHash('md5').update('ok\n'.repeat(100)).digest('hex');
  const timing = { delayLoop: 1, retry: 1, delayBeforeRetry: 1, alpha: false, connectTimeout: 2 };
  const servers = [];
  for (let a = 0; a < ADDRS && servers.length < SERVERS; a++)
    for (let p = 0; p < PORTS && servers.length < SERVERS; p++) {
      const ip = `198.51.100.${10 + a}`;
      if (KINDS.includes('http'))
        servers.push({
          id: `${ip}:${HTTP_BASE + p}`,
          weight: 1,
          checkers: [
            {
              kind: 'HTTP_GET',
              connectIp: ip,
              connectPort: HTTP_BASE + p,
              urls: [{ path: '/', digest }],
              ...timing,
            },
          ],
        });
      if (KINDS.includes('tcp') && servers.length < SERVERS)
        servers.push({
          id: `${ip}:${TCP_BASE + p}`,
          weight: 1,
          checkers: [{ kind: 'TCP_CHECK', connectIp: ip, connectPort: TCP_BASE + p, ...timing }],
        });
    }

  const entry = join(dirname(dist), 'percheck-entry.mjs');
  writeFileSync(entry, entrySource(dist));
  const execArgv = env.PERCHECK_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${env.PERCHECK_CPU_PROF}`] : [];
  // the daemon's limits (CheckerWorker), unless overridden for an experiment
  const { CHECKER_RESOURCE_LIMITS } = await import(pathToFileURL(join(dist, 'src/check/worker.js')).href);
  const resourceLimits = { ...(CHECKER_RESOURCE_LIMITS ?? {}) };
  if (env.PERCHECK_YOUNG_MB) resourceLimits.maxYoungGenerationSizeMb = Number(env.PERCHECK_YOUNG_MB);
  const w = new Worker(entry, { workerData: { maxConcurrent: CONCURRENCY }, execArgv, resourceLimits });
  let down = 0;
  let up = 0;
  const waiters = { stats: [], bench: [] };
  w.on('message', (m) => {
    if (m.type === 'event') m.ev.up ? up++ : down++;
    else if (m.type === 'stats' || m.type === 'bench') waiters[m.type].shift()?.(m);
    else if (m.type === 'error') console.error('worker error', m);
  });
  const ask = (type) =>
    new Promise((r) => {
      waiters[type].push(r);
      w.postMessage({ type });
    });
  const sample = async () => {
    const [s, b] = await Promise.all([ask('stats'), ask('bench')]);
    return { t: performance.now(), cpu: process.cpuUsage(), served: { ...served }, stats: s.stats, bench: b };
  };

  for (const s of servers) w.postMessage({ type: 'add', rs: s });
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const s0 = await sample();
  const heapProf = async () => {
    const done = new Promise((r) => waiters.bench.push(r));
    w.postMessage({ type: 'bench-heapprof', file: env.PERCHECK_HEAP_PROF });
    return done;
  };
  if (env.PERCHECK_HEAP_PROF) await heapProf();
  const rss = [];
  const heap = [];
  const memTimer = setInterval(async () => {
    rss.push(process.memoryUsage().rss);
    heap.push((await ask('bench')).heapUsed);
  }, 1000);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(memTimer);
  const s1 = await sample();
  if (env.PERCHECK_HEAP_PROF) console.error(`heap profile ${(await heapProf()).file}`);
  if (env.PERCHECK_HEAP_SNAPSHOT) {
    const done = new Promise((r) => waiters.bench.push(r));
    w.postMessage({ type: 'bench-snapshot', file: env.PERCHECK_HEAP_SNAPSHOT });
    console.error(`heap snapshot ${(await done).file}`);
  }
  const downAtEnd = down;
  w.postMessage({ type: 'stop' });
  await new Promise((r) => {
    w.on('message', (m) => m.type === 'stopped' && r());
  });
  await w.terminate();
  kill();

  const span = (s1.t - s0.t) / 1000;
  const attempts = s1.stats.attempts - s0.stats.attempts;
  const servedSpan = (s1.served.at - s0.served.at) / 1000;
  const workerCpuUs = (s1.bench.cpuNs - s0.bench.cpuNs) / 1000;
  const procCpuUs = s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system;
  const failCodes = {};
  for (const [k, v] of Object.entries(s1.stats.failCodes)) failCodes[k] = v - (s0.stats.failCodes[k] ?? 0);
  const mib = (x) => r3(x / 2 ** 20);
  const result = {
    bench: 'check-percheck',
    label: env.PERCHECK_LABEL ?? null,
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavgAtEnd: os.loadavg().map(r3),
    realServers: servers.length,
    kinds: {
      HTTP_GET: servers.filter((x) => x.checkers[0].kind === 'HTTP_GET').length,
      TCP_CHECK: servers.filter((x) => x.checkers[0].kind === 'TCP_CHECK').length,
    },
    delayLoopS: 1,
    maxConcurrent: CONCURRENCY,
    resourceLimits,
    windowS: r3(span),
    checksPerS: r3(attempts / span),
    checksPerSByKind:
      servedSpan > 0
        ? {
            HTTP_GET: r3((s1.served.http - s0.served.http) / servedSpan),
            TCP_CHECK: r3((s1.served.tcp - s0.served.tcp) / servedSpan),
          }
        : null,
    failures: s1.stats.failures - s0.stats.failures,
    failCodes,
    downEvents: downAtEnd,
    upEvents: up,
    workerCpuUsPerCheck: r3(workerCpuUs / attempts),
    workerCpuShare: r3(workerCpuUs / 1e6 / span),
    processCpuUsPerCheck: r3(procCpuUs / attempts),
    rssMiB: { max: mib(Math.max(...rss)), end: mib(rss.at(-1) ?? Number.NaN) },
    workerHeapUsedMiB: { max: mib(Math.max(...heap)), end: mib(heap.at(-1) ?? Number.NaN) },
    workerHeapTotalMiB: mib(s1.bench.heapTotal),
    /** heap used every 5 s: a leak shows as a rising floor */
    workerHeapUsedMiBEvery5s: heap.filter((_, i) => i % 5 === 4).map(mib),
    workerHeapSpacesKiB: s1.bench.spacesKiB,
  };
  const file = join(root, 'bench/results/percheck.json');
  mkdirSync(dirname(file), { recursive: true });
  let runs = [];
  try {
    runs = JSON.parse(readFileSync(file, 'utf8')).runs ?? [];
  } catch {
    // no previous results
  }
  // keeps the last runs (e.g. a labelled before/after pair) next to this one
  runs = [...runs.slice(-9), result];
  writeFileSync(file, `${JSON.stringify({ latest: result, runs }, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
