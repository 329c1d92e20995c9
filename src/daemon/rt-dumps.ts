/**
 * keepalived's real-time signals in the daemon (docs/SIGNALS.md):
 * - SIGJSON (SIGRTMIN+2, 36): writes `keepalived.json` into the dump directory, keepalived's `-J`
 *   array of `{ data, stats }`; nothing when there is no VRRP instance (as keepalived).
 * - SIGSTATS_CLEAR (SIGRTMAX-1, 63): writes `keepalived.stats` as SIGUSR2 does, then zeroes the VRRP
 *   instances' statistics.
 * Without this the process would die on either signal (Node has no handler for real-time signals).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import type { Counters } from '../core/counters.js';
import type { KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { keepalivedSignals, processSignals, type RtSignals } from '../sys/rt-signals.js';

export interface RtSignalDeps {
  /** keepalived's dump directory ($TMPDIR if absolute, else /tmp); a function is read at each signal. */
  readonly dumpDir: string | (() => string);
  /**
   * The text of `keepalived.json` in keepalived's layout (dumps.ts formatVrrpJson), read at each
   * SIGJSON; an empty string writes no file (keepalived without VRRP instances).
   */
  readonly jsonText?: () => string;
  /** Used when jsonText is not given: the `-J` array (one `{ data, stats }` per instance), stringified. */
  readonly jsonState?: () => readonly unknown[];
  /** Writes `keepalived.stats` (the SIGUSR2 dump): keepalived prints the stats, then clears them. */
  readonly writeStats?: () => void;
  /** Zeroes every VRRP instance's statistics (clearCounters on each instance's counters). */
  readonly clearStats: () => void;
  readonly log: Logger;
  /** Daemon-wide counters: `signal.json`, `signal.stats_clear`, `daemon.dump_errors`, `signal.errors`. */
  readonly counters: Counters;
  /** The process's signals by default; tests pass an RtSignals over a fake source. */
  readonly signals?: Pick<RtSignals, 'watch' | 'range'>;
}

/**
 * Catches SIGJSON and SIGSTATS_CLEAR and acts on them as keepalived does. Synchronous, so it can run
 * before the first await of start-up. Returns the disposer (the signals stay caught, then ignored).
 * When the signals cannot be caught it logs the error (KA_ERR_SYS_SIGNAL / KA_ERR_SYS_ADDON) and
 * returns a disposer that does nothing: the daemon runs on, as it did before.
 */
export function installRtSignals(deps: RtSignalDeps): () => void {
  const { log, counters } = deps;
  const onError = (err: KaError) => {
    counters.inc('signal.errors');
    log.error({ code: err.code }, err.message);
  };
  const closers: (() => void)[] = [];
  try {
    const signals = deps.signals ?? processSignals();
    const nums = keepalivedSignals(signals.range);
    closers.push(signals.watch(nums.JSON, () => dumpJson(deps), { onError }).close);
    closers.push(signals.watch(nums.STATS_CLEAR, () => statsClear(deps), { onError }).close);
  } catch (e) {
    for (const c of closers) c();
    const err = e as KaError;
    counters.inc('signal.errors');
    log.error({ code: err.code }, `cannot catch keepalived's real-time signals: ${err.message}`);
    return () => {};
  }
  return () => {
    for (const c of closers.splice(0)) c();
  };
}

function dumpJson(deps: RtSignalDeps): void {
  deps.counters.inc('signal.json');
  deps.log.info(`Printing VRRP as json for process(${process.pid}) on signal`);
  let text: string;
  if (deps.jsonText) text = deps.jsonText();
  else {
    const instances = deps.jsonState?.() ?? [];
    text = instances.length > 0 ? `${JSON.stringify(instances)}\n` : '';
  }
  if (text === '') return; // keepalived writes no file without VRRP instances
  writeDump(deps, 'keepalived.json', text);
}

function statsClear(deps: RtSignalDeps): void {
  deps.counters.inc('signal.stats_clear');
  deps.log.info(`Printing and clearing VRRP stats for process(${process.pid}) on signal`);
  try {
    deps.writeStats?.();
  } finally {
    deps.clearStats();
  }
}

function writeDump(deps: RtSignalDeps, name: string, text: string): void {
  const dir = typeof deps.dumpDir === 'function' ? deps.dumpDir() : deps.dumpDir;
  try {
    writeFileAtomic(dir, name, text);
  } catch (e) {
    deps.counters.inc('daemon.dump_errors');
    const { errno, code } = e as NodeJS.ErrnoException;
    const why = (errno !== undefined && getSystemErrorMap().get(errno)?.[1]) || code || String(e);
    // keepalived's wording
    deps.log.info(`Can't open ${join(dir, name)} (${errno === undefined ? '' : `${-errno}: `}${why})`);
  }
}

/**
 * Writes `dir/name` (mode 0600) through a new file renamed over it, so that a reader polling for the
 * file (tools send the signal, then wait for it) never sees it half written. The temporary file is
 * created exclusively (O_EXCL), so a link planted in a shared /tmp is never followed.
 */
export function writeFileAtomic(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}`);
  let fd: number | undefined = openSync(tmp, 'wx', 0o600);
  try {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  return path;
}

/**
 * Zeroes every counter of `counters` (one VRRP instance's statistics). src/core/counters.ts has no
 * reset yet, so each value is brought back to 0 through inc(); the names stay, at 0.
 */
export function clearCounters(counters: Counters): void {
  for (const [name, value] of Object.entries(counters.snapshot()))
    if (value !== 0) counters.inc(name, -value);
}
