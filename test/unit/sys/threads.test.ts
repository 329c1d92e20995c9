/** processThreads(): the tids of /proc/self/task, the main thread's and a worker_thread's included. */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { processThreads } from '../../../src/sys/sched.js';

describe('processThreads', () => {
  it('lists the main thread (tid = pid) and a worker_thread started afterwards', async () => {
    const before = processThreads();
    expect(before).toContain(process.pid);
    const w = new Worker(
      "const { parentPort } = require('node:worker_threads'); parentPort.postMessage(0); setInterval(() => {}, 1000);",
      { eval: true },
    );
    try {
      await new Promise((resolve) => w.once('message', resolve));
      const after = processThreads();
      expect(after.every((t) => Number.isInteger(t) && t > 0)).toBe(true);
      expect(after.filter((t) => !before.includes(t)).length).toBeGreaterThanOrEqual(1);
    } finally {
      await w.terminate();
    }
  });
});
