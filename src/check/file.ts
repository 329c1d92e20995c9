/**
 * FILE_CHECK: read the tracked file's integer as keepalived does (C strtol base 0 of its first 127
 * bytes; a missing, unreadable, empty or non-numeric file reads as 0). With weight 0 (default) a
 * non-zero value marks the server down (`reverse`: a zero value does); otherwise the server stays up
 * and its weight moves by value × weight (negated with `reverse`). A value outside
 * [-2^31, 2^31] is ignored: the checker keeps its last result (keepalived: "Invalid number").
 *
 * keepalived watches track files with inotify. `run` reads at once (the delay_loop poll); `watchRun`,
 * for a checker that has already reported, returns at once only when the file differs from that
 * report, otherwise waits for a change seen by `fs.watch` on the file's directory (so creation,
 * rename over it and deletion are seen too). Where the directory cannot be watched (it does not
 * exist, no inotify) it returns at once: the delay_loop poll is the fallback. `waitsForChange` tells
 * the scheduler which case holds (it then starts the next attempt at once).
 */
import { existsSync, type FSWatcher, realpathSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { KaError } from '../core/errors.js';
import { strtol0 } from '../core/strtol.js';
import { fail } from './common.js';
import type { CheckResult, FileCheckSpec } from './types.js';

/** The result of a file's content; undefined for a value keepalived ignores (out of range). */
export function interpretValue(
  spec: Pick<FileCheckSpec, 'weight' | 'reverse'>,
  text: string,
): CheckResult | undefined {
  const value = strtol0(text.slice(0, 127));
  if (value < -(2 ** 31) || value > 2 ** 31) return undefined;
  const weight = spec.weight ?? 0;
  if (weight === 0)
    return (value !== 0) !== (spec.reverse === true)
      ? fail(new KaError('KA_ERR_CHECK_FILE_VALUE', `track file value ${value}`, { value }))
      : { ok: true };
  return { ok: true, weightDelta: value * weight * (spec.reverse ? -1 : 1) };
}

/**
 * Writers truncate then write, or write several times: events closer together than this are one
 * change, read once they stop (so a half-written file is not reported).
 */
export const SETTLE_MS = 20;

/** One fs.watch per directory, shared by the checkers of the files in it. */
interface DirWatch {
  readonly watcher: FSWatcher;
  /** Waiters by file name. */
  readonly waiters: Map<string, Set<() => void>>;
}
const dirs = new Map<string, DirWatch>();

function wakeAll(d: DirWatch): void {
  for (const set of d.waiters.values()) for (const w of [...set]) w();
}

function dirWatch(dir: string): DirWatch | undefined {
  const d = dirs.get(dir);
  if (d) return d;
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { persistent: false });
  } catch {
    return undefined;
  }
  const entry: DirWatch = { watcher, waiters: new Map() };
  // the directory went away or the watch broke: waiters re-read, later attempts poll (until the
  // directory is back and can be watched again)
  const broken = () => {
    if (dirs.get(dir) === entry) dirs.delete(dir);
    watcher.close();
    wakeAll(entry);
  };
  watcher.on('change', (type, name) => {
    // a removed directory gives no error, only a rename (inotify IN_DELETE_SELF / IN_MOVE_SELF)
    if (type === 'rename' && !existsSync(dir)) return broken();
    // no name (some platforms): any file may have changed
    if (name === null || name === undefined) return wakeAll(entry);
    for (const w of [...(entry.waiters.get(String(name)) ?? [])]) w();
  });
  watcher.on('error', broken);
  dirs.set(dir, entry);
  return entry;
}

/**
 * A subscription to changes of `file` and, when it is a symlink, of its target (keepalived watches
 * the realpath), made before the file is read so no change is missed. undefined when the file's
 * directory cannot be watched.
 */
function subscribe(file: string): { changed: Promise<void>; cancel: () => void } | undefined {
  const own = subscribeOne(file);
  if (!own) return undefined;
  let real: string | undefined;
  try {
    real = realpathSync(file);
  } catch {
    real = undefined; // missing: its creation is seen in its own directory
  }
  const target = real !== undefined && real !== file ? subscribeOne(real) : undefined;
  if (!target) return own;
  return {
    changed: Promise.race([own.changed, target.changed]),
    cancel: () => {
      own.cancel();
      target.cancel();
    },
  };
}

function subscribeOne(file: string): { changed: Promise<void>; cancel: () => void } | undefined {
  const dir = dirname(file);
  const name = basename(file);
  const d = dirWatch(dir);
  if (!d) return undefined;
  let settle: NodeJS.Timeout | undefined;
  let resolve!: () => void;
  const changed = new Promise<void>((r) => {
    resolve = r;
  });
  const set = d.waiters.get(name) ?? new Set();
  d.waiters.set(name, set);
  const cancel = () => {
    clearTimeout(settle);
    set.delete(waiter);
    if (set.size === 0) d.waiters.delete(name);
    if (d.waiters.size === 0 && dirs.get(dir) === d) {
      dirs.delete(dir);
      d.watcher.close();
    }
  };
  function waiter(): void {
    clearTimeout(settle);
    settle = setTimeout(() => {
      cancel();
      resolve();
    }, SETTLE_MS);
  }
  set.add(waiter);
  return { changed, cancel };
}

/** What each checker (its spec object) last reported: the text read, or the read error's code. */
const lastSeen = new WeakMap<FileCheckSpec, string>();

/** Each checker's last result: what an out-of-range value leaves in place. */
const lastResult = new WeakMap<FileCheckSpec, CheckResult>();

async function read(spec: FileCheckSpec, signal: AbortSignal): Promise<{ key: string; result: CheckResult }> {
  let text: string;
  let key: string;
  try {
    text = await readFile(spec.file, { encoding: 'latin1', signal });
    key = `=${text}`;
  } catch (e) {
    // keepalived: a file it cannot open reads as 0 (the key still tells a deletion from a write of 0)
    text = '';
    key = `!${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
  const result =
    interpretValue(spec, text) ?? lastResult.get(spec) ?? (interpretValue(spec, '') as CheckResult);
  if (!signal.aborted) lastResult.set(spec, result);
  return { key, result };
}

const aborted = () => fail(new KaError('KA_ERR_CHECK_ABORTED', 'FILE_CHECK cancelled'));

/** One attempt that reads the file at once (the delay_loop poll). */
export async function run(spec: FileCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  if (signal.aborted) return aborted();
  const r = await read(spec, signal);
  if (signal.aborted) return aborted();
  lastSeen.set(spec, r.key);
  return r.result;
}

/**
 * One attempt that, once the checker has reported, waits until its file differs from that report
 * (returns at once where the directory cannot be watched). For a scheduler that starts the next
 * attempt as soon as one ends while `waitsForChange` holds; a waiting attempt should not count
 * towards its concurrency limit.
 */
export async function watchRun(spec: FileCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  if (signal.aborted) return aborted();
  const last = lastSeen.get(spec);
  const sub = last === undefined ? undefined : subscribe(spec.file);
  try {
    let r = await read(spec, signal);
    if (sub && r.key === last) {
      // aborted during the read: the listener below would never fire
      if (signal.aborted) return aborted();
      const stop = new Promise<void>((res) => signal.addEventListener('abort', () => res(), { once: true }));
      await Promise.race([sub.changed, stop]);
      if (signal.aborted) return aborted();
      r = await read(spec, signal);
    }
    if (signal.aborted) return aborted();
    lastSeen.set(spec, r.key);
    return r.result;
  } finally {
    sub?.cancel();
  }
}

/**
 * Whether the checker's next attempt waits for a change of its file itself (it has reported once
 * and the file's directory can be watched): the scheduler then starts it at once rather than after
 * delay_loop. false: poll every delay_loop.
 */
export function waitsForChange(spec: FileCheckSpec): boolean {
  if (!lastSeen.has(spec)) return false;
  const dir = dirname(spec.file);
  if (dirs.has(dir)) return true;
  const d = dirWatch(dir);
  if (!d) return false;
  // probed only: no attempt waits on it yet
  if (d.waiters.size === 0) {
    dirs.delete(dir);
    d.watcher.close();
  }
  return true;
}

/** Directories watched now (for tests: every watch is closed once no attempt waits). */
export function watchedDirs(): number {
  return dirs.size;
}
