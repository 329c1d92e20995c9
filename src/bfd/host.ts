/**
 * The BFD runtime: one session per `bfd_instance`, the listeners on port 3784 and one sender per
 * session. Received datagrams are decoded, matched to a session (Your Discriminator, or the
 * neighbour/source addresses when it is 0), checked (TTL per RFC 5881 §5 and keepalived's
 * `max_hops`, A bit) and stepped; anything bad is dropped, logged at debug and counted under its
 * KA_ERR_BFD_* code, never thrown. Up/Down changes go to `onChange` listeners (the VRRP trackers).
 * keepalived runs this in its own child process; here it shares the daemon's event loop.
 */
import { randomInt } from 'node:crypto';
import type { BfdInstance } from '../config/model.js';
import type { Clock, Micros, TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { isKaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  BFD_DIAG_TEXT,
  BFD_STATE,
  BFD_STATE_NAMES,
  type BfdStateName,
  decodeBfd,
  encodeBfd,
} from '../wire/bfd.js';
import { BfdDriver } from './driver.js';
import { BfdErrors } from './errors.js';
import type { BfdAction, BfdSession, BfdSessionConfig } from './session.js';
import type { BfdDatagram, BfdListener, BfdSender, BfdTransport } from './transport.js';

export interface BfdHostOptions {
  readonly instances: readonly BfdInstance[];
  readonly clock: Clock;
  readonly log: Logger;
  readonly counters: Counters;
  readonly transport: BfdTransport;
  /** Uniform in [0, 1); jitter and source ports. Default Math.random. */
  readonly random?: () => number;
}

/** A session's state as trackers see it: Up, or not (with the state name for logs). */
export type BfdChangeListener = (instance: BfdInstance, up: boolean, state: BfdStateName) => void;

interface Live {
  inst: BfdInstance;
  readonly family: 4 | 6;
  readonly driver: BfdDriver;
  readonly sender: BfdSender | undefined;
  sendFailed: boolean;
  /** Up or not, as last told to the listeners. */
  reported: boolean;
}

const LISTEN_RETRY_MIN: Micros = 1_000_000;
const LISTEN_RETRY_MAX: Micros = 60_000_000;

const familyOf = (a: string): 4 | 6 => (a.includes(':') ? 6 : 4);

/** Whether a reload can keep a session running: same addresses, TTL settings and mode (timers may differ). */
function sameEndpoint(a: BfdInstance, b: BfdInstance): boolean {
  return (
    a.neighborIp === b.neighborIp &&
    a.sourceIp === b.sourceIp &&
    a.passive === b.passive &&
    a.ttl === b.ttl &&
    a.maxHops === b.maxHops
  );
}

const sameTimers = (a: BfdInstance, b: BfdInstance): boolean =>
  a.minRx === b.minRx && a.minTx === b.minTx && a.idleTx === b.idleTx && a.multiplier === b.multiplier;

/** The session's protocol settings; the config holds ms with µs resolution, the session integer µs. */
function sessionConfig(inst: BfdInstance): BfdSessionConfig {
  return {
    name: inst.name,
    minRx: Math.round(inst.minRx * 1000),
    minTx: Math.round(inst.minTx * 1000),
    idleTx: Math.round(inst.idleTx * 1000),
    multiplier: inst.multiplier,
    passive: inst.passive,
  };
}

export class BfdHost {
  private readonly live = new Map<string, Live>();
  private readonly listeners = new Map<4 | 6, BfdListener>();
  /** Families whose listener failed to open: the pending retry, and whether the failure was logged. */
  private readonly listenRetry = new Map<4 | 6, { timer: TimerHandle }>();
  private readonly listenFailed = new Set<4 | 6>();
  private readonly changeListeners: BfdChangeListener[] = [];
  private readonly random: () => number;
  private started = false;
  private instances: readonly BfdInstance[];

  constructor(private readonly o: BfdHostOptions) {
    this.random = o.random ?? Math.random;
    this.instances = o.instances;
  }

  onChange(fn: BfdChangeListener): void {
    this.changeListeners.push(fn);
  }

  /** Opens the sockets and starts every session (synchronous, so it can run inside a namespace). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.openListeners();
    for (const inst of this.instances) this.startSession(inst);
    this.announce();
  }

  /**
   * Reload: sessions whose addresses, TTL settings and mode are unchanged keep running (state and
   * discriminators; new timers are negotiated with a Poll sequence, keepalived's bfd_complete_init);
   * changed ones restart in Down; removed ones stop (reported Down if they were Up); new ones start.
   * Then every session's state is sent to the listeners, as keepalived sends it to VRRP on reload.
   */
  reconfigure(instances: readonly BfdInstance[]): void {
    if (!this.started) {
      this.instances = instances;
      return;
    }
    const next = new Map(instances.map((i) => [i.name, i]));
    for (const [name, l] of [...this.live]) {
      const n = next.get(name);
      if (n && sameEndpoint(l.inst, n)) {
        const timers = !sameTimers(l.inst, n);
        l.inst = n;
        if (timers) l.driver.reconfigure(sessionConfig(n));
        continue;
      }
      this.stopSession(l);
      this.live.delete(name);
      if (!n && l.reported) this.notify(l, false, 'Down');
    }
    this.instances = instances;
    this.openListeners();
    for (const i of instances) if (!this.live.has(i.name)) this.startSession(i);
    this.announce();
  }

  /** Sends every session's state (as last reported; new sessions: Down) to the listeners. */
  private announce(): void {
    for (const l of this.live.values()) this.notify(l, l.reported, l.reported ? 'Up' : 'Down');
  }

  /** Tells each listener; one that throws is logged and counted, and the others still hear. */
  private notify(l: Live, up: boolean, state: BfdStateName): void {
    l.reported = up;
    for (const fn of this.changeListeners) {
      try {
        fn(l.inst, up, state);
      } catch (e) {
        this.callbackFailed(l.inst.name, e);
      }
    }
  }

  private callbackFailed(name: string, e: unknown): void {
    this.o.counters.inc(BfdErrors.KA_ERR_BFD_LISTENER);
    this.o.log.error(
      { code: BfdErrors.KA_ERR_BFD_LISTENER, instance: name, err: e },
      `(${name}) BFD state listener failed: ${(e as Error)?.message ?? String(e)}`,
    );
  }

  /**
   * Stops every session and closes the sockets; nothing is sent (keepalived sends no AdminDown on
   * exit). A socket that fails to close is logged and counted, and the others still close: one left
   * open would keep the process alive.
   */
  stop(): void {
    for (const l of this.live.values()) this.stopSession(l);
    this.live.clear();
    for (const [fam, l] of this.listeners) this.closeSocket(`IPv${fam} listening socket`, () => l.close());
    this.listeners.clear();
    for (const r of this.listenRetry.values()) r.timer.cancel();
    this.listenRetry.clear();
    this.listenFailed.clear();
    this.started = false;
  }

  private stopSession(l: Live): void {
    l.driver.stop();
    const sender = l.sender;
    if (sender) this.closeSocket(`(${l.inst.name}) output socket`, () => sender.close());
  }

  private closeSocket(what: string, close: () => void): void {
    try {
      close();
    } catch (e) {
      this.o.counters.inc(BfdErrors.KA_ERR_BFD_SOCKET);
      this.o.log.error(
        { code: BfdErrors.KA_ERR_BFD_SOCKET, err: e },
        `Cannot close ${what}: ${(e as Error)?.message ?? String(e)}`,
      );
    }
  }

  /** The session state of an instance (undefined if unknown). */
  state(name: string): BfdStateName | undefined {
    const l = this.live.get(name);
    return l ? BFD_STATE_NAMES[l.driver.localState] : undefined;
  }

  session(name: string): BfdSession | undefined {
    return this.live.get(name)?.driver.state;
  }

  /**
   * One listener per family some instance uses: already open ones are kept, those of families no
   * longer used are closed, and one that cannot open (port 3784 taken) is retried with a backoff.
   */
  private openListeners(): void {
    const families = new Set(this.instances.map((i) => familyOf(i.neighborIp)));
    for (const [fam, l] of [...this.listeners])
      if (!families.has(fam)) {
        this.closeSocket(`IPv${fam} listening socket`, () => l.close());
        this.listeners.delete(fam);
      }
    for (const [fam, r] of [...this.listenRetry])
      if (!families.has(fam)) {
        r.timer.cancel();
        this.listenRetry.delete(fam);
        this.listenFailed.delete(fam);
      }
    for (const fam of families)
      if (!this.listeners.has(fam) && !this.listenRetry.has(fam)) this.listen(fam, LISTEN_RETRY_MIN);
  }

  private listen(fam: 4 | 6, retryIn: Micros): void {
    try {
      this.listeners.set(
        fam,
        this.o.transport.listen(
          fam,
          (d) => this.onDatagram(fam, d),
          (e) => this.drop(BfdErrors.KA_ERR_BFD_SOCKET, `BFD receive error: ${(e as Error).message}`),
        ),
      );
      if (this.listenFailed.delete(fam))
        this.o.log.info({ family: fam }, `Listening socket for IPv${fam} open`);
    } catch (e) {
      // keepalived's BFD process exits on "Unable to open listening socket"; here VRRP shares the
      // process, so the socket is retried (1 s doubling up to 60 s), logged once per failure run.
      this.o.counters.inc(BfdErrors.KA_ERR_BFD_SOCKET);
      if (!this.listenFailed.has(fam)) {
        this.listenFailed.add(fam);
        this.o.log.error(
          { code: BfdErrors.KA_ERR_BFD_SOCKET, family: fam },
          `Unable to open listening socket (${(e as Error).message}), retrying`,
        );
      }
      const timer = this.o.clock.at(this.o.clock.now() + retryIn, () => {
        this.listenRetry.delete(fam);
        this.listen(fam, Math.min(retryIn * 2, LISTEN_RETRY_MAX));
      });
      this.listenRetry.set(fam, { timer });
    }
  }

  private startSession(inst: BfdInstance): void {
    const family = familyOf(inst.neighborIp);
    let sender: BfdSender | undefined;
    try {
      sender = this.o.transport.sender({ family, source: inst.sourceIp, ttl: inst.ttl, random: this.random });
    } catch (e) {
      // keepalived: "Unable to open output socket, disabling instance" (AdminDown).
      this.o.counters.inc(BfdErrors.KA_ERR_BFD_SOCKET);
      this.o.log.error(
        { code: BfdErrors.KA_ERR_BFD_SOCKET, instance: inst.name },
        `(${inst.name}) Unable to open output socket, disabling instance (${(e as Error).message})`,
      );
    }
    let l: Live | undefined;
    const driver = new BfdDriver(
      sessionConfig(inst),
      this.o.clock,
      { random: this.random, discriminator: () => this.newDiscriminator() },
      // The driver's first packet is due at once but sent from a timer, after `l` is set.
      {
        send: (p) => l && this.send(l, encodeBfd(p)),
        action: (a, s) => l && this.onAction(l, a, s),
        error: (e) => this.callbackFailed(inst.name, e),
      },
    );
    l = { inst, family, sender, sendFailed: false, reported: false, driver };
    this.live.set(inst.name, l);
    if (!sender) l.driver.adminDown();
  }

  /** A random non-zero discriminator no live session uses. */
  private newDiscriminator(): number {
    for (;;) {
      const d = randomInt(1, 0xffffffff);
      if (![...this.live.values()].some((l) => l.driver.state.localDiscr === d)) return d;
    }
  }

  private send(l: Live, data: Buffer): void {
    if (!l.sender) return;
    try {
      l.sender.send(data, l.inst.neighborIp);
      l.sendFailed = false;
    } catch (e) {
      this.o.counters.inc(BfdErrors.KA_ERR_BFD_SOCKET);
      // keepalived logs the first failure of a run of them only.
      if (!l.sendFailed)
        this.o.log.error(
          { code: BfdErrors.KA_ERR_BFD_SOCKET, instance: l.inst.name, err: (e as Error).message },
          `(${l.inst.name}) Error sending packet`,
        );
      l.sendFailed = true;
    }
  }

  private onAction(l: Live, a: Exclude<BfdAction, { type: 'send' }>, s: BfdSession): void {
    const n = l.inst.name;
    switch (a.type) {
      case 'state': {
        const to = BFD_STATE_NAMES[a.to];
        if (a.to === BFD_STATE.Down)
          // keepalived logs it (bfd_state_down) at warning; here only leaving Up is worth one.
          this.o.log[a.from === BFD_STATE.Up ? 'warn' : 'info'](
            { instance: n, state: to },
            `(${n}) Entering Down state (Local diagnostic - ${BFD_DIAG_TEXT[a.localDiag] ?? a.localDiag}, Remote diagnostic - ${BFD_DIAG_TEXT[a.remoteDiag] ?? a.remoteDiag})`,
          );
        else if (a.to === BFD_STATE.AdminDown)
          this.o.log.warn({ instance: n, state: to }, `(${n}) Entering AdminDown state`);
        else if (a.to === BFD_STATE.Init)
          this.o.log.debug({ instance: n, state: to }, `(${n}) Entering Init state`);
        else this.o.log.info({ instance: n, state: to }, `(${n}) Entering ${to} state`);
        if (a.notify) this.notify(l, a.to === BFD_STATE.Up, to);
        break;
      }
      case 'expired':
        this.o.log.warn(
          { instance: n },
          `(${n}) Expired after ${Math.floor(a.after / 1000)} ms (${a.overdue} usec overdue)`,
        );
        break;
      case 'detectTime':
        this.o.log.debug({ instance: n }, `(${n}) Detection time is ${a.now} us (was ${a.was} us)`);
        break;
      case 'pollStart':
        this.o.log.debug({ instance: n, txInterval: s.txInterval }, `(${n}) Starting poll sequence`);
        break;
    }
  }

  private drop(code: string, message: string, details: Record<string, unknown> = {}): void {
    this.o.counters.inc(code);
    this.o.log.debug({ code, ...details }, message);
  }

  private onDatagram(family: 4 | 6, d: BfdDatagram): void {
    const from = { src: d.src, port: d.srcPort };
    if (d.truncated) {
      this.drop(BfdErrors.KA_ERR_BFD_TRUNCATED, `Discarding truncated packet from ${d.src}`, from);
      return;
    }
    let p: ReturnType<typeof decodeBfd>;
    try {
      p = decodeBfd(d.data);
    } catch (e) {
      // decodeBfd throws only KaErrors (fuzz-tested); anything else still must not escape a socket callback.
      const code = isKaError(e) ? e.code : BfdErrors.KA_ERR_BFD_BAD_FIELD;
      this.drop(code, `Discarding bogus packet from ${d.src} (${(e as Error).message})`, from);
      return;
    }
    let l: Live | undefined;
    if (p.yourDiscriminator === 0) {
      for (const x of this.live.values())
        if (
          x.family === family &&
          x.inst.neighborIp === d.src &&
          (x.inst.sourceIp === undefined || d.dst === undefined || x.inst.sourceIp === d.dst)
        )
          l = x;
    } else {
      for (const x of this.live.values()) if (x.driver.state.localDiscr === p.yourDiscriminator) l = x;
    }
    if (!l) {
      this.drop(
        BfdErrors.KA_ERR_BFD_NO_SESSION,
        `Discarding packet from ${d.src} (session is not found - your discriminator field is ${p.yourDiscriminator})`,
        from,
      );
      return;
    }
    // RFC 5881 §5 GTSM, as keepalived extends it: accept TTL >= ttl - max_hops; max_hops 255 = no
    // check; a TTL of 0 (keepalived: none received) is not checked.
    const ttl = l.inst.ttl;
    if (l.inst.maxHops !== 255 && d.ttl !== undefined && d.ttl !== 0 && d.ttl + l.inst.maxHops < ttl) {
      this.drop(
        BfdErrors.KA_ERR_BFD_BAD_TTL,
        `Packet ${family === 4 ? 'ttl' : 'hop_limit'}(${d.ttl}) < ${ttl - l.inst.maxHops} - discarding`,
        { ...from, instance: l.inst.name },
      );
      return;
    }
    if (p.auth !== undefined) {
      this.drop(
        BfdErrors.KA_ERR_BFD_AUTH,
        `Discarding packet from ${d.src} (auth bit is set, but no authentication is in use)`,
        { ...from, instance: l.inst.name },
      );
      return;
    }
    // RFC 5880 §6.8.6: a session that is locally AdminDown discards what it receives.
    if (l.driver.localState === BFD_STATE.AdminDown) {
      this.drop(
        BfdErrors.KA_ERR_BFD_ADMIN_DOWN,
        `Discarding packet from ${d.src} (session is in AdminDown state)`,
        { ...from, instance: l.inst.name },
      );
      return;
    }
    l.driver.receive(p);
  }
}
