/**
 * Observability beyond keepalived: a Prometheus endpoint and a JSON state document, served over HTTP
 * by the daemon when started with `--metrics-address HOST:PORT` (off by default).
 *
 * - `GET /metrics`: Prometheus text format (prom-client). VRRP metrics keep the names and labels of
 *   the common keepalived exporters (`keepalived_vrrp_state{iname,intf,vrid}`,
 *   `keepalived_advert_rcvd_total`, …) so existing dashboards keep working; what only we have is
 *   prefixed `keepalived_ts_` (drops per error code, daemon counters, real-server health, Node's
 *   process and event-loop metrics). LVS metrics are labelled `virtual_server` (its configured name,
 *   e.g. `192.0.2.10 80`, `fwmark 5`, `group G`), `protocol` (`tcp`, `udp`, `sctp`) and `family`
 *   (`inet`, `inet6`): together the virtual server's identity (vsKey). The per-real-server ones add
 *   `real_server` (`addr:port`).
 * - `GET /state`: keepalived's `-J` JSON layout (`[{ data, stats }]`, the same keys and state codes),
 *   plus an `lvs` member. keepalived writes it on SIGJSON (a real-time signal Node cannot catch).
 *
 * Values are read from the daemon's snapshots at scrape time: nothing is kept twice.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';

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
const labelsOf = (s: VrrpInstanceSnapshot) => ({ iname: s.iname, intf: s.ifp_ifname, vrid: String(s.vrid) });
const RX_PREFIX = 'vrrp.rx.';

/** A registry whose collectors read `src` at each scrape. */
export function createRegistry(src: MetricsSources): Registry {
  const registry = new Registry();
  // One snapshot of each host per scrape, shared by the collectors (LvsHost.snapshot builds the
  // desired table): prom-client runs the collectors in registration order, this one first.
  let scrape: { vrrp: readonly VrrpInstanceSnapshot[]; lvs: LvsSnapshot | undefined } | undefined;
  const take = () => {
    scrape ??= { vrrp: src.vrrp?.() ?? [], lvs: src.lvs?.() };
    return scrape;
  };
  const vrrp = () => take().vrrp;
  new Gauge({
    name: 'keepalived_up',
    help: 'The daemon is running (always 1 when scraped)',
    registers: [registry],
    collect() {
      scrape = undefined; // a new scrape starts here
      this.set(1);
    },
  });
  new Gauge({
    name: 'keepalived_vrrp_state',
    help: 'VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT (keepalived codes)',
    labelNames: INSTANCE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of vrrp()) this.set(labelsOf(s), s.state);
    },
  });
  for (const [field, help] of [
    ['effective_priority', 'VRRP priority after tracking weights'],
    ['base_priority', 'Configured VRRP priority'],
  ] as const) {
    new Gauge({
      name: `keepalived_ts_vrrp_${field}`,
      help,
      labelNames: INSTANCE_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of vrrp()) this.set(labelsOf(s), s[field]);
      },
    });
  }
  new Gauge({
    name: 'keepalived_ts_vrrp_vips_set',
    help: 'Whether the instance has its virtual addresses installed (1) or not (0)',
    labelNames: INSTANCE_LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of vrrp()) this.set(labelsOf(s), s.vipset ? 1 : 0);
    },
  });
  for (const name of Object.keys(KEEPALIVED_STATS)) {
    new Counter({
      name: `keepalived_${name}_total`,
      help: `keepalived's per-instance ${name} statistic`,
      labelNames: INSTANCE_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of vrrp()) this.inc(labelsOf(s), keepalivedStats(s.stats)[name] ?? 0);
      },
    });
  }
  new Counter({
    name: 'keepalived_ts_vrrp_rx_dropped_total',
    help: 'Received adverts dropped by the receive checks, by error code (docs/errors/vrrp.md)',
    labelNames: [...INSTANCE_LABELS, 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of vrrp())
        for (const [k, v] of Object.entries(s.stats))
          if (k.startsWith(RX_PREFIX)) this.inc({ ...labelsOf(s), code: k.slice(RX_PREFIX.length) }, v);
    },
  });
  new Counter({
    name: 'keepalived_ts_events_total',
    help: 'Daemon-wide counters (unknown VRIDs, socket, netlink, IPVS and checker errors), by name',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, v] of Object.entries(src.counters.snapshot())) this.inc({ name }, v);
    },
  });
  const realServers = () =>
    (take().lvs?.virtualServers ?? []).flatMap((vs) =>
      vs.realServers.map((rs) => ({
        labels: {
          virtual_server: vs.name,
          protocol: vs.protocol,
          family: vs.family,
          real_server: rs.port === null ? rs.addr : `${rs.addr}:${rs.port}`,
        },
        rs,
      })),
    );
  new Gauge({
    name: 'keepalived_ts_lvs_real_server_up',
    help: 'Health of a real server as its checkers see it (1 up, 0 down)',
    labelNames: ['virtual_server', 'protocol', 'family', 'real_server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, rs } of realServers()) this.set(labels, rs.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'keepalived_ts_lvs_real_server_weight',
    help: 'Weight the real server has in the desired IPVS table',
    labelNames: ['virtual_server', 'protocol', 'family', 'real_server'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, rs } of realServers()) this.set(labels, rs.weight);
    },
  });
  new Gauge({
    name: 'keepalived_ts_lvs_quorum_up',
    help: 'Whether a virtual server has its quorum of real servers (1) or not (0); absent before its first quorum decision',
    labelNames: ['virtual_server', 'protocol', 'family'],
    registers: [registry],
    collect() {
      this.reset();
      for (const vs of take().lvs?.virtualServers ?? [])
        if (vs.quorumUp !== null)
          this.set(
            { virtual_server: vs.name, protocol: vs.protocol, family: vs.family },
            vs.quorumUp ? 1 : 0,
          );
    },
  });
  // Node's own: CPU, RSS, heap, event-loop lag (the lag is what would delay an advert).
  collectDefaultMetrics({ register: registry, prefix: 'keepalived_ts_' });
  return registry;
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
  close(): Promise<void>;
}

/** Serves `/metrics` and `/state`; rejects with KA_ERR_DAEMON_METRICS when it cannot listen. */
export async function startMetricsServer(
  addr: { host: string; port: number },
  src: MetricsSources,
  log: Logger,
): Promise<MetricsServer> {
  const registry = createRegistry(src);
  const counters = src.counters;
  const reply = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return reply(res, 405, 'text/plain', 'method not allowed\n');
    }
    if (path === '/metrics') return reply(res, 200, registry.contentType, await registry.metrics());
    if (path === '/state')
      return reply(res, 200, 'application/json', `${JSON.stringify(stateDocument(src))}\n`);
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
  server.maxConnections = 16;
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
