/**
 * track_file (keepalived-surface.md §2.4): the file holds an integer read as strtol(buf, 0, 0) on
 * its first 127 bytes (unparsable, empty or missing → 0), clamped to ±254.
 *
 * Watching: keepalived puts an inotify watch on the directory (IN_CLOSE_WRITE | IN_DELETE | IN_MOVE).
 * Here fs.watch on the directory (inotify underneath) is the trigger; libuv reports IN_MODIFY rather
 * than IN_CLOSE_WRITE, so a read is delayed by `settleUs` after the last event to avoid reading a
 * half-written file (`echo 5 > f` truncates before writing). No periodic re-read while the watch
 * works: inotify does not miss events on local file systems. Only when the watch cannot be set up
 * or fails (inotify limit, directory removed) does it fall back to re-reading every `pollUs`.
 */
import { type FSWatcher, watch } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type Clock, type Micros, systemClock, type TimerHandle } from '../../core/clock.js';
import type { Counters } from '../../core/counters.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { strtol0 } from '../../core/strtol.js';
import { clampFileValue } from './priority.js';

export { strtol0 };

/** The value keepalived takes from file content. */
export const parseTrackFileValue = (content: string): number =>
  clampFileValue(strtol0(content.slice(0, 127)));

/** Read the file as keepalived does (missing or unreadable → 0). */
export async function readTrackFile(path: string): Promise<number> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(127);
      const { bytesRead } = await fh.read(buf, 0, 127, 0);
      return parseTrackFileValue(buf.subarray(0, bytesRead).toString('latin1'));
    } finally {
      await fh.close();
    }
  } catch {
    return 0;
  }
}

export interface TrackFileOptions {
  name: string;
  path: string;
  /** `init_file [VALUE] [overwrite]`. */
  initFile?: { value: number; overwrite: boolean };
  onChange: (value: number) => void;
  clock?: Clock;
  log?: Logger;
  counters?: Counters;
  /** Quiet time after the last event before reading (default 20 ms). */
  settleUs?: Micros;
  /** Fallback re-read period when the watch fails (default 1 s). */
  pollUs?: Micros;
}

export class TrackFile {
  private cur = 0;
  private watcher: FSWatcher | null = null;
  private settle: TimerHandle | null = null;
  private poll: TimerHandle | null = null;
  private stopped = true;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly opts: TrackFileOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
  }

  get value(): number {
    return this.cur;
  }

  /** An fs watch or the fallback poll is active. */
  get watching(): boolean {
    return !this.stopped && (this.watcher !== null || this.poll !== null);
  }

  /** Create the file if asked, read it, and start watching. Resolves with the initial value. */
  async start(): Promise<number> {
    this.stopped = false;
    const { initFile, path } = this.opts;
    if (initFile) {
      await writeFile(path, `${initFile.value}\n`, { flag: initFile.overwrite ? 'w' : 'wx' }).catch(() => {});
    }
    this.cur = await readTrackFile(path);
    // stopped while reading (a reload replaced it): no watch may outlive the tracker
    if (this.stopped) return this.cur;
    try {
      const file = basename(path);
      this.watcher = watch(dirname(path), { persistent: false }, (_ev, name) => {
        if (name === null || name === file) this.schedule();
      });
      this.watcher.on('error', (e) => this.fallback(e));
    } catch (e) {
      this.fallback(e);
    }
    return this.cur;
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = null;
    this.settle?.cancel();
    this.poll?.cancel();
  }

  /** Re-read now (also used by the fallback poll). */
  async reread(): Promise<void> {
    const v = await readTrackFile(this.opts.path);
    if (this.stopped || v === this.cur) return;
    this.cur = v;
    this.opts.onChange(v);
  }

  private schedule(): void {
    this.settle?.cancel();
    this.settle = this.clock.at(this.clock.now() + (this.opts.settleUs ?? 20_000), () => {
      this.settle = null;
      void this.reread();
    });
  }

  private fallback(e: unknown): void {
    this.watcher?.close();
    this.watcher = null;
    this.opts.counters?.inc('KA_ERR_TRACK_FILE_WATCH');
    this.log.warn(
      { code: 'KA_ERR_TRACK_FILE_WATCH', file: this.opts.path, err: String(e) },
      `Unable to monitor track file ${this.opts.name} - re-reading periodically`,
    );
    const period = this.opts.pollUs ?? 1_000_000;
    const tick = (): void => {
      if (this.stopped) return;
      this.poll = this.clock.at(this.clock.now() + period, tick);
      void this.reread();
    };
    tick();
  }
}
