/**
 * keepalived's command line (surface §3), parsed as glibc's getopt_long parses keepalived 2.2.7's
 * option table (Debian build), checked against that binary (test/unit/daemon/options.test.ts):
 * - short options cluster (`-lnD`); a required value is the rest of the word or the next word, even
 *   one starting with '-' (`-f -t` reads the file "-t"); an optional value (`-t`, `-M`) only the rest
 *   of the word (`-tLOG`);
 * - long options may be abbreviated to any unambiguous prefix (`--use-f=FILE`, `--config-t`); an exact
 *   name wins over longer ones (`--all` vs `--all-config`); an ambiguous prefix is an unknown option;
 *   a required value is `--opt=VALUE` or `--opt VALUE`, an optional one only `--opt=VALUE`; an empty
 *   required value (`--use-file=`) is a missing one, as keepalived checks;
 * - non-option words are collected wherever they are (GNU permutation; with POSIXLY_CORRECT set the
 *   first one ends the options); `--` ends the options;
 * - a bad option is reported and parsing goes on; `-v`, `-h`, `--signum` and `-T` act where they
 *   stand (keepalived exits there), so what comes after them is not looked at.
 * Hand-written rather than node:util parseArgs, which has no abbreviations, no optional values and
 * no attached short values, and stops at the first error.
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
  /** `--all`: run VRRP and LVS even when the configuration has none (so a reload can add them). */
  all: boolean;
  logConsole: boolean;
  logDetail: boolean;
  /** `-D` given twice: keepalived's LOG_EXTRA_DETAIL. */
  logExtraDetail: boolean;
  logFacility: string | undefined;
  noSyslog: boolean;
  /** `-u`: file creation mask; undefined = keepalived's default 0177 (set by cli.ts). */
  umask: number | undefined;
  /** `-X`: on leaving MASTER remove the VIPs even when this run did not record adding them. */
  releaseVips: boolean;
  dontReleaseVrrp: boolean;
  dontReleaseIpvs: boolean;
  dontRespawn: boolean;
  dontFork: boolean;
  /** `-d`: log the configuration after each load (cli.ts logConfigDump). */
  dumpConf: boolean;
  pidFile: string | undefined;
  vrrpPidFile: string | undefined;
  checkersPidFile: string | undefined;
  bfdPidFile: string | undefined;
  /** `-a`: log every address added or removed, as netlink reports them. */
  addressMonitoring: boolean;
  namespace: string | undefined;
  allConfig: boolean;
  configId: string | undefined;
  snmp: boolean;
  snmpAgentSocket: string | undefined;
  /** `-m` (and `-M`): RLIMIT_CORE unlimited, and an uncaught exception aborts (core dump). */
  coreDump: boolean;
  /** `-M[PAT]`: write PAT (default `core`) to /proc/sys/kernel/core_pattern while running. */
  coreDumpPattern: string | undefined;
  signum: string | undefined;
  /** `--metrics-address HOST:PORT` (keepalived-ts): serve /metrics and /state over HTTP there. */
  metricsAddress: string | undefined;
  /**
   * `--ipvs-repair-interval SECONDS` (keepalived-ts): how often the IPVS table is read back and
   * foreign changes to our services repaired; 0 = never. Default: see run.ts.
   */
  ipvsRepairInterval: number | undefined;
  /** `-T/--genhash`: the words after it, for the genhash parser. */
  genhashArgs: string[];
  /** Non-option words (keepalived prints "Unexpected argument(s)" on stdout and goes on). */
  stray: string[];
}

export interface ParseResult {
  /** False when keepalived would exit 1 once parsing is done (a bad option). */
  ok: boolean;
  opts: CliOptions;
  /** Messages for stderr, one line each (no newline), in the order keepalived prints them. */
  messages: string[];
  /**
   * With `--config-test=FILE`: how many of `messages` precede it. keepalived opens FILE there and
   * sends stderr to it, so the later messages go to FILE.
   */
  configTestLogAt: number | undefined;
}

type Arg = 'none' | 'required' | 'optional';

interface Ctx {
  o: CliOptions;
  /** A message that does not fail the parse. */
  note(msg: string): void;
  /** A bad option: reported, parsing goes on, exit 1 at the end. */
  bad(msg: string): void;
  /** keepalived exits at this option: stop parsing. */
  stop(mode: CliMode): void;
  /** Whether an option came before this one (for -T's warning). */
  first: boolean;
  messages: string[];
  logAt: number | undefined;
}

interface OptDef {
  readonly short?: string;
  /** keepalived's long name: takes part in prefix matching. */
  readonly long?: string;
  /** Spellings matched only when given in full (keepalived-ts aliases). */
  readonly aliases?: readonly string[];
  /** keepalived-ts option (not in keepalived): prefix-matched only when no keepalived option matches. */
  readonly ext?: boolean;
  readonly arg: Arg;
  readonly apply: (c: Ctx, v: string | undefined, spelled: string) => void;
}

const flag =
  <K extends keyof CliOptions>(k: K) =>
  (c: Ctx): void => {
    (c.o as unknown as Record<string, unknown>)[k] = true;
  };
const value =
  <K extends keyof CliOptions>(k: K) =>
  (c: Ctx, v: string | undefined): void => {
    (c.o as unknown as Record<string, unknown>)[k] = v;
  };

/** keepalived's read_unsigned for 0..7: decimal, leading blanks allowed. */
const facilityNumber = (s: string): boolean => /^\s*[0-7]$/.test(s);

/**
 * strtoll(s, &end, 0) with the whole word consumed: optional blanks and sign, 0x hex, 0 octal, else
 * decimal. Returns NaN when strtoll would stop early.
 */
export function parseCNumber(s: string): number {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)?$/.exec(s);
  if (!m) return Number.NaN;
  const body = m[2];
  if (body === undefined) return s.trim() === '' ? 0 : Number.NaN;
  const n = /^0[xX]/.test(body)
    ? Number.parseInt(body.slice(2), 16)
    : body.startsWith('0')
      ? Number.parseInt(body, 8)
      : Number(body);
  return m[1] === '-' ? -n : n;
}

const OPTS: readonly OptDef[] = [
  { short: 'f', long: 'use-file', arg: 'required', apply: value('configFile') },
  { short: 'P', long: 'vrrp', arg: 'none', apply: flag('vrrpOnly') },
  { short: 'C', long: 'check', arg: 'none', apply: flag('checkOnly') },
  { short: 'B', long: 'no_bfd', aliases: ['no-bfd'], arg: 'none', apply: flag('noBfd') },
  {
    long: 'all',
    arg: 'none',
    // keepalived sets every subsystem bit again, undoing an earlier -P/-C/-B
    apply: (c) => {
      Object.assign(c.o, { all: true, vrrpOnly: false, checkOnly: false, noBfd: false });
    },
  },
  { short: 'l', long: 'log-console', arg: 'none', apply: flag('logConsole') },
  {
    short: 'D',
    long: 'log-detail',
    arg: 'none',
    apply: (c) => {
      if (c.o.logDetail) c.o.logExtraDetail = true;
      c.o.logDetail = true;
    },
  },
  {
    short: 'S',
    long: 'log-facility',
    arg: 'required',
    apply: (c, v = '') => {
      const ok =
        facilityNumber(v) ||
        (v.startsWith('local') && facilityNumber(v.slice(5))) ||
        v === 'user' ||
        v === 'daemon';
      if (ok) c.o.logFacility = v;
      else c.note(`Invalid log facility '${v}'`);
    },
  },
  {
    short: 'g',
    long: 'log-file',
    arg: 'optional',
    apply: (c) => c.bad('-g requires configure option --enable-log-file (not in Debian keepalived either)'),
  },
  { long: 'all-config', short: 'e', arg: 'none', apply: flag('allConfig') },
  { short: 'G', long: 'no-syslog', arg: 'none', apply: flag('noSyslog') },
  {
    short: 'u',
    long: 'umask',
    arg: 'required',
    apply: (c, v = '') => {
      const n = parseCNumber(v);
      // keepalived: invalid -> message, umask left as it was, not an error
      if (Number.isInteger(n) && n >= 0 && n <= 0o777) c.o.umask = n;
      else c.note(`Invalid --umask option ${v}`);
    },
  },
  { short: 'X', long: 'release-vips', arg: 'none', apply: flag('releaseVips') },
  { short: 'V', long: 'dont-release-vrrp', arg: 'none', apply: flag('dontReleaseVrrp') },
  { short: 'I', long: 'dont-release-ipvs', arg: 'none', apply: flag('dontReleaseIpvs') },
  { short: 'R', long: 'dont-respawn', arg: 'none', apply: flag('dontRespawn') },
  { short: 'n', long: 'dont-fork', arg: 'none', apply: flag('dontFork') },
  { short: 'd', long: 'dump-conf', arg: 'none', apply: flag('dumpConf') },
  { short: 'p', long: 'pid', arg: 'required', apply: value('pidFile') },
  { short: 'r', long: 'vrrp_pid', aliases: ['vrrp-pid'], arg: 'required', apply: value('vrrpPidFile') },
  {
    short: 'T',
    long: 'genhash',
    arg: 'none',
    apply: (c, _v, spelled) => {
      if (!c.first) c.note(`Warning -- \`${spelled}\` not used as first option, previous options ignored`);
      c.o.genhashArgs = [];
      c.stop('genhash');
    },
  },
  {
    short: 'c',
    long: 'checkers_pid',
    aliases: ['checkers-pid'],
    arg: 'required',
    apply: value('checkersPidFile'),
  },
  { short: 'a', long: 'address-monitoring', arg: 'none', apply: flag('addressMonitoring') },
  { short: 'b', long: 'bfd_pid', aliases: ['bfd-pid'], arg: 'required', apply: value('bfdPidFile') },
  { short: 'x', long: 'snmp', arg: 'none', apply: flag('snmp') },
  { short: 'A', long: 'snmp-agent-socket', arg: 'required', apply: value('snmpAgentSocket') },
  { short: 'm', long: 'core-dump', arg: 'none', apply: flag('coreDump') },
  {
    short: 'M',
    long: 'core-dump-pattern',
    arg: 'optional',
    apply: (c, v) => {
      c.o.coreDump = true;
      // keepalived keeps an earlier pattern when this one is empty; its default is "core"
      if (v) c.o.coreDumpPattern = v;
      else c.o.coreDumpPattern ??= 'core';
    },
  },
  { short: 's', long: 'namespace', arg: 'required', apply: value('namespace') },
  { short: 'i', long: 'config-id', arg: 'required', apply: value('configId') },
  {
    long: 'signum',
    arg: 'required',
    apply: (c, v) => {
      c.o.signum = v;
      c.stop('signum');
    },
  },
  {
    short: 't',
    long: 'config-test',
    arg: 'optional',
    apply: (c, v) => {
      c.o.mode = c.o.mode === 'dump-config' ? 'dump-config' : 'config-test';
      if (v) {
        c.o.configTestLog = v;
        c.logAt = c.messages.length;
      }
    },
  },
  // keepalived's parent passes its children the configuration's descriptor; one process here
  { long: 'config-fd', arg: 'required', apply: () => {} },
  { short: 'v', long: 'version', arg: 'none', apply: (c) => c.stop('version') },
  { short: 'h', long: 'help', arg: 'none', apply: (c) => c.stop('help') },
  // keepalived-ts options
  {
    long: 'dump-config',
    ext: true,
    arg: 'none',
    apply: (c) => {
      c.o.mode = 'dump-config';
    },
  },
  { long: 'metrics-address', ext: true, arg: 'required', apply: value('metricsAddress') },
  {
    long: 'ipvs-repair-interval',
    ext: true,
    arg: 'required',
    apply: (c, v = '') => {
      const n = Number(v);
      if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n))
        c.bad(`Invalid IPVS repair interval '${v}' (seconds, 0 = never)`);
      else c.o.ipvsRepairInterval = n;
    },
  },
];

/** keepalived 2.2.7's long option names (Debian build), in its table's order. */
export const KEEPALIVED_LONG_OPTIONS: readonly string[] = OPTS.filter((d) => d.long && !d.ext).map(
  (d) => d.long!,
);

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
    logExtraDetail: false,
    logFacility: undefined,
    noSyslog: false,
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

export type LongMatch = { def: OptDef; name: string } | { ambiguous: string[] } | undefined;

/**
 * getopt_long's lookup of `--NAME`: an exact name wins; otherwise the keepalived options NAME is a
 * prefix of (two or more: ambiguous); otherwise, the same among keepalived-ts's own options.
 */
export function matchLong(name: string): LongMatch {
  for (const def of OPTS) {
    if (def.long === name || def.aliases?.includes(name)) return { def, name };
  }
  for (const ext of [false, true]) {
    const hits = OPTS.filter((d) => d.long?.startsWith(name) && (d.ext ?? false) === ext);
    if (hits.length === 1) return { def: hits[0]!, name: hits[0]!.long! };
    if (hits.length > 1) return { ambiguous: hits.map((d) => d.long!) };
  }
  return undefined;
}

export interface ParseEnv {
  /** POSIXLY_CORRECT set: the first non-option word ends the options (getopt's REQUIRE_ORDER). */
  posixlyCorrect?: boolean;
}

/** Parses keepalived's argv (without node and script). Never throws. */
export function parseOptions(
  argv: readonly string[],
  env: ParseEnv = { posixlyCorrect: process.env.POSIXLY_CORRECT !== undefined },
): ParseResult {
  const o = defaultOptions();
  const messages: string[] = [];
  let ok = true;
  let stopped = false;
  const c: Ctx = {
    o,
    messages,
    logAt: undefined,
    first: true,
    note: (m) => messages.push(m),
    bad: (m) => {
      messages.push(m);
      ok = false;
    },
    stop: (mode) => {
      o.mode = mode;
      stopped = true;
    },
  };
  const run = (def: OptDef, v: string | undefined, spelled: string) => {
    def.apply(c, v, spelled);
    c.first = false;
  };

  let i = 0;
  while (i < argv.length && !stopped) {
    const a = argv[i]!;
    i++;
    if (a === '--') {
      o.stray.push(...argv.slice(i));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (env.posixlyCorrect) {
        o.stray.push(...argv.slice(i - 1));
        break;
      }
      o.stray.push(a);
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const m = matchLong(name);
      if (m === undefined || 'ambiguous' in m) {
        const why = m === undefined ? '' : ` (ambiguous: --${m.ambiguous.join(', --')})`;
        c.bad(`Unknown option ${a}${why}`);
        c.first = false;
        continue;
      }
      const { def } = m;
      let v: string | undefined;
      if (eq >= 0) {
        if (def.arg === 'none') {
          c.bad(`Unknown option ${a} (--${m.name} takes no value)`);
          c.first = false;
          continue;
        }
        v = a.slice(eq + 1);
      } else if (def.arg === 'required' && i < argv.length) {
        v = argv[i++];
      }
      // keepalived treats an empty required value as a missing one
      if (def.arg === 'required' && !v) {
        c.bad(`Missing parameter for option --${m.name}`);
        c.first = false;
        continue;
      }
      run(def, v, m.name);
      if (def.short === 'T') o.genhashArgs = argv.slice(i);
      continue;
    }
    // a cluster of short options
    for (let k = 1; k < a.length && !stopped; k++) {
      const ch = a[k]!;
      const def = OPTS.find((d) => d.short === ch);
      if (!def) {
        c.bad(`Unknown option -${ch}`);
        c.first = false;
        continue;
      }
      let v: string | undefined;
      if (def.arg !== 'none') {
        const rest = a.slice(k + 1);
        k = a.length;
        if (rest) v = rest;
        else if (def.arg === 'required') {
          if (i >= argv.length) {
            c.bad(`Missing parameter for option -${ch}`);
            c.first = false;
            continue;
          }
          v = argv[i++];
        }
      }
      run(def, v, `-${ch}`);
      if (ch === 'T') o.genhashArgs = argv.slice(i);
    }
  }
  return { ok, opts: o, messages, configTestLogAt: c.logAt };
}

export const USAGE = `Usage: keepalived-ts [OPTION...]
  -f, --use-file=FILE          Use the specified configuration file
                                default '/etc/keepalived/keepalived.conf'
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
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
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
  -e, --all-config             Error if any configuration file missing (same as includet)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
  -v, --version                Display the version number
  -h, --help                   Display this help message
keepalived-ts only:
      --dump-config            Print the resolved configuration model as JSON
      --metrics-address=H:P    Serve Prometheus /metrics and JSON /state on HOST:PORT
      --ipvs-repair-interval=S Read the IPVS table back and repair foreign changes every S seconds,
                                 0 = never (default 60 without VRRP, 0 with it)
Long options may be abbreviated to any unambiguous prefix (--use-f=FILE).
`;
