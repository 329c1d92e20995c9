/**
 * vrrp_script (keepalived-surface.md §2.3, §4.3): a pure rise/fall counter plus a runner that
 * starts the script every `interval` on an injected Clock.
 *
 * Counter (keepalived's `result`, 0..rise+fall-1; OK when result ≥ rise): a success below rise-1
 * counts up; at rise-1 it jumps to rise+fall-1 (OK). A failure above rise counts down; at or below
 * rise it drops to 0 (KO). Start: result = rise-1 so the first result decides, unless init_fail
 * (result 0, KO until `rise` successes), or unless a reload replaces a script that was OK (keepalived
 * "considered successful on reload": result = rise, OK until one failure). Exit 0 is success; any other exit, a signal or a timeout
 * is failure. A run still going when the next is due is skipped ("already running").
 */
import { type Clock, type Micros, systemClock, type TimerHandle } from '../../core/clock.js';
import { KaError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { type ScriptDef, type ScriptOutcome, type ScriptRunner, succeeded } from '../../notify/script.js';

export type ScriptState = 'unknown' | 'up' | 'down';

/** The pure counter. */
export class RiseFall {
  private result: number;
  private initial: boolean;
  private st: ScriptState;

  /** `start`: 'fail' for init_fail, 'good' for a script considered successful on reload. */
  constructor(
    readonly rise: number,
    readonly fall: number,
    start: boolean | 'fail' | 'good' = false,
  ) {
    const initFail = start === true || start === 'fail';
    for (const [k, v] of [
      ['rise', rise],
      ['fall', fall],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new KaError('KA_ERR_TRACK_BAD_PARAM', `${k} ${v} must be an integer ≥ 1`, { [k]: v });
    }
    const good = start === 'good';
    this.result = initFail ? 0 : good ? rise : rise - 1;
    this.initial = !initFail && !good;
    this.st = initFail ? 'down' : good ? 'up' : 'unknown';
  }

  get state(): ScriptState {
    return this.st;
  }

  /** Feed one result; returns the new state when it changed, else null. */
  feed(success: boolean): ScriptState | null {
    const max = this.rise + this.fall - 1;
    const wasInitial = this.initial;
    this.initial = false;
    let next: ScriptState = this.st;
    if (success) {
      if (this.result < this.rise - 1) this.result++;
      else if (this.result !== max) {
        if (this.result < this.rise) next = 'up';
        this.result = max;
      }
    } else if (this.result > this.rise) {
      this.result--;
    } else {
      if (this.result === this.rise || wasInitial) next = 'down';
      this.result = 0;
    }
    if (next === this.st) return null;
    this.st = next;
    return next;
  }
}

export interface VrrpScriptConfig {
  name: string;
  script: ScriptDef;
  intervalUs: Micros;
  /** Default: the interval. */
  timeoutUs?: Micros;
  rise?: number;
  fall?: number;
  initFail?: boolean;
  /** A reload replaced a script of this name that was OK: start OK, one failure makes it KO. */
  initGood?: boolean;
}

/** Runs one script; the default uses a ScriptRunner (TERM on timeout, KILL 2 s later). */
export type ScriptExec = (def: ScriptDef) => Promise<ScriptOutcome>;

export const runnerExec =
  (runner: ScriptRunner): ScriptExec =>
  async (def) =>
    (await runner.run(def)).outcome;

export interface VrrpScriptTrackerOptions {
  clock?: Clock;
  exec: ScriptExec;
  log?: Logger;
  /** New OK/KO state (never 'unknown'), with the clock time of the result. */
  onChange: (state: ScriptState, at: Micros) => void;
}

function describe(o: ScriptOutcome): string {
  switch (o.kind) {
    case 'exit':
      return `exited with status ${o.code}`;
    case 'signal':
      return `due to signal ${o.signal}`;
    case 'timeout':
      return 'timed_out';
    default:
      return o.error.message;
  }
}

export class VrrpScriptTracker {
  readonly counter: RiseFall;
  private readonly clock: Clock;
  private readonly log: Logger;
  private timer: TimerHandle | null = null;
  private busy = false;
  private stopped = true;
  private lastExit: number | null = null;
  private readonly def: ScriptDef;

  constructor(
    readonly cfg: VrrpScriptConfig,
    private readonly opts: VrrpScriptTrackerOptions,
  ) {
    if (!Number.isInteger(cfg.intervalUs) || cfg.intervalUs <= 0) {
      throw new KaError('KA_ERR_TRACK_BAD_PARAM', `interval ${cfg.intervalUs} µs must be positive`, {
        script: cfg.name,
      });
    }
    this.counter = new RiseFall(
      cfg.rise ?? 1,
      cfg.fall ?? 1,
      cfg.initGood ? 'good' : cfg.initFail ? 'fail' : false,
    );
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.def = {
      ...cfg.script,
      name: `VRRP_Script(${cfg.name})`,
      timeoutUs: cfg.timeoutUs ?? cfg.intervalUs,
      timeoutSignal: 'SIGTERM',
      killGraceUs: 2_000_000,
      maxRunning: 1,
      maxQueued: 0,
    };
  }

  get state(): ScriptState {
    return this.counter.state;
  }

  /** First run now, then every interval from each run's start. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    this.timer = this.clock.at(now + this.cfg.intervalUs, () => this.tick());
    if (this.busy) {
      this.log.info(
        { script: this.cfg.name },
        `Track script ${this.cfg.name} is already running, expect idle - skipping run`,
      );
      return;
    }
    this.busy = true;
    this.opts.exec(this.def).then(
      (o) => this.result(o),
      (e: unknown) =>
        this.result({ kind: 'spawn-error', error: new KaError('KA_ERR_NOTIFY_SPAWN', String(e)) }),
    );
  }

  private result(o: ScriptOutcome): void {
    this.busy = false;
    if (this.stopped) return;
    if (o.kind === 'exit' && o.code !== this.lastExit) {
      this.log.info(
        { script: this.cfg.name, status: o.code },
        `Script \`${this.cfg.name}\` now returning ${o.code}`,
      );
      this.lastExit = o.code;
    }
    const ok = succeeded(o);
    const changed = this.counter.feed(ok);
    if (changed === null) return;
    if (ok) this.log.info({ script: this.cfg.name }, `VRRP_Script(${this.cfg.name}) succeeded`);
    else if (o.kind === 'timeout')
      this.log.info({ script: this.cfg.name }, `VRRP_Script(${this.cfg.name}) timed_out`);
    else this.log.info({ script: this.cfg.name }, `VRRP_Script(${this.cfg.name}) failed (${describe(o)})`);
    this.opts.onChange(changed, this.clock.now());
  }
}
