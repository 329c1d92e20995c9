/**
 * The scheduler with FILE_CHECK's watched file (schedule.ts + file.ts): a change of the file reaches
 * the real server although delay_loop is an hour (so no poll could have seen it), without retries,
 * and waiting FILE_CHECKs take no concurrency slot (another checker keeps running with one slot).
 * Real files and the real clock; every wait is for an event, bounded only to fail rather than hang.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../../src/check/index.js';
import { Scheduler } from '../../../src/check/schedule.js';
import type { CheckSpec, RealServerEvent } from '../../../src/check/types.js';
import { systemClock } from '../../../src/core/clock.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-filesched-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3600;

function fileSpec(name: string, value: string): CheckSpec {
  const file = join(dir, name);
  writeFileSync(file, value);
  // retry 3: a polled checker would need four failing reads to go down
  return {
    kind: 'FILE_CHECK',
    file,
    delayLoop: HOUR,
    retry: 3,
    delayBeforeRetry: HOUR,
    warmup: HOUR,
    alpha: false,
  };
}

/** Resolves with the first event `pred` accepts (fails the test after 10 s rather than hang). */
function next(events: RealServerEvent[], pred: (e: RealServerEvent) => boolean): Promise<RealServerEvent> {
  const seen = events.length;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const e = events.slice(seen).find(pred);
      if (e) resolve(e);
      else if (Date.now() - started > 10_000)
        reject(new Error(`no such event; got ${JSON.stringify(events)}`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

describe('Scheduler with a watched FILE_CHECK', () => {
  it('a write applies at once, with no retries and no delay_loop', async () => {
    const events: RealServerEvent[] = [];
    const sched = new Scheduler({ clock: systemClock, onEvent: (e) => events.push(e) });
    const spec = fileSpec('a', '0\n');
    try {
      const first = next(events, (e) => e.checker?.up === undefined && e.up);
      sched.add({ id: 'rs', weight: 1, checkers: [spec] });
      await first;
      // the first read happened at start-up although warmup is an hour; now the watch waits
      await new Promise((r) => setTimeout(r, 100));
      const down = next(events, (e) => !e.up);
      writeFileSync((spec as { file: string }).file, '1\n');
      expect(await down).toMatchObject({
        realServer: 'rs',
        up: false,
        checker: { kind: 'FILE_CHECK', up: false },
      });
      const up = next(events, (e) => e.up && e.checker?.up === true);
      writeFileSync((spec as { file: string }).file, '0\n');
      expect(await up).toMatchObject({ realServer: 'rs', up: true });
      expect(sched.state('rs')).toEqual({ up: true, weight: 1, checkers: [true] });
    } finally {
      sched.stop();
    }
  });

  it('waiting FILE_CHECKs hold no slot: with maxConcurrent 1 another checker still runs', async () => {
    const events: RealServerEvent[] = [];
    let miscRuns = 0;
    const sched = new Scheduler({
      clock: systemClock,
      maxConcurrent: 1,
      runner: async (spec, signal) => {
        if (spec.kind !== 'MISC_CHECK') return runCheck(spec, signal);
        miscRuns++;
        return { ok: true };
      },
      onEvent: (e) => events.push(e),
    });
    const misc: CheckSpec = {
      kind: 'MISC_CHECK',
      miscPath: ['x'],
      delayLoop: 0.01,
      retry: 0,
      delayBeforeRetry: 0.01,
      warmup: 0,
      alpha: false,
    };
    try {
      sched.add({ id: 'f1', weight: 1, checkers: [fileSpec('b', '0')] });
      sched.add({ id: 'f2', weight: 1, checkers: [fileSpec('c', '0')] });
      await new Promise((r) => setTimeout(r, 100));
      sched.add({ id: 'm', weight: 1, checkers: [misc] });
      const before = miscRuns;
      await new Promise((r) => setTimeout(r, 300));
      expect(miscRuns - before).toBeGreaterThan(0);
      expect(sched.inFlight).toBeLessThanOrEqual(1);
      expect(sched.waiting).toBe(0);
    } finally {
      sched.stop();
    }
  });
});
