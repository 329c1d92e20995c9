/**
 * Real-time signals (SIGRTMIN..SIGRTMAX). Node has no handler for them and their default action ends
 * the process at once, with no cleanup; keepalived gives two of them a meaning (SIGJSON = SIGRTMIN+2,
 * SIGSTATS_CLEAR = SIGRTMAX-1) and tools send them. The addon installs a process-wide handler that
 * writes the signal number (one byte) into a socketpair; its read end is polled on the event loop like any
 * socket here, and each number is handed to the watchers of that signal. A caught signal stays caught
 * for the life of the process: closing the last watcher leaves it caught and counted, never back to
 * the default action.
 */
import { KaError } from '../core/errors.js';
import { addon, k, type NativeAddon, type NativeErrnoError, type NativeSocket, sys } from './native.js';
import { RtSignalErrors } from './rt-signals-errors.js';

/** The addon's signal exports (native/README.md). */
interface SignalAddon {
  signalSocket(): NativeSocket;
  catchSignal(signo: number): void;
  signalDrops(): number;
}

/** What RtSignals needs from the system: the addon (nativeSignalSource), or a fake in tests. */
export interface SignalSource {
  /** SIGRTMIN and SIGRTMAX of the C library. */
  readonly range: { readonly min: number; readonly max: number };
  /** Starts delivering caught signal numbers; `onError` gets receive failures. */
  open(deliver: (signo: number) => void, onError: (err: unknown) => void): void;
  /** Installs the process-wide handler for `signo`. */
  catch(signo: number): void;
  /** Signals caught but never queued for reading (queue full, or not open). */
  drops(): number;
  /** Stops delivering; caught signals stay caught. */
  close(): void;
}

/** The addon's handler and socketpair. The poll does not keep the event loop alive. */
export function nativeSignalSource(): SignalSource {
  const a = addon() as NativeAddon & Partial<SignalAddon>;
  if (typeof a.signalSocket !== 'function' || typeof a.catchSignal !== 'function')
    throw new KaError(
      RtSignalErrors.KA_ERR_SYS_SIGNAL,
      'the native addon was built without signal support; rebuild it: npx node-gyp rebuild --directory native',
    );
  const ext = a as NativeAddon & SignalAddon;
  let sock: NativeSocket | undefined;
  return {
    range: { min: k('SIGRTMIN'), max: k('SIGRTMAX') },
    open(deliver, onError) {
      if (sock) return;
      const s = sys(() => ext.signalSocket());
      try {
        s.unref();
        sys(() =>
          s.startReceiving((err, data) => {
            if (err || !data) onError(err);
            else if (data.length === 0) {
              // end-of-file: another signalSocket() took the signals over; stop polling this one
              s.close();
              if (sock === s) sock = undefined;
              onError(null);
            } else for (const b of data) deliver(b);
          }, 256),
        );
      } catch (e) {
        s.close();
        throw e;
      }
      sock = s;
    },
    catch: (signo) => sys(() => ext.catchSignal(signo), { signo }),
    drops: () => ext.signalDrops(),
    close() {
      sock?.close();
      sock = undefined;
    },
  };
}

export type SignalHandler = (signo: number) => void | Promise<void>;

export interface WatchOptions {
  /** Gets a KA_ERR_SYS_SIGNAL_HANDLER error when the handler throws (or rejects) or reading fails. */
  onError?: (err: KaError) => void;
}

export interface SignalWatch {
  /** Stops calling the handler; the signal stays caught. Idempotent. */
  close(): void;
}

export interface RtSignalStats {
  /** Signals read from the socket, by number, watched or not. */
  readonly received: Readonly<Record<number, number>>;
  /** Of those, signals no watcher was there for. */
  readonly unwatched: number;
  /** Signals caught but lost before reading (the socket's queue was full). */
  readonly dropped: number;
  /** Handlers that threw or rejected, and failed reads. */
  readonly errors: number;
}

interface Entry {
  readonly handler: SignalHandler;
  readonly onError: ((err: KaError) => void) | undefined;
}

/** Watchers of real-time signals over one SignalSource (the process has one: processSignals()). */
export class RtSignals {
  private readonly watchers = new Map<number, Set<Entry>>();
  private readonly caught = new Set<number>();
  private readonly received = new Map<number, number>();
  private unwatched = 0;
  private errors = 0;
  private opened = false;

  constructor(private readonly source: SignalSource) {}

  get range(): { readonly min: number; readonly max: number } {
    return this.source.range;
  }

  /**
   * Calls `handler(signo)` on the event loop each time the process receives `signo`. Throws
   * KA_ERR_SYS_SIGNAL for a number outside SIGRTMIN..SIGRTMAX or when the handler cannot be installed.
   */
  watch(signo: number, handler: SignalHandler, opts: WatchOptions = {}): SignalWatch {
    const { min, max } = this.source.range;
    if (!Number.isInteger(signo) || signo < min || signo > max)
      throw new KaError(
        RtSignalErrors.KA_ERR_SYS_SIGNAL,
        `signal ${signo} is not a real-time signal (${min}..${max})`,
        { signo },
      );
    try {
      // the socket first, so that nothing caught is lost
      if (!this.opened) {
        this.source.open(
          (n) => this.deliver(n),
          (e) => this.readFailed(e),
        );
        this.opened = true;
      }
      if (!this.caught.has(signo)) {
        this.source.catch(signo);
        this.caught.add(signo);
      }
    } catch (e) {
      throw new KaError(
        RtSignalErrors.KA_ERR_SYS_SIGNAL,
        `cannot catch signal ${signo}: ${(e as Error).message}`,
        { signo },
        { cause: e },
      );
    }
    const entry: Entry = { handler, onError: opts.onError };
    const set = this.watchers.get(signo) ?? new Set<Entry>();
    this.watchers.set(signo, set);
    set.add(entry);
    return { close: () => void this.watchers.get(signo)?.delete(entry) };
  }

  stats(): RtSignalStats {
    return {
      received: Object.fromEntries(this.received),
      unwatched: this.unwatched,
      dropped: this.source.drops(),
      errors: this.errors,
    };
  }

  /** Stops reading the socket (a later watch() opens it again); caught signals stay caught. */
  close(): void {
    this.watchers.clear();
    this.source.close();
    this.opened = false;
  }

  private deliver(signo: number): void {
    this.received.set(signo, (this.received.get(signo) ?? 0) + 1);
    const set = this.watchers.get(signo);
    if (!set || set.size === 0) {
      this.unwatched++;
      return;
    }
    for (const entry of [...set]) {
      try {
        const r: unknown = entry.handler(signo);
        if (r instanceof Promise) r.catch((e: unknown) => this.failed(entry, signo, e));
      } catch (e) {
        this.failed(entry, signo, e);
      }
    }
  }

  private failed(entry: Entry, signo: number, e: unknown): void {
    this.errors++;
    report(
      entry,
      new KaError(
        RtSignalErrors.KA_ERR_SYS_SIGNAL_HANDLER,
        `handler of signal ${signo} failed: ${(e as Error)?.message ?? String(e)}`,
        { signo },
        { cause: e },
      ),
    );
  }

  private readFailed(e: unknown): void {
    this.errors++;
    const errno = (e as NativeErrnoError | null)?.code ?? '';
    const err = new KaError(
      RtSignalErrors.KA_ERR_SYS_SIGNAL_HANDLER,
      e === null
        ? 'the signal socket reached end-of-file (another signalSocket() took the signals over)'
        : `reading the signal socket failed: ${(e as Error)?.message ?? String(e)}`,
      { errno },
      { cause: e },
    );
    const seen = new Set<(err: KaError) => void>();
    for (const set of this.watchers.values())
      for (const entry of set)
        if (entry.onError && !seen.has(entry.onError)) {
          seen.add(entry.onError);
          report(entry, err);
        }
  }
}

function report(entry: Entry, err: KaError): void {
  try {
    entry.onError?.(err);
  } catch {
    // an error callback that throws has nowhere left to report to; the error is counted
  }
}

/**
 * A process's signal disposition in memory, for tests (an honest SignalSource, as undici's mock
 * dispatcher): an uncaught signal "ends the process" (recorded in `died`), a caught one is queued
 * until read (`flush`), or dropped (counted) when nothing is open.
 */
export class MemorySignalSource implements SignalSource {
  readonly range = { min: 34, max: 64 };
  readonly caught = new Set<number>();
  /** Signals that would have ended the process (raised while not caught). */
  readonly died: number[] = [];
  /** Signals still queued when the socket closed: gone, uncounted (as with the real socket). */
  discarded = 0;
  opens = 0;
  /** Makes catch() fail as a refused sigaction does. */
  failCatch = false;
  private readonly queue: number[] = [];
  private reader: ((n: number) => void) | undefined;
  private onErr: ((e: unknown) => void) | undefined;
  private lost = 0;

  open(deliver: (n: number) => void, onError: (e: unknown) => void): void {
    this.opens++;
    this.reader = deliver;
    this.onErr = onError;
  }
  catch(signo: number): void {
    if (this.failCatch || signo < this.range.min || signo > this.range.max)
      throw Object.assign(new Error('sigaction: Invalid argument'), { code: 'EINVAL', syscall: 'sigaction' });
    this.caught.add(signo);
  }
  drops(): number {
    return this.lost;
  }
  close(): void {
    this.reader = undefined;
    this.discarded += this.queue.splice(0).length;
  }
  /** kill(pid, signo) */
  raise(signo: number): void {
    if (!this.caught.has(signo)) this.died.push(signo);
    else if (!this.reader) this.lost++;
    else this.queue.push(signo);
  }
  /** The event loop finds the socket readable. */
  flush(): void {
    for (const n of this.queue.splice(0)) this.reader?.(n);
  }
  /** The socket read fails (`null`: end-of-file). */
  failRead(e: unknown): void {
    this.onErr?.(e);
  }
}

let shared: RtSignals | undefined;

/** The process's real-time signals (created on first use; throws KA_ERR_SYS_ADDON / KA_ERR_SYS_SIGNAL). */
export function processSignals(): RtSignals {
  shared ??= new RtSignals(nativeSignalSource());
  return shared;
}

/** `processSignals().watch(signo, handler, opts)`. */
export function watchSignal(signo: number, handler: SignalHandler, opts?: WatchOptions): SignalWatch {
  return processSignals().watch(signo, handler, opts);
}

/**
 * keepalived's real-time signal numbers, as it computes them: SIGJSON = SIGRTMIN + 2,
 * SIGSTATS_CLEAR = SIGRTMAX - 1 (36 and 63 with glibc on Linux).
 */
export function keepalivedSignals(range: { readonly min: number; readonly max: number }): {
  readonly JSON: number;
  readonly STATS_CLEAR: number;
} {
  return { JSON: range.min + 2, STATS_CLEAR: range.max - 1 };
}
