/** Entry of the checker worker_thread (see worker.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { gettid } from '../sys/sched.js';
import { type FromWorker, serveScheduler, type WorkerOptions } from './worker.js';

if (parentPort) {
  serveScheduler(parentPort, (workerData ?? {}) as WorkerOptions);
  // The main thread applies checker_priority / checker_rt_priority to this thread by its tid.
  let tid: number | undefined;
  try {
    tid = gettid();
  } catch {
    tid = undefined; // addon without gettid: no per-thread scheduling for the checkers
  }
  if (tid !== undefined) parentPort.postMessage({ type: 'tid', tid } satisfies FromWorker);
}
