/**
 * keepalived's command line (surface §3), parsed like its getopt_long table: short options may be
 * clustered (`-lnD`), their values attached or separate (`-fFILE`, `-f FILE`); long options take
 * `--opt=VALUE` or `--opt VALUE`; `--config-test` and `--core-dump-pattern` take an optional value
 * only in the attached form. Hand-written rather than node:util parseArgs, which has no optional
 * option values and no attached short values.
 */

export type CliMode = 'daemon' | 'config-test' | 'dump-config' | 'version' | 'help' | 'signum' | 'genhash';

export interface CliOptions {
  mode: CliMode;
  configFile: string | undefined;
  /** `--config-test=FILE`: append the diagnostics to FILE instead of stderr. */
  configTestLog: string | undefined;
  vrrpOnly: boolean;
  checkOnly: boolean;
  noBfd: boolean;
  all: boolean;
  logConsole: boolean;
  logDetail: boolean;
  logFacility: string | undefined;
  noSyslog: boolean;
  logFile: string | undefined;
  flushLogFile: boolean;
  umask: number | undefined;
  releaseVips: boolean;
  dontReleaseVrrp: boolean;
  dontReleaseIpvs: boolean;
  dontRespawn: boolean;
  dontFork: boolean;
  dumpConf: boolean;
  pidFile: string | undefined;
  vrrpPidFile: string | undefined;
  checkersPidFile: string | undefined;
  bfdPidFile: string | undefined;
  addressMonitoring: boolean;
  namespace: string | undefined;
  allConfig: boolean;
  configId: string | undefined;
  snmp: boolean;
  snmpAgentSocket: string | undefined;
  coreDump: boolean;
  /** `-M` alone: keepalived's default pattern; `-MPAT`: that pattern. */
  coreDumpPattern: string | true | undefined;
  signum: string | undefined;
  /** `--metrics-address HOST:PORT` (keepalived-ts): serve /metrics and /state over HTTP there. */
  metricsAddress: string | undefined;
  /**
   * `--ipvs-repair-interval SECONDS` (keepalived-ts): how often the IPVS table is read back and
   * foreign changes to our services repaired; 0 = never. Default: see run.ts.
   */
  ipvsRepairInterval: number | undefined;
  /** `-T/--genhash` (must be first): the arguments after it, for the genhash parser. */
  genhashArgs: string[];
  /** Non-option arguments (keepalived warns "Unexpected argument(s)" and continues). */
  stray: string[];
}

export type ParseResult = { ok: true; opts: CliOptions } | { ok: false; message: string };

type Arg = 'none' | 'required' | 'optional';

interface OptDef {
  readonly short?: string;
  readonly long: readonly string[];
  readonly arg: Arg;
  readonly apply: (o: CliOptions, v: string | undefined) => string | undefined;
}

const set =
  <K extends keyof CliOptions>(k: K, v: CliOptions[K]) =>
  (o: CliOptions): undefined => {
    o[k] = v;
    return undefined;
  };
const val =
  <K extends keyof CliOptions>(k: K) =>
  (o: CliOptions, v: string | undefined): undefined => {
    (o as unknown as Record<string, unknown>)[k] = v;
    return undefined;
  };

const FACILITIES = /^([0-7]|local[0-7]|user|daemon)$/;

const OPTS: readonly OptDef[] = [
  { short: 'f', long: ['use-file'], arg: 'required', apply: val('configFile') },
  { short: 'P', long: ['vrrp'], arg: 'none', apply: set('vrrpOnly', true) },
  { short: 'C', long: ['check'], arg: 'none', apply: set('checkOnly', true) },
  { short: 'B', long: ['no_bfd', 'no-bfd'], arg: 'none', apply: set('noBfd', true) },
  { long: ['all'], arg: 'none', apply: set('all', true) },
  { short: 'l', long: ['log-console'], arg: 'none', apply: set('logConsole', true) },
  { short: 'D', long: ['log-detail'], arg: 'none', apply: set('logDetail', true) },
  {
    short: 'S',
    long: ['log-facility'],
    arg: 'required',
    apply: (o, v) => {
      if (!FACILITIES.test(v ?? '')) return `Invalid log facility '${v}'`;
      o.logFacility = v;
      return undefined;
    },
  },
  { short: 'G', long: ['no-syslog'], arg: 'none', apply: set('noSyslog', true) },
  {
    short: 'g',
    long: ['log-file'],
    arg: 'optional',
    apply: (o, v) => {
      o.logFile = v ?? '/tmp/keepalived.log';
      return undefined;
    },
  },
  { long: ['flush-log-file'], arg: 'none', apply: set('flushLogFile', true) },
  {
    short: 'u',
    long: ['umask'],
    arg: 'required',
    apply: (o, v) => {
      const n = /^0[0-7]*$/.test(v ?? '')
        ? Number.parseInt(v!, 8)
        : /^[1-9]\d*$/.test(v ?? '')
          ? Number(v)
          : Number.NaN;
      if (!(n >= 0 && n <= 0o777)) return `Invalid umask '${v}'`;
      o.umask = n;
      return undefined;
    },
  },
  { short: 'X', long: ['release-vips'], arg: 'none', apply: set('releaseVips', true) },
  { short: 'V', long: ['dont-release-vrrp'], arg: 'none', apply: set('dontReleaseVrrp', true) },
  { short: 'I', long: ['dont-release-ipvs'], arg: 'none', apply: set('dontReleaseIpvs', true) },
  { short: 'R', long: ['dont-respawn'], arg: 'none', apply: set('dontRespawn', true) },
  { short: 'n', long: ['dont-fork'], arg: 'none', apply: set('dontFork', true) },
  { short: 'd', long: ['dump-conf'], arg: 'none', apply: set('dumpConf', true) },
  { short: 'p', long: ['pid'], arg: 'required', apply: val('pidFile') },
  { short: 'r', long: ['vrrp_pid', 'vrrp-pid'], arg: 'required', apply: val('vrrpPidFile') },
  { short: 'c', long: ['checkers_pid', 'checkers-pid'], arg: 'required', apply: val('checkersPidFile') },
  { short: 'b', long: ['bfd_pid', 'bfd-pid'], arg: 'required', apply: val('bfdPidFile') },
  { short: 'a', long: ['address-monitoring'], arg: 'none', apply: set('addressMonitoring', true) },
  { short: 's', long: ['namespace'], arg: 'required', apply: val('namespace') },
  { short: 'e', long: ['all-config'], arg: 'none', apply: set('allConfig', true) },
  { short: 'i', long: ['config-id'], arg: 'required', apply: val('configId') },
  { short: 'x', long: ['snmp'], arg: 'none', apply: set('snmp', true) },
  { short: 'A', long: ['snmp-agent-socket'], arg: 'required', apply: val('snmpAgentSocket') },
  { short: 'm', long: ['core-dump'], arg: 'none', apply: set('coreDump', true) },
  {
    short: 'M',
    long: ['core-dump-pattern'],
    arg: 'optional',
    apply: (o, v) => {
      o.coreDumpPattern = v ?? true;
      return undefined;
    },
  },
  {
    long: ['signum'],
    arg: 'required',
    apply: (o, v) => {
      o.signum = v;
      o.mode = 'signum';
      return undefined;
    },
  },
  {
    short: 't',
    long: ['config-test'],
    arg: 'optional',
    apply: (o, v) => {
      o.mode = 'config-test';
      o.configTestLog = v;
      return undefined;
    },
  },
  { long: ['dump-config'], arg: 'none', apply: set('mode', 'dump-config') },
  { long: ['metrics-address'], arg: 'required', apply: val('metricsAddress') },
  {
    long: ['ipvs-repair-interval'],
    arg: 'required',
    apply: (o, v) => {
      const n = Number(v);
      if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n))
        return `Invalid IPVS repair interval '${v}' (seconds, 0 = never)`;
      o.ipvsRepairInterval = n;
      return undefined;
    },
  },
  { short: 'v', long: ['version'], arg: 'none', apply: set('mode', 'version') },
  { short: 'h', long: ['help'], arg: 'none', apply: set('mode', 'help') },
];

export function defaultOptions(): CliOptions {
  return {
    mode: 'daemon',
    configFile: undefined,
    configTestLog: undefined,
    vrrpOnly: false,
    checkOnly: false,
    noBfd: false,
    all: false,
    logConsole: false,
    logDetail: false,
    logFacility: undefined,
    noSyslog: false,
    logFile: undefined,
    flushLogFile: false,
    umask: undefined,
    releaseVips: false,
    dontReleaseVrrp: false,
    dontReleaseIpvs: false,
    dontRespawn: false,
    dontFork: false,
    dumpConf: false,
    pidFile: undefined,
    vrrpPidFile: undefined,
    checkersPidFile: undefined,
    bfdPidFile: undefined,
    addressMonitoring: false,
    namespace: undefined,
    allConfig: false,
    configId: undefined,
    snmp: false,
    snmpAgentSocket: undefined,
    coreDump: false,
    coreDumpPattern: undefined,
    signum: undefined,
    metricsAddress: undefined,
    ipvsRepairInterval: undefined,
    genhashArgs: [],
    stray: [],
  };
}

/** Parses keepalived's argv (without node and script). Never throws. */
export function parseOptions(argv: readonly string[]): ParseResult {
  const o = defaultOptions();
  if (argv[0] === '-T' || argv[0] === '--genhash') {
    o.mode = 'genhash';
    o.genhashArgs = argv.slice(1);
    return { ok: true, opts: o };
  }
  // "version"/"help"/"signum" win over the config test, whatever the order
  const modes: CliMode[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      o.stray.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const def = OPTS.find((d) => d.long.includes(name));
      if (!def) return { ok: false, message: `Unknown option ${a}` };
      let v: string | undefined;
      if (eq >= 0) {
        if (def.arg === 'none') return { ok: false, message: `Option --${name} takes no argument` };
        v = a.slice(eq + 1);
      } else if (def.arg === 'required') {
        v = argv[++i];
        if (v === undefined) return { ok: false, message: `Option --${name} requires an argument` };
      }
      const before = o.mode;
      const err = def.apply(o, v);
      if (err) return { ok: false, message: err };
      if (o.mode !== before) modes.push(o.mode);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const ch = a[k]!;
        if (ch === 'T') return { ok: false, message: 'genhash (-T) must be the first option' };
        const def = OPTS.find((d) => d.short === ch);
        if (!def) return { ok: false, message: `Unknown option -${ch}` };
        let v: string | undefined;
        if (def.arg !== 'none') {
          const rest = a.slice(k + 1);
          if (rest) v = rest;
          else if (def.arg === 'required') {
            v = argv[++i];
            if (v === undefined) return { ok: false, message: `Option -${ch} requires an argument` };
          }
          k = a.length;
        }
        const before = o.mode;
        const err = def.apply(o, v);
        if (err) return { ok: false, message: err };
        if (o.mode !== before) modes.push(o.mode);
      }
      continue;
    }
    o.stray.push(a);
  }
  for (const m of ['help', 'version', 'signum', 'dump-config', 'config-test'] as const) {
    if (modes.includes(m)) {
      o.mode = m;
      break;
    }
  }
  return { ok: true, opts: o };
}

export const USAGE = `Usage: keepalived-ts [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=[0-7]     Set syslog facility to LOG_LOCAL[0-7]
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -e, --all-config             Error if any configuration file missing (same as includea)
  -i, --config-id ID           Skip any configuration lines beginning '@' that don't match ID
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                 stderr by default
      --dump-config            Print the resolved configuration model as JSON (keepalived-ts)
      --metrics-address=H:P    Serve Prometheus /metrics and JSON /state on HOST:PORT (keepalived-ts)
      --ipvs-repair-interval=S Read the IPVS table back and repair foreign changes every S seconds,
                                 0 = never (keepalived-ts; default 60 without VRRP, 0 with it)
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -v, --version                Display the version number
  -h, --help                   Display this help message
`;
