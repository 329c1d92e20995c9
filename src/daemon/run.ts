/**
 * Daemon mode: `keepalived-ts -n -l -D -f CONF -p PIDFILE -r VRRP_PIDFILE -c CHECK_PIDFILE`.
 * One process runs what keepalived splits into parent, VRRP and checker children; every pid file
 * names it. Signals as keepalived: TERM/INT stop (priority-0 adverts, VIPs removed), HUP reloads,
 * USR1 writes the data dump, USR2 the stats dump. With NOTIFY_SOCKET set (systemd Type=notify) it
 * reports READY=1 / RELOADING=1 / STOPPING=1.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { formatDiagnostic } from '../config/diagnostics.js';
import { loadConfig } from '../config/load.js';
import type { KeepalivedConfig } from '../config/model.js';
import { systemClock } from '../core/clock.js';
import { Counters } from '../core/counters.js';
import type { KaError } from '../core/errors.js';
import { createLogger, type Logger, type LogOptions } from '../core/log.js';
import { facilityNumber } from '../core/syslog.js';
import { enterNetns } from '../sys/netns.js';
import * as sched from '../sys/sched.js';
import { sendUnixDatagram } from '../sys/unix-dgram.js';
import { stateName } from '../vrrp/types.js';
import { DaemonBfd } from './bfd-host.js';
import { ipvsRepairDefaultS, LvsHost, type LvsHostDeps } from './lvs-host.js';
import { type LvsSnapshot, type MetricsServer, parseListenAddress, startMetricsServer } from './metrics.js';
import { NetState } from './netstate.js';
import { ensurePidDir, pidFilePaths, writePidFile } from './pidfile.js';
import { Priorities, type SchedOps, type SchedPlan, schedPlan, threadNice } from './priorities.js';
import { ScriptResolver } from './scripts.js';
import { VrrpHost, type VrrpHostDeps } from './vrrp-host.js';

/** What daemon mode needs from the command line (a structural subset of the CLI's options). */
export interface DaemonOptions {
  configFile?: string;
  pidFile?: string;
  vrrpPidFile?: string;
  checkersPidFile?: string;
  configId?: string;
  logConsole?: boolean;
  logDetail?: boolean;
  namespace?: string;
  allConfig?: boolean;
  /** -V: keep VIPs at stop. */
  dontReleaseVrrp?: boolean;
  /** -I: keep the IPVS table at stop. */
  dontReleaseIpvs?: boolean;
  /** -P: VRRP only. */
  vrrpOnly?: boolean;
  /** -C: checkers (LVS) only. */
  checkOnly?: boolean;
  /** -B: no BFD. */
  noBfd?: boolean;
  /** `--metrics-address HOST:PORT`: serve /metrics and /state (keepalived-ts only). */
  metricsAddress?: string;
  /** `--ipvs-repair-interval SECONDS` (keepalived-ts only); default ipvsRepairDefaultS (lvs-host.ts). */
  ipvsRepairInterval?: number | undefined;
  /** -b: the BFD pid file. */
  bfdPidFile?: string | undefined;
  /** -S: syslog facility (0-7 = local0-7, user, daemon). */
  logFacility?: string | undefined;
  /** -G: no syslog. */
  noSyslog?: boolean;
}

/** keepalived's syslog ident suffix: `_NAMESPACE` then `_INSTANCE`, each when set. */
const identSuffix = (ns: string | undefined, instance: string | undefined): string =>
  `${ns ? `_${ns}` : ''}${instance ? `_${instance}` : ''}`;

/** The signals the daemon acts on (RT signals 36/63: see rt-signals). */
const DAEMON_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
type DaemonSignal = (typeof DAEMON_SIGNALS)[number];

/**
 * Listens to the daemon's signals from the first line of runDaemon, before any await: with no
 * listener, SIGHUP and SIGTERM would end the process without releasing anything, and SIGUSR1 would
 * start Node's inspector (a debugger port). Until the daemon is up, signals are kept and replayed
 * in order once it is (a stop or reload asked for during start-up happens right after it).
 */
class DaemonSignals {
  private pending: DaemonSignal[] = [];
  private handler: ((s: DaemonSignal) => void) | undefined;
  private readonly listener = (s: NodeJS.Signals) => {
    const sig = s as DaemonSignal;
    if (this.handler) this.handler(sig);
    else if (!this.pending.includes(sig)) this.pending.push(sig);
  };
  constructor() {
    for (const s of DAEMON_SIGNALS) process.on(s, this.listener);
  }
  /** Signals kept so far; a stop asked for before start-up ended makes the start-up give up. */
  get stopRequested(): boolean {
    return this.pending.includes('SIGTERM') || this.pending.includes('SIGINT');
  }
  /** From now on `handler` acts on each signal; the kept ones are handed over first. */
  serve(handler: (s: DaemonSignal) => void): void {
    this.handler = handler;
    for (const s of this.pending.splice(0)) handler(s);
  }
  close(): void {
    for (const s of DAEMON_SIGNALS) process.off(s, this.listener);
  }
}

export const DEFAULT_CONFIG_FILE = '/etc/keepalived/keepalived.conf';

/**
 * How runDaemon builds its hosts. The CLI uses the defaults; a test replaces one with a subclass
 * that fails, to check what a real daemon releases when start-up or shutdown fails part-way
 * (test/net/daemon/bfd-shutdown.test.ts).
 */
export interface DaemonFactories {
  vrrpHost(config: KeepalivedConfig, deps: VrrpHostDeps): VrrpHost;
  lvsHost(config: KeepalivedConfig, deps: LvsHostDeps): LvsHost;
  priorities(plan: SchedPlan, deps: ConstructorParameters<typeof Priorities>[1]): Priorities;
}

const defaultFactories: DaemonFactories = {
  vrrpHost: (config, deps) => new VrrpHost(config, deps),
  lvsHost: (config, deps) => new LvsHost(config, deps),
  priorities: (plan, deps) => new Priorities(plan, deps),
};

const schedOps: SchedOps = {
  gettid: sched.gettid,
  setThreadNice: sched.setThreadNice,
  setThreadRealtime: sched.setThreadRealtime,
  setRlimitRttime: sched.setRlimitRttime,
  getThreadNice: threadNice,
};

function sdNotify(state: string): void {
  const sock = process.env.NOTIFY_SOCKET;
  if (!sock) return;
  try {
    sendUnixDatagram(sock, Buffer.from(state));
  } catch {
    // systemd not listening: nothing to tell
  }
}

function load(path: string, opts: DaemonOptions, log: Logger): KeepalivedConfig | undefined {
  const { config, diagnostics } = loadConfig(path, {
    ...(opts.configId ? { configId: opts.configId } : {}),
    allConfig: opts.allConfig ?? false,
  });
  let fatal = false;
  for (const d of diagnostics) {
    const line = formatDiagnostic(d);
    if (d.severity === 'fatal') {
      fatal = true;
      log.error({ code: d.code }, line);
    } else if (d.severity === 'error') log.error({ code: d.code }, line);
    else log.warn({ code: d.code }, line);
  }
  return fatal ? undefined : config;
}

function dumpDir(): string {
  const t = process.env.TMPDIR;
  return t && isAbsolute(t) ? t : tmpdir();
}

export async function runDaemon(
  opts: DaemonOptions,
  factories: Partial<DaemonFactories> = {},
): Promise<number> {
  const signals = new DaemonSignals();
  try {
    return await runDaemonWith(opts, { ...defaultFactories, ...factories }, signals);
  } finally {
    signals.close();
  }
}

async function runDaemonWith(
  opts: DaemonOptions,
  make: DaemonFactories,
  signals: DaemonSignals,
): Promise<number> {
  const counters = new Counters();
  const syslog = (ns: string | undefined, instance: string | undefined): LogOptions['syslog'] =>
    opts.noSyslog
      ? undefined
      : {
          facility: facilityNumber(opts.logFacility),
          identSuffix: identSuffix(ns, instance),
          sink: { send: (path, data) => void sendUnixDatagram(path, data) },
          onError: () => counters.inc('log.syslog_errors'),
        };
  const logOpts = (ns: string | undefined, instance: string | undefined): LogOptions => ({
    level: opts.logDetail ? 'debug' : 'info',
    // keepalived: the console (stderr) only with -l
    console: opts.logConsole ?? false,
    stderr: true,
    syslog: syslog(ns, instance),
  });
  let log = createLogger(logOpts(opts.namespace, undefined));
  const configFile = opts.configFile ?? DEFAULT_CONFIG_FILE;
  log.info(`Starting keepalived-ts, pid ${process.pid}`);
  const config = load(configFile, opts, log);
  if (!config) {
    log.error(`Stopped - configuration ${configFile} has fatal errors`);
    return 1;
  }
  const ns = opts.namespace ?? config.global.netNamespace;
  const instance = config.global.instance;
  if (ns !== opts.namespace || instance) {
    // keepalived: "Changing syslog ident to Keepalived_NS_INSTANCE"
    log.info(`Changing syslog ident to Keepalived${identSuffix(ns, instance)}`);
    log = createLogger(logOpts(ns, instance));
  }
  const pids = pidFilePaths({
    main: opts.pidFile,
    vrrp: opts.vrrpPidFile,
    checkers: opts.checkersPidFile,
    bfd: opts.bfdPidFile,
    usePidDir: config.global.usePidDir,
    instance,
    namespace: ns,
  });

  const releases: (() => void)[] = [];
  try {
    // the pid directory is made before entering the namespace, as keepalived does
    const files = [pids.main];
    if (config.vrrpInstances.length > 0 && !opts.checkOnly) files.push(pids.vrrp);
    if (config.virtualServers.length > 0 && !opts.vrrpOnly) files.push(pids.checkers);
    if (config.bfdInstances.length > 0 && !opts.noBfd) files.push(pids.bfd);
    const dir = pids.dir;
    if (dir && files.some((f) => f.startsWith(`${dir}/`))) releases.push(ensurePidDir(dir));
    if (ns) enterNetns(ns);
    for (const f of files) releases.push(writePidFile(f));
  } catch (e) {
    log.error((e as Error).message);
    // removed in reverse: the pid files before their directory
    for (const r of releases.reverse()) r();
    return 1;
  }

  // Late-bound: the hosts are created below; a scrape before then sees no instances.
  let vrrpHost: VrrpHost | undefined;
  let lvsHost: LvsHost | undefined;
  let metrics: MetricsServer | undefined;
  if (opts.metricsAddress !== undefined) {
    try {
      metrics = await startMetricsServer(
        parseListenAddress(opts.metricsAddress),
        {
          vrrp: () => vrrpHost?.snapshot() ?? [],
          lvs: () => lvsHost?.snapshot() as LvsSnapshot | undefined,
          counters,
        },
        log,
      );
      log.info(`Serving metrics on ${opts.metricsAddress} (/metrics, /state)`);
    } catch (e) {
      log.error({ code: (e as KaError).code }, `${(e as KaError).code}: ${(e as Error).message}`);
      for (const r of releases.reverse()) r();
      return 1;
    }
  }
  let net: NetState;
  let scripts: ScriptResolver;
  try {
    net = await NetState.open({ log, counters });
    scripts = await ScriptResolver.create(config, log);
  } catch (e) {
    // a listening metrics server would keep the process alive after the failed start
    await metrics?.close();
    for (const r of releases.reverse()) r();
    throw e;
  }
  const runVrrp = config.vrrpInstances.length > 0 && !opts.checkOnly;
  const runLvs = config.virtualServers.length > 0 && !opts.vrrpOnly;
  // vrrp_* / checker_* scheduling: the main thread is the VRRP side, the checker worker the checker side.
  const priorities = make.priorities(schedPlan(config.global, { withVrrp: runVrrp }), {
    ops: schedOps,
    log,
    counters,
    clock: systemClock,
  });
  const vrrp = runVrrp
    ? make.vrrpHost(config, { clock: systemClock, log: log.child({ proc: 'vrrp' }), counters, net, scripts })
    : undefined;
  const lvs = runLvs
    ? make.lvsHost(config, {
        clock: systemClock,
        log: log.child({ proc: 'healthcheckers' }),
        counters,
        scripts,
        ...(opts.dontReleaseIpvs ? { dontRelease: true } : {}),
        ...(opts.logConsole ? { logStderr: true } : {}),
        syslog: {
          noSyslog: opts.noSyslog ?? false,
          logFacility: facilityNumber(opts.logFacility),
          identSuffix: identSuffix(ns, instance),
        },
        repairIntervalUs: (opts.ipvsRepairInterval ?? ipvsRepairDefaultS(runVrrp)) * 1e6,
        onCheckerThread: (tid: number) => priorities.checkerThread(tid),
      })
    : undefined;
  vrrpHost = vrrp;
  lvsHost = lvs;
  // Nothing runs until apply() (below, after VRRP, as keepalived starts its BFD child last).
  const bfd = new DaemonBfd(
    { clock: systemClock, log: log.child({ proc: 'bfd' }), counters },
    opts.noBfd ?? false,
    vrrp,
  );

  /**
   * Stop and a start that fails part-way release the same way: VRRP first (the peer takes over the
   * VIPs while the checkers wind down), then LVS; BFD in any case, else a peer would keep seeing the
   * session Up and its sockets would keep the process alive; then scheduling, metrics, netlink and
   * the pid files.
   */
  const release = async (): Promise<void> => {
    try {
      if (vrrp && !opts.dontReleaseVrrp) await vrrp.stop();
      await lvs?.stop();
    } catch (e) {
      log.error({ err: e }, 'error while stopping');
    } finally {
      try {
        bfd.stop();
      } catch (e) {
        log.error({ err: e }, 'error while stopping BFD');
      }
    }
    priorities.stop();
    await metrics?.close();
    net.close();
    for (const r of releases.reverse()) r();
  };

  try {
    try {
      await lvs?.start();
    } catch (e) {
      // keepalived's checker child logs and carries on without IPVS; VRRP must still run.
      log.error({ err: e }, `LVS: ${(e as Error).message}`);
    }
    await vrrp?.start();
    bfd.apply(config);
    if (vrrp && lvs) {
      // lvs_sync_daemon and ha_suspend follow the VRRP instances.
      for (const inst of vrrp.instances) {
        const tell = () => {
          const s = stateName(inst.state);
          lvs.vrrpStateChanged(inst.name, s === 'INIT' ? 'STOP' : s);
        };
        inst.onChange(tell);
        tell();
      }
    }
    // scheduling (nice, SCHED_RR, RLIMIT_RTTIME) once the CPU-bound start-up is done (priorities.ts)
    priorities.start(runVrrp ? 'vrrp' : 'checker');
  } catch (e) {
    // Whatever had started (BFD's sockets and timers above all) would keep the process alive.
    log.error({ err: e }, `Start-up failed: ${(e as Error).message}`);
    await release();
    throw e;
  }
  sdNotify('READY=1');
  log.info('Startup complete');

  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`Stopping (${sig})`);
      sdNotify('STOPPING=1');
      // a reload in progress would start trackers after the hosts stopped theirs
      await reloads;
      await release();
      log.info('Stopped keepalived-ts');
      resolve(0);
    };
    // SIGHUP: re-read the configuration; on fatal errors keep running the old one (keepalived).
    // Reloads are serialized: a second SIGHUP waits for the first.
    let reloads: Promise<void> = Promise.resolve();
    const reload = async () => {
      if (stopping) return;
      sdNotify('RELOADING=1');
      log.info(`Reloading configuration ${configFile}`);
      const next = load(configFile, opts, log);
      if (!next) {
        log.error('Reload aborted: the new configuration has fatal errors; keeping the running one');
      } else {
        if (vrrp) await vrrp.reload(next);
        else if (next.vrrpInstances.length > 0 && !opts.checkOnly)
          log.warn('Reload: vrrp_instances added to a daemon started without any; restart to run them');
        bfd.apply(next);
        if (lvs) await lvs.reload(next);
        else if (next.virtualServers.length > 0 && !opts.vrrpOnly)
          log.warn('Reload: virtual_servers added to a daemon started without any; restart to run them');
        priorities.reload(schedPlan(next.global, { withVrrp: vrrp !== undefined }));
        log.info('Reload complete');
      }
      sdNotify('READY=1');
    };
    const writeDump = (name: string, text: string) => {
      const path = join(dumpDir(), name);
      try {
        writeFileSync(path, text, { mode: 0o600 });
      } catch (e) {
        log.warn(`cannot write ${path}: ${(e as Error).message}`);
      }
    };
    const handlers: Record<DaemonSignal, () => void> = {
      SIGTERM: () => void stop('SIGTERM'),
      SIGINT: () => void stop('SIGINT'),
      SIGHUP: () => {
        reloads = reloads.then(() => reload()).catch((e) => log.error({ err: e }, 'reload failed'));
      },
      SIGUSR1: () => {
        const lines = (vrrp?.snapshot() ?? []).map((s) => JSON.stringify(s));
        if (lvs) lines.push(JSON.stringify({ lvs: lvs.snapshot() }));
        writeDump('keepalived.data', `${lines.join('\n')}\n`);
      },
      SIGUSR2: () => {
        const out: string[] = [];
        for (const inst of vrrp?.instances ?? []) {
          const c = inst.counters;
          out.push(
            `VRRP Instance: ${inst.name}`,
            `  State: ${stateName(inst.state)}`,
            '  Advertisements:',
            `    Received: ${c.get('vrrp.advert_rcvd')}`,
            `    Sent: ${c.get('vrrp.advert_sent')}`,
            `  Released master: ${c.get('vrrp.release_master')}`,
            '  Priority Zero:',
            `    Received: ${c.get('vrrp.pri_zero_rcvd')}`,
            `    Sent: ${c.get('vrrp.pri_zero_sent')}`,
            `  Counters: ${JSON.stringify(c.snapshot())}`,
          );
        }
        // Daemon-wide counters: unknown VRIDs, socket and netlink errors, LVS reconcile errors, …
        out.push('Daemon:', ...Object.entries(counters.snapshot()).map(([k, v]) => `  ${k}: ${v}`));
        writeDump('keepalived.stats', `${out.join('\n')}\n`);
      },
    };
    signals.serve((sig) => handlers[sig]());
  });
}
