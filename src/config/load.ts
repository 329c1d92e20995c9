/**
 * The one entry of the configuration pipeline (STYLE.md habit 9): preprocess → parse (streamed, line
 * by line) → check keywords → defaults. Never throws on bad input: everything becomes a diagnostic.
 *
 * The model is immutable through its types (every field and array of src/config/model.ts is
 * readonly; test/unit/config/readonly.test.ts checks it). Only the root object is frozen at run time:
 * a deep Object.freeze walked about 100,000 objects of a large file on every load.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { ConfigBuilder, type ScriptEnv } from './check.js';
import { type Diagnostic, DiagnosticSink, KaClass } from './diagnostics.js';
import type { KeepalivedConfig } from './model.js';
import { LineParser } from './parse.js';
import { preprocessInto } from './preprocess.js';

export interface LoadOptions {
  /** Selects `@ID` lines; default: the host name up to the first dot (as keepalived). */
  configId?: string;
  /** `-e/--all-config`: a missing file or include is fatal. */
  allConfig?: boolean;
  /** Check that interfaces exist (the config test does; see `sysfsInterfaceExists`). */
  interfaceExists?: (name: string) => boolean;
  /** Check scripts: existence, user, script security (the config test does; see `systemScriptEnv`). */
  scripts?: ScriptEnv;
  randomSeed?: number;
}

export interface LoadResult {
  /** The model with every default applied; readonly by type, root object frozen. */
  readonly config: KeepalivedConfig;
  readonly diagnostics: readonly Diagnostic[];
}

export function defaultConfigId(): string {
  return hostname().split('.')[0] ?? '';
}

export function loadConfig(path: string, opts: LoadOptions = {}): LoadResult {
  const diags = new DiagnosticSink();
  const configId = opts.configId ?? defaultConfigId();
  let files: readonly string[] = [];
  let config: KeepalivedConfig;
  try {
    // preprocessing feeds the parser line by line (no array of every logical line)
    const parser = new LineParser(diags);
    files = preprocessInto(
      path,
      {
        configId,
        allConfig: opts.allConfig ?? false,
        ...(opts.randomSeed === undefined ? {} : { randomSeed: opts.randomSeed }),
      },
      diags,
      parser,
    );
    const ast = parser.end();
    config = new ConfigBuilder(diags, {
      configId,
      files,
      interfaceExists: opts.interfaceExists && memo(opts.interfaceExists),
      scripts: opts.scripts,
    }).build(ast);
  } catch (e) {
    diags.add(
      'KA_ERR_CONF_INTERNAL',
      'fatal',
      KaClass.Fatal,
      undefined,
      '',
      `internal error while loading the configuration: ${(e as Error)?.message ?? String(e)}`,
    );
    config = new ConfigBuilder(new DiagnosticSink(), { configId, files }).build([]);
  }
  return { config: Object.freeze(config), diagnostics: diags.list };
}

/** One answer per interface name for the whole load (a file names the same few interfaces often). */
function memo(f: (name: string) => boolean): (name: string) => boolean {
  const seen = new Map<string, boolean>();
  return (name) => {
    let r = seen.get(name);
    if (r === undefined) {
      r = f(name);
      seen.set(name, r);
    }
    return r;
  };
}

/** Interface lookup through sysfs (follows the caller's network namespace). */
export function sysfsInterfaceExists(name: string): boolean {
  return !name.includes('/') && name !== '.' && name !== '..' && existsSync(`/sys/class/net/${name}`);
}

/** Whether a colon-separated database (/etc/passwd, /etc/group) has an entry of this name. */
function namedIn(file: string, name: string): boolean {
  if (!name) return false;
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .some((l) => l.split(':')[0] === name);
  } catch {
    return false;
  }
}

const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Script checks against this machine: PATH search, /etc/passwd, ownership and modes. */
export const systemScriptEnv: ScriptEnv = {
  resolve(argv0) {
    if (!argv0) return undefined;
    const candidates = argv0.includes('/')
      ? [argv0]
      : (process.env.PATH || SAFE_PATH).split(delimiter).map((d) => join(d, argv0));
    for (const c of candidates) {
      if (!isAbsolute(c)) continue;
      try {
        if (statSync(c).isFile()) {
          accessSync(c, constants.X_OK);
          return c;
        }
      } catch {
        // try the next one
      }
    }
    return undefined;
  },
  userExists: (name) => namedIn('/etc/passwd', name),
  groupExists: (name) => namedIn('/etc/group', name),
  hostResolves(name) {
    // getent asks getaddrinfo through NSS as keepalived does; Node's resolver is asynchronous only
    if (!name || name.startsWith('-')) return false;
    const r = spawnSync('getent', ['ahosts', name], { stdio: 'ignore', timeout: 10_000 });
    return r.error ? true : r.status === 0;
  },
  unsafe(path) {
    for (let p = path; ; p = dirname(p)) {
      try {
        const st = statSync(p);
        const sticky = (st.mode & 0o1000) !== 0 && st.isDirectory();
        if (
          st.uid !== 0 ||
          (!sticky && ((st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0)))
        )
          return true;
      } catch {
        return true;
      }
      if (p === '/' || p === dirname(p)) return false;
    }
  },
};
