/**
 * Script runner with keepalived's conventions (keepalived-surface.md §4.2–4.4): each run gets its
 * own process group (so a timeout kills the whole group, as keepalived's kill(-pid)), the uid/gid of
 * its script user (libuv clears supplementary groups when uid/gid are set, like keepalived), an
 * inherited environment without IFS / LD_PRELOAD / LD_LIBRARY_PATH, and stdin, stdout and stderr on
 * /dev/null (keepalived's set_std_fd / xdaemon: in every mode its scripts write to /dev/null).
 *
 * /dev/null, not pipes, because a script may leave a child in the background (`helper &`, `nohup
 * helper &`) that inherits them: a pipe whose reader is gone (the script ended and the pipe was
 * closed, or the daemon exited or restarted) kills that child with SIGPIPE at its next write, while
 * under keepalived it lives on. `captureOutput` (tests, tools) pipes them instead; see there.
 *
 * Callers never wait: `fire()` returns at once (the spawn itself happens on a later event-loop
 * turn, one spawn per turn) and `run()` returns a promise that never rejects.
 * Each script has a bounded queue: at most `maxRunning` copies run at once, `maxQueued` wait,
 * further calls are dropped and counted.
 */
import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { type Clock, type Micros, systemClock, type TimerHandle } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { addon } from '../sys/native.js';
import { commandString } from './command.js';

export interface ScriptUser {
  uid: number;
  gid: number;
  /** For logs only. */
  name?: string;
}

export interface ScriptDef {
  /** Label for logs, events and queues, e.g. `notify_master(VI_1)` or `VRRP_Script(chk)`. */
  name: string;
  /** argv as split by `splitCommand`; argv[0] is the program. */
  argv: readonly string[];
  /** Run as this user; omitted: the daemon's own uid/gid. */
  user?: ScriptUser;
  /** `exec`: execve argv directly (default). `shell`: `/bin/sh -c` with keepalived's quoting. */
  mode?: 'exec' | 'shell';
  /** Resolved executable path when it differs from argv[0] (symlink / PATH search). */
  path?: string;
  /** Kill the process group after this long; omitted: never (keepalived notify scripts). */
  timeoutUs?: Micros;
  /** First signal on timeout: vrrp_script SIGTERM (then SIGKILL), notify_stop SIGKILL. */
  timeoutSignal?: 'SIGTERM' | 'SIGKILL';
  /** SIGTERM → SIGKILL delay after a timeout (keepalived: 2 s). */
  killGraceUs?: Micros;
  /** Concurrent copies of this script (default 8). */
  maxRunning?: number;
  /** Waiting calls beyond maxRunning (default 32); more are dropped. */
  maxQueued?: number;
}

export type ScriptOutcome =
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; signal: string }
  /**
   * Still running at its timeout. `code`: it then exited by itself (a TERM trap), with this status;
   * `signal`: the signal that ended it, or with `code` the last signal sent.
   */
  | { kind: 'timeout'; signal: string; code?: number }
  | { kind: 'spawn-error'; error: KaError }
  | { kind: 'dropped'; error: KaError };

export interface ScriptResult {
  script: string;
  argv: readonly string[];
  pid?: number;
  outcome: ScriptOutcome;
  startedAt: Micros;
  endedAt: Micros;
  /** Timeout kill signal sent → process gone, when a timeout fired. */
  killDelayUs?: Micros;
  /** With `captureOutput` only (else empty): the first maxOutputBytes of each stream. */
  stdout: string;
  stderr: string;
  /** Bytes of output dropped beyond maxOutputBytes. */
  outputDropped: number;
}

export type ScriptEvent =
  | { type: 'start'; script: string; argv: readonly string[]; pid: number | undefined; at: Micros }
  /** Its timeout expired; `signal` is being sent to its process group. */
  | { type: 'timeout'; script: string; pid: number | undefined; signal: string; at: Micros }
  | { type: 'end'; result: ScriptResult }
  | { type: 'dropped'; script: string; argv: readonly string[]; at: Micros };

export interface ScriptRunnerOptions {
  clock?: Clock;
  log?: Logger;
  counters?: Counters;
  onEvent?: (e: ScriptEvent) => void;
  /**
   * Pipe stdout/stderr to the runner instead of /dev/null (default false, as keepalived). The pipes
   * are read until end of file, also after the script has exited (its result does not wait for
   * them), and never closed by the runner: a background child of the script may keep writing while
   * this process runs. It still gets SIGPIPE once this process exits, so the daemon leaves this off.
   */
  captureOutput?: boolean;
  /** Per stream, with captureOutput (default 4096). */
  maxOutputBytes?: number;
  /** Environment to start from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Start the process-wide OrphanReaper when this process is PID 1 or a child subreaper (default
   * true): orphans of scripts are then reparented to us, and libuv reaps only its own children.
   */
  reapOrphans?: boolean;
}

/** Success as keepalived counts it for vrrp_script: exit status 0 and nothing else. */
export const succeeded = (o: ScriptOutcome): boolean => o.kind === 'exit' && o.code === 0;

const DROPPED_ENV = ['IFS', 'LD_PRELOAD', 'LD_LIBRARY_PATH'];
/**
 * captureOutput: how long after the script's exit its result waits for output still in flight when
 * the pipes stay open (a background child holds them); they are read on after that, to end of file.
 */
const OUTPUT_GRACE_US = 100_000;

interface Job {
  def: ScriptDef;
  argv: string[];
  resolve: (r: ScriptResult) => void;
}

interface Lane {
  running: number;
  queue: Job[];
}

/**
 * One fork/exec per event-loop turn, for every runner of this thread. A spawn holds the thread for
 * 1-2 ms (execa's set-up, fork, and the wait for exec; measured on this 2-core host) and more under
 * load, so 1,000 notify scripts spawned in one turn stalled adverts and timers for seconds. Chained
 * through setImmediate, timers and socket I/O run between two spawns; launch order is call order.
 */
const launches: (() => void)[] = [];
let launching = false;
function launchNext(): void {
  try {
    launches.shift()?.();
  } finally {
    if (launches.length > 0) setImmediate(launchNext);
    else launching = false;
  }
}
function launch(fn: () => void): void {
  launches.push(fn);
  if (!launching) {
    launching = true;
    setImmediate(launchNext);
  }
}

interface Live {
  pid: number | undefined;
  kill: (sig: NodeJS.Signals) => void;
  done: Promise<ScriptResult>;
}

export class ScriptRunner {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly counters: Counters | undefined;
  private readonly onEvent: ((e: ScriptEvent) => void) | undefined;
  private readonly maxOutput: number;
  private readonly capture: boolean;
  private readonly env: NodeJS.ProcessEnv;
  private readonly lanes = new Map<string, Lane>();
  private readonly live = new Set<Live>();
  private closed = false;
  /** Jobs admitted but not yet launched (waiting their turn in `launches`). */
  private pendingLaunch = 0;

  constructor(opts: ScriptRunnerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.counters = opts.counters;
    this.onEvent = opts.onEvent;
    this.maxOutput = opts.maxOutputBytes ?? 4096;
    this.capture = opts.captureOutput ?? false;
    const env = { ...(opts.env ?? process.env) };
    for (const k of DROPPED_ENV) delete env[k];
    this.env = env;
    if (opts.reapOrphans !== false) startOrphanReaper(this.log);
  }

  /** Fire and forget: start (or queue) the script and return at once. */
  fire(def: ScriptDef, extraArgs: readonly string[] = []): void {
    void this.run(def, extraArgs);
  }

  /** Start (or queue) the script; the promise resolves when it ends and never rejects. */
  run(def: ScriptDef, extraArgs: readonly string[] = []): Promise<ScriptResult> {
    const argv = [...def.argv, ...extraArgs];
    return new Promise<ScriptResult>((resolve) => {
      const lane = this.lane(def.name);
      const job: Job = { def, argv, resolve };
      if (this.closed) {
        resolve(this.drop(job, 'runner closed'));
        return;
      }
      if (lane.running < (def.maxRunning ?? 8)) {
        this.start(lane, job);
      } else if (lane.queue.length < (def.maxQueued ?? 32)) {
        lane.queue.push(job);
      } else {
        resolve(this.drop(job, `queue full (${lane.running} running, ${lane.queue.length} queued)`));
      }
    });
  }

  /** Scripts running or about to be spawned (queued calls excluded). */
  get running(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.running;
    return n;
  }

  /**
   * Stop: drop queued calls, send `signal` to every running process group, SIGKILL whatever is
   * left after `graceUs`, and wait for all of them.
   */
  async close(signal: NodeJS.Signals = 'SIGTERM', graceUs: Micros = 1_000_000): Promise<void> {
    // let calls admitted before close launch, so they get the signal instead of vanishing
    do await new Promise<void>((r) => setImmediate(r));
    while (this.pendingLaunch > 0);
    this.closed = true;
    for (const lane of this.lanes.values()) {
      for (const job of lane.queue.splice(0)) job.resolve(this.drop(job, 'runner closed'));
    }
    const all = [...this.live];
    for (const l of all) l.kill(signal);
    const t = this.clock.at(this.clock.now() + graceUs, () => {
      for (const l of all) l.kill('SIGKILL');
    });
    await Promise.all(all.map((l) => l.done));
    t.cancel();
  }

  /**
   * Wait until no script is running or queued, or until `maxUs` has passed (shutdown: keepalived
   * lets STOP scripts run, killing them after 1 s). Resolves true when idle.
   */
  async drain(maxUs: Micros): Promise<boolean> {
    let expired = false;
    const t = this.clock.at(this.clock.now() + maxUs, () => {
      expired = true;
    });
    const idle = (): boolean =>
      this.running === 0 && [...this.lanes.values()].every((l) => l.queue.length === 0);
    while (!idle() && !expired) {
      await new Promise<void>((r) => setImmediate(r));
      const waits: Promise<unknown>[] = [...this.live].map((l) => l.done);
      if (waits.length === 0) continue;
      await Promise.race([...waits, new Promise<void>((r) => this.clock.at(this.clock.now() + 10_000, r))]);
    }
    t.cancel();
    return idle();
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      lane = { running: 0, queue: [] };
      this.lanes.set(name, lane);
    }
    return lane;
  }

  private drop(job: Job, why: string): ScriptResult {
    const at = this.clock.now();
    const error = new KaError('KA_ERR_NOTIFY_QUEUE_FULL', `${job.def.name}: dropped, ${why}`, {
      script: job.def.name,
    });
    this.counters?.inc('KA_ERR_NOTIFY_QUEUE_FULL');
    this.log.warn({ script: job.def.name, code: error.code }, error.message);
    this.onEvent?.({ type: 'dropped', script: job.def.name, argv: job.argv, at });
    return {
      script: job.def.name,
      argv: job.argv,
      outcome: { kind: 'dropped', error },
      startedAt: at,
      endedAt: at,
      stdout: '',
      stderr: '',
      outputDropped: 0,
    };
  }

  /**
   * Admit a job now (so queue accounting stays exact) but fork/exec on a later turn of the event
   * loop, one spawn per turn (`launch`): spawning is synchronous in Node, so the caller's own work
   * (adverts, VIPs) finishes first and timers keep running during a burst. Launch order is call order.
   */
  private start(lane: Lane, job: Job): void {
    lane.running++;
    this.pendingLaunch++;
    launch(() => {
      this.pendingLaunch--;
      const done = this.closed
        ? Promise.resolve(this.drop(job, 'runner closed'))
        : this.exec(job.def, job.argv);
      void done.then((r) => {
        lane.running--;
        job.resolve(r);
        const next = lane.queue.shift();
        if (next) this.start(lane, next);
      });
    });
  }

  private exec(def: ScriptDef, argv: string[]): Promise<ScriptResult> {
    const startedAt = this.clock.now();
    const shell = def.mode === 'shell';
    const file = shell ? '/bin/sh' : (def.path ?? argv[0] ?? '');
    const args = shell ? ['-c', commandString(argv)] : argv.slice(1);
    const ids: { uid?: number; gid?: number } = {};
    const myUid = process.getuid?.();
    const myGid = process.getgid?.();
    if (def.user && def.user.uid !== myUid) ids.uid = def.user.uid;
    if (def.user && def.user.gid !== myGid) ids.gid = def.user.gid;

    let sub: ReturnType<typeof execa>;
    try {
      sub = execa(file, args, {
        ...ids,
        ...(shell || argv[0] === undefined ? {} : { argv0: argv[0] }),
        detached: true,
        cleanup: false,
        reject: false,
        buffer: false,
        stdin: 'ignore',
        stdout: this.capture ? 'pipe' : 'ignore',
        stderr: this.capture ? 'pipe' : 'ignore',
        env: this.env,
        extendEnv: false,
        shell: false,
        windowsHide: true,
      });
    } catch (e) {
      return Promise.resolve(this.spawnFailed(def, argv, startedAt, e));
    }

    const pid = sub.pid;
    const out = {
      stdout: [] as Buffer[],
      stderr: [] as Buffer[],
      kept: { stdout: 0, stderr: 0 },
      dropped: 0,
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      sub[stream]?.on('data', (chunk: Buffer) => {
        if (reported) return; // read on to end of file, nobody looks any more
        const room = this.maxOutput - out.kept[stream];
        if (room > 0) {
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
          out[stream].push(part);
          out.kept[stream] += part.length;
        }
        out.dropped += Math.max(0, chunk.length - Math.max(0, room));
      });
    }

    let reported = false;
    let timedOut: { signal: string; at: Micros } | null = null;
    let exited = false;
    const timers: TimerHandle[] = [];
    const killGroup = (sig: NodeJS.Signals): void => {
      if (exited || pid === undefined) return;
      try {
        process.kill(-pid, sig);
      } catch {
        try {
          sub.kill(sig);
        } catch {
          // already gone
        }
      }
    };
    if (def.timeoutUs !== undefined) {
      timers.push(
        this.clock.at(startedAt + def.timeoutUs, () => {
          const sig = def.timeoutSignal ?? 'SIGTERM';
          timedOut = { signal: sig, at: this.clock.now() };
          this.onEvent?.({ type: 'timeout', script: def.name, pid, signal: sig, at: timedOut.at });
          this.log.info({ script: def.name, pid }, `${def.name} timed out - sending ${sig}`);
          killGroup(sig);
          if (sig !== 'SIGKILL') {
            timers.push(
              this.clock.at(this.clock.now() + (def.killGraceUs ?? 2_000_000), () => {
                if (timedOut) timedOut.signal = 'SIGKILL';
                this.log.warn({ script: def.name, pid }, `Process [${pid}] didn't respond to SIGTERM`);
                killGroup('SIGKILL');
              }),
            );
          }
        }),
      );
    }

    this.onEvent?.({ type: 'start', script: def.name, argv, pid, at: startedAt });
    const build = (r: { signal?: string | null | undefined; exitCode?: number | null | undefined }) => {
      reported = true;
      const endedAt = this.clock.now();
      const common = {
        script: def.name,
        argv,
        pid,
        startedAt,
        endedAt,
        stdout: Buffer.concat(out.stdout).toString('utf8'),
        stderr: Buffer.concat(out.stderr).toString('utf8'),
        outputDropped: out.dropped,
      };
      let outcome: ScriptOutcome;
      let killDelayUs: Micros | undefined;
      const to = timedOut as { signal: string; at: Micros } | null;
      if (to) {
        outcome =
          !r.signal && typeof r.exitCode === 'number'
            ? { kind: 'timeout', signal: to.signal, code: r.exitCode }
            : { kind: 'timeout', signal: r.signal ?? to.signal };
        killDelayUs = endedAt - to.at;
      } else if (r.signal) outcome = { kind: 'signal', signal: r.signal };
      else if (typeof r.exitCode === 'number') outcome = { kind: 'exit', code: r.exitCode };
      else return this.spawnFailed(def, argv, startedAt, r);
      // Kill stragglers left in the group (keepalived does kill(-pid, SIGKILL) after a TERM death).
      if (pid !== undefined && outcome.kind !== 'exit') {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // group already empty
        }
      }
      const result: ScriptResult = {
        ...common,
        outcome,
        ...(killDelayUs !== undefined ? { killDelayUs } : {}),
      };
      this.report(result);
      return result;
    };
    const ended = () => {
      exited = true;
      for (const t of timers) t.cancel();
    };
    // The script has ended when its own process exits, as keepalived waits for its pid only. With
    // captureOutput a child it left in the background (`helper &`) may hold the pipes open for
    // ever, and execa's promise waits for them: the result waits OUTPUT_GRACE_US at most for output
    // in flight, and the pipes are read on to end of file, unref'd so they keep no process alive.
    const done = new Promise<ScriptResult>((resolve) => {
      let settled = false;
      const finish = (make: () => ScriptResult): void => {
        if (settled) return;
        settled = true;
        resolve(make());
      };
      const streamsClosed = Promise.resolve(sub);
      void streamsClosed.then(
        (r) =>
          finish(() => {
            ended();
            return build(r);
          }),
        (e: unknown) =>
          finish(() => {
            ended();
            return this.spawnFailed(def, argv, startedAt, e);
          }),
      );
      sub.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        ended();
        if (!this.capture) {
          finish(() => build({ signal, exitCode: code }));
          return;
        }
        for (const stream of [sub.stdout, sub.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
        const grace = this.clock.at(this.clock.now() + OUTPUT_GRACE_US, () => {
          finish(() => build({ signal, exitCode: code }));
        });
        void streamsClosed.then(
          () => grace.cancel(),
          () => grace.cancel(),
        );
      });
    });
    const live: Live = { pid, kill: killGroup, done };
    this.live.add(live);
    void done.then(() => this.live.delete(live));
    return done;
  }

  private spawnFailed(def: ScriptDef, argv: string[], startedAt: Micros, e: unknown): ScriptResult {
    const msg =
      typeof e === 'object' && e !== null && 'shortMessage' in e
        ? String((e as { shortMessage: unknown }).shortMessage)
        : e instanceof Error
          ? e.message
          : String(e);
    const error = new KaError('KA_ERR_NOTIFY_SPAWN', `Error exec-ing command '${argv[0] ?? ''}': ${msg}`, {
      script: def.name,
    });
    this.counters?.inc('KA_ERR_NOTIFY_SPAWN');
    const result: ScriptResult = {
      script: def.name,
      argv,
      outcome: { kind: 'spawn-error', error },
      startedAt,
      endedAt: this.clock.now(),
      stdout: '',
      stderr: '',
      outputDropped: 0,
    };
    this.report(result);
    return result;
  }

  private report(r: ScriptResult): void {
    this.counters?.inc(`script_${r.outcome.kind}`);
    const fields = {
      script: r.script,
      pid: r.pid,
      outcome:
        r.outcome.kind === 'spawn-error' || r.outcome.kind === 'dropped' ? r.outcome.error.code : r.outcome,
      ...(r.stdout ? { stdout: r.stdout } : {}),
      ...(r.stderr ? { stderr: r.stderr } : {}),
      ...(r.outputDropped ? { outputDropped: r.outputDropped } : {}),
    };
    if (r.outcome.kind === 'spawn-error') this.log.error(fields, r.outcome.error.message);
    else if (r.stdout || r.stderr) this.log.info(fields, `${r.script} output`);
    else this.log.debug(fields, `${r.script} ended`);
    this.onEvent?.({ type: 'end', result: r });
  }
}

/** What the reaper needs from the system (the addon and /proc; an in-memory table in tests). */
export interface ChildWaitOps {
  /**
   * Our children that have ended and not been reaped (zombies). `id` tells a reused pid apart (the
   * start time), '' when unknown. May list only the first one (waitid peek without /proc).
   */
  zombies(): Promise<{ pid: number; id: string }[]>;
  /** waitpid(pid, WNOHANG): the wait status when this call reaped it, else null. */
  reap(pid: number): number | null;
}

export interface OrphanReaperOptions {
  clock?: Clock;
  log?: Logger;
  /** A zombie is reaped once seen this long (default 2 s); see OrphanReaper. */
  minAgeUs?: Micros;
}

/**
 * Reaps orphans reparented to this process when it is PID 1 (a container) or a child subreaper:
 * a notify script's `sleep 1 &` outlives the script, and libuv waits only for the children it
 * spawned, so the orphan would stay a zombie. keepalived reaps every child (it waits for any pid).
 *
 * libuv must keep the exit status of its own children (a stolen one never emits 'exit', and a
 * script's result would never come). It reaps them in the poll phase right after SIGCHLD, on the
 * thread that spawned them; so a zombie still there `minAgeUs` later, with the same start time, is
 * not one libuv is about to wait for. The margin covers a checker worker thread (MISC_CHECK) whose
 * loop is busy. Sweeps run on SIGCHLD (after minAgeUs) and again while zombies remain.
 */
export class OrphanReaper {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly minAgeUs: Micros;
  private seen = new Map<number, { id: string; at: Micros }>();
  private timer: TimerHandle | null = null;
  private current: Promise<number> | null = null;
  /** Orphans reaped so far. */
  reaped = 0;

  constructor(
    private readonly ops: ChildWaitOps,
    opts: OrphanReaperOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.minAgeUs = opts.minAgeUs ?? 2_000_000;
  }

  /** A child ended (SIGCHLD): sweep once minAgeUs has passed. */
  poke(): void {
    if (this.timer) return;
    this.timer = this.clock.at(this.clock.now() + this.minAgeUs, () => {
      this.timer = null;
      void this.sweep();
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * One pass: reap zombies first seen at least minAgeUs ago, remember the others. Resolves with the
   * number reaped (a call during a pass gets that pass's); never rejects.
   */
  sweep(): Promise<number> {
    if (!this.current) {
      this.current = this.pass().finally(() => {
        this.current = null;
      });
    }
    return this.current;
  }

  private async pass(): Promise<number> {
    let n = 0;
    try {
      const now = this.clock.now();
      const next = new Map<number, { id: string; at: Micros }>();
      // a peek lists one zombie at a time: list again after each reap (bounded)
      for (let round = 0; round < 1024; round++) {
        let reapedNow = 0;
        for (const z of await this.ops.zombies()) {
          if (next.has(z.pid)) continue;
          const prev = this.seen.get(z.pid);
          if (prev && prev.id === z.id && now - prev.at >= this.minAgeUs) {
            const status = this.ops.reap(z.pid);
            this.seen.delete(z.pid);
            if (status === null) continue;
            reapedNow++;
            this.log.debug(
              { pid: z.pid, status: describeWaitStatus(status) },
              `Reaped orphan process ${z.pid}`,
            );
          } else {
            next.set(z.pid, prev && prev.id === z.id ? prev : { id: z.id, at: now });
          }
        }
        n += reapedNow;
        if (reapedNow === 0) break;
      }
      // only what is still a zombie is remembered: a pid reaped by libuv and reused starts afresh
      this.seen = next;
      if (next.size > 0) this.poke();
    } catch (e) {
      this.log.warn({ err: e }, `orphan reaper: ${(e as Error).message}`);
    }
    this.reaped += n;
    return n;
  }
}

/** A wait status as text, for logs: `exit 3` or `signal 9`. */
export function describeWaitStatus(status: number): string {
  const sig = status & 0x7f;
  return sig === 0 ? `exit ${(status >> 8) & 0xff}` : `signal ${sig}`;
}

/** Field 3 (state) and 22 (start time) of /proc/PID/stat, after the command name in parentheses. */
function statFields(stat: string): { state: string; start: string } | null {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return f[0] && f[19] ? { state: f[0], start: f[19] } : null;
}

/**
 * The addon's waitid/waitpid, and /proc for the full list of zombie children when /proc is this pid
 * namespace's (a container's PID 1 with its own /proc); else a waitid peek, one zombie at a time.
 */
export function systemChildWaitOps(): ChildWaitOps {
  const native = addon();
  const viaProc = async (): Promise<{ pid: number; id: string }[] | null> => {
    const self = await readFile('/proc/self/stat', 'latin1').catch(() => '');
    if (Number.parseInt(self, 10) !== process.pid) return null;
    const tids = await readdir('/proc/self/task').catch(() => null);
    if (!tids) return null;
    const pids = new Set<number>();
    for (const tid of tids) {
      const list = await readFile(`/proc/self/task/${tid}/children`, 'latin1').catch(() => null);
      if (list === null) return null; // kernel without CONFIG_PROC_CHILDREN
      for (const w of list.split(' ')) if (w) pids.add(Number(w));
    }
    const out: { pid: number; id: string }[] = [];
    for (const pid of pids) {
      const f = statFields(await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => ''));
      if (f?.state === 'Z') out.push({ pid, id: f.start });
    }
    return out;
  };
  return {
    async zombies() {
      const listed = await viaProc();
      if (listed) return listed;
      const [pid] = native.waitidPeek();
      return pid > 0 ? [{ pid, id: '' }] : [];
    },
    reap(pid) {
      const [rc, status] = native.waitpidNoHang(pid);
      return rc === pid ? status : null;
    },
  };
}

/** null: checked, not needed (or not possible); undefined: not checked yet. */
let orphanReaper: OrphanReaper | null | undefined;

/**
 * Starts the process-wide OrphanReaper (once) when this process is PID 1 or a child subreaper;
 * ScriptRunner calls it. Returns it, or null when orphans are not ours to reap. Without the addon
 * as PID 1 it warns that orphans will stay zombies.
 */
export function startOrphanReaper(log: Logger = silentLogger): OrphanReaper | null {
  if (orphanReaper !== undefined) return orphanReaper;
  orphanReaper = null;
  let subreaper = false;
  try {
    subreaper = process.pid !== 1 && addon().getChildSubreaper();
    if (process.pid !== 1 && !subreaper) return null;
    orphanReaper = new OrphanReaper(systemChildWaitOps(), { log });
  } catch (e) {
    if (process.pid === 1)
      log.warn(
        { err: e },
        'running as PID 1 without the native addon: orphaned processes of scripts will stay zombies',
      );
    return null;
  }
  const r = orphanReaper;
  process.on('SIGCHLD', () => r.poke());
  r.poke();
  log.info(
    `${process.pid === 1 ? 'running as PID 1' : 'child subreaper'}: orphaned processes of scripts are reaped`,
  );
  return r;
}
