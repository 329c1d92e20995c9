/**
 * One BFD session (RFC 5880) as a pure step function: `stepBfd(state, event, now, env)` returns the
 * new state and the actions to carry out (send a packet, report a state change). No sockets, no
 * timers: the state holds its deadlines (`txAt`, `expireAt`, `resetAt`) and the runtime arms one
 * timer per deadline and feeds `tick` when one falls due (STYLE.md habits 4-5). Times are µs.
 *
 * keepalived 2.2.7's choices, followed here: DesiredMinTxInterval is `idle_tx` while not Up and the
 * configured `min_tx` once Up, switched by a Poll sequence at the Up transition; a Down session is
 * reset (remote variables cleared) one detection time after going Down; a new local discriminator is
 * picked when leaving Up; the periodic transmission is reduced by 10-25 % jitter (inside RFC 5880
 * §6.8.7's 0-25 %, and its 10-25 % rule for Detect Mult 1); a passive session sends nothing while
 * Down until it hears from its peer; a peer's AdminDown takes the session Down but is not reported
 * to trackers as a failure (RFC 5882 §3.2, keepalived's `bfd_state_fall`).
 */
import type { Micros } from '../core/clock.js';
import { BFD_DIAG, BFD_STATE, type BfdPacket, type BfdStateValue } from '../wire/bfd.js';

export interface BfdSessionConfig {
  readonly name: string;
  /** Required Min RX Interval, µs. */
  readonly minRx: Micros;
  /** Desired Min TX Interval once Up, µs. */
  readonly minTx: Micros;
  /** Desired Min TX Interval while not Up, µs (RFC 5880 §6.8.3: at least 1 s; keepalived default 1 s). */
  readonly idleTx: Micros;
  readonly multiplier: number;
  readonly passive: boolean;
}

export interface BfdSession {
  readonly cfg: BfdSessionConfig;
  readonly localState: BfdStateValue;
  readonly remoteState: BfdStateValue;
  readonly localDiscr: number;
  readonly remoteDiscr: number;
  readonly localDiag: number;
  readonly remoteDiag: number;
  /** Remote Required Min RX / Desired Min TX, µs (0 until heard). */
  readonly remoteMinRx: Micros;
  readonly remoteMinTx: Micros;
  readonly remoteDetectMult: number;
  readonly remoteDemand: boolean;
  /** A Poll sequence is running: every packet sent carries P until a Final arrives. */
  readonly poll: boolean;
  /** The next packet sent carries F (answer to a Poll). */
  readonly final: boolean;
  /** Negotiated transmit interval (§6.8.7) and the peer's (§6.8.4), µs. */
  readonly txInterval: Micros;
  readonly remoteTxInterval: Micros;
  /** Detection time: remote Detect Mult × agreed remote transmit interval (§6.8.4), µs. */
  readonly detectTime: Micros;
  readonly lastSeen: Micros | undefined;
  /** Deadlines (monotonic µs); undefined = not armed. */
  readonly txAt: Micros | undefined;
  readonly expireAt: Micros | undefined;
  readonly resetAt: Micros | undefined;
}

export type BfdEvent =
  /** A decoded packet already matched to this session and past the TTL and A-bit checks. */
  | { readonly type: 'rx'; readonly packet: BfdPacket }
  /** A deadline may have fallen due: runs every due one (expiry, reset, transmission). */
  | { readonly type: 'tick' }
  /** Local administrative shutdown (§6.8.16): AdminDown, nothing more is sent or received. */
  | { readonly type: 'adminDown' }
  /**
   * Reload with new timers (same addresses, TTL and mode): state and discriminators are kept; an Up
   * session announces the change with a Poll sequence (§6.8.3; keepalived's bfd_set_poll).
   */
  | { readonly type: 'reconfigure'; readonly cfg: BfdSessionConfig };

export type BfdAction =
  | { readonly type: 'send'; readonly packet: BfdPacket }
  | {
      readonly type: 'state';
      readonly from: BfdStateValue;
      readonly to: BfdStateValue;
      readonly localDiag: number;
      readonly remoteDiag: number;
      /** Whether trackers hear of it (false for Init, and for Down signalled by a peer's AdminDown). */
      readonly notify: boolean;
    }
  /** The detection time ran out: `after` µs since the last packet, `overdue` µs past the deadline. */
  | { readonly type: 'expired'; readonly after: Micros; readonly overdue: Micros }
  | { readonly type: 'detectTime'; readonly was: Micros; readonly now: Micros }
  | { readonly type: 'pollStart' };

/** Randomness, injected so the step stays deterministic under test. */
export interface BfdEnv {
  /** Uniform in [0, 1). */
  random(): number;
  /** A fresh non-zero local discriminator, unique among live sessions. */
  discriminator(): number;
}

export interface BfdStep {
  readonly state: BfdSession;
  readonly actions: readonly BfdAction[];
}

type Mut = { -readonly [K in keyof BfdSession]: BfdSession[K] };

/** Transmit delay: the interval reduced by 10-25 % (keepalived; RFC 5880 §6.8.7). */
export function jitteredInterval(interval: Micros, random: () => number): Micros {
  const min = Math.ceil(interval / 10);
  const max = Math.floor(interval / 4);
  return interval - (min + Math.floor(random() * (max - min + 1)));
}

/** A new session in Down (§6.8.1 initial values); an active one sends its first packet at once. */
export function createBfdSession(cfg: BfdSessionConfig, now: Micros, env: BfdEnv): BfdSession {
  return {
    cfg,
    localState: BFD_STATE.Down,
    remoteState: BFD_STATE.Down,
    localDiscr: env.discriminator(),
    remoteDiscr: 0,
    localDiag: BFD_DIAG.None,
    remoteDiag: BFD_DIAG.None,
    remoteMinRx: 0,
    remoteMinTx: 0,
    remoteDetectMult: 0,
    remoteDemand: false,
    poll: false,
    final: false,
    txInterval: cfg.idleTx,
    remoteTxInterval: 0,
    detectTime: 0,
    lastSeen: undefined,
    txAt: cfg.passive ? undefined : now,
    expireAt: undefined,
    resetAt: undefined,
  };
}

/** The Control packet this session sends now (§6.8.7). */
export function bfdPacketOf(s: BfdSession): BfdPacket {
  return {
    diag: s.localDiag,
    state: s.localState,
    poll: s.poll && !s.final,
    final: s.final,
    controlPlaneIndependent: false,
    demand: false,
    multipoint: false,
    detectMult: s.cfg.multiplier,
    myDiscriminator: s.localDiscr,
    yourDiscriminator: s.remoteDiscr,
    desiredMinTx: s.localState === BFD_STATE.Up ? s.cfg.minTx : s.cfg.idleTx,
    requiredMinRx: s.cfg.minRx,
    requiredMinEchoRx: 0,
    auth: undefined,
  };
}

/** The earliest armed deadline, for the runtime's one timer. */
export function nextDeadline(s: BfdSession): Micros | undefined {
  let t: Micros | undefined;
  for (const d of [s.txAt, s.expireAt, s.resetAt]) if (d !== undefined && (t === undefined || d < t)) t = d;
  return t;
}

export function stepBfd(state: BfdSession, event: BfdEvent, now: Micros, env: BfdEnv): BfdStep {
  const s: Mut = { ...state };
  const actions: BfdAction[] = [];
  switch (event.type) {
    case 'rx':
      receive(s, event.packet, now, env, actions);
      break;
    case 'tick':
      tick(s, now, env, actions);
      break;
    case 'adminDown':
      if (s.localState !== BFD_STATE.AdminDown) {
        const from = s.localState;
        s.localState = BFD_STATE.AdminDown;
        s.localDiag = BFD_DIAG.AdministrativelyDown;
        s.txAt = undefined;
        s.expireAt = undefined;
        s.resetAt = undefined;
        s.txInterval = Math.max(s.cfg.idleTx, s.remoteMinRx);
        actions.push(stateAction(from, s, false));
      }
      break;
    case 'reconfigure':
      reconfigure(s, event.cfg, now, env, actions);
      break;
  }
  return { state: s, actions };
}

function reconfigure(s: Mut, cfg: BfdSessionConfig, now: Micros, env: BfdEnv, actions: BfdAction[]): void {
  const old = s.cfg;
  s.cfg = cfg;
  if (s.localState === BFD_STATE.AdminDown) return;
  if (s.localState === BFD_STATE.Up) {
    // §6.8.3: while Up, the transmit interval and detection time change only when the Poll ends.
    if (old.minRx !== cfg.minRx || old.minTx !== cfg.minTx || old.multiplier !== cfg.multiplier) {
      if (!s.poll) actions.push({ type: 'pollStart' });
      s.poll = true;
    }
    return;
  }
  // Not Up: DesiredMinTxInterval is idle_tx, which may change at once (§6.8.3).
  const oldTx = s.txInterval;
  s.txInterval = Math.max(cfg.idleTx, s.remoteMinRx);
  if (s.txInterval < oldTx && s.txAt !== undefined) s.txAt = now + jitteredInterval(s.txInterval, env.random);
}

function stateAction(from: BfdStateValue, s: Mut, notify: boolean): BfdAction {
  return { type: 'state', from, to: s.localState, localDiag: s.localDiag, remoteDiag: s.remoteDiag, notify };
}

function send(s: Mut, actions: BfdAction[]): void {
  actions.push({ type: 'send', packet: bfdPacketOf(s) });
  s.final = false;
}

/** §6.8.6 reception, after the checks the codec and the runtime made. */
function receive(s: Mut, p: BfdPacket, now: Micros, env: BfdEnv, actions: BfdAction[]): void {
  // §6.8.6: "If bfd.SessionState is AdminDown, discard the packet."
  if (s.localState === BFD_STATE.AdminDown) return;
  s.remoteDiscr = p.myDiscriminator;
  s.remoteState = p.state;
  s.remoteDiag = p.diag;
  s.remoteMinRx = p.requiredMinRx;
  s.remoteMinTx = p.desiredMinTx;
  s.remoteDemand = p.demand;
  s.remoteDetectMult = p.detectMult;
  // §6.5: a Final ends the Poll sequence.
  if (p.final) s.poll = false;

  const oldTx = s.txInterval;
  const oldDetect = s.detectTime;
  // §6.8.2-6.8.3: timer values change when not Up, or with a Poll/Final while Up.
  if (s.localState !== BFD_STATE.Up || p.poll || p.final) {
    const bothRising =
      s.remoteState === BFD_STATE.Up && (s.localState === BFD_STATE.Init || s.localState === BFD_STATE.Up);
    s.txInterval = Math.max(bothRising ? s.cfg.minTx : s.cfg.idleTx, s.remoteMinRx);
    s.remoteTxInterval = Math.max(s.cfg.minRx, s.remoteMinTx);
  }
  // §6.8.4: Detection Time = remote Detect Mult × agreed remote transmit interval.
  s.detectTime = s.remoteDetectMult * s.remoteTxInterval;
  if (s.detectTime !== oldDetect) actions.push({ type: 'detectTime', was: oldDetect, now: s.detectTime });
  // §6.8.7: a shorter interval takes effect at once.
  if (s.txInterval < oldTx && s.txAt !== undefined) s.txAt = now + jitteredInterval(s.txInterval, env.random);

  // §6.8.6 state transitions.
  if (s.remoteState === BFD_STATE.AdminDown) {
    if (s.localState !== BFD_STATE.Down) goDown(s, BFD_DIAG.NeighborSignaledDown, now, env, actions);
  } else if (s.localState === BFD_STATE.Down) {
    if (s.remoteState === BFD_STATE.Down) goInit(s, now, actions);
    else if (s.remoteState === BFD_STATE.Init) goUp(s, p, now, actions);
  } else if (s.localState === BFD_STATE.Init) {
    if (s.remoteState === BFD_STATE.Init || s.remoteState === BFD_STATE.Up) goUp(s, p, now, actions);
  } else if (s.localState === BFD_STATE.Up) {
    if (s.remoteState === BFD_STATE.Down) goDown(s, BFD_DIAG.NeighborSignaledDown, now, env, actions);
  }

  // §6.8.7: a peer in Demand mode with both sides Up gets no periodic packets.
  const quiet = s.remoteDemand && s.localState === BFD_STATE.Up && s.remoteState === BFD_STATE.Up;
  if (quiet) s.txAt = undefined;
  else if (s.txAt === undefined) s.txAt = now + jitteredInterval(s.txInterval, env.random);

  // §6.8.6: a Poll is answered at once with a Final, outside the periodic schedule.
  if (p.poll) {
    s.final = true;
    send(s, actions);
  }
  s.lastSeen = now;
  // §6.8.4: each valid packet restarts the detection timer.
  if (s.localState === BFD_STATE.Up || s.localState === BFD_STATE.Init) s.expireAt = now + s.detectTime;
}

function goInit(s: Mut, now: Micros, actions: BfdAction[]): void {
  const from = s.localState;
  s.localState = BFD_STATE.Init;
  s.localDiag = BFD_DIAG.None;
  s.resetAt = undefined;
  if (s.expireAt === undefined) s.expireAt = now + s.detectTime;
  actions.push(stateAction(from, s, false));
}

function goUp(s: Mut, p: BfdPacket, now: Micros, actions: BfdAction[]): void {
  const from = s.localState;
  s.localState = BFD_STATE.Up;
  s.localDiag = BFD_DIAG.None;
  s.resetAt = undefined;
  if (s.expireAt === undefined) s.expireAt = now + s.detectTime;
  // §6.8.3: the switch from idle_tx to min_tx is announced with a Poll sequence; when the packet that
  // brought us Up is itself a Poll, our Final carries the new value (allowed by §6.8.3) instead.
  if (s.cfg.idleTx !== s.cfg.minTx && !p.poll && !s.poll) {
    s.poll = true;
    actions.push({ type: 'pollStart' });
  }
  actions.push(stateAction(from, s, true));
}

function goDown(s: Mut, diag: number, now: Micros, env: BfdEnv, actions: BfdAction[]): void {
  const from = s.localState;
  if (from === BFD_STATE.Up) s.localDiscr = env.discriminator();
  s.localState = BFD_STATE.Down;
  s.localDiag = diag;
  s.resetAt = now + s.detectTime;
  if (s.cfg.passive) s.txAt = undefined;
  // §6.8.3: not Up, so DesiredMinTxInterval is idle_tx again.
  s.txInterval = Math.max(s.cfg.idleTx, s.remoteMinRx);
  s.expireAt = undefined;
  const notify = from === BFD_STATE.Up && s.remoteState !== BFD_STATE.AdminDown;
  actions.push(stateAction(from, s, notify));
}

function tick(s: Mut, now: Micros, env: BfdEnv, actions: BfdAction[]): void {
  // §6.8.4: no valid packet for a detection time in Init or Up.
  if (s.expireAt !== undefined && now >= s.expireAt) {
    s.expireAt = undefined;
    if (s.localState === BFD_STATE.Up || s.localState === BFD_STATE.Init) {
      const after = s.lastSeen === undefined ? s.detectTime : now - s.lastSeen;
      if (s.localState === BFD_STATE.Up)
        actions.push({ type: 'expired', after, overdue: after - s.detectTime });
      // §6.8.1: RemoteDiscr is zeroed when a detection time passes without a packet.
      s.remoteDiscr = 0;
      goDown(s, BFD_DIAG.ControlDetectionTimeExpired, now, env, actions);
    }
  }
  // keepalived resets a Down session's remote view one detection time after going Down.
  if (s.resetAt !== undefined && now >= s.resetAt) {
    s.resetAt = undefined;
    if (s.localState === BFD_STATE.Down) {
      s.remoteState = BFD_STATE.Down;
      s.remoteDiscr = 0;
      s.remoteDiag = BFD_DIAG.None;
      s.remoteDemand = false;
      s.poll = false;
      s.final = false;
      s.txInterval = s.cfg.idleTx;
    }
  }
  if (s.txAt !== undefined && now >= s.txAt) {
    send(s, actions);
    s.txAt = now + jitteredInterval(s.txInterval, env.random);
  }
}
