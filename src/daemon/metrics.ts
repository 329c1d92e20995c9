/**
 * Observability beyond keepalived: a Prometheus endpoint and a JSON state document, served over HTTP
 * by the daemon when started with `--metrics-address HOST:PORT` (off by default).
 *
 * - `GET /metrics`: Prometheus text format, streamed in slices. VRRP metrics keep the names and labels of
 *   the common keepalived exporters (`keepalived_vrrp_state{iname,intf,vrid}`,
 *   `keepalived_advert_rcvd_total`, …) so existing dashboards keep working; what only we have is
 *   prefixed `keepalived_ts_` (drops per error code, daemon counters, real-server health, Node's
 *   process and event-loop metrics). LVS metrics are labelled `virtual_server` (its configured name,
 *   e.g. `192.0.2.10 80`, `fwmark 5`, `group G`), `protocol` (`tcp`, `udp`, `sctp`) and `family`
 *   (`inet`, `inet6`): together the virtual server's identity (vsKey). The per-real-server ones add
 *   `real_server` (`addr:port`, `[v6addr]:port`; the bare address without a port).
 * - `GET /state`: keepalived's `-J` JSON layout (`[{ data, stats }]`, the same keys and state codes),
 *   plus an `lvs` member (keepalived writes its JSON to a file on signal 36; so do we, rt-dumps.ts).
 *
 * Values are read from the daemon's snapshots at scrape time: nothing is kept twice.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { mainRtPacer } from './priorities.js';

/** One VRRP instance as `VrrpHost.snapshot()` reports it. */
export interface VrrpInstanceSnapshot {
  readonly iname: string;
  readonly ifp_ifname: string;
  readonly vrid: number;
  readonly version: number;
  readonly state: number;
  readonly state_name: string;
  readonly base_priority: number;
  readonly effective_priority: number;
  readonly master_addr?: string | null | undefined;
  readonly vipset: boolean;
  readonly vips: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
}

/** The LVS side as `LvsHost.snapshot()` reports it. */
export interface LvsSnapshot {
  readonly virtualServers: readonly {
    readonly name: string;
    /** `tcp`, `udp` or `sctp`: TCP and UDP on one address and port are two virtual servers. */
    readonly protocol: string;
    /** `inet` or `inet6`: `fwmark 5` (or a group) may be defined once per family. */
    readonly family: string;
    readonly quorumUp: boolean | null;
    readonly realServers: readonly {
      readonly addr: string;
      readonly port: number | null;
      readonly up: boolean;
      readonly weight: number;
    }[];
  }[];
}

export interface MetricsSources {
  readonly vrrp?: () => readonly VrrpInstanceSnapshot[];
  readonly lvs?: () => LvsSnapshot | undefined;
  /** Daemon-wide counters (unknown VRIDs, socket errors, reconcile errors, …). */
  readonly counters: Counters;
}

/**
 * keepalived's per-instance stats (its JSON `stats` keys and `keepalived.stats` lines) from our
 * counters: keepalived folds several receive checks into one stat; we count each check under its
 * own `vrrp.rx.<code>` and add them up here.
 */
const KEEPALIVED_STATS: Readonly<Record<string, readonly string[]>> = {
  advert_rcvd: ['vrrp.advert_rcvd'],
  advert_sent: ['vrrp.advert_sent'],
  become_master: ['vrrp.become_master'],
  release_master: ['vrrp.release_master'],
  packet_len_err: rx('TRUNCATED', 'LENGTH', 'IP_TOTAL_LENGTH'),
  advert_interval_err: rx('INTERVAL'),
  ip_ttl_err: rx('TTL', 'UNICAST_TTL'),
  invalid_type_rcvd: rx('TYPE'),
  addr_list_err: rx('NADDR', 'VIP_MISSING'),
  invalid_authtype: rx('AUTH_TYPE_INVALID'),
  authtype_mismatch: rx('AUTH_TYPE_MISMATCH', 'AUTH_PROTO'),
  auth_failure: rx('AUTH_PASS', 'AH_ICV', 'AH_SPI', 'AH_SEQ', 'AH_NEXT_HEADER'),
  pri_zero_rcvd: ['vrrp.pri_zero_rcvd'],
  pri_zero_sent: ['vrrp.pri_zero_sent'],
};

function rx(...codes: string[]): string[] {
  return codes.map((c) => `vrrp.rx.KA_ERR_VRRP_RX_${c}`);
}

export function keepalivedStats(stats: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, keys] of Object.entries(KEEPALIVED_STATS))
    out[name] = keys.reduce((sum, k) => sum + (stats[k] ?? 0), 0);
  return out;
}

/** keepalived's `-J` document: one `{ data, stats }` per instance, then our `lvs` member. */
export function stateDocument(src: MetricsSources): { vrrp: unknown[]; lvs: LvsSnapshot | null } {
  const vrrp = (src.vrrp?.() ?? []).map((s) => ({
    data: {
      iname: s.iname,
      ifp_ifname: s.ifp_ifname,
      vrid: s.vrid,
      version: s.version,
      state: s.state,
      base_priority: s.base_priority,
      effective_priority: s.effective_priority,
      master_addr: s.master_addr ?? null,
      vipset: s.vipset,
      vips: s.vips,
    },
    stats: keepalivedStats(s.stats),
  }));
  return { vrrp, lvs: src.lvs?.() ?? null };
}

const INSTANCE_LABELS = ['iname', 'intf', 'vrid'] as const;
const RS_LABELS = ['virtual_server', 'protocol', 'family', 'real_server'] as const;
const VS_LABELS = ['virtual_server', 'protocol', 'family'] as const;
const RX_PREFIX = 'vrrp.rx.';

/** One scrape's view of the hosts: each snapshot is taken once, whatever the number of families. */
interface Scrape {
  readonly vrrp: readonly VrrpInstanceSnapshot[];
  readonly lvs: LvsSnapshot | undefined;
  readonly counters: Readonly<Record<string, number>>;
}

/** A sample: label values in the family's label order, and the value. */
type Sample = readonly [labels: readonly string[], value: number];

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly labels: readonly string[];
  samples(s: Scrape): Iterable<Sample>;
}

const instanceLabels = (s: VrrpInstanceSnapshot): string[] => [s.iname, s.ifp_ifname, String(s.vrid)];

function* eachInstance(s: Scrape, value: (i: VrrpInstanceSnapshot) => number): Iterable<Sample> {
  for (const i of s.vrrp) yield [instanceLabels(i), value(i)];
}

/**
 * A real server's `real_server` label: `addr:port`, an IPv6 address in brackets (`[fd00::1]:80`, as
 * Go's net.JoinHostPort, Prometheus' `instance` label and keepalived's own dumps write it; unbracketed,
 * `fd00::1:80` is also a port-less address); the bare address for a port-less (fwmark) real server.
 * gen2brain/keepalived_exporter writes its `addr` label unbracketed; mehdy/keepalived-exporter has
 * no real-server label.
 */
export const hostPort = (addr: string, port: number | null): string =>
  port === null ? addr : addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;

function* eachRealServer(
  s: Scrape,
  value: (rs: LvsSnapshot['virtualServers'][number]['realServers'][number]) => number,
): Iterable<Sample> {
  for (const vs of s.lvs?.virtualServers ?? [])
    for (const rs of vs.realServers)
      yield [[vs.name, vs.protocol, vs.family, hostPort(rs.addr, rs.port)], value(rs)];
}

/** Every family we expose, in exposition order. */
const FAMILIES: readonly Family[] = [
  {
    name: 'keepalived_up',
    help: 'The daemon is running (always 1 when scraped)',
    type: 'gauge',
    labels: [],
    samples: () => [[[], 1]],
  },
  {
    name: 'keepalived_vrrp_state',
    help: 'VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT (keepalived codes)',
    type: 'gauge',
    labels: INSTANCE_LABELS,
    samples: (s) => eachInstance(s, (i) => i.state),
  },
  {
    name: 'keepalived_ts_vrrp_effective_priority',
    help: 'VRRP priority after tracking weights',
    type: 'gauge',
    labels: INSTANCE_LABELS,
    samples: (s) => eachInstance(s, (i) => i.effective_priority),
  },
  {
    name: 'keepalived_ts_vrrp_base_priority',
    help: 'Configured VRRP priority',
    type: 'gauge',
    labels: INSTANCE_LABELS,
    samples: (s) => eachInstance(s, (i) => i.base_priority),
  },
  {
    name: 'keepalived_ts_vrrp_vips_set',
    help: 'Whether the instance has its virtual addresses installed (1) or not (0)',
    type: 'gauge',
    labels: INSTANCE_LABELS,
    samples: (s) => eachInstance(s, (i) => (i.vipset ? 1 : 0)),
  },
  ...Object.entries(KEEPALIVED_STATS).map(
    ([name, keys]): Family => ({
      name: `keepalived_${name}_total`,
      help: `keepalived's per-instance ${name} statistic`,
      type: 'counter',
      labels: INSTANCE_LABELS,
      samples: (s) => eachInstance(s, (i) => keys.reduce((sum, k) => sum + (i.stats[k] ?? 0), 0)),
    }),
  ),
  {
    name: 'keepalived_ts_vrrp_rx_dropped_total',
    help: 'Received adverts dropped by the receive checks, by error code (docs/errors/vrrp.md)',
    type: 'counter',
    labels: [...INSTANCE_LABELS, 'code'],
    *samples(s) {
      for (const i of s.vrrp)
        for (const [k, v] of Object.entries(i.stats))
          if (k.startsWith(RX_PREFIX)) yield [[...instanceLabels(i), k.slice(RX_PREFIX.length)], v];
    },
  },
  {
    name: 'keepalived_ts_events_total',
    help: 'Daemon-wide counters (unknown VRIDs, socket, netlink, IPVS and checker errors), by name',
    type: 'counter',
    labels: ['name'],
    samples: (s) => Object.entries(s.counters).map(([name, v]): Sample => [[name], v]),
  },
  {
    name: 'keepalived_ts_lvs_real_server_up',
    help: 'Health of a real server as its checkers see it (1 up, 0 down)',
    type: 'gauge',
    labels: RS_LABELS,
    samples: (s) => eachRealServer(s, (rs) => (rs.up ? 1 : 0)),
  },
  {
    name: 'keepalived_ts_lvs_real_server_weight',
    help: 'Weight the real server has in the desired IPVS table',
    type: 'gauge',
    labels: RS_LABELS,
    samples: (s) => eachRealServer(s, (rs) => rs.weight),
  },
  {
    name: 'keepalived_ts_lvs_quorum_up',
    help: 'Whether a virtual server has its quorum of real servers (1) or not (0); absent before its first quorum decision',
    type: 'gauge',
    labels: VS_LABELS,
    *samples(s) {
      for (const vs of s.lvs?.virtualServers ?? [])
        if (vs.quorumUp !== null) yield [[vs.name, vs.protocol, vs.family], vs.quorumUp ? 1 : 0];
    },
  },
];

/** Text exposition format 0.0.4: label values escape `\`, `"` and newline; HELP escapes `\` and newline. */
const escapeLabel = (v: string): string =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const formatValue = (v: number): string =>
  Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';

/** Samples formatted between two breaks of a scrape (2-3 ms of work on this 2-core host). */
const SAMPLES_PER_SLICE = 250;

/** Lets timers and socket I/O run between two slices of a long scrape, and paces a real-time thread. */
export type ScrapeBreak = () => Promise<void>;

/**
 * Takes one slice of a scrape. A promise it returns holds the next slice back until it settles: the
 * HTTP handler returns one while the socket is over its high-water mark (backpressure). Any other
 * return value is ignored.
 */
export type ScrapeSink = (chunk: string) => unknown;

/** Hands `chunk` to `sink`, waits for it, then breaks; false once `signal` is aborted (stop there). */
async function flushSlice(
  sink: ScrapeSink,
  chunk: string,
  pause: ScrapeBreak,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const pending = sink(chunk);
  if (pending instanceof Promise) await pending;
  if (signal?.aborted) return false;
  await pause();
  return !signal?.aborted;
}

/** The break the daemon uses: the main thread's RLIMIT_RTTIME pacer, then the next event-loop turn. */
export const turnBreak: ScrapeBreak = () => {
  mainRtPacer.pace();
  return new Promise<void>((r) => setImmediate(r));
};

/**
 * The Prometheus endpoint. Hand-written exposition rather than prom-client metric objects: every
 * value is read from a snapshot at scrape time, so prom-client's per-series state (a label hash per
 * `set()`) bought nothing and cost 0.5-1.5 s of the VRRP thread per scrape with 1,000 instances and
 * 10,000 real servers, in one stretch. Here the samples are formatted in slices with a break
 * between them. prom-client still provides Node's process metrics (`collectDefaultMetrics`).
 */
export class MetricsRegistry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly process = new Registry();

  constructor(
    private readonly src: MetricsSources,
    private readonly pause: ScrapeBreak = turnBreak,
  ) {
    // Node's own: CPU, RSS, heap, event-loop lag (the lag is what would delay an advert).
    collectDefaultMetrics({ register: this.process, prefix: 'keepalived_ts_' });
  }

  /** The whole exposition as one string (tests, small scrapes). */
  async metrics(): Promise<string> {
    const parts: string[] = [];
    await this.write((c) => parts.push(c));
    return parts.join('');
  }

  /**
   * The exposition in slices of about SAMPLES_PER_SLICE samples, each handed to `sink` as one
   * string, with a break after each: the HTTP handler streams them (joining 6 MB into one string
   * held the thread for 16 ms on its own). Stops at the first slice boundary after `signal` is
   * aborted (the client left) and then resolves false; true when everything was written.
   */
  async write(sink: ScrapeSink, signal?: AbortSignal): Promise<boolean> {
    const scrape: Scrape = {
      vrrp: this.src.vrrp?.() ?? [],
      lvs: this.src.lvs?.(),
      counters: this.src.counters.snapshot(),
    };
    let out: string[] = [];
    for (const f of FAMILIES) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`);
      for (const [values, v] of f.samples(scrape)) {
        let line = f.name;
        if (f.labels.length > 0) {
          line += '{';
          for (let k = 0; k < f.labels.length; k++)
            line += `${k ? ',' : ''}${f.labels[k]}="${escapeLabel(values[k] ?? '')}"`;
          line += '}';
        }
        out.push(`${line} ${formatValue(v)}\n`);
        if (out.length >= SAMPLES_PER_SLICE) {
          const chunk = out.join('');
          out = [];
          if (!(await flushSlice(sink, chunk, this.pause, signal))) return false;
        }
      }
    }
    out.push(await this.process.metrics());
    if (signal?.aborted) return false;
    const last = sink(out.join(''));
    if (last instanceof Promise) await last;
    return !signal?.aborted;
  }
}

/** A registry whose families read `src` at each scrape. */
export function createRegistry(src: MetricsSources, pause?: ScrapeBreak): MetricsRegistry {
  return new MetricsRegistry(src, pause);
}

/** Instances stringified between two breaks of a `/state` request. */
const INSTANCES_PER_SLICE = 100;

/** `JSON.stringify(stateDocument(src))`, built in slices with a break between them. */
export async function stateJson(src: MetricsSources, pause: ScrapeBreak = turnBreak): Promise<string> {
  const parts: string[] = [];
  await writeStateJson(src, (c) => parts.push(c), pause);
  return parts.join('');
}

/**
 * `JSON.stringify(stateDocument(src))` handed to `sink` in slices of INSTANCES_PER_SLICE instances
 * or virtual servers, with a break after each; false (and no more slices) once `signal` is aborted.
 */
export async function writeStateJson(
  src: MetricsSources,
  sink: ScrapeSink,
  pause: ScrapeBreak = turnBreak,
  signal?: AbortSignal,
): Promise<boolean> {
  const doc = stateDocument(src);
  let parts: string[] = ['{"vrrp":['];
  const flush = () => {
    const chunk = parts.join('');
    parts = [];
    return flushSlice(sink, chunk, pause, signal);
  };
  for (let i = 0; i < doc.vrrp.length; i++) {
    parts.push(`${i ? ',' : ''}${JSON.stringify(doc.vrrp[i])}`);
    if ((i + 1) % INSTANCES_PER_SLICE === 0 && !(await flush())) return false;
  }
  parts.push('],"lvs":');
  const vss = doc.lvs?.virtualServers;
  if (!doc.lvs || !vss) parts.push(JSON.stringify(doc.lvs));
  else {
    // the virtual servers one by one; any other member of the snapshot as JSON.stringify has it
    const { virtualServers: _, ...rest } = doc.lvs;
    parts.push('{"virtualServers":[');
    for (let i = 0; i < vss.length; i++) {
      parts.push(`${i ? ',' : ''}${JSON.stringify(vss[i])}`);
      if ((i + 1) % INSTANCES_PER_SLICE === 0 && !(await flush())) return false;
    }
    parts.push(']');
    const tail = JSON.stringify(rest);
    if (tail !== '{}') parts.push(`,${tail.slice(1, -1)}`);
    parts.push('}');
  }
  parts.push('}');
  if (signal?.aborted) return false;
  const last = sink(parts.join(''));
  if (last instanceof Promise) await last;
  return !signal?.aborted;
}

/** `HOST:PORT` or `[V6]:PORT` (as given to `--metrics-address`). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535))
    throw new KaError(
      'KA_ERR_DAEMON_METRICS',
      `bad metrics address '${text}': expected HOST:PORT or [V6]:PORT`,
      {
        text,
      },
    );
  return { host: (m[1] ?? m[2]) as string, port };
}

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Scrapes (`/metrics`, `/state`) in progress, and the bytes their responses hold in this process
   * (written, not yet taken by the kernel): what a client that does not read costs us.
   */
  inflight(): { scrapes: number; bufferedBytes: number };
  close(): Promise<void>;
}

/**
 * A connection on which nothing moved for this long is dropped: a scrape parked on a client that
 * stopped reading, or a request never completed. 10 s is Prometheus' default scrape_timeout: a
 * scraper that has read nothing for that long has given up on the scrape already.
 */
export const METRICS_IDLE_TIMEOUT_MS = 10_000;
/**
 * A response not finished after this long is cut, however slowly the client keeps reading, so a
 * trickling client cannot hold one of the few connections for ever. 60 s is the default
 * scrape_interval (Prometheus caps scrape_timeout at it) and leaves a 6 MB scrape 1 Mbit/s.
 */
export const METRICS_SCRAPE_DEADLINE_MS = 60_000;
/** Connections served at once (one scrape each at most); more are closed at once by Node. */
export const METRICS_MAX_CONNECTIONS = 16;

export interface MetricsServerOptions {
  readonly idleTimeoutMs?: number;
  readonly scrapeDeadlineMs?: number;
  readonly maxConnections?: number;
  /** The break between two slices (turnBreak in the daemon). */
  readonly pause?: ScrapeBreak;
}

/**
 * A sink writing to `res` with backpressure: when `res.write` reports the socket over its
 * high-water mark, the next slice waits for 'drain' (or for the end of the response), so a client
 * that does not read holds one slice and the socket's buffers, not the whole exposition.
 */
function responseSink(res: ServerResponse, signal: AbortSignal): ScrapeSink {
  return (chunk) => {
    if (signal.aborted || res.write(chunk)) return;
    return new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      res.once('drain', done);
      signal.addEventListener('abort', done, { once: true });
    });
  };
}

/**
 * Serves `/metrics` and `/state`; rejects with KA_ERR_DAEMON_METRICS when it cannot listen. A scrape
 * stops at its next slice once its response is closed (client gone, idle timeout, deadline) and is
 * counted as `metrics.scrape_aborted`; its connection (one of maxConnections) is then free.
 */
export async function startMetricsServer(
  addr: { host: string; port: number },
  src: MetricsSources,
  log: Logger,
  opts: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const pause = opts.pause ?? turnBreak;
  const registry = createRegistry(src, pause);
  const counters = src.counters;
  const deadlineMs = opts.scrapeDeadlineMs ?? METRICS_SCRAPE_DEADLINE_MS;
  const scrapes = new Set<ServerResponse>();
  const reply = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  /** Streams one document (chunked transfer encoding): no multi-megabyte string on the VRRP thread. */
  const stream = async (
    req: IncomingMessage,
    res: ServerResponse,
    type: string,
    body: (sink: ScrapeSink, signal: AbortSignal) => Promise<boolean>,
  ) => {
    res.writeHead(200, { 'content-type': type });
    if (req.method === 'HEAD') return void res.end();
    const ac = new AbortController();
    const onClose = () => ac.abort();
    res.once('close', onClose);
    scrapes.add(res);
    const deadline = setTimeout(() => {
      counters.inc('metrics.scrape_deadline');
      res.destroy();
    }, deadlineMs);
    deadline.unref();
    try {
      if (await body(responseSink(res, ac.signal), ac.signal)) res.end();
      else counters.inc('metrics.scrape_aborted');
    } finally {
      scrapes.delete(res);
      clearTimeout(deadline);
      res.off('close', onClose);
    }
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return reply(res, 405, 'text/plain', 'method not allowed\n');
    }
    if (path === '/metrics')
      return stream(req, res, registry.contentType, (sink, signal) => registry.write(sink, signal));
    if (path === '/state')
      return stream(req, res, 'application/json', async (sink, signal) => {
        if (!(await writeStateJson(src, sink, pause, signal))) return false;
        await sink('\n');
        return !signal.aborted;
      });
    return reply(res, 404, 'text/plain', 'not found: try /metrics or /state\n');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      counters.inc('daemon.metrics_errors');
      log.warn({ err: e }, 'metrics request failed');
      if (!res.headersSent) reply(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  // A scrape must never keep the daemon alive or pile up: short timeouts, few connections.
  server.requestTimeout = 5000;
  server.headersTimeout = 5000;
  server.maxConnections = opts.maxConnections ?? METRICS_MAX_CONNECTIONS;
  // socket inactivity (nothing read from or written to the kernel): dropped, which aborts its scrape
  server.timeout = opts.idleTimeoutMs ?? METRICS_IDLE_TIMEOUT_MS;
  server.on('timeout', (socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) =>
      reject(
        new KaError('KA_ERR_DAEMON_METRICS', `cannot listen on ${addr.host}:${addr.port}: ${e.message}`, {
          host: addr.host,
          port: addr.port,
        }),
      );
    server.once('error', onError);
    server.listen(addr.port, addr.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (e) => log.warn({ err: e }, 'metrics server error'));
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    inflight: () => {
      let bufferedBytes = 0;
      for (const res of scrapes) bufferedBytes += res.writableLength;
      return { scrapes: scrapes.size, bufferedBytes };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
