/**
 * Daemon mode: `keepalived-ts -n -l -D -f CONF -p PIDFILE -r VRRP_PIDFILE -c CHECK_PIDFILE`.
 * One process runs what keepalived splits into parent, VRRP and checker children; every pid file
 * names it. Signals as keepalived: TERM/INT stop (priority-0 adverts, VIPs removed), HUP reloads,
 * USR1 writes the data dump, USR2 the stats dump. With NOTIFY_SOCKET set (systemd Type=notify) it
 * reports READY=1 / RELOADING=1 / STOPPING=1.
 */

import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configTestExitCode, formatDiagnostic } from '../config/diagnostics.js';
import { loadConfig, sysfsInterfaceExists, systemScriptEnv } from '../config/load.js';
import type { Command, KeepalivedConfig } from '../config/model.js';
import { systemClock } from '../core/clock.js';
import { Counters } from '../core/counters.js';
import { isKaError, type KaError } from '../core/errors.js';
import { createLogger, type Logger, type LogOptions } from '../core/log.js';
import { facilityNumber } from '../core/syslog.js';
import { DaemonDbus, dbusSettings, sameDbusSettings } from '../dbus/daemon.js';
import { startOrphanReaper } from '../notify/script.js';
import { DaemonSnmp } from '../snmp/daemon.js';
import { enterNetns } from '../sys/netns.js';
import * as sched from '../sys/sched.js';
import { sendUnixDatagram } from '../sys/unix-dgram.js';
import { stateName } from '../vrrp/types.js';
import { type AddrInfo, decodeRtnl, getAddrDump } from '../wire/rtnetlink.js';
import { DaemonBfd } from './bfd-host.js';
import { logConfigDump, versionText } from './cli.js';
import type { StartupReporter } from './daemonize.js';
import {
  type CheckLvsSnapshot,
  dumpDir,
  dumpPaths,
  formatCheckData,
  formatStats,
  formatVrrpData,
  formatVrrpJson,
  writeDumpFile,
} from './dumps.js';
import { runLifecycleScript, warnLifecycleSecurity } from './lifecycle-scripts.js';
import { ipvsRepairDefaultS, LvsHost, type LvsHostDeps } from './lvs-host.js';
import { type LvsSnapshot, type MetricsServer, parseListenAddress, startMetricsServer } from './metrics.js';
import { NetState } from './netstate.js';
import { ensurePidDir, pidFilePaths, writePidFile } from './pidfile.js';
import { Priorities, type SchedOps, type SchedPlan, schedPlan, threadNice } from './priorities.js';
import {
  createReloadFile,
  ReloadTimeMonitor,
  reloadSettings,
  removeReloadFile,
  unsupportedReloadChanges,
} from './reload-control.js';
import { clearCounters, installRtSignals } from './rt-dumps.js';
import { ScriptResolver } from './scripts.js';
import { hasStaticConfig, StaticConfig } from './static-config.js';
import { VrrpHost, type VrrpHostDeps } from './vrrp-host.js';

/** What daemon mode needs from the command line (a structural subset of the CLI's options). */
export interface DaemonOptions {
  configFile?: string;
  /** -x / --snmp and -A / --snmp-agent-socket (src/snmp/daemon.ts). */
  snmp?: boolean;
  snmpAgentSocket?: string | undefined;
  /** -u: the umask given on the command line (the `umask` keyword is then ignored, as keepalived). */
  umask?: number | undefined;
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
  /** -d: log the configuration at start and at each reload. */
  dumpConf?: boolean;
  /** --all: run the VRRP and checker sides even with nothing configured for them. */
  all?: boolean;
  /** -D -D: trace-level logs. */
  logExtraDetail?: boolean;
  /** -a: log every address added or removed, as keepalived's netlink reflector reports them. */
  addressMonitoring?: boolean;
  /** Told once the daemon is up, or why start-up failed (the parent of a forked daemon). */
  startup?: StartupReporter | undefined;
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
  private readonly closers: (() => void)[] = [];
  /** Also run `fn` at close (the RT signal watches). */
  onClose(fn: () => void): void {
    this.closers.push(fn);
  }
  close(): void {
    for (const s of DAEMON_SIGNALS) process.off(s, this.listener);
    for (const c of this.closers.splice(0)) c();
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

/** keepalived's -a line for one address change. */
export function addressChangeLine(a: Pick<AddrInfo, 'address' | 'deleted'>, ifname: string): string {
  return `Netlink reflector reports IP ${a.address} ${a.deleted ? 'removed from' : 'added to'} ${ifname}`;
}

/**
 * -a: the addresses present at start, then each change, one line each as keepalived 2.2.7 logs them.
 * keepalived leaves out the changes its own commands made (its VIPs going up and down): NetState
 * marks those `own` (the notification's port id is our socket's).
 */
async function monitorAddresses(net: NetState, log: Logger, counters: Counters): Promise<void> {
  const name = (ifindex: number) => net.link(ifindex)?.name ?? `if${ifindex}`;
  for (const m of await net.request(getAddrDump(0))) {
    try {
      const ev = decodeRtnl(m);
      if (ev?.kind === 'addr') log.info(addressChangeLine(ev.addr, name(ev.addr.ifindex)));
    } catch {
      counters.inc('daemon.address_monitor_errors');
    }
  }
  net.on('addr', (a, own) => {
    if (!own) log.info(addressChangeLine(a, name(a.ifindex)));
  });
}

/** Marks, in `fatals`, a main configuration file that cannot be read (keepalived exits 6). */
const MAIN_FILE_MISSING = 'main configuration file missing';

function load(
  path: string,
  opts: DaemonOptions,
  log: Logger,
  fatals: string[] = [],
  logged: string[] = [],
): KeepalivedConfig | undefined {
  const { config, diagnostics } = loadConfig(path, {
    ...(opts.configId ? { configId: opts.configId } : {}),
    allConfig: opts.allConfig ?? false,
  });
  let fatal = false;
  for (const d of diagnostics) {
    const line = formatDiagnostic(d);
    logged.push(line);
    if (d.code === 'KA_ERR_CONF_FILE_NOT_FOUND' && d.pos === undefined) {
      // the main file (a missing include only warns): keepalived stops, "Config files missing"
      fatal = true;
      fatals.push(MAIN_FILE_MISSING);
      log.error({ code: d.code }, `Config files missing '${path}'. (${line})`);
    } else if (d.severity === 'fatal') {
      fatal = true;
      fatals.push(line);
      log.error({ code: d.code }, line);
    } else if (d.severity === 'error') log.error({ code: d.code }, line);
    else log.warn({ code: d.code }, line);
  }
  return fatal ? undefined : config;
}

/**
 * reload_check_config: the config test a reload runs first (keepalived runs `keepalived
 * --config-test=LOG` in a child): its messages written to `logFile`, the configuration returned
 * only when the test passes (exit code 0), otherwise undefined.
 */
function checkedLoad(
  path: string,
  opts: DaemonOptions,
  logFile: string,
  interfaceExists: (name: string) => boolean,
  log: Logger,
  counters: Counters,
): KeepalivedConfig | undefined {
  const { config, diagnostics } = loadConfig(path, {
    ...(opts.configId ? { configId: opts.configId } : {}),
    allConfig: opts.allConfig ?? false,
    interfaceExists,
    scripts: systemScriptEnv,
  });
  try {
    writeFileSync(logFile, diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
  } catch (e) {
    counters.inc('daemon.reload_check_log_errors');
    log.warn(`cannot write the config check log ${logFile}: ${(e as Error).message}`);
  }
  if (configTestExitCode(diagnostics) !== 0) {
    counters.inc('daemon.reload_check_failed');
    log.info(`New config failed validation, see ${logFile} for details`);
    return undefined;
  }
  return config;
}

/**
 * The config test of the start-up configuration when reload_check_config is set: its exit code;
 * the messages the plain load did not already log (interfaces, script security) are logged.
 */
/** A start-up refused by the configuration as keepalived refuses it (exit 2), e.g. a missing interface. */
function refusedConfig(e: unknown): boolean {
  return isKaError(e) && (e.details as { exitCode?: unknown } | undefined)?.exitCode === 2;
}

/** Whether the VRRP side accepts `next`'s interfaces (it logs keepalived's lines when not). */
function interfacesPresent(vrrp: VrrpHost, next: KeepalivedConfig): boolean {
  try {
    vrrp.refuseMissingInterfaces(next);
    return true;
  } catch (e) {
    if (refusedConfig(e)) return false;
    throw e;
  }
}

function startConfigCheck(path: string, opts: DaemonOptions, log: Logger, logged: readonly string[]): number {
  const seen = new Set(logged);
  const { diagnostics } = loadConfig(path, {
    ...(opts.configId ? { configId: opts.configId } : {}),
    allConfig: opts.allConfig ?? false,
    interfaceExists: sysfsInterfaceExists,
    scripts: systemScriptEnv,
  });
  for (const d of diagnostics) {
    const line = formatDiagnostic(d);
    if (!seen.has(line)) log.error({ code: d.code }, line);
  }
  return configTestExitCode(diagnostics);
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
    level: opts.logExtraDetail ? 'trace' : opts.logDetail ? 'debug' : 'info',
    // keepalived: the console (stderr) only with -l
    console: opts.logConsole ?? false,
    stderr: true,
    syslog: syslog(ns, instance),
  });
  let log = createLogger(logOpts(opts.namespace, undefined));
  // Late-bound: the hosts are created below; a scrape or dump before then sees no instances.
  let vrrpHost: VrrpHost | undefined;
  let lvsHost: LvsHost | undefined;
  // the running configuration, for keepalived.json (set once loaded and at each reload)
  let jsonConfig: KeepalivedConfig | undefined;
  // RT signals 36 (JSON) and 63 (STATS_CLEAR) end a process that does not catch them: caught first
  const stopRtSignals = installRtSignals({
    dumpDir: () => dumpDir(),
    jsonText: () =>
      vrrpHost && jsonConfig
        ? formatVrrpJson({
            config: jsonConfig,
            instances: vrrpHost.snapshot(),
            trackers: vrrpHost.trackerStates(),
            commandArgv: printedArgv,
          })
        : '',
    writeStats: () =>
      void writeDumpFile(
        join(dumpDir(), 'keepalived.stats'),
        formatStats((vrrpHost?.instances ?? []).map((i) => ({ name: i.name, stats: i.counters.snapshot() }))),
        { log, counters },
      ),
    clearStats: () => {
      for (const i of vrrpHost?.instances ?? []) clearCounters(i.counters);
    },
    log,
    counters,
  });
  signals.onClose(stopRtSignals);
  const configFile = opts.configFile ?? DEFAULT_CONFIG_FILE;
  log.info(`Starting keepalived-ts, pid ${process.pid}`);
  const fatals: string[] = [];
  const logged: string[] = [];
  const config = load(configFile, opts, log, fatals, logged);
  if (!config) {
    log.error(`Stopped - configuration ${configFile} has fatal errors`);
    opts.startup?.failed(`configuration ${configFile} has fatal errors: ${fatals.join('; ')}`);
    // keepalived 2.2.7 exits 6 on a missing main file (observed, with -n and when forking)
    return fatals.includes(MAIN_FILE_MISSING) ? 6 : 1;
  }
  applyUmask(config, opts);
  // keepalived 2.2.7 with reload_check_config: a configuration with any error (what `-t` would not
  // pass: unknown keywords, missing interfaces, script security) stops its children at start, and
  // the daemon with them ("exited with permanent error CONFIG. Terminating", exit 2; observed)
  const startCheck = reloadSettings(config).checkLog;
  if (startCheck !== undefined) {
    const code = startConfigCheck(configFile, opts, log, logged);
    if (code !== 0) {
      counters.inc('daemon.reload_check_failed');
      log.error(
        `configuration ${configFile} has errors (config test exit ${code}) and reload_check_config is set: exited with permanent error CONFIG. Terminating`,
      );
      opts.startup?.failed(`configuration ${configFile} has errors and reload_check_config is set`);
      return 2;
    }
  }
  // keepalived removes a reload_file left behind before it starts
  const startReloadFile = reloadSettings(config).reloadFile;
  if (startReloadFile) removeReloadFile(startReloadFile, counters);
  const ns = opts.namespace ?? config.global.netNamespace;
  const instance = config.global.instance;
  // --all: both sides run even with nothing configured; static addresses/routes/rules are the VRRP side's
  const wantVrrp =
    (config.vrrpInstances.length > 0 || hasStaticConfig(config) || opts.all === true) && !opts.checkOnly;
  const wantLvs = (config.virtualServers.length > 0 || opts.all === true) && !opts.vrrpOnly;
  if (ns !== opts.namespace || instance) {
    // keepalived: "Changing syslog ident to Keepalived_NS_INSTANCE"
    log.info(`Changing syslog ident to Keepalived${identSuffix(ns, instance)}`);
    log = createLogger(logOpts(ns, instance));
  }
  if (opts.dumpConf) logConfigDump(config, log);
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
    if (wantVrrp) files.push(pids.vrrp);
    if (wantLvs) files.push(pids.checkers);
    if (config.bfdInstances.length > 0 && !opts.noBfd) files.push(pids.bfd);
    const dir = pids.dir;
    if (dir && files.some((f) => f.startsWith(`${dir}/`))) releases.push(ensurePidDir(dir));
    if (ns) enterNetns(ns);
    for (const f of files) releases.push(writePidFile(f));
  } catch (e) {
    log.error((e as Error).message);
    opts.startup?.failed((e as Error).message);
    // removed in reverse: the pid files before their directory
    for (const r of releases.reverse()) r();
    return 1;
  }

  // keepalived's parent runs startup_script here: pid files written, no child started yet; start-up
  // goes on whatever its outcome (lifecycle-scripts.ts)
  const scriptDeps = { log, counters, clock: systemClock };
  await warnLifecycleSecurity(config, scriptDeps);
  await runLifecycleScript('startup', config, scriptDeps);
  // the configuration whose shutdown_script runs at stop: the running one (a reload replaces it)
  let current = config;
  jsonConfig = config;

  let metrics: MetricsServer | undefined;
  let snmp: DaemonSnmp | undefined;
  let dbus: DaemonDbus | undefined;
  /** The DBus service for a configuration (set once the VRRP host exists; at start and at reloads). */
  let makeDbus: (cfg: KeepalivedConfig) => DaemonDbus | undefined = () => undefined;
  /**
   * lvs_sync_daemon and ha_suspend follow the VRRP instances: those running now, and after a reload
   * the ones it added or replaced (a use_vmac toggle makes a new instance of the same name).
   */
  const lvsFollowed = new WeakSet<object>();
  const lvsFollow = () => {
    if (!vrrp || !lvs) return;
    const host = lvs;
    for (const inst of vrrp.instances) {
      if (lvsFollowed.has(inst)) continue;
      lvsFollowed.add(inst);
      const tell = () => {
        const s = stateName(inst.state);
        host.vrrpStateChanged(inst.name, s === 'INIT' ? 'STOP' : s);
      };
      inst.onChange(tell);
      tell();
    }
  };
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
      opts.startup?.failed(`metrics server: ${(e as Error).message}`);
      await runLifecycleScript('shutdown', current, scriptDeps);
      for (const r of releases.reverse()) r();
      return 1;
    }
  }
  let net: NetState | undefined;
  let scripts: ScriptResolver;
  // static_ipaddress / _routes / _rules: the VRRP side's, whatever the instances (keepalived's start_vrrp)
  let statics: StaticConfig | undefined;
  try {
    net = await NetState.open({ log, counters });
    if (opts.addressMonitoring) await monitorAddresses(net, log.child({ proc: 'vrrp' }), counters);
    scripts = await ScriptResolver.create(config, log);
    // as PID 1 or a subreaper, orphans of scripts are reaped even before a script runner exists
    startOrphanReaper(log);
    if (wantVrrp)
      statics = new StaticConfig({ net, log: log.child({ proc: 'vrrp' }), counters, followRoutes: true });
  } catch (e) {
    // a listening metrics server or an open netlink socket would keep the process alive
    net?.close();
    await metrics?.close();
    await runLifecycleScript('shutdown', current, scriptDeps);
    for (const r of releases.reverse()) r();
    throw e;
  }
  const runVrrp = (config.vrrpInstances.length > 0 || opts.all === true) && !opts.checkOnly;
  const runLvs = wantLvs;
  // vrrp_* / checker_* scheduling: the main thread is the VRRP side, the checker worker the checker side.
  const priorities = make.priorities(schedPlan(config.global, { withVrrp: runVrrp }), {
    ops: schedOps,
    log,
    counters,
    clock: systemClock,
  });
  const nl = net;
  const vrrp = runVrrp
    ? make.vrrpHost(config, {
        clock: systemClock,
        log: log.child({ proc: 'vrrp' }),
        counters,
        net: nl,
        scripts,
      })
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
    // track_bfd (VRRP) and BFD_CHECK (checkers) both follow the sessions
    vrrp,
    lvs,
  );

  /**
   * Stop and a start that fails part-way release the same way: VRRP first (the peer takes over the
   * VIPs while the checkers wind down), then LVS; BFD in any case, else a peer would keep seeing the
   * session Up and its sockets would keep the process alive; then scheduling, metrics, netlink and
   * the pid files.
   */
  const release = async (): Promise<void> => {
    try {
      // -V: the instances still stop (their sockets and timers would keep the process alive), the
      // addresses stay
      if (vrrp) await vrrp.stop({ keepAddresses: opts.dontReleaseVrrp === true });
      await lvs?.stop();
    } catch (e) {
      log.error({ err: e }, 'error while stopping');
    } finally {
      // removed even with -V, as keepalived's stop_vrrp does; never rejects (failures are per entry)
      await statics?.remove();
      try {
        bfd.stop();
      } catch (e) {
        log.error({ err: e }, 'error while stopping BFD');
      }
    }
    // each step on its own: whatever fails, the pid files and their directory still go
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        log.error({ err: e }, `error while stopping ${what}`);
      }
    };
    await step('scheduling', () => priorities.stop());
    // after vrrp.stop(): the instances' last VrrpStatusChange goes out before VrrpStopped
    await step('dbus', () => dbus?.stop());
    await step('snmp', () => snmp?.stop());
    await step('metrics', () => metrics?.close());
    await step('netlink', () => nl.close());
    // keepalived: after its children have exited, before its pid file goes
    await runLifecycleScript('shutdown', current, scriptDeps);
    for (const r of releases.reverse()) await step('pid files', r);
  };
  if (signals.stopRequested) {
    // a TERM or INT arrived while loading: nothing has been applied yet
    log.info('Stop requested during start-up - exiting');
    await release();
    return 0;
  }

  try {
    // the SNMP sub-agent: keepalived's VRRP process connects it before its instances start, its
    // checker process before its virtual servers
    snmp = DaemonSnmp.create(config, opts, { log: log.child({ proc: 'vrrp' }), counters });
    const snmpVersion = versionText().split('\n')[0] ?? '';
    // VRRP-MIB up-times count from here (keepalived's vrrp_start_time), in epoch seconds
    const snmpStartedAt = Date.now() / 1000;
    snmp?.start(() => ({
      config: current,
      instances: vrrp?.snapshot() ?? [],
      version: snmpVersion,
      trackers: vrrp?.trackerStates() ?? [],
      commandArgv: printedArgv,
      ifindexOf: (name) => nl.link(name)?.ifindex,
      link: (name) => {
        const l = nl.link(name);
        return (
          l && {
            ifindex: l.ifindex,
            mac: l.mac,
            ipv4: nl.primaryIpv4(l.ifindex),
            ipv6: nl.linkLocalIpv6(l.ifindex),
          }
        );
      },
      startedAt: snmpStartedAt,
      virtualServers: (lvs?.snapshot() as LvsSnapshot | undefined)?.virtualServers,
      ...(ns ? { namespace: ns } : {}),
    }));
    await snmp?.ready(1000);
    // DBus (enable_dbus): keepalived's VRRP process registers on the system bus before its instances start
    makeDbus = (cfg) => {
      if (!vrrp) return undefined;
      const host = vrrp;
      return DaemonDbus.create(
        cfg,
        {
          log: log.child({ proc: 'vrrp' }),
          counters,
          actions: {
            printData: () => {
              writeDumpFile(
                dumpPaths(current, ns).data,
                formatVrrpData({
                  config: current,
                  instances: host.snapshot(),
                  trackers: host.trackerStates(),
                  commandArgv: printedArgv,
                  ...(ns ? { namespace: ns } : {}),
                }),
                { log, counters },
              );
            },
            printStats: (clear) => {
              writeDumpFile(
                dumpPaths(current, ns).stats,
                formatStats(host.instances.map((i) => ({ name: i.name, stats: i.counters.snapshot() }))),
                { log, counters },
              );
              if (clear) for (const i of host.instances) clearCounters(i.counters);
            },
            // keepalived answers, then signals its parent: the reload is the SIGHUP one
            reload: () => void process.kill(process.pid, 'SIGHUP'),
            sendGarp: (name) => void host.sendGarp(name),
          },
        },
        ns,
      );
    };
    dbus = makeDbus(config);
    void dbus?.start();
    // realServerStateChange / virtualServerQuorumStateChange, from the first quorum decisions on
    if (lvs) snmp?.watchLvs(lvs);
    try {
      await lvs?.start();
    } catch (e) {
      // keepalived's checker child logs and carries on without IPVS; VRRP must still run.
      log.error({ err: e }, `LVS: ${(e as Error).message}`);
    }
    await statics?.apply(config);
    await vrrp?.start();
    if (vrrp) snmp?.watch(vrrp.instances);
    if (vrrp) dbus?.watch(vrrp.instances);
    bfd.apply(config);
    lvsFollow();
    // scheduling (nice, SCHED_RR, RLIMIT_RTTIME) once the CPU-bound start-up is done (priorities.ts)
    priorities.start(runVrrp ? 'vrrp' : 'checker');
  } catch (e) {
    // Whatever had started (BFD's sockets and timers above all) would keep the process alive.
    if (refusedConfig(e)) {
      // keepalived: its VRRP child exits with CONFIG (a missing interface without
      // dynamic_interfaces), the parent stops too and exits 2
      log.error('exited with permanent error CONFIG. Terminating');
      opts.startup?.failed((e as Error).message);
      await release();
      return 2;
    }
    log.error({ err: e }, `Start-up failed: ${(e as Error).message}`);
    await release();
    throw e;
  }
  sdNotify('READY=1');
  log.info('Startup complete');
  opts.startup?.ready();

  return await new Promise<number>((resolve) => {
    let stopping = false;
    // reload_time_file: stopped while a reload runs, started again from the configuration it leaves
    let timeMonitor: ReloadTimeMonitor | undefined;
    const stop = async (sig: string, code = 0) => {
      if (stopping) return;
      stopping = true;
      timeMonitor?.stop();
      log.info(`Stopping (${sig})`);
      sdNotify('STOPPING=1');
      // a reload in progress would start trackers after the hosts stopped theirs
      await reloads;
      await release();
      log.info('Stopped keepalived-ts');
      resolve(code);
    };
    // SIGHUP: re-read the configuration; on fatal errors keep running the old one (keepalived).
    // Reloads are serialized: a second SIGHUP waits for the first.
    let reloads: Promise<void> = Promise.resolve();
    const requestReload = () => {
      reloads = reloads.then(() => reload()).catch((e) => log.error({ err: e }, 'reload failed'));
    };
    const startTimeMonitor = () => {
      const rs = reloadSettings(current);
      if (!rs.timeFile || stopping) return;
      timeMonitor = new ReloadTimeMonitor({
        path: rs.timeFile,
        repeat: rs.repeat,
        log,
        counters,
        clock: systemClock,
        onReload: requestReload,
      });
      timeMonitor.start();
    };
    const stopTimeMonitor = () => {
      timeMonitor?.stop();
      timeMonitor = undefined;
    };
    startTimeMonitor();
    const reload = async () => {
      if (stopping) return;
      sdNotify('RELOADING=1');
      log.info(`Reloading configuration ${configFile}`);
      stopTimeMonitor();
      try {
        await applyReload();
      } finally {
        // systemd leaves "reloading" even when the reload failed part-way
        sdNotify('READY=1');
        startTimeMonitor();
      }
    };
    /** The new configuration, read and checked (reload_check_config), with reload_file around it. */
    const readForReload = (): KeepalivedConfig | undefined => {
      const rs = reloadSettings(current);
      if (rs.reloadFile) createReloadFile(rs.reloadFile, log, counters);
      try {
        if (rs.checkLog === undefined) return load(configFile, opts, log);
        log.debug('validate conf before Reload');
        return checkedLoad(configFile, opts, rs.checkLog, (n) => nl.link(n) !== undefined, log, counters);
      } finally {
        if (rs.reloadFile) removeReloadFile(rs.reloadFile, counters);
      }
    };
    const applyReload = async () => {
      const next = readForReload();
      const refused = next ? unsupportedReloadChanges(current, next) : [];
      for (const line of refused) log.info(line);
      if (refused.length > 0) counters.inc('daemon.reload_refused');
      if (!next) {
        log.error(
          'Reload aborted: the new configuration did not load or failed its check; keeping the running one',
        );
      } else if (refused.length > 0) {
        log.error(
          'Reload aborted: a setting that needs a restart changed; keeping the running configuration',
        );
      } else if (vrrp && !interfacesPresent(vrrp, next)) {
        // keepalived 2.2.7: a reload naming a missing interface (no dynamic_interfaces) stops the
        // whole daemon (its VRRP child exits with CONFIG; observed); stopped once this reload returns
        log.error('exited with permanent error CONFIG. Terminating');
        setImmediate(() => void stop('configuration error', 2));
      } else {
        if (opts.dumpConf) logConfigDump(next, log);
        await statics?.reconcile(next);
        // keepalived releases the bus name at a reload that drops enable_dbus (or renames the
        // service) and takes it at one that adds it
        const dbusKept = sameDbusSettings(dbusSettings(current, ns), dbusSettings(next, ns));
        if (!dbusKept) {
          await dbus?.stop();
          dbus = undefined;
        }
        if (vrrp) {
          dbus?.reloading();
          try {
            await vrrp.reload(next);
          } finally {
            dbus?.reloaded(next, vrrp.instances);
          }
          if (!dbusKept) {
            dbus = makeDbus(next);
            void dbus?.start();
            dbus?.watch(vrrp.instances);
          }
        } else if (next.vrrpInstances.length > 0 && !opts.checkOnly)
          log.warn('Reload: vrrp_instances added to a daemon started without any; restart to run them');
        bfd.apply(next);
        if (lvs) await lvs.reload(next);
        else if (next.virtualServers.length > 0 && !opts.vrrpOnly)
          log.warn('Reload: virtual_servers added to a daemon started without any; restart to run them');
        priorities.reload(schedPlan(next.global, { withVrrp: vrrp !== undefined }));
        current = next;
        jsonConfig = next;
        // instances a reload added send their traps too
        if (vrrp) snmp?.watch(vrrp.instances);
        lvsFollow();
        applyUmask(next, opts);
        log.info('Reload complete');
      }
    };
    const handlers: Record<DaemonSignal, () => void> = {
      SIGTERM: () => void stop('SIGTERM'),
      SIGINT: () => void stop('SIGINT'),
      SIGHUP: requestReload,
      SIGUSR1: () => {
        const paths = dumpPaths(current, ns);
        if (vrrp)
          writeDumpFile(
            paths.data,
            formatVrrpData({
              config: current,
              instances: vrrp.snapshot(),
              trackers: vrrp.trackerStates(),
              commandArgv: printedArgv,
              ...(ns ? { namespace: ns } : {}),
            }),
            { log, counters },
          );
        // the checker side, in keepalived's keepalived_check.data layout (docs/DUMPS.md)
        if (lvs)
          writeDumpFile(
            paths.checkData,
            formatCheckData({
              config: current,
              lvs: lvs.snapshot() as CheckLvsSnapshot,
              commandArgv: printedArgv,
              ...(ns ? { namespace: ns } : {}),
            }),
            { log, counters },
          );
      },
      SIGUSR2: () => {
        if (vrrp)
          writeDumpFile(
            dumpPaths(current, ns).stats,
            formatStats(vrrp.instances.map((i) => ({ name: i.name, stats: i.counters.snapshot() }))),
            { log, counters },
          );
      },
    };
    signals.serve((sig) => {
      try {
        handlers[sig]();
      } catch (e) {
        // a dump that fails must not end the daemon (nothing would be released)
        counters.inc('daemon.dump_errors');
        log.error({ err: e }, `${sig}: ${(e as Error).message}`);
      }
    });
  });
}

/**
 * argv of a script as keepalived prints it in its dumps: the program found on PATH and its
 * symlinks resolved (/bin/true is printed /usr/bin/true on a merged-/usr system); the configured
 * words when it cannot be found. Synchronous: a dump is written in one go.
 */
function printedArgv(c: Command): readonly string[] {
  const [first, ...rest] = c.argv;
  if (first === undefined) return c.argv;
  const candidates = first.includes('/')
    ? [first]
    : (process.env.PATH ?? '/usr/bin:/bin')
        .split(':')
        .filter((d) => d !== '')
        .map((d) => join(d, first));
  for (const f of candidates) {
    try {
      return [realpathSync(f), ...rest];
    } catch {
      // not there: the next PATH entry
    }
  }
  return c.argv;
}

/** global_defs `umask`, unless -u was given (keepalived: the command line wins). */
function applyUmask(config: KeepalivedConfig, opts: DaemonOptions): void {
  if (opts.umask === undefined && config.global.umask !== undefined) process.umask(config.global.umask);
}
