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
 * waits terminate_delay. Thread events (pid ≠ tgid) are ignored. Lost events (ENOBUFS) → full
 * rescan. All trackers share one connector socket, opened by the first and closed by the last.
 * When the connector cannot be used (no CAP_NET_ADMIN, or ECONNREFUSED in a container's network
 * namespace, or the kernel's LISTEN ack reports an error) it is logged once, counted
 * (KA_ERR_TRACK_PROC_CONNECTOR), and /proc is re-scanned every `intervalUs` (default 1 s) instead;
 * a rise in count then waits fork_delay, a fall terminate_delay. A LISTEN ignored without an ack
 * (a non-initial user or pid namespace, where the kernel drops it silently) cannot be detected.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, type Micros, systemClock, type TimerHandle } from '../../core/clock.js';
import type { Counters } from '../../core/counters.js';
import { KaError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { isSysError } from '../../sys/errors.js';
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

/**
 * One process's entry, read at once (after an exec event). Synchronous on purpose: procfs reads of
 * a few hundred bytes cost microseconds, and reading before the next event is handled keeps the
 * events in order (an async read could land after that process's exit). Null when it is gone.
 */
export function readProcEntrySync(procRoot: string, pid: number, withCmdline: boolean): ProcEntry | null {
  try {
    const st = parseStat(readFileSync(join(procRoot, String(pid), 'stat'), 'latin1'));
    if (!st) return null;
    const cmdline = withCmdline ? readFileSync(join(procRoot, String(pid), 'cmdline')) : null;
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

/** Receives proc events from a source; every tracker in event mode is one sink. */
export interface ProcEventSink {
  /** fork, exec, comm and exit events, in the kernel's order. */
  event(ev: ProcEvent): void;
  /** Events were lost (receive queue overrun): rescan /proc. */
  lost(): void;
  /** The source stopped for good (e.g. the kernel refused LISTEN): poll instead. */
  failed(err: KaError): void;
}

export interface ProcEventSubscription {
  close(): void;
}

export interface ProcEventSource {
  /** Throws KaError KA_ERR_TRACK_PROC_CONNECTOR when no events can be had. */
  subscribe(sink: ProcEventSink, ctx?: { log?: Logger; counters?: Counters }): ProcEventSubscription;
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

/**
 * Proc events from one connector socket, shared by every subscriber: opened (and LISTEN sent) on the
 * first subscribe, IGNORE sent and closed when the last one leaves. Once the connector has failed it
 * stays failed: later subscribers get the same error at once and poll.
 */
export class ProcConnectorSource implements ProcEventSource {
  private sock: ConnectorSocket | null = null;
  private readonly sinks = new Set<ProcEventSink>();
  private failure: KaError | null = null;
  private ackCookie = 0;
  private log: Logger = silentLogger;
  private counters: Counters | undefined;

  constructor(private readonly open: ConnectorOpener = openKernelConnector) {}

  get subscribers(): number {
    return this.sinks.size;
  }

  get isOpen(): boolean {
    return this.sock !== null;
  }

  subscribe(sink: ProcEventSink, ctx: { log?: Logger; counters?: Counters } = {}): ProcEventSubscription {
    if (this.failure) throw this.failure;
    if (!this.sock) {
      this.log = ctx.log ?? silentLogger;
      this.counters = ctx.counters;
      this.start();
    }
    this.sinks.add(sink);
    let closed = false;
    return {
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
      for (const s of [...this.sinks]) s.lost();
    });
    sock.on('error', (e) => {
      const code = e instanceof KaError ? e.code : 'KA_ERR_TRACK_PROC_CONNECTOR';
      this.counters?.inc(code);
      this.log.debug({ code, err: String(e) }, 'proc connector receive error');
    });
    // The kernel acks LISTEN to every listener with ack+1: a cookie tells our ack from others'.
    this.ackCookie = ((Math.random() * 0x7ffffffe) >>> 0) + 1;
    try {
      sock.sendRaw(encodeMcastOp(PROC_CN_MCAST_LISTEN, { ack: this.ackCookie, pid: process.pid }));
    } catch (e) {
      sock.close();
      throw this.fail(unavailable(e, `LISTEN refused: ${(e as Error).message}`));
    }
    this.sock = sock;
  }

  private fail(err: KaError): KaError {
    this.failure = err;
    return err;
  }

  private stop(ignore: boolean): void {
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

  private onMsg(m: NlMsg): void {
    let ev: ProcEvent;
    try {
      const r = decodeProcConnectorMsg(m);
      if (!r) return;
      if (r.event.what === 'ack') {
        if (r.cn.ack !== this.ackCookie + 1) return;
        if (r.event.err !== 0) this.onRefused(r.event.err);
        return;
      }
      ev = r.event;
    } catch (e) {
      const code = e instanceof KaError ? e.code : 'KA_ERR_TRACK_PROC_CONNECTOR';
      this.counters?.inc(code);
      this.log.debug({ code, err: String(e) }, 'malformed proc connector message dropped');
      return;
    }
    if (ev.what === 'other') return;
    for (const s of [...this.sinks]) s.event(ev);
  }

  private onRefused(errno: number): void {
    const err = this.fail(unavailable(undefined, `the kernel answered LISTEN with error ${errno}`));
    this.stop(false);
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

/** Connector failures already logged (each failure is logged once, however many trackers see it). */
const logged = new WeakSet<Error>();

export interface TrackProcessOptions extends QuorumConfig {
  name: string;
  match: ProcessMatchSpec;
  onChange: (have: boolean) => void;
  clock?: Clock;
  log?: Logger;
  counters?: Counters;
  /** Poll interval when no events can be had. */
  intervalUs?: Micros;
  procRoot?: string;
  /**
   * Where proc events come from: default the shared kernel connector when `procRoot` is /proc, no
   * events (polling) for another procRoot; null forces polling.
   */
  events?: ProcEventSource | null;
}

/** One vrrp_track_process: follows proc events, or polls the process table without them. */
export class TrackProcess {
  private readonly quorum: Quorum;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly procRoot: string;
  private readonly withCmdline: boolean;
  private timer: TimerHandle | null = null;
  private stopped = true;
  private scanning = false;
  private sub: ProcEventSubscription | null = null;
  /** Matching thread-group leaders (event mode). */
  private readonly pids = new Set<number>();
  /** Events that arrive during a scan, applied after it. */
  private queued: ProcEvent[] | null = null;
  private resyncAgain = false;

  constructor(private readonly opts: TrackProcessOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.procRoot = opts.procRoot ?? '/proc';
    this.withCmdline = usesCmdline(opts.match);
    this.quorum = new Quorum(opts, this.clock, (have) => {
      this.log.info(
        { process: opts.name },
        `Quorum ${have ? 'gained' : 'lost'} for tracked process ${opts.name}`,
      );
      opts.onChange(have);
    });
  }

  get haveQuorum(): boolean {
    return this.quorum.haveQuorum;
  }

  /** 'events' while following the proc connector, else 'polling'. */
  get mode(): 'events' | 'polling' {
    return this.sub ? 'events' : 'polling';
  }

  /** Matching processes counted now (event mode; in polling mode, as of the last scan). */
  get count(): number {
    return this.sub ? this.pids.size : this.quorum.currentCount;
  }

  private source(): ProcEventSource | null {
    if (this.opts.events !== undefined) return this.opts.events;
    return this.procRoot === '/proc' ? kernelProcEvents() : null;
  }

  /** First scan (sets the initial state, no callback), then follow events or poll. */
  async start(): Promise<boolean> {
    this.stopped = false;
    const src = this.source();
    if (src) {
      try {
        this.sub = src.subscribe(this.sink(), { log: this.log, counters: this.opts.counters });
      } catch (e) {
        this.noEvents(e);
      }
    }
    if (this.sub) {
      await this.resync();
      if (this.sub) return this.quorum.init(this.pids.size);
    }
    const have = this.quorum.init((await this.countByScan()) ?? 0);
    this.arm();
    return have;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.sub?.close();
    this.sub = null;
    this.queued = null;
    this.quorum.cancel();
  }

  /** One full scan now; resolves when the quorum state is updated. */
  async scan(): Promise<void> {
    if (this.sub) {
      await this.resync();
      if (!this.stopped && this.sub) this.quorum.update(this.pids.size);
      return;
    }
    if (this.scanning) return;
    this.scanning = true;
    try {
      const n = await this.countByScan();
      if (n !== null && !this.stopped) this.quorum.update(n);
    } finally {
      this.scanning = false;
    }
  }

  private sink(): ProcEventSink {
    return {
      event: (ev) => {
        if (this.stopped) return;
        if (this.queued) this.queued.push(ev);
        else this.apply(ev, true);
      },
      lost: () => {
        if (this.stopped) return;
        this.log.warn({ process: this.opts.name }, 'process events lost; rescanning /proc');
        void this.scan();
      },
      failed: (err) => {
        if (this.stopped) return;
        this.sub = null;
        this.queued = null;
        this.noEvents(err);
        this.arm();
      },
    };
  }

  private noEvents(e: unknown): void {
    const err =
      e instanceof KaError && e.code === TrackErrors.KA_ERR_TRACK_PROC_CONNECTOR
        ? e
        : unavailable(e, (e as Error).message);
    this.opts.counters?.inc(TrackErrors.KA_ERR_TRACK_PROC_CONNECTOR);
    if (logged.has(err)) return;
    logged.add(err);
    this.log.warn({ code: err.code, ...err.details }, err.message);
  }

  /**
   * Rebuilds the pid set from a /proc scan while events queue, then applies the queued events in
   * order (a process that exited during the scan is a zombie or gone, so the scan skips it; one that
   * started during it is seen by its exec event or by the scan, the set holding it once).
   */
  private async resync(): Promise<void> {
    if (this.queued) {
      this.resyncAgain = true;
      return;
    }
    do {
      this.resyncAgain = false;
      this.queued = [];
      let procs: ProcEntry[] | null;
      try {
        procs = await scanProc(this.procRoot, this.withCmdline);
      } catch (e) {
        this.scanFailed(e);
        procs = null;
      }
      const queued = this.queued;
      this.queued = null;
      if (this.stopped || !queued) return;
      if (procs) {
        this.pids.clear();
        for (const p of procs) if (matchProcess(this.opts.match, p)) this.pids.add(p.pid);
      }
      for (const ev of queued) this.apply(ev, false);
    } while (this.resyncAgain && !this.stopped);
  }

  /** Applies one event to the pid set; `live` updates the quorum (not during start or resync). */
  private apply(ev: ProcEvent, live: boolean): void {
    let changed = false;
    let debounce = true;
    switch (ev.what) {
      case 'fork':
        // A new thread has childPid ≠ childTgid; only new processes count.
        if (ev.childPid !== ev.childTgid || !this.pids.has(ev.parentTgid)) return;
        changed = !this.pids.has(ev.childTgid);
        this.pids.add(ev.childTgid);
        break;
      case 'exec': {
        if (ev.pid !== ev.tgid) return;
        const p = readProcEntrySync(this.procRoot, ev.tgid, this.withCmdline);
        changed = this.setMatch(ev.tgid, p !== null && matchProcess(this.opts.match, p));
        debounce = false;
        break;
      }
      case 'comm':
        // The comm event carries the new name; a cmdline match does not depend on it.
        if (ev.pid !== ev.tgid || this.withCmdline) return;
        changed = this.setMatch(
          ev.tgid,
          matchProcess(this.opts.match, { pid: ev.tgid, comm: ev.comm, zombie: false, cmdline: null }),
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

  private arm(): void {
    if (this.stopped || this.sub || this.timer) return;
    this.timer = this.clock.at(this.clock.now() + (this.opts.intervalUs ?? 1_000_000), () => {
      this.timer = null;
      void this.scan().then(() => this.arm());
    });
  }

  private scanFailed(e: unknown): void {
    this.opts.counters?.inc('KA_ERR_TRACK_PROC_SCAN');
    this.log.warn({ code: 'KA_ERR_TRACK_PROC_SCAN', err: String(e) }, 'process table scan failed');
  }

  private async countByScan(): Promise<number | null> {
    try {
      return countMatches(this.opts.match, await scanProc(this.procRoot, this.withCmdline));
    } catch (e) {
      this.scanFailed(e);
      return null;
    }
  }
}
