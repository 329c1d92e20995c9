import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import type { ScriptOutcome } from '../../../../src/notify/script.js';
import { RiseFall, type ScriptState, VrrpScriptTracker } from '../../../../src/vrrp/track/script.js';

const OK: ScriptOutcome = { kind: 'exit', code: 0 };
const KO: ScriptOutcome = { kind: 'exit', code: 3 };
const TO: ScriptOutcome = { kind: 'timeout', signal: 'SIGTERM' };

/** Let promise callbacks run (the fake exec resolves at once). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Run a tracker on a fake clock, 1 s interval, feeding `results` one per run; returns transitions with times. */
async function sequence(
  results: ScriptOutcome[],
  rise: number,
  fall: number,
  initFail = false,
): Promise<{ changes: Array<[number, ScriptState]>; runs: number[]; lines: string[] }> {
  const clock = new FakeClock(0);
  const changes: Array<[number, ScriptState]> = [];
  const runs: number[] = [];
  const lines: string[] = [];
  const log = { info: (_o: unknown, m: string) => lines.push(m), warn: () => {} } as never;
  let i = 0;
  const tr = new VrrpScriptTracker(
    {
      name: 'chk',
      script: { name: 'chk', argv: ['/bin/true'] },
      intervalUs: 1_000_000,
      rise,
      fall,
      initFail,
    },
    {
      clock,
      log,
      exec: async () => {
        runs.push(clock.now());
        return results[i++] ?? OK;
      },
      onChange: (s, at) => changes.push([at, s]),
    },
  );
  tr.start();
  await flush();
  for (let k = 1; k < results.length; k++) {
    clock.advance(1_000_000);
    await flush();
  }
  tr.stop();
  return { changes, runs, lines };
}

describe('RiseFall counter (keepalived vrrp_script result)', () => {
  it('first result decides when not init_fail', () => {
    const a = new RiseFall(3, 3);
    expect(a.state).toBe('unknown');
    expect(a.feed(true)).toBe('up');
    const b = new RiseFall(3, 3);
    expect(b.feed(false)).toBe('down');
  });

  it('init_fail starts down and needs rise successes', () => {
    const c = new RiseFall(2, 1, true);
    expect(c.state).toBe('down');
    expect(c.feed(true)).toBeNull();
    expect(c.feed(true)).toBe('up');
  });

  it('a failure interrupts a rise; a success interrupts a fall', () => {
    const c = new RiseFall(2, 2);
    c.feed(true); // up, result = 3
    expect(c.feed(false)).toBeNull(); // 2
    expect(c.feed(true)).toBeNull(); // back to 3, still up
    expect(c.feed(false)).toBeNull(); // 2
    expect(c.feed(false)).toBe('down'); // 0
    expect(c.feed(true)).toBeNull(); // 1
    expect(c.feed(false)).toBeNull(); // 0, still down
    expect(c.feed(true)).toBeNull(); // 1
    expect(c.feed(true)).toBe('up');
  });

  it("considered successful on reload ('good'): starts up, one failure makes it down, successes keep it up", () => {
    const g = new RiseFall(3, 2, 'good');
    expect(g.state).toBe('up');
    expect(g.feed(true)).toBeNull(); // result rise+fall-1: still up
    expect(g.feed(false)).toBeNull(); // fall 2 from the top: one failure is not enough now
    expect(g.feed(false)).toBe('down');
    const h = new RiseFall(3, 2, 'good');
    expect(h.feed(false)).toBe('down'); // at result = rise, a single failure is enough
    // 'fail' is init_fail (the boolean form is kept)
    expect(new RiseFall(2, 1, 'fail').state).toBe('down');
  });

  it('rejects rise/fall below 1', () => {
    expect(() => new RiseFall(0, 1)).toThrow(expect.objectContaining({ code: 'KA_ERR_TRACK_BAD_PARAM' }));
    expect(() => new RiseFall(1, 1.5)).toThrow(expect.objectContaining({ code: 'KA_ERR_TRACK_BAD_PARAM' }));
  });
});

describe('VrrpScriptTracker on a fake clock', () => {
  it('lab case fall 2 rise 2: up at 0 s, down at 2 s, up at 4 s', async () => {
    const { changes, runs } = await sequence([OK, KO, KO, OK, OK, OK], 2, 2);
    expect(runs).toEqual([0, 1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000]);
    expect(changes).toEqual([
      [0, 'up'],
      [2_000_000, 'down'],
      [4_000_000, 'up'],
    ]);
  });

  it('init_fail rise 3 fall 1: up after the third success, down on the next failure', async () => {
    const { changes } = await sequence([OK, OK, OK, KO, OK], 3, 1, true);
    expect(changes).toEqual([
      [2_000_000, 'up'],
      [3_000_000, 'down'],
    ]);
  });

  it('first failure reports down at once; timeouts and signals count as failures', async () => {
    const { changes, lines } = await sequence([KO, OK, TO, { kind: 'signal', signal: 'SIGSEGV' }, OK], 1, 2);
    expect(changes).toEqual([
      [0, 'down'],
      [1_000_000, 'up'],
      [3_000_000, 'down'],
      [4_000_000, 'up'],
    ]);
    expect(lines).toContain('Script `chk` now returning 3');
    expect(lines).toContain('VRRP_Script(chk) failed (exited with status 3)');
    expect(lines).toContain('VRRP_Script(chk) succeeded');
    expect(lines).toContain('VRRP_Script(chk) failed (due to signal SIGSEGV)');
  });

  it('skips a run while the previous one is still going', async () => {
    const clock = new FakeClock(0);
    const lines: string[] = [];
    const pending: Array<(o: ScriptOutcome) => void> = [];
    const changes: Array<[number, ScriptState]> = [];
    const tr = new VrrpScriptTracker(
      { name: 'slow', script: { name: 'slow', argv: ['/bin/sleep', '9'] }, intervalUs: 1_000_000 },
      {
        clock,
        log: { info: (_o: unknown, m: string) => lines.push(m) } as never,
        exec: () => new Promise((r) => pending.push(r)),
        onChange: (s, at) => changes.push([at, s]),
      },
    );
    tr.start();
    clock.advance(1_000_000);
    clock.advance(1_000_000);
    expect(pending).toHaveLength(1);
    expect(lines.filter((l) => l.includes('already running'))).toHaveLength(2);
    clock.advance(500_000);
    pending[0]?.(KO);
    await flush();
    expect(changes).toEqual([[2_500_000, 'down']]);
    clock.advance(500_000); // next run at 3 s starts
    expect(pending).toHaveLength(2);
    tr.stop();
    expect(clock.armed).toBe(0);
  });

  it('passes timeout (default: interval), TERM then KILL after 2 s to the runner', async () => {
    const clock = new FakeClock(0);
    const defs: unknown[] = [];
    const tr = new VrrpScriptTracker(
      { name: 'chk', script: { name: 'x', argv: ['/bin/true'] }, intervalUs: 5_000_000 },
      {
        clock,
        exec: async (d) => {
          defs.push(d);
          return OK;
        },
        onChange: () => {},
      },
    );
    tr.start();
    await flush();
    tr.stop();
    expect(defs[0]).toMatchObject({
      name: 'VRRP_Script(chk)',
      timeoutUs: 5_000_000,
      timeoutSignal: 'SIGTERM',
      killGraceUs: 2_000_000,
    });
  });
});
