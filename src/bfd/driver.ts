/**
 * Runs one BFD session on a clock: keeps the pure state, arms one timer for its earliest deadline
 * and hands the step's actions to the caller (STYLE.md habit 5). No sockets: `send` is the caller's.
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { BfdPacket, BfdStateValue } from '../wire/bfd.js';
import {
  type BfdAction,
  type BfdEnv,
  type BfdEvent,
  type BfdSession,
  type BfdSessionConfig,
  createBfdSession,
  nextDeadline,
  stepBfd,
} from './session.js';

export interface BfdDriverHooks {
  send(packet: BfdPacket): void;
  /** Every non-send action (state changes, expiry, detection time, poll start), in order. */
  action?(a: Exclude<BfdAction, { type: 'send' }>, session: BfdSession): void;
  /** A hook above threw: the driver goes on with the next action and keeps its timer armed. */
  error?(e: unknown): void;
}

export class BfdDriver {
  private s: BfdSession;
  private timer: TimerHandle | undefined;
  private timerAt: number | undefined;
  private stopped = false;

  constructor(
    cfg: BfdSessionConfig,
    private readonly clock: Clock,
    private readonly env: BfdEnv,
    private readonly hooks: BfdDriverHooks,
  ) {
    this.s = createBfdSession(cfg, clock.now(), env);
    this.arm();
  }

  get state(): BfdSession {
    return this.s;
  }

  get localState(): BfdStateValue {
    return this.s.localState;
  }

  receive(packet: BfdPacket): void {
    this.step({ type: 'rx', packet });
  }

  adminDown(): void {
    this.step({ type: 'adminDown' });
  }

  /** New timers on reload: state and discriminators kept, a Poll started if Up. */
  reconfigure(cfg: BfdSessionConfig): void {
    this.step({ type: 'reconfigure', cfg });
  }

  /** Stops the timer; the session is forgotten (keepalived sends nothing on shutdown). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private step(e: BfdEvent): void {
    if (this.stopped) return;
    const r = stepBfd(this.s, e, this.clock.now(), this.env);
    this.s = r.state;
    try {
      for (const a of r.actions) {
        try {
          if (a.type === 'send') this.hooks.send(a.packet);
          else this.hooks.action?.(a, this.s);
        } catch (e) {
          // Runs from socket and timer callbacks: nothing may escape to the event loop.
          this.hooks.error?.(e);
        }
      }
    } finally {
      this.arm();
    }
  }

  private arm(): void {
    if (this.stopped) return;
    const at = nextDeadline(this.s);
    if (at === this.timerAt && this.timer) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = this.clock.at(at, () => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.step({ type: 'tick' });
    });
  }
}
