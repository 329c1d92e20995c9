/** Entry of the checker worker_thread (see worker.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { serveScheduler, type WorkerOptions } from './worker.js';

if (parentPort) serveScheduler(parentPort, (workerData ?? {}) as WorkerOptions);
