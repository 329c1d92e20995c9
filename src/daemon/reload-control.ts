/**
 * What global_defs says about reloads, as keepalived 2.2.7 does it (docs/DAEMON.md):
 * - `reload_check_config [LOG]`: a reload first runs the config test of the new file; its messages
 *   go to LOG (default /dev/null, truncated first) and a failing test keeps the running configuration;
 * - `reload_file [PATH]`: exists while a reload reads and applies the configuration;
 * - `reload_time_file PATH` (+ `reload_repeat`): a file holding a time or date schedules a reload;
 * - settings that cannot change at a reload (net_namespace, instance, ...) keep the running configuration.
 * Parsing of the time is a pure function; the monitor takes the wall clock, timers and the file
 * system watcher as dependencies.
 */
import {
  closeSync,
  existsSync,
  fchmodSync,
  openSync,
  readFileSync,
  unlinkSync,
  type WatchListener,
  watch,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { KeepalivedConfig } from '../config/model.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import type { Logger } from '../core/log.js';

/** keepalived's DEFAULT_RELOAD_FILE. */
export const DEFAULT_RELOAD_FILE = '/run/keepalived.reload';

/** The reload keywords of a configuration (read from global_defs' unmodelled settings). */
export interface ReloadSettings {
  /** reload_check_config: where the test's messages go; undefined = no check. */
  readonly checkLog: string | undefined;
  /** reload_file (the default path when given bare). */
  readonly reloadFile: string | undefined;
  readonly timeFile: string | undefined;
  readonly repeat: boolean;
}

function words(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v === '' ? [] : v.split(/\s+/);
  return [];
}

export function reloadSettings(config: KeepalivedConfig): ReloadSettings {
  const s = config.global.settings;
  const check = s.reload_check_config;
  const file = s.reload_file;
  const time = s.reload_time_file;
  return {
    checkLog: check === undefined ? undefined : (words(check)[0] ?? '/dev/null'),
    reloadFile: file === undefined ? undefined : (words(file)[0] ?? DEFAULT_RELOAD_FILE),
    timeFile: typeof time === 'string' && time !== '' ? time : undefined,
    repeat: s.reload_repeat !== undefined && s.reload_repeat !== false,
  };
}

/**
 * Settings keepalived refuses to change at a reload ("Cannot change network namespace at a reload -
 * please restart keepalived"): the lines to log; none means the new configuration may be applied.
 */
export function unsupportedReloadChanges(old: KeepalivedConfig, next: KeepalivedConfig): string[] {
  const out: string[] = [];
  const diff = (a: unknown, b: unknown, what: string) => {
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null))
      out.push(`Cannot change ${what} at a reload - please restart keepalived`);
  };
  diff(old.global.netNamespace, next.global.netNamespace, 'network namespace');
  diff(old.global.instance, next.global.instance, 'instance name');
  const s = (c: KeepalivedConfig, k: string) => c.global.settings[k];
  diff(s(old, 'nftables'), s(next, 'nftables'), 'nftables table name');
  diff(s(old, 'nftables_ipvs'), s(next, 'nftables_ipvs'), 'IPVS nftables table name');
  // tmp_config_directory is keepalived's config_directory
  diff(s(old, 'tmp_config_directory'), s(next, 'tmp_config_directory'), 'config_directory');
  const igmp = (c: KeepalivedConfig) => s(c, 'disable_local_igmp') !== undefined;
  if (igmp(old) !== igmp(next))
    out.push('Cannot change disable_local_igmp at a reload - please restart keepalived');
  return out;
}

/**
 * reload_file: created (rw-r--r--, whatever the umask) when a reload starts reading the
 * configuration, removed when it is done. keepalived 2.2.7 creates it only with
 * reload_check_config (observed: without it, the file is only unlinked), which its documentation
 * does not say; here it exists during every reload, so a tool can wait for it to go.
 */
export function createReloadFile(path: string, log: Logger, counters?: Counters): void {
  try {
    // keepalived clears the group and other read bits of the umask for this file only
    const um = process.umask();
    const fd = openSync(path, 'w', 0o644);
    try {
      fchmodSync(fd, 0o644 & ~(um & ~0o044));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    counters?.inc('daemon.reload_file_errors');
    log.info(`Failed to create reload file (${path}) - ${(e as Error).message}`);
  }
}

export function removeReloadFile(path: string, counters?: Counters): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') counters?.inc('daemon.reload_file_errors');
  }
}

// ---- reload_time_file ----

export type ReloadTime =
  | { readonly ok: true; readonly at: number; readonly dateSpecified: boolean }
  | { readonly ok: false; readonly past: boolean; readonly lines: readonly string[] };

interface Fields {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

function fieldsOf(t: number, utc: boolean): Fields {
  const x = new Date(t);
  return utc
    ? {
        y: x.getUTCFullYear(),
        mo: x.getUTCMonth() + 1,
        d: x.getUTCDate(),
        h: x.getUTCHours(),
        mi: x.getUTCMinutes(),
        s: x.getUTCSeconds(),
      }
    : {
        y: x.getFullYear(),
        mo: x.getMonth() + 1,
        d: x.getDate(),
        h: x.getHours(),
        mi: x.getMinutes(),
        s: x.getSeconds(),
      };
}

function timeOf(f: Fields, utc: boolean): number {
  if (utc) {
    const t = new Date(Date.UTC(2000, 0, 1, f.h, f.mi, f.s));
    t.setUTCFullYear(f.y, f.mo - 1, f.d);
    return t.getTime();
  }
  const t = new Date(2000, 0, 1, f.h, f.mi, f.s);
  t.setFullYear(f.y, f.mo - 1, f.d);
  t.setHours(f.h, f.mi, f.s, 0);
  return t.getTime();
}

const same = (a: Fields, b: Fields) =>
  a.y === b.y && a.mo === b.mo && a.d === b.d && a.h === b.h && a.mi === b.mi && a.s === b.s;

const N = String.raw`\s*(\d{1,2})`;
const TIME_RE = new RegExp(`^${N}:${N}:${N}$`);
const DATE2_RE = new RegExp(`^${N}-${N}-${N} ${N}:${N}:${N}$`);
const DATE4_RE = new RegExp(String.raw`^\s*(\d{1,4})-${N}-${N} ${N}:${N}:${N}$`);

/**
 * The reload time a reload_time_file holds, as keepalived's parse_datetime reads it: `HH:MM:SS`
 * (the next such time, tomorrow when it has passed today), `YY-MM-DD HH:MM:SS` or
 * `YYYY-MM-DD HH:MM:SS`, in local time, or UTC with a trailing `Z`. On failure, the lines
 * keepalived logs. `now` is the wall clock in ms.
 */
export function parseReloadTime(text: string, now: number): ReloadTime {
  const utc = text.endsWith('Z');
  const body = utc ? text.slice(0, -1) : text;
  const len = body.length;
  const invalid = (first: string): ReloadTime => ({
    ok: false,
    past: false,
    lines: [first, `Invalid reload time '${text}' specified - ignoring`],
  });
  if (len !== 8 && len !== 17 && len !== 19)
    return invalid(`Reload time ${text} format is incorrect - ignoring`);
  const base = fieldsOf(now, utc);
  const m = (len === 8 ? TIME_RE : len === 17 ? DATE2_RE : DATE4_RE).exec(body);
  const n = m?.slice(1).map(Number);
  // strptime's ranges (%H 0-23, %M 0-59, %S 0-61, %m 1-12, %d 1-31)
  const f: Fields | undefined = !n
    ? undefined
    : len === 8
      ? { ...base, h: n[0]!, mi: n[1]!, s: n[2]! }
      : {
          y: len === 17 ? (n[0]! < 69 ? 2000 + n[0]! : 1900 + n[0]!) : n[0]!,
          mo: n[1]!,
          d: n[2]!,
          h: n[3]!,
          mi: n[4]!,
          s: n[5]!,
        };
  if (!f || f.h > 23 || f.mi > 59 || f.s > 61 || f.mo < 1 || f.mo > 12 || f.d < 1 || f.d > 31)
    return invalid(`Reload date/time ${text} invalid - ignoring`);
  let at = timeOf(f, utc);
  // mktime normalises 30 February, 60 seconds or a time in a DST gap: keepalived rejects those
  if (!same(fieldsOf(at, utc), f)) return invalid(`Reload time ${text} is not valid - ignoring`);
  if (at <= now) {
    if (len !== 8)
      return {
        ok: false,
        past: true,
        lines: [
          `Reload time ${text} is in the past - ignoring`,
          'Reload date/time is in the past - ignoring',
        ],
      };
    const next = fieldsOf(timeOf({ ...f, d: f.d + 1 }, utc), utc);
    at = timeOf({ ...next, h: f.h, mi: f.mi, s: f.s }, utc);
  }
  return { ok: true, at, dateSpecified: len !== 8 };
}

/** keepalived's format_time_t: local `YYYY-MM-DD HH:MM:SS`. */
export function formatLocalTime(t: number): string {
  const f = fieldsOf(t, false);
  const p = (v: number, w = 2) => String(v).padStart(w, '0');
  return `${p(f.y, 4)}-${p(f.mo)}-${p(f.d)} ${p(f.h)}:${p(f.mi)}:${p(f.s)}`;
}

/** Directory watcher (fs.watch on Linux is inotify): the monitor needs only these. */
export interface DirWatcher {
  close(): void;
}
export type WatchDir = (dir: string, onEvent: () => void, onError: (e: Error) => void) => DirWatcher;

const nodeWatchDir: WatchDir = (dir, onEvent, onError) => {
  const listener: WatchListener<string> = () => onEvent();
  const w = watch(dir, { persistent: false }, listener);
  w.on('error', onError);
  return { close: () => w.close() };
};

export interface ReloadTimeMonitorDeps {
  readonly path: string;
  readonly repeat: boolean;
  readonly log: Logger;
  readonly counters?: Counters;
  readonly clock: Clock;
  /** Wall clock in ms (Date.now). */
  readonly wallNow?: () => number;
  /** Asks for a reload (the daemon's SIGHUP path). */
  readonly onReload: () => void;
  readonly watchDir?: WatchDir;
  readonly readFile?: (path: string) => string | undefined;
  /** Events are read after this quiet time (ms), so a file being written is read once complete. */
  readonly settleMs?: number;
}

/** At most 20 characters of the first line, as keepalived's fgets into 21 bytes. */
function readFirstLine(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'latin1');
    if (text === '') return undefined;
    const line = text.slice(0, 20);
    const nl = line.indexOf('\n');
    return nl >= 0 ? line.slice(0, nl) : line;
  } catch {
    return undefined;
  }
}

/**
 * reload_time_file: watches the file's directory; whenever the file appears, changes or goes, it is
 * read again and the scheduled reload set, moved or cancelled, with keepalived's log lines. When
 * the time comes the file is removed (kept with reload_repeat and a time without a date) and a
 * reload is asked for. The daemon stops the monitor when a reload starts and starts a new one
 * from the configuration it runs afterwards.
 */
export class ReloadTimeMonitor {
  private watcher: DirWatcher | undefined;
  private timer: TimerHandle | undefined;
  private settle: TimerHandle | undefined;
  private scheduled = 0;
  private dateSpecified = false;
  private stopped = false;
  private readonly wallNow: () => number;
  private readonly readFile: (path: string) => string | undefined;
  private readonly path: string;

  constructor(private readonly deps: ReloadTimeMonitorDeps) {
    this.wallNow = deps.wallNow ?? Date.now;
    this.readFile = deps.readFile ?? readFirstLine;
    this.path = resolve(deps.path);
  }

  /** Starts watching and reads the file once (a time already in it is scheduled). */
  start(): void {
    const dir = dirname(this.path);
    try {
      this.watcher = (this.deps.watchDir ?? nodeWatchDir)(
        dir,
        () => this.changed(),
        (e) => this.failed(e),
      );
    } catch {
      this.deps.counters?.inc('daemon.reload_time_errors');
      this.deps.log.info(`Unable to monitor reload timer file directory ${dir}- ignoring`);
      return;
    }
    this.read();
  }

  /** Stops watching and cancels a scheduled reload (silently, as keepalived at a reload or stop). */
  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    this.settle?.cancel();
    this.settle = undefined;
    this.cancel(false);
  }

  /** The reload time scheduled (wall clock ms), 0 for none. */
  get reloadAt(): number {
    return this.scheduled;
  }

  private changed(): void {
    if (this.stopped) return;
    this.settle?.cancel();
    const ms = this.deps.settleMs ?? 50;
    this.settle = this.deps.clock.at(this.deps.clock.now() + ms * 1000, () => {
      this.settle = undefined;
      if (this.stopped) return;
      if (!existsSync(dirname(this.path))) {
        this.cancel(true);
        this.deps.log.info('Directory of reload timer file has disappeared. Monitoring stopped.');
        this.stop();
        return;
      }
      this.read();
    });
  }

  private failed(e: Error): void {
    this.deps.counters?.inc('daemon.reload_time_errors');
    this.deps.log.warn({ err: e }, `reload_time_file ${this.path}: watching failed`);
  }

  private cancel(log: boolean): void {
    if (!this.timer) return;
    this.timer.cancel();
    this.timer = undefined;
    if (log && this.scheduled)
      this.deps.log.info(`Cancelling reload scheduled for ${formatLocalTime(this.scheduled)}`);
    this.scheduled = 0;
  }

  private read(): void {
    const text = this.readFile(this.path);
    if (text === undefined) {
      this.cancel(true);
      return;
    }
    const now = this.wallNow();
    const t = parseReloadTime(text, now);
    if (!t.ok) {
      this.deps.counters?.inc('daemon.reload_time_invalid');
      for (const l of t.lines) this.deps.log.info(l);
      this.cancel(true);
      return;
    }
    this.dateSpecified = t.dateSpecified;
    if (t.at === this.scheduled) return;
    const was = this.scheduled;
    this.timer?.cancel();
    this.deps.log.info(
      this.timer
        ? `Reload time updated from ${formatLocalTime(was)} to ${formatLocalTime(t.at)}`
        : `Scheduling reload for ${formatLocalTime(t.at)}`,
    );
    this.scheduled = t.at;
    this.timer = this.deps.clock.at(this.deps.clock.now() + (t.at - now) * 1000, () => this.fire());
  }

  private fire(): void {
    this.timer = undefined;
    this.scheduled = 0;
    this.watcher?.close();
    this.watcher = undefined;
    if (!this.deps.repeat || this.dateSpecified) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone: the reload happens all the same
      }
    }
    this.deps.onReload();
  }
}
