/**
 * keepalived's command line: parses the options (src/daemon/options.ts), prints what keepalived
 * prints while parsing, and dispatches to the config test, the JSON dump of the resolved model,
 * genhash, or daemon mode. Returns the exit code; never calls process.exit so tests can drive it.
 * Process-wide effects (title, umask, core dumps) go through ProcessHooks so tests can record them.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { release, type, version } from 'node:os';
import { configTestExitCode, type Diagnostic, formatDiagnostic } from '../config/diagnostics.js';
import { loadConfig, sysfsInterfaceExists, systemScriptEnv } from '../config/load.js';
import type { KeepalivedConfig } from '../config/model.js';
import type { Logger } from '../core/log.js';
import { absolutePaths, childReporter, forkDaemon, isDaemonChild } from './daemonize.js';
import { type CliOptions, type ParseEnv, parseOptions, USAGE } from './options.js';

// Daemon mode and genhash pull in the whole runtime (native addon, VRRP, IPVS, checkers): they are
// imported on demand so that -t, --dump-config, -v and --signum start quickly.
const DEFAULT_CONFIG_FILE = '/etc/keepalived/keepalived.conf';

/** Options naming files, made absolute before the forked daemon changes to "/". */
const PATH_OPTIONS = ['configFile', 'pidFile', 'vrrpPidFile', 'checkersPidFile', 'bfdPidFile'] as const;

/** The keepalived release whose feature set, command line and configuration we implement. */
export const KEEPALIVED_VERSION = '2.2.7';

/** keepalived's file creation mask when there is no -u (/proc/PID/status of keepalived 2.2.7). */
export const DEFAULT_UMASK = 0o177;

/** The process name of the daemon and config test (/proc/PID/comm, `pidof`, `killall`). */
export const PROCESS_TITLE = 'keepalived';

/**
 * `--signum` names as keepalived 2.2.7 on Linux prints them (surface §4.1). STATS_CLEAR and JSON are
 * SIGRTMAX-1 and SIGRTMIN+2 of the C library (63 and 36 with glibc): read from the addon, these
 * values only when it cannot be loaded.
 */
const SIGNUMS: Readonly<Record<string, number>> = {
  STOP: 15,
  RELOAD: 1,
  DATA: 10,
  STATS: 12,
  STATS_CLEAR: 63,
  JSON: 36,
};

async function signum(name: string): Promise<number | undefined> {
  if (name !== 'JSON' && name !== 'STATS_CLEAR') return SIGNUMS[name];
  try {
    const [{ k }, { keepalivedSignals }] = await Promise.all([
      import('../sys/native.js'),
      import('../sys/rt-signals.js'),
    ]);
    return keepalivedSignals({ min: k('SIGRTMIN'), max: k('SIGRTMAX') })[name];
  } catch {
    return SIGNUMS[name];
  }
}

/** Process-wide effects of the command line. */
export interface ProcessHooks {
  setTitle(title: string): void;
  umask(mask: number): void;
  /** `-m`: RLIMIT_CORE to unlimited; returns why it failed, or undefined. */
  raiseCoreLimit(): string | undefined;
  /** `-m`: an uncaught exception aborts the process (SIGABRT, so a core is dumped). */
  abortOnUncaught(): void;
  readCorePattern(): string;
  writeCorePattern(pattern: string): void;
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Omitted: no process-wide effect at all (what a test driving runCli wants). */
  proc?: ProcessHooks;
}

const CORE_PATTERN = '/proc/sys/kernel/core_pattern';

export const realProcessHooks: ProcessHooks = {
  setTitle: (t) => {
    // Node rewrites argv in place (/proc/PID/cmdline) and sets comm with PR_SET_NAME (15 bytes):
    // the title must be the bare name, or comm would be "keepalived -n -" and pidof would miss it.
    process.title = t;
  },
  umask: (m) => {
    process.umask(m);
  },
  raiseCoreLimit: () => {
    // Node has no setrlimit and the addon exports only RLIMIT_RTTIME: util-linux's prlimit(1)
    // (Essential on Debian) sets this process's limit with prlimit(2).
    const r = spawnSync('prlimit', [`--pid=${process.pid}`, '--core=unlimited:unlimited'], {
      encoding: 'utf8',
    });
    if (r.status === 0) return undefined;
    return (r.error?.message ?? r.stderr ?? `prlimit exited ${r.status}`).trim();
  },
  abortOnUncaught: () => {
    try {
      process.setUncaughtExceptionCaptureCallback((err) => {
        process.stderr.write(
          `Uncaught exception, aborting for a core dump (-m): ${(err as Error)?.stack ?? String(err)}\n`,
        );
        process.abort();
      });
    } catch {
      // a capture callback is already set (a test harness): leave it
    }
  },
  readCorePattern: () => readFileSync(CORE_PATTERN, 'utf8'),
  writeCorePattern: (p) => writeFileSync(CORE_PATTERN, p),
};

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  proc: realProcessHooks,
};

const noProcessHooks: ProcessHooks = {
  setTitle: () => {},
  umask: () => {},
  raiseCoreLimit: () => undefined,
  abortOnUncaught: () => {},
  readCorePattern: () => '',
  writeCorePattern: () => {},
};

function packageVersion(): string {
  try {
    // src/daemon/cli.ts and dist/daemon/cli.js both sit two levels below package.json
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * `-v`, on stderr as keepalived prints it. The first line keeps keepalived's shape, "Keepalived
 * vX.Y.Z (…)", because tools parse it: keepalived-exporter takes the second word without its 'v' as
 * the version and picks its features from it. We give the keepalived release we implement there, and
 * our own version in the parentheses (keepalived puts its build date there) and below.
 */
export function versionText(pkgVersion = packageVersion()): string {
  return [
    `Keepalived v${KEEPALIVED_VERSION} (keepalived-ts ${pkgVersion})`,
    '',
    `keepalived-ts ${pkgVersion}: keepalived ${KEEPALIVED_VERSION}'s VRRP, LVS, BFD and checkers in TypeScript`,
    '',
    `Running on ${type()} ${release()} ${version()}`,
    `Node.js ${process.version} (V8 ${process.versions.v8})`,
    '',
  ].join('\n');
}

export async function runCli(
  argv: string[],
  io: CliIo = processIo,
  env: ParseEnv = { posixlyCorrect: process.env.POSIXLY_CORRECT !== undefined },
): Promise<number> {
  const proc = io.proc ?? noProcessHooks;
  const parsed = parseOptions(argv, env);
  const opts = parsed.opts;
  const before = parsed.configTestLogAt ?? parsed.messages.length;
  for (const m of parsed.messages.slice(0, before)) io.stderr(`${m}\n`);

  // Options after which keepalived exits where they stand
  switch (opts.mode) {
    case 'help':
      io.stderr(USAGE);
      return 0;
    case 'version':
      io.stderr(versionText());
      return 0;
    case 'signum': {
      const n = Object.hasOwn(SIGNUMS, opts.signum ?? '') ? await signum(opts.signum ?? '') : undefined;
      if (n === undefined) {
        io.stderr(`Unknown sigfunc ${opts.signum}\n`);
        return 1;
      }
      io.stdout(`${n}\n`);
      return 0;
    }
    case 'genhash': {
      proc.setTitle('genhash');
      const { runGenhash } = await import('../check/genhash.js');
      return runGenhash(opts.genhashArgs);
    }
    default:
      break;
  }

  if (opts.mode === 'daemon' || opts.mode === 'config-test') {
    proc.setTitle(PROCESS_TITLE);
    // keepalived runs with 0177 unless -u, and forces 0644 on its pid files and 0755 on their
    // directory (pidfile.ts does the same)
    proc.umask(opts.umask ?? DEFAULT_UMASK);
  }
  // keepalived sends stderr to the --config-test log from where that option stands
  let errOut = io.stderr;
  let logFd: number | undefined;
  if (parsed.configTestLogAt !== undefined && opts.configTestLog !== undefined) {
    const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = constants;
    try {
      logFd = openSync(opts.configTestLog, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644);
    } catch (e) {
      io.stderr(`Unable to open config-test log file ${opts.configTestLog}: ${(e as Error).message}\n`);
      return 1;
    }
    const fd = logFd;
    errOut = (t) => {
      try {
        writeSync(fd, t);
      } catch {
        io.stderr(t);
      }
    };
  }
  try {
    return await afterParse(parsed.messages.slice(before), opts, parsed.ok, io, errOut, proc, argv);
  } finally {
    if (logFd !== undefined) closeSync(logFd);
  }
}

async function afterParse(
  messages: readonly string[],
  opts: CliOptions,
  ok: boolean,
  io: CliIo,
  errOut: (text: string) => void,
  proc: ProcessHooks,
  argv: readonly string[],
): Promise<number> {
  for (const m of messages) errOut(`${m}\n`);
  if (opts.stray.length) io.stdout(`Unexpected argument(s): ${opts.stray.map((s) => `${s} `).join('')}\n`);
  if (!ok) return 1;

  switch (opts.mode) {
    case 'config-test':
      return configTest(opts, errOut);
    case 'dump-config':
      return dumpConfig(opts, io);
    default: {
      // without -n, as keepalived: the daemon runs detached in its own session (daemonize.ts); this
      // process waits until it is up and exits with 0, or with its exit code when it fails
      if (!opts.dontFork && !isDaemonChild()) {
        const sock = process.env.NOTIFY_SOCKET;
        const send = sock ? (await import('../sys/unix-dgram.js')).sendUnixDatagram : undefined;
        return forkDaemon(argv, {
          stderr: io.stderr,
          notify: sock && send ? (state) => void send(sock, Buffer.from(state)) : undefined,
        });
      }
      const reporter = childReporter();
      // the first reason given wins; a bare exit code is reported only when run.ts gave none
      let told = false;
      const startup = reporter && {
        ready: () => reporter.ready(),
        failed: (why: string) => {
          if (told) return;
          told = true;
          reporter.failed(why);
        },
      };
      let daemonOpts = { ...opts, configFile: opts.configFile ?? DEFAULT_CONFIG_FILE };
      if (startup) {
        daemonOpts = absolutePaths(daemonOpts, PATH_OPTIONS, process.cwd());
        // keepalived's daemon changes to "/" (a mount it started from stays free to unmount)
        process.chdir('/');
      }
      const restore = opts.coreDump ? setupCoreDumps(opts, proc, io.stderr) : undefined;
      try {
        const { runDaemon } = await import('./run.js');
        const code = await runDaemon({ ...daemonOpts, ...(startup ? { startup } : {}) });
        if (code !== 0) startup?.failed(`start-up failed (exit ${code}); see the log (syslog)`);
        return code;
      } catch (e) {
        startup?.failed(`start-up failed: ${(e as Error).message}`);
        throw e;
      } finally {
        restore?.();
      }
    }
  }
}

/**
 * `-m` / `-M`, as keepalived's core_dump_init: RLIMIT_CORE unlimited (plus, Node's own "abnormal
 * termination" being an uncaught exception, abort on one), and with -M the system's core_pattern
 * set to the given pattern. Returns what puts core_pattern back at exit (keepalived restores it too;
 * after a crash it stays changed). Failures are reported and the daemon goes on, as keepalived does.
 */
export function setupCoreDumps(
  opts: Pick<CliOptions, 'coreDump' | 'coreDumpPattern'>,
  proc: ProcessHooks,
  report: (text: string) => void,
): () => void {
  let restore = () => {};
  if (opts.coreDumpPattern !== undefined) {
    try {
      const original = proc.readCorePattern();
      proc.writeCorePattern(opts.coreDumpPattern);
      restore = () => {
        try {
          proc.writeCorePattern(original);
        } catch (e) {
          report(`Unable to restore core_pattern: ${(e as Error).message}\n`);
        }
      };
    } catch (e) {
      report(`Unable to read/write core_pattern: ${(e as Error).message}\n`);
    }
  }
  if (opts.coreDump) {
    const why = proc.raiseCoreLimit();
    if (why !== undefined) report(`Failed to set core file size: ${why}\n`);
    proc.abortOnUncaught();
  }
  return restore;
}

/**
 * `-d`: the configuration as loaded, one log line per line of its JSON form (keepalived logs its
 * dump line by line too, at start and after each reload). For run.ts to call after each load.
 */
export function logConfigDump(config: KeepalivedConfig, log: Pick<Logger, 'info'>): void {
  log.info('------< Configuration dump (-d) >------');
  for (const line of JSON.stringify(config, null, 2).split('\n')) log.info(line);
}

function load(opts: CliOptions, checks: boolean) {
  return loadConfig(opts.configFile ?? DEFAULT_CONFIG_FILE, {
    ...(opts.configId === undefined ? {} : { configId: opts.configId }),
    allConfig: opts.allConfig,
    ...(checks ? { interfaceExists: sysfsInterfaceExists, scripts: systemScriptEnv } : {}),
  });
}

function report(diags: readonly Diagnostic[]): string {
  return diags.map((d) => `${formatDiagnostic(d)}\n`).join('');
}

/** `-t`: keepalived's exit codes (0 fine, 4 cannot run, 5 would run with errors, 6 security / no config). */
function configTest(opts: CliOptions, errOut: (text: string) => void): number {
  const { diagnostics } = load(opts, true);
  const text = report(diagnostics);
  if (text) errOut(text);
  return configTestExitCode(diagnostics);
}

function dumpConfig(opts: CliOptions, io: CliIo): number {
  const { config, diagnostics } = load(opts, false);
  io.stderr(report(diagnostics));
  io.stdout(`${JSON.stringify(config, null, 2)}\n`);
  // 4: a file could not be read; 2: loading stopped at a line missing its parameter (the model
  // printed is what was read before it, as keepalived stops there)
  const code = configTestExitCode(diagnostics);
  return code === 4 || code === 2 ? code : 0;
}
