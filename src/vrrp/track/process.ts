/**
 * vrrp_track_process (keepalived-surface.md §2.5).
 *
 * Matching as keepalived's read_procs/check_params: without parameters and without full_command the
 * name is compared with the command name from /proc/PID/stat (zombies skipped; names longer than
 * 15 characters are compared on their first 15, the kernel's comm length). With parameters or
 * full_command (or param_match), argv[0] of /proc/PID/cmdline is compared, and the remaining NUL-separated arguments
 * must equal the configured ones (exact), start with them (partial), or start with them with the
 * last one only a prefix (initial).
 *
 * Following processes, as keepalived's track_process.c: one /proc scan at start, then events from
 * the kernel proc connector (NETLINK_CONNECTOR, group CN_IDX_PROC; codec src/wire/proc-connector.ts).
 * exec: /proc/PID/stat (and cmdline if needed) of that pid is re-read and matched, a gain counts at
 * once; comm (prctl PR_SET_NAME, write to /proc/PID/comm): the new name is matched (cmdline matches
 * ignore it); fork of a counted process: the child is counted too (it shares comm/cmdline until it
 * execs), a gain waits fork_delay; exit of a counted thread-group leader: it is dropped, a loss
 * waits terminate_delay. Thread events (pid ≠ tgid) are ignored.
 *
 * Every tracker of the daemon sits on one ProcessTable: one subscription, one read of /proc/PID per
 * exec event whatever the number of trackers, one full rescan after lost events (ENOBUFS or a gap in
 * the kernel's sequence numbers) and one scan per poll for all of them.
 * When the connector cannot be used (no CAP_NET_ADMIN, ECONNREFUSED in a container's network
 * namespace, LISTEN answered with an error, or not answered at all: the kernel ignores LISTEN from a
 * non-initial user or pid namespace without a word) it is logged once, counted per tracker
 * (KA_ERR_TRACK_PROC_CONNECTOR), /proc is re-scanned every `intervalUs` (default 1 s) instead (a
 * rise in count then waits fork_delay, a fall terminate_delay), and the connector is tried again
 * with a doubling delay (1 s to 60 s); events resume after the kernel's ack and a rescan.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, type Micros, systemClock, type TimerHandle } from '../../core/clock.js';
import type { Counters } from '../../core/counters.js';
import { KaError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { isSysError, SysErrors } from '../../sys/errors.js';
import { NetlinkSocket } from '../../sys/netlink-socket.js';
import type { NlMsg } from '../../wire/netlink.js';
import {
  CN_IDX_PROC,
  decodeProcConnectorMsg,
  encodeMcastOp,
  NETLINK_CONNECTOR,
  PROC_CN_MCAST_IGNORE,
  PROC_CN_MCAST_LISTEN,
  type ProcEvent,
} from '../../wire/proc-connector.js';
import { TrackErrors } from './errors.js';

export interface ProcessMatchSpec {
  /** `process NAME` */
  process: string;
  /** `process NAME ARG…` */
  params?: readonly string[];
  /** `param_match initial|partial` (default exact when params are given). */
  paramMatch?: 'exact' | 'partial' | 'initial';
  /** `full_command` */
  fullCommand?: boolean;
}

export interface ProcEntry {
  pid: number;
  /** Command name from /proc/PID/stat. */
  comm: string;
  zombie: boolean;
  /** Raw /proc/PID/cmdline (NUL-separated, NUL-terminated); null when not read. */
  cmdline: Buffer | null;
}

const COMM_LEN = 15;

const usesCmdline = (s: ProcessMatchSpec): boolean =>
  s.fullCommand === true || s.paramMatch !== undefined || (s.params?.length ?? 0) > 0;

/** Does one process match? */
export function matchProcess(spec: ProcessMatchSpec, p: ProcEntry): boolean {
  if (p.zombie) return false;
  if (!usesCmdline(spec)) return p.comm === spec.process.slice(0, COMM_LEN);
  if (!p.cmdline) return false;
  const nul = p.cmdline.indexOf(0);
  const argv0 = (nul < 0 ? p.cmdline : p.cmdline.subarray(0, nul)).toString('utf8');
  if (argv0 !== spec.process) return false;
  const params = spec.params ?? [];
  if (params.length === 0 && !spec.paramMatch) return true;
  const actual = nul < 0 ? Buffer.alloc(0) : p.cmdline.subarray(nul + 1);
  const want = params.length ? Buffer.from(`${params.join('\0')}\0`) : Buffer.alloc(0);
  const mode = spec.paramMatch ?? 'exact';
  if (mode === 'exact') return actual.equals(want);
  if (want.length === 0) return true;
  if (actual.length < want.length) return false;
  if (mode === 'partial') return actual.subarray(0, want.length).equals(want);
  return actual.subarray(0, want.length - 1).equals(want.subarray(0, want.length - 1));
}

/** Parse /proc/PID/stat: comm is between the first '(' and the last ')'; state follows. */
export function parseStat(stat: string): { comm: string; state: string } | null {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  return { comm: stat.slice(open + 1, close), state: stat.slice(close + 2, close + 3) };
}

/** Read the process table under `procRoot` (a fake tree in tests). */
export async function scanProc(procRoot = '/proc', withCmdline = true): Promise<ProcEntry[]> {
  let names: string[];
  try {
    names = await readdir(procRoot);
  } catch (e) {
    throw new KaError('KA_ERR_TRACK_PROC_SCAN', `cannot read ${procRoot}: ${(e as Error).message}`, {
      procRoot,
    });
  }
  const out: ProcEntry[] = [];
  await Promise.all(
    names
      .filter((n) => /^[1-9][0-9]*$/.test(n))
      .map(async (n) => {
        try {
          const st = parseStat(await readFile(join(procRoot, n, 'stat'), 'latin1'));
          if (!st) return;
          const cmdline = withCmdline ? await readFile(join(procRoot, n, 'cmdline')).catch(() => null) : null;
          out.push({ pid: Number(n), comm: st.comm, zombie: st.state === 'Z', cmdline });
        } catch {
          // the process exited while we looked
        }
      }),
  );
  return out.sort((a, b) => a.pid - b.pid);
}

const SCRATCH_BYTES = 4096;
/** Scratch buffer of readProcFileSync (grown when a file does not fit). */
let scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

/** The scratch buffer's size now (for tests). */
export const procScratchBytes = (): number => scratch.length;

/**
 * A whole procfs file, synchronously. Written by hand rather than readFileSync: procfs reports size
 * 0, so readFileSync fstat()s and then reads into fresh 64 KiB chunks; open/read/close into one
 * reused buffer halves the cost of an exec event's read (measured: about 39 → 19 µs CPU for
 * stat + cmdline). The result is a view of the scratch buffer, valid until the next call; after an
 * oversized file the buffer is shrunk back to 4 KiB.
 */
function readProcFileSync(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    let n = 0;
    for (;;) {
      const r = readSync(fd, scratch, n, scratch.length - n, null);
      if (r === 0) return scratch.subarray(0, n);
      n += r;
      if (n === scratch.length) {
        const grown = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(grown);
        scratch = grown;
      }
    }
  } finally {
    closeSync(fd);
    // a view returned above keeps the grown buffer alive only as long as its caller holds it
    if (scratch.length > SCRATCH_BYTES) scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  }
}

/**
 * One process's entry, read at once (after an exec event). Synchronous on purpose: procfs reads of
 * a few hundred bytes cost microseconds, and reading before the next event is handled keeps the
 * events in order (an async read could land after that process's exit). Null when it is gone.
 */
export function readProcEntrySync(procRoot: string, pid: number, withCmdline: boolean): ProcEntry | null {
  try {
    const st = parseStat(readProcFileSync(join(procRoot, String(pid), 'stat')).toString('latin1'));
    if (!st) return null;
    const cmdline = withCmdline
      ? Buffer.from(readProcFileSync(join(procRoot, String(pid), 'cmdline')))
      : null;
    return { pid, comm: st.comm, zombie: st.state === 'Z', cmdline };
  } catch {
    return null;
  }
}

export const countMatches = (spec: ProcessMatchSpec, procs: readonly ProcEntry[]): number =>
  procs.reduce((n, p) => n + (matchProcess(spec, p) ? 1 : 0), 0);

export interface QuorumConfig {
  quorum?: number;
  quorumMax?: number;
  forkDelayUs?: Micros;
  terminateDelayUs?: Micros;
}

/**
 * Quorum with fork/terminate debounce, on a clock. `update(count)` with each new count; `onChange`
 * fires when quorum is gained or lost. A rise in count that changes quorum waits fork_delay, a fall
 * waits terminate_delay; a change back before the delay cancels it (keepalived track_process.c).
 */
export class Quorum {
  private have: boolean | null = null;
  private count = 0;
  private timer: TimerHandle | null = null;
  readonly quorum: number;
  readonly quorumMax: number;

  constructor(
    private readonly cfg: QuorumConfig,
    private readonly clock: Clock,
    private readonly onChange: (have: boolean, count: number) => void,
  ) {
    this.quorum = cfg.quorum ?? 1;
    this.quorumMax = cfg.quorumMax ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(this.quorum) || this.quorum < 1 || this.quorumMax < this.quorum) {
      throw new KaError(
        'KA_ERR_TRACK_BAD_PARAM',
        `quorum ${this.quorum}..${this.quorumMax} is not a valid range`,
        { ...cfg },
      );
    }
  }

  get haveQuorum(): boolean {
    return this.have ?? false;
  }

  /** The last count given. */
  get currentCount(): number {
    return this.count;
  }

  private within(n: number): boolean {
    return n >= this.quorum && n <= this.quorumMax;
  }

  /** Initial count: sets the state without a callback or delay. */
  init(count: number): boolean {
    this.count = count;
    this.have = this.within(count);
    return this.have;
  }

  /**
   * A new count. With `debounce` false (an exec or comm event, as keepalived's check_process) a
   * change of quorum takes effect at once and cancels a pending delay.
   */
  update(count: number, debounce = true): void {
    if (this.have === null) {
      this.init(count);
      return;
    }
    const prev = this.count;
    this.count = count;
    const want = this.within(count);
    if (want === this.have || !debounce) {
      this.timer?.cancel();
      this.timer = null;
      if (want !== this.have) this.set(want);
      return;
    }
    if (this.timer) return;
    const delay = count > prev ? (this.cfg.forkDelayUs ?? 0) : (this.cfg.terminateDelayUs ?? 0);
    if (delay <= 0) {
      this.set(want);
      return;
    }
    this.timer = this.clock.at(this.clock.now() + delay, () => {
      this.timer = null;
      const w = this.within(this.count);
      if (w !== this.have) this.set(w);
    });
  }

  private set(have: boolean): void {
    this.have = have;
    this.onChange(have, this.count);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

/** Receives proc events from a source; the shared process table is one sink. */
export interface ProcEventSink {
  /** fork, exec, comm and exit events, in the kernel's order. */
  event(ev: ProcEvent): void;
  /** Events were lost (receive queue overrun, sequence gap): rescan /proc. */
  lost(): void;
  /** The source stopped (the kernel refused or ignored LISTEN): poll instead. */
  failed(err: KaError): void;
  /** The kernel acknowledged LISTEN (only for a subscription that was `pending`). */
  ready?(): void;
}

export interface ProcEventSubscription {
  close(): void;
  /** True while LISTEN awaits the kernel's ack: events count only after `ready`. */
  readonly pending?: boolean;
}

export interface SourceContext {
  log?: Logger;
  counters?: Counters;
  clock?: Clock;
}

export interface ProcEventSource {
  /** Throws KaError KA_ERR_TRACK_PROC_CONNECTOR when no events can be had. */
  subscribe(sink: ProcEventSink, ctx?: SourceContext): ProcEventSubscription;
  /** Forget a failure so that the next subscribe tries again (a retry). */
  reset?(): void;
}

/** The part of NetlinkSocket the connector source uses (a fake in tests). */
export interface ConnectorSocket {
  on(event: 'event', fn: (m: NlMsg) => void): unknown;
  on(event: 'resync', fn: (e: Error) => void): unknown;
  on(event: 'error', fn: (e: Error) => void): unknown;
  sendRaw(buf: Buffer): number;
  close(): void;
}

export type ConnectorOpener = () => ConnectorSocket;

/** socket(AF_NETLINK, SOCK_RAW, NETLINK_CONNECTOR) joined to CN_IDX_PROC (needs CAP_NET_ADMIN). */
export const openKernelConnector: ConnectorOpener = () =>
  NetlinkSocket.open(NETLINK_CONNECTOR, {
    groups: [CN_IDX_PROC],
    extAck: false,
    capAck: false,
    rcvbuf: 1 << 20,
  });

const unavailable = (cause: unknown, why: string): KaError =>
  new KaError(
    TrackErrors.KA_ERR_TRACK_PROC_CONNECTOR,
    `process events unavailable (${why}); polling /proc instead`,
    isSysError(cause) ? { errno: cause.errno, syscall: cause.syscall } : {},
    cause === undefined ? undefined : { cause },
  );

export interface ProcConnectorOptions {
  /** For the ack deadline; default the first subscriber's clock, else the system clock. */
  clock?: Clock;
  /** How long LISTEN may wait for its ack before the connector counts as ignored (default 2 s). */
  ackTimeoutUs?: Micros;
  /**
   * Runs the deadline's decision after the datagrams already pending are read (default
   * setImmediate: after the event loop's poll phase, which timers precede).
   */
  defer?: (fn: () => void) => void;
}

/** This many receive errors within the window make the connector socket count as broken. */
const RECV_ERRORS_MAX = 3;
const RECV_ERRORS_WINDOW_US = 10_000_000;

/** A deadline timer this late ran behind a blocked event loop: it is armed once more. */
const ACK_LATE_US = 250_000;

/**
 * Proc events from one connector socket, shared by every subscriber: opened (and LISTEN sent) on the
 * first subscribe, IGNORE sent and closed when the last one leaves. A failure sticks (later
 * subscribers get the same error at once) until `reset()`.
 *
 * LISTEN is confirmed by the kernel's ack (cn_proc_mcast_ctl answers every LISTEN it handles, error or
 * not, to the multicast group). The kernel skips LISTEN without any answer for a sender outside the
 * initial user or pid namespace, and then sends no events for it: an ack missing after `ackTimeoutUs`
 * is such a silent refusal, and fails the source like an error ack. Until the ack, the subscription
 * is `pending` (the sink's `ready` is called on it). Events can still reach such a socket while
 * another listener on the host keeps the kernel sending (seen under `unshare --pid` and
 * `unshare --user`), with initial-namespace pids and only as long as that listener stays: a
 * self-test (fork/exec a child, wait for its events) would then pass, so the ack is the signal used.
 *
 * Lost events: ENOBUFS on the socket ('resync') or a gap in the kernel's per-CPU sequence number
 * (cn_msg.seq counts every proc event sent on that CPU, in order) calls every sink's `lost`; so does
 * another receive error, unless the socket is dead or errors repeat: the source then fails.
 */
export class ProcConnectorSource implements ProcEventSource {
  private sock: ConnectorSocket | null = null;
  private readonly sinks = new Set<ProcEventSink>();
  private failure: KaError | null = null;
  private ackCookie = 0;
  private acked = false;
  private ackTimer: TimerHandle | null = null;
  /** Times of the recent receive errors on the open socket. */
  private recvErrors: Micros[] = [];
  /** Last cn_msg.seq seen per CPU. */
  private readonly lastSeq = new Map<number, number>();
  private log: Logger = silentLogger;
  private counters: Counters | undefined;
  private clock: Clock;
  private readonly ackTimeoutUs: Micros;
  private readonly defer: (fn: () => void) => void;

  constructor(
    private readonly open: ConnectorOpener = openKernelConnector,
    private readonly opts: ProcConnectorOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.ackTimeoutUs = opts.ackTimeoutUs ?? 2_000_000;
    this.defer = opts.defer ?? ((fn) => setImmediate(fn));
  }

  get subscribers(): number {
    return this.sinks.size;
  }

  get isOpen(): boolean {
    return this.sock !== null;
  }

  /** The kernel acknowledged LISTEN on the open socket. */
  get isConfirmed(): boolean {
    return this.sock !== null && this.acked;
  }

  reset(): void {
    this.failure = null;
  }

  subscribe(sink: ProcEventSink, ctx: SourceContext = {}): ProcEventSubscription {
    if (this.failure) throw this.failure;
    if (!this.sock) {
      this.log = ctx.log ?? silentLogger;
      this.counters = ctx.counters;
      this.clock = this.opts.clock ?? ctx.clock ?? systemClock;
      this.start();
    }
    this.sinks.add(sink);
    let closed = false;
    const self = this;
    return {
      get pending() {
        return !closed && self.sock !== null && !self.acked;
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.sinks.delete(sink);
        if (this.sinks.size === 0) this.stop(true);
      },
    };
  }

  private start(): void {
    let sock: ConnectorSocket;
    try {
      sock = this.open();
    } catch (e) {
      throw this.fail(unavailable(e, `cannot open the proc connector: ${(e as Error).message}`));
    }
    sock.on('event', (m) => this.onMsg(m));
    sock.on('resync', () => {
      // the gap after an overrun is this same loss: start the sequence check afresh
      this.lastSeq.clear();
      this.onLost();
    });
    sock.on('error', (e) => this.onRecvError(sock, e));
    this.recvErrors = [];
    // The kernel acks LISTEN to every listener with ack+1: a cookie tells our ack from others'.
    this.ackCookie = ((Math.random() * 0x7ffffffe) >>> 0) + 1;
    this.acked = false;
    this.lastSeq.clear();
    try {
      sock.sendRaw(encodeMcastOp(PROC_CN_MCAST_LISTEN, { ack: this.ackCookie, pid: process.pid }));
    } catch (e) {
      sock.close();
      throw this.fail(unavailable(e, `LISTEN refused: ${(e as Error).message}`));
    }
    this.sock = sock;
    this.armAck(sock, this.clock.now() + this.ackTimeoutUs, false);
  }

  /**
   * The ack deadline. Timers run before the poll phase: after the loop was blocked the ack may sit
   * unread, so the decision is deferred past it, and a timer that ran late is armed once more.
   */
  private armAck(sock: ConnectorSocket, at: Micros, again: boolean): void {
    this.ackTimer = this.clock.at(at, () => {
      this.ackTimer = null;
      if (this.sock !== sock || this.acked) return;
      const late = this.clock.now() - at >= ACK_LATE_US;
      this.defer(() => {
        if (this.sock !== sock || this.acked || this.ackTimer) return;
        if (late && !again) {
          this.armAck(sock, this.clock.now() + this.ackTimeoutUs, true);
          return;
        }
        this.onRefused(
          `LISTEN not acknowledged within ${this.ackTimeoutUs / 1e6} s: the kernel ignores it outside the initial user and pid namespaces`,
        );
      });
    });
  }

  private fail(err: KaError): KaError {
    this.failure = err;
    return err;
  }

  private stop(ignore: boolean): void {
    this.ackTimer?.cancel();
    this.ackTimer = null;
    const sock = this.sock;
    this.sock = null;
    if (!sock) return;
    if (ignore) {
      try {
        sock.sendRaw(encodeMcastOp(PROC_CN_MCAST_IGNORE, { pid: process.pid }));
      } catch {
        // closing anyway; the kernel drops the listener count when the socket goes
      }
    }
    sock.close();
  }

  private onLost(): void {
    for (const s of [...this.sinks]) s.lost();
  }

  private onMsg(m: NlMsg): void {
    let ev: ProcEvent;
    let seq: number;
    try {
      const r = decodeProcConnectorMsg(m);
      if (!r) return;
      if (r.event.what === 'ack') {
        if (r.cn.ack !== this.ackCookie + 1) return;
        if (r.event.err !== 0) this.onRefused(`the kernel answered LISTEN with error ${r.event.err}`);
        else if (!this.acked) this.onAck();
        return;
      }
      ev = r.event;
      seq = r.cn.seq;
    } catch (e) {
      const code = e instanceof KaError ? e.code : 'KA_ERR_TRACK_PROC_CONNECTOR';
      this.counters?.inc(code);
      this.log.debug({ code, err: String(e) }, 'malformed proc connector message dropped');
      return;
    }
    // Only a forward jump is a gap: a repeat or a step back (reordering) loses nothing.
    const prev = this.lastSeq.get(ev.cpu);
    const ahead = prev === undefined ? 1 : (seq - prev) >>> 0;
    if (ahead >= 1 && ahead < 0x80000000) this.lastSeq.set(ev.cpu, seq);
    if (prev !== undefined && ahead > 1 && ahead < 0x80000000) {
      this.counters?.inc('track.proc_events_seq_gaps');
      this.onLost();
    }
    if (ev.what === 'other') return;
    for (const s of [...this.sinks]) s.event(ev);
  }

  /**
   * A receive error other than ENOBUFS (or a datagram that cannot be framed): what it held is lost,
   * so every sink rescans. A closed descriptor, or RECV_ERRORS_MAX errors within
   * RECV_ERRORS_WINDOW_US, fails the source as a refusal would (the table polls and retries).
   */
  private onRecvError(sock: ConnectorSocket, e: Error): void {
    if (this.sock !== sock) return;
    const code = e instanceof KaError ? e.code : TrackErrors.KA_ERR_TRACK_PROC_CONNECTOR;
    this.counters?.inc(code);
    this.log.debug({ code, err: String(e) }, 'proc connector receive error');
    const now = this.clock.now();
    this.recvErrors = this.recvErrors.filter((t) => now - t < RECV_ERRORS_WINDOW_US);
    this.recvErrors.push(now);
    const dead =
      (e instanceof KaError && e.code === SysErrors.KA_ERR_SYS_CLOSED) ||
      isSysError(e, 'ENOTSOCK') ||
      (isSysError(e, 'EBADF') && e.syscall === 'recvmsg');
    if (dead) this.onRefused(`the proc connector socket is unusable: ${e.message}`, true);
    else if (this.recvErrors.length >= RECV_ERRORS_MAX)
      this.onRefused(`proc connector receive errors repeat: ${e.message}`, true);
    else this.onLost();
  }

  private onAck(): void {
    this.acked = true;
    this.ackTimer?.cancel();
    this.ackTimer = null;
    for (const s of [...this.sinks]) s.ready?.();
  }

  /** `ignore`: the kernel took LISTEN, so IGNORE is sent before closing. */
  private onRefused(why: string, ignore = false): void {
    const err = this.fail(unavailable(undefined, why));
    this.stop(ignore);
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const s of sinks) s.failed(err);
  }
}

let kernelSource: ProcConnectorSource | undefined;

/** The process-wide kernel connector source. */
export function kernelProcEvents(): ProcConnectorSource {
  kernelSource ??= new ProcConnectorSource();
  return kernelSource;
}

/** Reads the process table: one process at once, or all of it. A fake in tests. */
export interface ProcReader {
  /** One process (after its exec event), synchronously: see readProcEntrySync. Null when gone. */
  entry(pid: number, withCmdline: boolean): ProcEntry | null;
  /** Every process; throws KA_ERR_TRACK_PROC_SCAN when the table cannot be read. */
  scan(withCmdline: boolean): Promise<ProcEntry[]>;
}

export const procfsReader = (procRoot = '/proc'): ProcReader => ({
  entry: (pid, withCmdline) => readProcEntrySync(procRoot, pid, withCmdline),
  scan: (withCmdline) => scanProc(procRoot, withCmdline),
});

/** What the process table asks of each tracker. */
export interface ProcessWatcher {
  /** Matches on /proc/PID/cmdline (the table then reads it for everyone). */
  readonly withCmdline: boolean;
  /** Wanted poll interval without events. */
  readonly intervalUs: Micros;
  /** A full scan's result (null: the scan failed, keep what is known). */
  reset(procs: readonly ProcEntry[] | null): void;
  /** One event; for an exec, `entry` is the table's one read of that process (null when gone). */
  event(ev: ProcEvent, entry: ProcEntry | null, live: boolean): void;
  /** After a scan and the events queued during it: the count is final (quorum follows, debounced). */
  settle(): void;
  /** The table left event mode (err: why) or came back to it. */
  switched(mode: 'events' | 'polling', err?: KaError): void;
}

export interface ProcessTableOptions {
  /** Where events come from; null: poll only. Default the kernel connector. */
  events?: ProcEventSource | null;
  reader?: ProcReader;
  /** Default: the first tracker's, taken each time the table starts from idle. */
  clock?: Clock;
  log?: Logger;
  counters?: Counters;
  /** Connector retry backoff: first delay, doubled per failed attempt up to `retryMaxUs`. */
  retryMinUs?: Micros;
  retryMaxUs?: Micros;
}

export type ProcessTableMode = 'idle' | 'confirming' | 'events' | 'polling';

/** Connector failures already logged (each failure is logged once, however many tables see it). */
const logged = new WeakSet<Error>();

/**
 * The daemon's one view of the process table, shared by every track_process tracker: one event
 * subscription, one /proc read per exec event (cmdline included when any tracker needs it), one
 * /proc scan at a time for all trackers (start, lost events, polling), the poll timer and the
 * connector retry.
 *
 * Without events (connector refused or ignored, or failed later) /proc is scanned every
 * min(trackers' intervalUs) and the connector is re-tried after retryMinUs, doubling to retryMaxUs;
 * each attempt counts `track.proc_connector_retries`; leaving and regaining event mode are logged
 * once each (a failed retry only at debug level). Regained events start with a full rescan.
 */
export class ProcessTable {
  private readonly watchers = new Set<ProcessWatcher>();
  private readonly reader: ProcReader;
  private readonly source: ProcEventSource | null;
  private clock: Clock;
  private log: Logger;
  private counters: Counters | undefined;
  private state: ProcessTableMode = 'idle';
  private sub: ProcEventSubscription | null = null;
  /** Resolves when a `confirming` table has events or fell back to polling. */
  private confirmed: Promise<void> = Promise.resolve();
  private endConfirm: (() => void) | null = null;
  private scanning: Promise<void> | null = null;
  private scanAgain = false;
  private scanCmdline = false;
  /** The scan in flight has started reading (a tracker joining later cannot add its needs). */
  private scanReading = false;
  /** Events (with their exec read) received during a scan, dispatched after it. */
  private queued: Array<[ProcEvent, ProcEntry | null]> | null = null;
  private pollTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private retryDelay: Micros;
  private readonly retryMinUs: Micros;
  private readonly retryMaxUs: Micros;
  /** Bumped on idle: late callbacks of an old subscription are ignored. */
  private epoch = 0;
  private readonly stats = { entryReads: 0, scans: 0, events: 0 };

  constructor(private readonly opts: ProcessTableOptions = {}) {
    this.reader = opts.reader ?? procfsReader();
    this.source = opts.events === undefined ? kernelProcEvents() : opts.events;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.counters = opts.counters;
    this.retryMinUs = opts.retryMinUs ?? 1_000_000;
    this.retryMaxUs = Math.max(opts.retryMaxUs ?? 60_000_000, this.retryMinUs);
    this.retryDelay = this.retryMinUs;
  }

  get mode(): ProcessTableMode {
    return this.state;
  }

  get size(): number {
    return this.watchers.size;
  }

  /** One-entry reads (exec events), full scans, events received: for tests and benchmarks. */
  get counts(): Readonly<{ entryReads: number; scans: number; events: number }> {
    return { ...this.stats };
  }

  /**
   * Adds a tracker; resolves once it has its initial set (from a scan shared with any tracker that
   * is starting too, and the events queued during that scan).
   */
  attach(w: ProcessWatcher, ctx: SourceContext = {}): Promise<void> {
    const first = this.state === 'idle';
    if (first) {
      this.clock = this.opts.clock ?? ctx.clock ?? systemClock;
      this.log = this.opts.log ?? ctx.log ?? silentLogger;
      this.counters = this.opts.counters ?? ctx.counters;
    }
    this.watchers.add(w);
    // a cmdline matcher joining a scan that reads no cmdline needs another one
    if (w.withCmdline && this.scanReading && !this.scanCmdline) this.scanAgain = true;
    if (first) this.connect();
    if (this.state === 'confirming')
      return this.confirmed.then(() => (this.watchers.has(w) ? this.rescan(false) : undefined));
    if (this.state === 'polling') this.arm();
    return this.rescan(false);
  }

  detach(w: ProcessWatcher): void {
    if (!this.watchers.delete(w) || this.watchers.size > 0) return;
    this.epoch++;
    this.state = 'idle';
    this.sub?.close();
    this.sub = null;
    this.queued = null;
    // a scan in flight belongs to the old epoch: a new attach must not join it
    this.scanning = null;
    this.scanAgain = false;
    this.scanReading = false;
    this.pollTimer?.cancel();
    this.pollTimer = null;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    this.retryDelay = this.retryMinUs;
    this.endConfirm?.();
    this.endConfirm = null;
  }

  /**
   * A full scan for every tracker. `fresh`: it must start after this call (lost events, an explicit
   * rescan); otherwise a scan in flight is joined (its result plus the events queued since it
   * started are as current as a new one).
   */
  rescan(fresh = true): Promise<void> {
    if (this.scanning) {
      if (fresh) this.scanAgain = true;
      return this.scanning;
    }
    if (this.state !== 'events' && this.state !== 'polling') return Promise.resolve();
    const run = this.runScans().finally(() => {
      if (this.scanning === run) this.scanning = null;
    });
    this.scanning = run;
    return run;
  }

  private needCmdline(): boolean {
    for (const w of this.watchers) if (w.withCmdline) return true;
    return false;
  }

  private async runScans(): Promise<void> {
    const epoch = this.epoch;
    do {
      this.scanAgain = false;
      if (this.state === 'events') this.queued = [];
      // trackers started in the same turn join this scan before it reads
      await Promise.resolve();
      if (epoch !== this.epoch) return;
      this.scanCmdline = this.needCmdline();
      this.scanReading = true;
      this.stats.scans++;
      let procs: ProcEntry[] | null = null;
      try {
        procs = await this.reader.scan(this.scanCmdline);
      } catch (e) {
        this.counters?.inc(TrackErrors.KA_ERR_TRACK_PROC_SCAN);
        this.log.warn(
          { code: TrackErrors.KA_ERR_TRACK_PROC_SCAN, err: String(e) },
          'process table scan failed',
        );
      }
      this.scanReading = false;
      if (epoch !== this.epoch) return;
      const queued = this.queued ?? [];
      this.queued = null;
      const ws = [...this.watchers];
      this.each(ws, (w) => w.reset(procs));
      for (const [ev, entry] of queued) {
        const e = this.withCmdline(entry);
        this.each(ws, (w) => w.event(ev, e, false));
      }
      this.each(ws, (w) => w.settle());
    } while (this.scanAgain && epoch === this.epoch);
  }

  /** A queued exec entry read before a cmdline matcher joined: read its cmdline now. */
  private withCmdline(entry: ProcEntry | null): ProcEntry | null {
    if (!entry || entry.cmdline || !this.needCmdline()) return entry;
    this.stats.entryReads++;
    return this.reader.entry(entry.pid, true) ?? entry;
  }

  private connect(): void {
    if (!this.source) {
      this.state = 'polling';
      return;
    }
    const epoch = this.epoch;
    const sink: ProcEventSink = {
      event: (ev) => {
        if (epoch === this.epoch && this.state === 'events') this.onEvent(ev);
      },
      lost: () => {
        if (epoch !== this.epoch || this.state !== 'events') return;
        this.counters?.inc('track.proc_events_lost');
        this.log.warn('process events lost; rescanning /proc');
        this.background(this.rescan(true));
      },
      failed: (err) => {
        if (epoch === this.epoch) this.onFailed(err);
      },
      ready: () => {
        if (epoch === this.epoch && this.sub) this.onReady();
      },
    };
    try {
      this.sub = this.source.subscribe(sink, { log: this.log, counters: this.counters, clock: this.clock });
    } catch (e) {
      this.onFailed(e);
      return;
    }
    if (this.sub.pending) {
      if (this.state === 'idle') {
        this.state = 'confirming';
        this.confirmed = new Promise((resolve) => {
          this.endConfirm = resolve;
        });
      }
      return;
    }
    this.onReady();
  }

  private onEvent(ev: ProcEvent): void {
    this.stats.events++;
    let entry: ProcEntry | null = null;
    if (ev.what === 'exec') {
      if (ev.pid !== ev.tgid) return; // a thread's exec replaces its process: the leader's event follows
      this.stats.entryReads++;
      entry = this.reader.entry(ev.tgid, this.needCmdline());
    }
    if (this.queued) {
      this.queued.push([ev, entry]);
      return;
    }
    this.each([...this.watchers], (w) => w.event(ev, entry, true));
  }

  /** Calls every tracker: one whose callback throws is logged and does not stop the others. */
  private each(ws: readonly ProcessWatcher[], fn: (w: ProcessWatcher) => void): void {
    for (const w of ws) {
      try {
        fn(w);
      } catch (e) {
        this.log.error({ err: String(e) }, 'track_process update failed');
      }
    }
  }

  private onReady(): void {
    const was = this.state;
    this.state = 'events';
    this.retryDelay = this.retryMinUs;
    this.pollTimer?.cancel();
    this.pollTimer = null;
    if (was === 'polling') {
      this.log.info('process events available again; following the proc connector');
      this.each([...this.watchers], (w) => w.switched('events'));
      // A poll scan in flight read /proc before these events: they wait for it (applied after its
      // result, then the rescan), else its stale result would undo them.
      if (this.scanning) this.queued ??= [];
      this.background(this.rescan(true));
    }
    this.endConfirm?.();
    this.endConfirm = null;
  }

  private onFailed(e: unknown): void {
    this.sub?.close();
    this.sub = null;
    const err =
      e instanceof KaError && e.code === TrackErrors.KA_ERR_TRACK_PROC_CONNECTOR
        ? e
        : unavailable(e, (e as Error).message);
    if (this.state === 'polling') {
      this.log.debug({ code: err.code, ...err.details }, `proc connector retry failed: ${err.message}`);
    } else {
      // events queued during a scan in flight are still applied after it
      this.state = 'polling';
      if (!logged.has(err)) {
        logged.add(err);
        this.log.warn({ code: err.code, ...err.details }, err.message);
      }
      this.each([...this.watchers], (w) => w.switched('polling', err));
      this.arm();
      this.endConfirm?.();
      this.endConfirm = null;
    }
    this.armRetry();
  }

  private armRetry(): void {
    if (!this.source || this.retryTimer || this.state !== 'polling') return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.retryMaxUs);
    this.retryTimer = this.clock.at(this.clock.now() + delay, () => {
      this.retryTimer = null;
      if (this.state !== 'polling' || !this.source) return;
      this.counters?.inc('track.proc_connector_retries');
      this.source.reset?.();
      this.connect();
    });
  }

  /** The poll timer (polling mode only): one scan for every tracker per interval. */
  private arm(): void {
    if (this.state !== 'polling' || this.pollTimer) return;
    let interval = Number.POSITIVE_INFINITY;
    for (const w of this.watchers) interval = Math.min(interval, w.intervalUs);
    if (!Number.isFinite(interval)) return;
    this.pollTimer = this.clock.at(this.clock.now() + interval, () => {
      this.pollTimer = null;
      if (this.state !== 'polling') return;
      this.background(this.rescan(true).finally(() => this.arm()));
    });
  }

  /** A scan nobody awaits: a throwing tracker callback is logged, not an unhandled rejection. */
  private background(p: Promise<void>): void {
    p.catch((e: unknown) => {
      this.log.error({ err: String(e) }, 'process table update failed');
    });
  }
}

let kernelTable: ProcessTable | undefined;

/** The process-wide table over the kernel connector and /proc (the daemon's default). */
export function kernelProcessTable(): ProcessTable {
  kernelTable ??= new ProcessTable();
  return kernelTable;
}

/** The process table of a tracker registry (the daemon's), made on first use. */
export const processTableOf = (registry: { shared<T>(key: string, make: () => T): T }): ProcessTable =>
  registry.shared('process-table', () => new ProcessTable());

export interface TrackProcessOptions extends QuorumConfig {
  name: string;
  match: ProcessMatchSpec;
  onChange: (have: boolean) => void;
  clock?: Clock;
  log?: Logger;
  counters?: Counters;
  /** Poll interval when no events can be had. */
  intervalUs?: Micros;
  /**
   * The shared process table to use. Default: the process-wide kernel table, unless `procRoot`,
   * `events` or `reader` is given, which make a table of this tracker's own.
   */
  table?: ProcessTable;
  procRoot?: string;
  /** Events for an own table: a fake procRoot without one polls (its pids are not the kernel's); null polls. */
  events?: ProcEventSource | null;
  reader?: ProcReader;
}

/** One vrrp_track_process: a set of matching pids kept by the shared process table. */
export class TrackProcess {
  private readonly quorum: Quorum;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly table: ProcessTable;
  private readonly watcher: ProcessWatcher;
  private stopped = true;
  private initialized = false;
  /** Matching thread-group leaders. */
  private readonly pids = new Set<number>();

  constructor(private readonly opts: TrackProcessOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    const procRoot = opts.procRoot ?? '/proc';
    if (opts.table) this.table = opts.table;
    else if (opts.events === undefined && opts.reader === undefined && procRoot === '/proc')
      this.table = kernelProcessTable();
    else
      this.table = new ProcessTable({
        events: opts.events === undefined ? (procRoot === '/proc' ? kernelProcEvents() : null) : opts.events,
        reader: opts.reader ?? procfsReader(procRoot),
        clock: this.clock,
        log: this.log,
        ...(opts.counters ? { counters: opts.counters } : {}),
      });
    this.quorum = new Quorum(opts, this.clock, (have) => {
      this.log.info(
        { process: opts.name },
        `Quorum ${have ? 'gained' : 'lost'} for tracked process ${opts.name}`,
      );
      opts.onChange(have);
    });
    this.watcher = this.makeWatcher();
  }

  get haveQuorum(): boolean {
    return this.quorum.haveQuorum;
  }

  /** 'events' while the table follows the proc connector, else 'polling'. */
  get mode(): 'events' | 'polling' {
    return !this.stopped && this.table.mode === 'events' ? 'events' : 'polling';
  }

  /** Matching processes counted now (in polling mode, as of the last scan). */
  get count(): number {
    return this.pids.size;
  }

  /** First scan (sets the initial state, no callback), then follow the table. */
  async start(): Promise<boolean> {
    this.stopped = false;
    this.initialized = false;
    this.pids.clear();
    await this.table.attach(this.watcher, {
      clock: this.clock,
      log: this.log,
      ...(this.opts.counters ? { counters: this.opts.counters } : {}),
    });
    if (this.stopped) return false;
    this.initialized = true;
    return this.quorum.init(this.pids.size);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.table.detach(this.watcher);
    this.quorum.cancel();
  }

  /** One full scan now (shared with every tracker of the table); resolves when the quorum is updated. */
  async scan(): Promise<void> {
    if (this.stopped) return;
    await this.table.rescan(true);
  }

  private makeWatcher(): ProcessWatcher {
    const match = this.opts.match;
    return {
      withCmdline: usesCmdline(match),
      intervalUs: this.opts.intervalUs ?? 1_000_000,
      reset: (procs) => {
        if (this.stopped || !procs) return;
        this.pids.clear();
        for (const p of procs) if (matchProcess(match, p)) this.pids.add(p.pid);
      },
      event: (ev, entry, live) => {
        if (!this.stopped) this.apply(ev, entry, live && this.initialized);
      },
      settle: () => {
        if (!this.stopped && this.initialized) this.quorum.update(this.pids.size);
      },
      switched: (mode) => {
        if (mode === 'polling' && !this.stopped)
          this.opts.counters?.inc(TrackErrors.KA_ERR_TRACK_PROC_CONNECTOR);
      },
    };
  }

  /** Applies one event to the pid set; `live` updates the quorum (not during start or a rescan). */
  private apply(ev: ProcEvent, entry: ProcEntry | null, live: boolean): void {
    const match = this.opts.match;
    let changed = false;
    let debounce = true;
    switch (ev.what) {
      case 'fork':
        // A new thread has childPid ≠ childTgid; only new processes count.
        if (ev.childPid !== ev.childTgid || !this.pids.has(ev.parentTgid)) return;
        changed = !this.pids.has(ev.childTgid);
        this.pids.add(ev.childTgid);
        break;
      case 'exec':
        if (ev.pid !== ev.tgid) return;
        changed = this.setMatch(ev.tgid, entry !== null && matchProcess(match, entry));
        debounce = false;
        break;
      case 'comm':
        // The comm event carries the new name; a cmdline match does not depend on it.
        if (ev.pid !== ev.tgid || this.watcher.withCmdline) return;
        changed = this.setMatch(
          ev.tgid,
          matchProcess(match, { pid: ev.tgid, comm: ev.comm, zombie: false, cmdline: null }),
        );
        debounce = false;
        break;
      case 'exit':
        if (ev.pid !== ev.tgid) return;
        changed = this.pids.delete(ev.tgid);
        break;
      default:
        return;
    }
    if (changed && live) this.quorum.update(this.pids.size, debounce);
  }

  private setMatch(pid: number, match: boolean): boolean {
    if (match === this.pids.has(pid)) return false;
    if (match) this.pids.add(pid);
    else this.pids.delete(pid);
    return true;
  }
}
