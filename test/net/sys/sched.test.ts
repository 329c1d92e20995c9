/**
 * Thread scheduling (src/sys/sched.ts) as root: each setting is applied, read back from /proc
 * (/proc/self/task/<tid>/stat for nice, policy and rt_priority; /proc/self/limits) and restored.
 * Per-thread settings are applied to a worker_thread's tid, which also proves the addon loads and
 * reports a distinct tid inside a worker.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SysErrors } from '../../../src/sys/errors.js';
import { gettid, setRlimitRttime, setThreadNice, setThreadRealtime } from '../../../src/sys/sched.js';
import { describeIf, needRoot } from '../../support/privilege.js';

interface TaskSched {
  nice: number;
  rtPriority: number;
  policy: number;
}

/** Fields 19 (nice), 40 (rt_priority) and 41 (policy) of proc(5) stat, counted after the comm field. */
function taskSched(tid: number): TaskSched {
  const text = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state).
  const at = (field: number) => Number(f[field - 3]);
  return { nice: at(19), rtPriority: at(40), policy: at(41) };
}

/** The "Max realtime timeout" soft and hard limits from /proc/self/limits. */
function rttimeLimit(): { soft: string; hard: string } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max realtime timeout'));
  const [soft, hard] = (line ?? '').slice('Max realtime timeout'.length).trim().split(/\s+/);
  return { soft: soft ?? '', hard: hard ?? '' };
}

const SCHED_OTHER = 0;
const SCHED_RR = 2;

describeIf('thread scheduling syscalls', needRoot, () => {
  let worker: Worker;
  let workerTid = 0;
  let workerSelfTid = 0;

  beforeAll(async () => {
    const path = new URL('../../../native/build/Release/keepalived_ts_native.node', import.meta.url).pathname;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const n = require(workerData);
      const self = require('node:fs').readlinkSync('/proc/thread-self');
      parentPort.postMessage({ tid: n.gettid(), self: Number(self.split('/').pop()) });
      setInterval(() => {}, 1000);
    `;
    worker = new Worker(code, { eval: true, workerData: path });
    const m = await new Promise<{ tid: number; self: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    workerTid = m.tid;
    workerSelfTid = m.self;
  });

  afterAll(async () => {
    await worker?.terminate();
  });

  it('gettid names the calling thread, in the main thread and in a worker', () => {
    const own = gettid();
    expect(own).toBe(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    expect(workerTid).toBe(workerSelfTid);
    expect(workerTid).not.toBe(own);
  });

  it('setThreadNice sets one thread and leaves the others', () => {
    const before = taskSched(workerTid);
    const mine = taskSched(gettid()).nice;
    try {
      setThreadNice(workerTid, -15);
      expect(taskSched(workerTid).nice).toBe(-15);
      expect(taskSched(gettid()).nice).toBe(mine);
      setThreadNice(workerTid, 7);
      expect(taskSched(workerTid).nice).toBe(7);
    } finally {
      setThreadNice(workerTid, before.nice);
    }
    expect(taskSched(workerTid).nice).toBe(before.nice);
  });

  it('setThreadRealtime switches to SCHED_RR and back to SCHED_OTHER', () => {
    expect(taskSched(workerTid)).toMatchObject({ policy: SCHED_OTHER, rtPriority: 0 });
    try {
      setThreadRealtime(workerTid, 42);
      expect(taskSched(workerTid)).toMatchObject({ policy: SCHED_RR, rtPriority: 42 });
      expect(taskSched(gettid()).policy).toBe(SCHED_OTHER);
    } finally {
      setThreadRealtime(workerTid, 0);
    }
    expect(taskSched(workerTid)).toMatchObject({ policy: SCHED_OTHER, rtPriority: 0 });
  });

  it('setRlimitRttime sets the soft RLIMIT_RTTIME, keeps the hard one, and Infinity removes it', () => {
    const before = rttimeLimit();
    expect(before.soft).toBe('unlimited'); // restoring a finite original would need its exact value
    try {
      setRlimitRttime(250_000);
      expect(rttimeLimit()).toEqual({ soft: '250000', hard: before.hard });
    } finally {
      setRlimitRttime(Number.POSITIVE_INFINITY);
    }
    expect(rttimeLimit()).toEqual(before);
  });

  it('bad arguments and refused calls are typed errors', () => {
    expect(() => setThreadNice(workerTid, 20)).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }),
    );
    expect(() => setThreadNice(0, 0)).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }),
    );
    expect(() => setThreadRealtime(workerTid, 100)).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }),
    );
    expect(() => setThreadRealtime(workerTid, 1.5)).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }),
    );
    expect(() => setRlimitRttime(0)).toThrow(expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }));
    // A tid that is not running: the kernel answers ESRCH.
    expect(() => setThreadNice(2 ** 31 - 2, 0)).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_CALL, errno: 'ESRCH', syscall: 'setpriority' }),
    );
    expect(() => setThreadRealtime(2 ** 31 - 2, 1)).toThrow(
      expect.objectContaining({
        code: SysErrors.KA_ERR_SYS_CALL,
        errno: 'ESRCH',
        syscall: 'sched_setscheduler',
      }),
    );
  });
});
