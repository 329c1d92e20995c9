/**
 * Thread scheduling for keepalived's process tuning keywords: `vrrp_priority` / `checker_priority`
 * (nice), `vrrp_rt_priority` / `checker_rt_priority` (SCHED_RR) and `vrrp_rlimit_rttime` /
 * `checker_rlimit_rttime` (RLIMIT_RTTIME). Nice and policy are per thread (a worker_thread passes its
 * own `gettid()`); the rlimit is per process. `*_no_swap` (mlockall) is not offered: with locked pages
 * V8 aborts the process once garbage collection unmaps heap memory (src/daemon/priorities.ts).
 */
import { SysError, SysErrors } from './errors.js';
import { addon, k, sys } from './native.js';

function checkInt(what: string, v: number, min: number, max: number, syscall: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SysError(
      SysErrors.KA_ERR_SYS_BAD_ARG,
      `${what} must be an integer in ${min}..${max}, got ${String(v)}`,
      '',
      syscall,
      { [what]: v },
    );
  }
}

const MAX_TID = 2 ** 31 - 1;

/** The calling thread's kernel tid (each worker_thread has its own). */
export function gettid(): number {
  return addon().gettid();
}

/** Sets one thread's nice value (-20..19); lowering it needs CAP_SYS_NICE. */
export function setThreadNice(tid: number, nice: number): void {
  checkInt('tid', tid, 1, MAX_TID, 'setpriority');
  checkInt('nice', nice, -20, 19, 'setpriority');
  sys(() => addon().setThreadNice(tid, nice), { tid, nice });
}

/**
 * Puts one thread in SCHED_RR at `priority` (1..99), or back to SCHED_OTHER with 0. SCHED_RR is set
 * with SCHED_RESET_ON_FORK, as keepalived does, so processes spawned from it (notify scripts) do not
 * inherit the real-time policy.
 */
export function setThreadRealtime(tid: number, priority: number): void {
  checkInt('tid', tid, 1, MAX_TID, 'sched_setscheduler');
  checkInt('priority', priority, 0, 99, 'sched_setscheduler');
  const policy = priority === 0 ? k('SCHED_OTHER') : k('SCHED_RR') | k('SCHED_RESET_ON_FORK');
  sys(() => addon().setThreadScheduler(tid, policy, priority), { tid, priority });
}

/**
 * Sets the soft RLIMIT_RTTIME to `usec` µs of CPU a real-time thread may use without blocking (then
 * SIGXCPU); `Infinity` removes it. The hard limit is left as it is: lowering it cannot be undone
 * without CAP_SYS_RESOURCE, which would stop a reload from raising the limit again (keepalived lowers
 * both; a soft limit alone gives the same signal). Process-wide.
 */
export function setRlimitRttime(usec: number): void {
  if (usec !== Number.POSITIVE_INFINITY) checkInt('usec', usec, 1, Number.MAX_SAFE_INTEGER, 'setrlimit');
  const n = addon();
  const res = k('RLIMIT_RTTIME');
  const soft = usec === Number.POSITIVE_INFINITY ? -1 : usec;
  sys(
    () => {
      const [, hard] = n.getRlimit(res);
      n.setRlimit(res, soft, hard);
    },
    { usec },
  );
}

const restCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Puts the calling thread to sleep for about `usec` µs (a futex wait through Atomics.wait, which
 * Node allows on the main thread). A real-time thread's RLIMIT_RTTIME count restarts only when the
 * thread wakes from a sleep: returning to the event loop does not restart it while work is pending
 * (epoll_wait with a zero timeout, setImmediate turns). Under SCHED_RR a 20–50 µs wait sleeps and
 * costs 40–75 µs; a 10 µs one was seen to return without sleeping.
 */
export function restBriefly(usec: number): void {
  Atomics.wait(restCell, 0, 0, usec / 1000);
}
