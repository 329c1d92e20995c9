#!/usr/bin/env node
// 2,000 real servers (1,000 HTTP_GET with digest + 1,000 TCP_CHECK on 50 addresses × 40 ports in a
// namespace) checked every second for BENCH_CHECK_SECONDS (default 60) while a 1 s timer on the same
// Clock stands in for VRRP adverts. Reports the p99 deviation of that timer from its deadline,
// event-loop delay, CPU seconds per minute and RSS; writes bench/results/check.json.
// Needs root and `npm run build` (or KT_DIST pointing at a compiled tree).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.env.KT_DIST ?? join(here, '..', '..', 'dist');
const { Scheduler } = await import(pathToFileURL(join(dist, 'check', 'schedule.js')).href);
const { CheckerWorker } = await import(pathToFileURL(join(dist, 'check', 'worker.js')).href);
const { systemClock } = await import(pathToFileURL(join(dist, 'core', 'clock.js')).href);

const SECONDS = Number(process.env.BENCH_CHECK_SECONDS ?? 60);
const CONCURRENCY = Number(process.env.BENCH_CHECK_CONCURRENCY ?? 256);
const ADDRS = 50;
const PORTS = 20; // per kind: 20 HTTP + 20 TCP ports
const HTTP_BASE = 8000;
const TCP_BASE = 9000;
const id = randomBytes(3).toString('hex');
const ns = `ktbc${id}`;
const veth = `ktbc${id}h`;
const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });

let child;
function cleanup() {
  if (child?.pid) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  }
  try {
    sh('ip', 'netns', 'del', ns);
  } catch {}
  try {
    sh('ip', 'link', 'del', veth);
  } catch {}
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

sh('ip', 'netns', 'add', ns);
sh('ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
sh('ip', 'addr', 'add', '198.51.100.1/24', 'dev', veth);
sh('ip', 'link', 'set', veth, 'up');
sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
const addrs = [];
for (let i = 0; i < ADDRS; i++) {
  const a = `198.51.100.${10 + i}`;
  addrs.push(a);
  sh('ip', '-n', ns, 'addr', 'add', `${a}/24`, 'dev', 'eth0');
}
child = spawn(
  'ip',
  [
    'netns',
    'exec',
    ns,
    process.execPath,
    join(here, 'fixtures', 'backends.mjs'),
    String(HTTP_BASE),
    String(TCP_BASE),
    String(PORTS),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
if ((await lines.next()).value !== 'ready') throw new Error('backends did not start');

const digest = createHash('md5').update('ok\n'.repeat(100)).digest('hex');
const timing = { delayLoop: 1, retry: 1, delayBeforeRetry: 1, alpha: false, connectTimeout: 2 };
const servers = [];
for (const a of addrs)
  for (let p = 0; p < PORTS; p++) {
    servers.push({
      id: `${a}:${HTTP_BASE + p}`,
      weight: 1,
      checkers: [
        {
          kind: 'HTTP_GET',
          connectIp: a,
          connectPort: HTTP_BASE + p,
          urls: [{ path: '/', digest }],
          ...timing,
        },
      ],
    });
    servers.push({
      id: `${a}:${TCP_BASE + p}`,
      weight: 1,
      checkers: [{ kind: 'TCP_CHECK', connectIp: a, connectPort: TCP_BASE + p, ...timing }],
    });
  }

const pct = (arr, p) => {
  const s = [...arr].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

// The stand-in for VRRP adverts: a deadline timer on the same clock, as the VRRP runtime arms them.
function ticker(intervalUs, out) {
  let next = systemClock.now() + intervalUs;
  let handle;
  const tick = () => {
    out.push((systemClock.now() - next) / 1000);
    next += intervalUs;
    handle = systemClock.at(next, tick);
  };
  handle = systemClock.at(next, tick);
  return () => handle.cancel();
}

/** One run: 'main' runs the Scheduler in this thread, 'worker' in a worker_thread, 'idle' runs no checks. */
async function measure(mode) {
  let down = 0;
  const onEvent = (e) => {
    if (!e.up) down++;
  };
  const local = { attempts: 0, failures: 0, failCodes: {} };
  let runner;
  if (mode === 'idle') {
    // Baseline: no checks at all, to show the machine's own timer jitter under its current load.
    runner = { add: () => {}, stats: async () => ({ ...local }), stop: async () => {} };
  } else if (mode === 'main') {
    const sched = new Scheduler({
      clock: systemClock,
      maxConcurrent: CONCURRENCY,
      onEvent,
      onAttempt: (_rs, _i, r) => {
        local.attempts++;
        if (!r.ok) {
          local.failures++;
          local.failCodes[r.error.code] = (local.failCodes[r.error.code] ?? 0) + 1;
        }
      },
    });
    runner = { add: (s) => sched.add(s), stats: async () => ({ ...local }), stop: async () => sched.stop() };
  } else {
    const w = new CheckerWorker({ onEvent }, { maxConcurrent: CONCURRENCY });
    runner = { add: (s) => w.add(s), stats: () => w.stats(), stop: () => w.stop() };
  }
  const loadavgAtStart = os.loadavg().map(r3);
  const rss = [];
  const rssTimer = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
  for (const s of servers) runner.add(s);
  // The first delay_loop spreads the first checks (warmup); measure after it.
  await new Promise((r) => setTimeout(r, 2000));
  const s0 = await runner.stats();
  const devs = [];
  const fineDevs = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAdvert = ticker(1_000_000, devs);
  const stopFine = ticker(100_000, fineDevs);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  stopAdvert();
  stopFine();
  loop.disable();
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const s1 = await runner.stats();
  await runner.stop();
  clearInterval(rssTimer);
  const failCodes = {};
  for (const [k, v] of Object.entries(s1.failCodes)) failCodes[k] = v - (s0.failCodes[k] ?? 0);
  return {
    mode,
    loadavgAtStart,
    durationS: r3(elapsed),
    attempts: s1.attempts - s0.attempts,
    attemptsPerS: r3((s1.attempts - s0.attempts) / elapsed),
    failures: s1.failures - s0.failures,
    failCodes,
    downEvents: down,
    advert1s: {
      samples: devs.length,
      p99DeviationMs: r3(pct(devs, 99)),
      maxDeviationMs: r3(Math.max(...devs)),
    },
    timer100ms: {
      samples: fineDevs.length,
      p99DeviationMs: r3(pct(fineDevs, 99)),
      maxDeviationMs: r3(Math.max(...fineDevs)),
    },
    eventLoopDelay: { p99Ms: r3(loop.percentile(99) / 1e6), maxMs: r3(loop.max / 1e6) },
    // process-wide (all threads)
    cpuSecondsPerMinute: r3(((cpu.user + cpu.system) / 1e6 / elapsed) * 60),
    rssMaxMiB: r3(Math.max(...rss) / 2 ** 20),
  };
}

const modes = (process.env.BENCH_CHECK_MODES ?? 'idle,worker,main').split(',');
const runs = [];
for (const m of modes) {
  runs.push(await measure(m));
  console.log(JSON.stringify(runs.at(-1)));
  await new Promise((r) => setTimeout(r, 3000)); // let TIME_WAIT sockets and timers settle between runs
}
const result = {
  bench: 'check',
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  loadavgAtEnd: os.loadavg().map(r3),
  realServers: servers.length,
  kinds: { HTTP_GET: servers.length / 2, TCP_CHECK: servers.length / 2 },
  delayLoopS: 1,
  maxConcurrent: CONCURRENCY,
  runs,
  keepalived:
    'not measured: a side-by-side with keepalived checking the same servers needs the kernel VM (follow-up)',
};
mkdirSync(join(here, '..', 'results'), { recursive: true });
writeFileSync(join(here, '..', 'results', 'check.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
