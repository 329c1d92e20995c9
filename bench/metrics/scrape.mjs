#!/usr/bin/env node
// A Prometheus scrape and a /state request with 1,000 VRRP instances and 1,000 virtual servers x
// 10 real servers (43,000 samples, about 4 MB of text): the thread time the scrape takes in all,
// and its longest slice without a break (what would delay an advert timer). No keepalived
// counterpart (keepalived has no metrics endpoint). Then the same over HTTP on 127.0.0.1 (curl as
// the client, in its own process): the event loop's longest delay during a scrape (a 1 ms timer,
// perf_hooks), and the bytes the daemon holds for a client that sends a request and never reads
// (backpressure: about one slice). Writes bench/results/metrics.json.
// Needs `npm run build` first (imports dist/).
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { MetricsRegistry, stateJson, startMetricsServer } = await import(join(root, 'dist/daemon/metrics.js'));
const { Counters } = await import(join(root, 'dist/core/counters.js'));
const { silentLogger } = await import(join(root, 'dist/core/log.js'));
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const stats = { 'vrrp.advert_rcvd': 5, 'vrrp.advert_sent': 7, 'vrrp.rx.KA_ERR_VRRP_RX_TTL': 1 };
const vrrp = Array.from({ length: 1000 }, (_, i) => ({
  iname: `VI_${i}`,
  ifp_ifname: `eth${i % 4}`,
  vrid: (i % 250) + 1,
  version: 2,
  state: 2,
  state_name: 'MASTER',
  base_priority: 100,
  effective_priority: 100,
  master_addr: '192.0.2.1',
  vipset: true,
  vips: [`192.0.2.${(i % 250) + 1}`],
  stats,
}));
const lvs = {
  virtualServers: Array.from({ length: 1000 }, (_, v) => ({
    name: `203.0.113.${(v % 250) + 1} ${1000 + v}`,
    protocol: 'tcp',
    family: 'inet',
    quorumUp: true,
    realServers: Array.from({ length: 10 }, (_, r) => ({
      addr: `198.51.100.${r + 1}`,
      port: 1000 + v,
      up: true,
      weight: 1,
    })),
  })),
};
const src = { vrrp: () => vrrp, lvs: () => lvs, counters: new Counters() };

/** Runs `f(pause)`; returns [thread time outside the breaks, longest stretch between two breaks]. */
async function timed(f) {
  let last = performance.now();
  let max = 0;
  let work = 0;
  const pause = async () => {
    const d = performance.now() - last;
    max = Math.max(max, d);
    work += d;
    await new Promise((r) => setImmediate(r));
    last = performance.now();
  };
  let bytes = 0;
  await f(pause, (n) => {
    bytes += n;
  });
  const d = performance.now() - last;
  return { work: work + d, max: Math.max(max, d), bytes };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = { work: [], max: [] };
const s = { work: [], max: [] };
let mBytes = 0;
let sBytes = 0;
for (let i = 0; i < RUNS + 1; i++) {
  const a = await timed((pause, count) => new MetricsRegistry(src, pause).write((c) => count(c.length)));
  const b = await timed(async (pause, count) => count((await stateJson(src, pause)).length));
  if (i === 0) continue; // first run: cold JIT
  m.work.push(a.work);
  m.max.push(a.max);
  s.work.push(b.work);
  s.max.push(b.max);
  mBytes = a.bytes;
  sBytes = b.bytes;
}

// over HTTP: the daemon's server with its own break (turnBreak), curl reading as fast as it can
const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, src, silentLogger);
const curl = (path) =>
  new Promise((resolve, reject) =>
    execFile('curl', ['-sf', '-o', '/dev/null', `http://127.0.0.1:${srv.port}${path}`], (e) =>
      e ? reject(e) : resolve(),
    ),
  );
const http = { metrics: [], state: [] };
for (let i = 0; i < RUNS + 1; i++) {
  for (const [key, path] of [
    ['metrics', '/metrics'],
    ['state', '/state'],
  ]) {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    await curl(path);
    h.disable();
    if (i > 0) http[key].push(h.max / 1e6);
  }
}
// a client that never reads: what the process holds for it once the scrape is parked on 'drain'
const stalled = connect(srv.port, '127.0.0.1', () =>
  stalled.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'),
);
stalled.pause();
let held = -1;
for (let same = 0; same < 20; ) {
  await new Promise((r) => setTimeout(r, 10));
  const now = srv.inflight().bufferedBytes;
  same = now === held ? same + 1 : 0;
  held = now;
}
stalled.destroy();
await srv.close();

const r1 = (x) => Number(x.toFixed(1));
const result = {
  instances: 1000,
  realServers: 10_000,
  runs: RUNS,
  metricsBytes: mBytes,
  metricsWorkMs: r1(median(m.work)),
  metricsLongestSliceMs: r1(median(m.max)),
  stateBytes: sBytes,
  stateWorkMs: r1(median(s.work)),
  stateLongestSliceMs: r1(median(s.max)),
  httpMetricsLoopDelayMaxMs: r1(median(http.metrics)),
  httpStateLoopDelayMaxMs: r1(median(http.state)),
  httpStalledClientBufferedBytes: held,
  node: process.version,
};
console.log(
  `/metrics: ${mBytes} B in ${result.metricsWorkMs} ms of thread time, longest slice ${result.metricsLongestSliceMs} ms; /state: ${sBytes} B in ${result.stateWorkMs} ms, longest slice ${result.stateLongestSliceMs} ms (medians of ${RUNS})`,
);
console.log(
  `over HTTP (curl): longest event-loop delay during a scrape ${result.httpMetricsLoopDelayMaxMs} ms (/metrics), ${result.httpStateLoopDelayMaxMs} ms (/state); a client that never reads holds ${held} B in the daemon`,
);
mkdirSync(join(here, '..', 'results'), { recursive: true });
writeFileSync(join(here, '..', 'results', 'metrics.json'), `${JSON.stringify(result)}\n`);
