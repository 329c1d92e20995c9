/**
 * Runs the checker Scheduler in a worker_thread so that checker work (connect/close syscalls, TLS
 * handshakes, MD5, timers of thousands of checks) never delays the thread that sends VRRP adverts.
 * bench/check measured why: with 2,000 servers checked every second in the main thread, the event loop
 * stalled for hundreds of ms (connect(2) alone costs ~0.3 ms per check; see docs/CHECKERS.md).
 *
 * Protocol (structured-clone messages):
 *   main → worker  { type: 'add', rs: RealServerSpec } | { type: 'remove', id } | { type: 'stats' }
 *                  | { type: 'bfd', name, up } (a BFD session's state, for BFD_CHECK) | { type: 'stop' }
 *   worker → main  { type: 'event', ev: RealServerEvent } | { type: 'error', id?, code, message }
 *                  | { type: 'stats', stats: WorkerStats } | { type: 'stopped' } | { type: 'tid', tid }
 * `serveScheduler` is the worker side over any MessagePort-like endpoint, so the protocol is tested
 * in-thread with a MessageChannel; `CheckerWorker` is the main side.
 */

import { type MessagePort, Worker } from 'node:worker_threads';
import { Counters } from '../core/counters.js';
import { isKaError, KaError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { sendUnixDatagram } from '../sys/unix-dgram.js';
import { icmpPinger } from './icmp.js';
import type { Runner } from './index.js';
import { type RealServerSpec, Scheduler, TimerQueue } from './schedule.js';
import type { RealServerEvent } from './types.js';

export type ToWorker =
  | { type: 'add'; rs: RealServerSpec }
  | { type: 'remove'; id: string }
  | { type: 'bfd'; name: string; up: boolean }
  | { type: 'stats' }
  | { type: 'stop' };
export interface WorkerStats {
  attempts: number;
  failures: number;
  failCodes: Record<string, number>;
  inFlight: number;
  waiting: number;
  /** The worker's own counters (PING_CHECK's raw-socket refusals and ping(8) fallbacks, syslog errors). */
  counters: Record<string, number>;
}
export type FromWorker =
  | { type: 'event'; ev: RealServerEvent }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'error'; id?: string; code: string; message: string }
  | { type: 'stopped' }
  /** The worker thread's kernel tid, sent once at start (keepalived's checker_* keywords apply to it). */
  | { type: 'tid'; tid: number };

export interface WorkerOptions {
  maxConcurrent?: number;
  /** The worker logs checker failures itself (keepalived's wording) at this pino level; none when absent. */
  logLevel?: string;
  /** Log to stderr (the daemon's `-l`) rather than stdout. */
  logStderr?: boolean;
  /** keepalived -G: no syslog. */
  noSyslog?: boolean;
  /** syslog facility (default LOG_DAEMON) and ident suffix (`_NS_INSTANCE`). */
  logFacility?: number;
  identSuffix?: string;
}

/** The worker thread's own counters (syslog send errors), sent with each stats reply. */
const workerCounters = new Counters();

/** The checker side logs as keepalived's checker child: syslog ident Keepalived_healthcheckers, console with -l. */
function workerLogger(level: string, opts: WorkerOptions) {
  return createLogger({
    level,
    console: opts.logStderr ?? false,
    stderr: true,
    syslog: opts.noSyslog
      ? undefined
      : {
          facility: opts.logFacility ?? 3,
          identSuffix: opts.identSuffix ?? '',
          sink: { send: (path, data) => void sendUnixDatagram(path, data) },
          // reported with the stats, added to the daemon's log.syslog_errors
          onError: () => workerCounters.inc('log.syslog_errors'),
        },
  }).child({ proc: 'healthcheckers' });
}

interface Endpoint {
  postMessage(m: unknown): void;
  on(ev: 'message', fn: (m: unknown) => void): unknown;
}

/** Worker side: a Scheduler driven by messages on `port`. Returns the scheduler (for tests). */
export function serveScheduler(port: Endpoint, opts: WorkerOptions = {}, runner?: Runner): Scheduler {
  const send = (m: FromWorker): void => port.postMessage(m);
  const stats = { attempts: 0, failures: 0, failCodes: {} as Record<string, number> };
  const sched = new Scheduler({
    clock: new TimerQueue(),
    ...(opts.logLevel ? { logger: workerLogger(opts.logLevel, opts) } : {}),
    maxConcurrent: opts.maxConcurrent ?? 256,
    ...(runner ? { runner } : {}),
    onEvent: (ev) => send({ type: 'event', ev }),
    onAttempt: (_rs, _i, r) => {
      stats.attempts++;
      if (!r.ok) {
        stats.failures++;
        stats.failCodes[r.error.code] = (stats.failCodes[r.error.code] ?? 0) + 1;
      }
    },
  });
  port.on('message', (raw) => {
    const m = raw as ToWorker;
    try {
      switch (m?.type) {
        case 'add':
          sched.add(m.rs);
          break;
        case 'remove':
          sched.remove(m.id);
          break;
        case 'bfd':
          if (typeof m.name !== 'string' || typeof m.up !== 'boolean')
            throw new KaError('KA_ERR_CHECK_SPEC', 'bad bfd message');
          sched.setBfdState(m.name, m.up);
          break;
        case 'stats':
          send({
            type: 'stats',
            stats: {
              ...stats,
              failCodes: { ...stats.failCodes },
              inFlight: sched.inFlight,
              waiting: sched.waiting,
              counters: { ...icmpPinger.counters.snapshot(), ...workerCounters.snapshot() },
            },
          });
          break;
        case 'stop':
          sched.stop();
          send({ type: 'stopped' });
          break;
        default:
          throw new KaError(
            'KA_ERR_CHECK_SPEC',
            `unknown checker worker message ${JSON.stringify(m)?.slice(0, 80)}`,
          );
      }
    } catch (e) {
      const err: FromWorker = {
        type: 'error',
        code: isKaError(e) ? e.code : 'KA_ERR_CHECK_IO',
        message: (e as Error).message,
      };
      if (m?.type === 'add') err.id = m.rs?.id;
      send(err);
    }
  });
  return sched;
}

/**
 * V8 limits of the checker thread. A young generation of 8 MiB instead of V8's default (up to 48):
 * nearly everything a check allocates dies within the check, so scavenges stay cheap, and the heap
 * no longer grows by tens of MiB of garbage between collections (bench/check/percheck.mjs: RSS
 * about 20 MiB lower at 2,000 checks/s, CPU per check unchanged). The old generation is left
 * unbounded: a limit there would end the thread on a large configuration.
 */
export const CHECKER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 8 } as const;

/** Main side. `endpoint` defaults to a new worker thread running worker-entry.js. */
export class CheckerWorker {
  private readonly endpoint: Endpoint & { terminate?: () => Promise<number>; unref?: () => void };
  private stopWaiters: Array<() => void> = [];
  private statsWaiters: Array<(s: WorkerStats) => void> = [];

  constructor(
    private readonly handlers: {
      onEvent: (ev: RealServerEvent) => void;
      onError?: (e: KaError) => void;
      /** The worker's kernel thread id, once it started. */
      onTid?: (tid: number) => void;
    },
    opts: WorkerOptions & { endpoint?: MessagePort } = {},
  ) {
    this.endpoint =
      opts.endpoint ??
      new Worker(new URL('./worker-entry.js', import.meta.url), {
        workerData: {
          maxConcurrent: opts.maxConcurrent,
          logLevel: opts.logLevel,
          logStderr: opts.logStderr,
          noSyslog: opts.noSyslog,
          logFacility: opts.logFacility,
          identSuffix: opts.identSuffix,
        },
        resourceLimits: CHECKER_RESOURCE_LIMITS,
      });
    this.endpoint.on('message', (raw) => {
      const m = raw as FromWorker;
      if (m.type === 'event') this.handlers.onEvent(m.ev);
      else if (m.type === 'error')
        this.handlers.onError?.(new KaError(m.code, m.message, m.id ? { id: m.id } : {}));
      else if (m.type === 'stats') for (const w of this.statsWaiters.splice(0)) w(m.stats);
      else if (m.type === 'stopped') for (const w of this.stopWaiters.splice(0)) w();
      else if (m.type === 'tid') this.handlers.onTid?.(m.tid);
    });
  }

  add(rs: RealServerSpec): void {
    this.post({ type: 'add', rs });
  }

  remove(id: string): void {
    this.post({ type: 'remove', id });
  }

  /** A BFD session's state, for the BFD_CHECK checkers naming it. */
  bfd(name: string, up: boolean): void {
    this.post({ type: 'bfd', name, up });
  }

  stats(): Promise<WorkerStats> {
    const p = new Promise<WorkerStats>((r) => this.statsWaiters.push(r));
    this.post({ type: 'stats' });
    return p;
  }

  /** Stop all checks; resolves once the worker confirmed, then ends the thread. */
  async stop(): Promise<void> {
    const done = new Promise<void>((r) => this.stopWaiters.push(r));
    this.post({ type: 'stop' });
    await done;
    await this.endpoint.terminate?.();
  }

  private post(m: ToWorker): void {
    this.endpoint.postMessage(m);
  }
}
