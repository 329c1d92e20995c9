/**
 * The metrics HTTP server over real sockets on 127.0.0.1: backpressure (a client that stops reading
 * holds a few slices, not the exposition), the scrape stopping when its client goes away, the idle
 * timeout and the response deadline freeing the connection slot, and a normal scrape after each.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import {
  createRegistry,
  type MetricsServer,
  type MetricsServerOptions,
  type MetricsSources,
  type ScrapeBreak,
  startMetricsServer,
  stateJson,
  type VrrpInstanceSnapshot,
} from '../../../src/daemon/metrics.js';

/** 3,000 instances with 30 receive-drop codes each: 144,000 samples, about 13 MB of exposition. */
const N = 3000;
const stats: Record<string, number> = {};
for (let i = 0; i < 30; i++) stats[`vrrp.rx.KA_ERR_VRRP_RX_X${i}`] = i;
const instances: VrrpInstanceSnapshot[] = Array.from({ length: N }, (_, i) => ({
  iname: `VI_${i}`,
  ifp_ifname: 'eth0',
  vrid: (i % 255) + 1,
  version: 2,
  state: 2,
  state_name: 'MASTER',
  base_priority: 100,
  effective_priority: 100,
  vipset: true,
  vips: [],
  stats,
}));

/** A server over the big sources whose breaks are counted (one per slice handed to the socket). */
async function server(opts: MetricsServerOptions = {}) {
  const counters = new Counters();
  const src: MetricsSources = { vrrp: () => instances, counters };
  let slices = 0;
  const pause: ScrapeBreak = () => {
    slices++;
    return new Promise<void>((r) => setImmediate(r));
  };
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, src, silentLogger, {
    pause,
    ...opts,
  });
  servers.push(srv);
  return { srv, src, counters, slices: () => slices };
}

const servers: MetricsServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

/** Resolves once `cond()` holds (checked every 10 ms); rejects after 20 s so a hang shows as a failure. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

/** Resolves once `read()` has returned the same value over 20 consecutive 10 ms checks. */
async function settled(read: () => number): Promise<number> {
  let last = read();
  for (let same = 0; same < 20; ) {
    await new Promise((r) => setTimeout(r, 10));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/** A raw client that sends one request and then reads nothing. */
function stalled(port: number, path = '/metrics'): Socket {
  const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  s.pause();
  s.on('error', () => {});
  sockets.push(s);
  return s;
}

/** A raw client that sends one request, waits for the first bytes of the answer and goes away. */
async function leaveAfterFirstBytes(port: number, path: string): Promise<void> {
  const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  sockets.push(s);
  await new Promise<void>((r) => s.once('data', () => r()));
  s.destroy();
}

/** A whole scrape through node:http (a fresh connection each time). */
function scrape(port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Slices in a whole scrape of the big sources, and its size. */
async function whole(): Promise<{ slices: number; bytes: number }> {
  let slices = 0;
  let bytes = 0;
  const reg = createRegistry({ vrrp: () => instances, counters: new Counters() }, async () => {
    slices++;
  });
  await reg.write((c) => {
    bytes += Buffer.byteLength(c);
  });
  return { slices, bytes };
}

describe('metrics server: backpressure', () => {
  it('a client that stops reading: the scrape waits for the socket to drain, one slice held at most', async () => {
    const total = await whole();
    expect(total.bytes).toBeGreaterThan(12_000_000);
    const slice = total.bytes / total.slices;
    const { srv, slices, counters } = await server();
    // the largest number of bytes the process held for the response, sampled while it runs
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, srv.inflight().bufferedBytes);
    }, 1);
    try {
      stalled(srv.port);
      await until(() => slices() > 0, 'the scrape starts');
      const parked = await settled(slices);
      expect(srv.inflight().scrapes).toBe(1);
      // in the process: the socket's 16 KiB high-water mark plus the one slice that crossed it
      expect(maxBuffered).toBeGreaterThan(0);
      expect(maxBuffered).toBeLessThan(16_384 + 2 * slice);
      // the rest sits in the kernel's socket buffers (tcp_wmem / tcp_rmem), far from the whole
      expect(parked).toBeLessThan(total.slices / 2);
      expect(counters.get('metrics.scrape_aborted')).toBe(0);
    } finally {
      clearInterval(sampler);
    }
  });
});

describe('metrics server: a client that goes away', () => {
  it('mid-scrape: the server stops at its next slice, counts it, and serves the next scrape whole', async () => {
    const total = await whole();
    const { srv, slices, counters } = await server();
    await leaveAfterFirstBytes(srv.port, '/metrics');
    await until(() => counters.get('metrics.scrape_aborted') === 1, 'the scrape is aborted');
    const atAbort = slices();
    expect(await settled(slices)).toBe(atAbort);
    expect(atAbort).toBeLessThan(total.slices / 2);
    expect(srv.inflight()).toEqual({ scrapes: 0, bufferedBytes: 0 });
    const next = await scrape(srv.port);
    expect(next.status).toBe(200);
    expect(next.body).toContain(`keepalived_vrrp_state{iname="VI_${N - 1}",intf="eth0",vrid="195"} 2`);
    expect(next.body).toMatch(/^keepalived_ts_process_resident_memory_bytes \d+/m);
    expect(counters.get('metrics.scrape_aborted')).toBe(1);
  });

  it('/state likewise: stopped, counted, and the next /state is the whole document', async () => {
    const { srv, counters, src } = await server();
    await leaveAfterFirstBytes(srv.port, '/state');
    await until(() => counters.get('metrics.scrape_aborted') === 1, 'the /state request is aborted');
    expect(srv.inflight().scrapes).toBe(0);
    const next = await scrape(srv.port, '/state');
    expect(next.status).toBe(200);
    expect(next.body).toBe(`${await stateJson(src, async () => {})}\n`);
  });
});

describe('metrics server: idle timeout and deadline free the connection slots', () => {
  it('clients that never read fill the slots until the idle timeout drops them; then a scrape succeeds', async () => {
    const { srv, counters, slices } = await server({ maxConnections: 2, idleTimeoutMs: 1000 });
    stalled(srv.port);
    stalled(srv.port);
    await until(() => slices() > 0, 'the scrapes start');
    // both slots are taken: a third connection is closed by the server without a byte
    const third = await new Promise<string>((resolve) => {
      const s = connect(srv.port, '127.0.0.1', () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
      sockets.push(s);
      let n = 0;
      s.on('data', (d) => {
        n += d.length;
      });
      s.on('error', () => resolve(`error after ${n} bytes`));
      s.on('close', () => resolve(`closed after ${n} bytes`));
    });
    expect(third).toMatch(/after 0 bytes/);
    await until(() => counters.get('metrics.scrape_aborted') === 2, 'the idle timeout aborts both');
    expect(await settled(slices)).toBe(slices());
    expect(srv.inflight().scrapes).toBe(0);
    const next = await scrape(srv.port);
    expect(next.status).toBe(200);
    expect(next.body).toMatch(/^keepalived_ts_process_resident_memory_bytes \d+/m);
  });

  it('on a kept-alive connection too: a second scrape its client stops reading is dropped', async () => {
    const { srv, counters } = await server({ idleTimeoutMs: 1000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = () =>
        new Promise<{ reused: boolean; res: import('node:http').IncomingMessage }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: srv.port, path: '/metrics', agent }, (res) =>
            resolve({ reused: req.reusedSocket, res }),
          );
          req.on('error', reject);
          req.end();
        });
      const first = await get();
      first.res.resume();
      await new Promise((r) => first.res.on('end', r));
      const second = await get();
      expect(second.reused).toBe(true);
      second.res.on('error', () => {});
      second.res.pause();
      await until(() => counters.get('metrics.scrape_aborted') === 1, 'the idle timeout aborts the second');
      expect(srv.inflight().scrapes).toBe(0);
    } finally {
      agent.destroy();
    }
  });

  it('a response not finished by the deadline is cut and counted, before any idle timeout', async () => {
    const { srv, counters, slices } = await server({ scrapeDeadlineMs: 200, idleTimeoutMs: 60_000 });
    stalled(srv.port);
    await until(() => counters.get('metrics.scrape_deadline') === 1, 'the deadline fires');
    await until(() => counters.get('metrics.scrape_aborted') === 1, 'the scrape is aborted');
    expect(await settled(slices)).toBe(slices());
    expect(srv.inflight().scrapes).toBe(0);
  });
});
