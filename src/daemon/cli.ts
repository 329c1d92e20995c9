/**
 * keepalived's command line: parses the options (src/daemon/options.ts) and dispatches to the config
 * test, the JSON dump of the resolved model, genhash, or daemon mode. Returns the exit code; never
 * calls process.exit so tests can drive it.
 */
import { appendFileSync } from 'node:fs';
import { configTestExitCode, type Diagnostic, formatDiagnostic } from '../config/diagnostics.js';
import { loadConfig, sysfsInterfaceExists, systemScriptEnv } from '../config/load.js';
import { type CliOptions, parseOptions, USAGE } from './options.js';

// Daemon mode and genhash pull in the whole runtime (native addon, VRRP, IPVS, checkers): they are
// imported on demand so that -t, --dump-config, -v and --signum start quickly.
const DEFAULT_CONFIG_FILE = '/etc/keepalived/keepalived.conf';

const VERSION = 'keepalived-ts 0.1.0 (keepalived v2.2.7 compatible)';

/** `--signum` names as keepalived 2.2.7 on Linux prints them (surface §4.1). */
const SIGNUMS: Readonly<Record<string, number>> = {
  STOP: 15,
  RELOAD: 1,
  DATA: 10,
  STATS: 12,
  STATS_CLEAR: 63,
  JSON: 36,
};

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const parsed = parseOptions(argv);
  if (!parsed.ok) {
    io.stderr(`${parsed.message}\n${USAGE}`);
    return 1;
  }
  const opts = parsed.opts;
  if (opts.stray.length) io.stderr(`Unexpected argument(s): ${opts.stray.join(' ')}\n`);
  switch (opts.mode) {
    case 'help':
      io.stderr(USAGE);
      return 0;
    case 'version':
      io.stderr(`${VERSION}\n`);
      return 0;
    case 'signum': {
      const n = SIGNUMS[opts.signum ?? ''];
      if (n === undefined) {
        io.stderr(`Unknown sigfunc ${opts.signum}\n`);
        return 1;
      }
      io.stdout(`${n}\n`);
      return 0;
    }
    case 'genhash': {
      const { runGenhash } = await import('../check/genhash.js');
      return runGenhash(opts.genhashArgs);
    }
    case 'config-test':
      return configTest(opts, io);
    case 'dump-config':
      return dumpConfig(opts, io);
    default: {
      const { runDaemon } = await import('./run.js');
      return runDaemon({ ...opts, configFile: opts.configFile ?? DEFAULT_CONFIG_FILE });
    }
  }
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
function configTest(opts: CliOptions, io: CliIo): number {
  const { diagnostics } = load(opts, true);
  const text = report(diagnostics);
  if (opts.configTestLog) {
    try {
      appendFileSync(opts.configTestLog, text);
    } catch (e) {
      io.stderr(`Unable to open config-test log file ${opts.configTestLog}: ${(e as Error).message}\n`);
      return 1;
    }
  } else if (text) io.stderr(text);
  return configTestExitCode(diagnostics);
}

function dumpConfig(opts: CliOptions, io: CliIo): number {
  const { config, diagnostics } = load(opts, false);
  io.stderr(report(diagnostics));
  io.stdout(`${JSON.stringify(config, null, 2)}\n`);
  return configTestExitCode(diagnostics) === 4 ? 4 : 0;
}
