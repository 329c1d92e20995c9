/**
 * OrphanReaper (src/notify/script.ts) over an in-memory process table: which zombies it reaps, and
 * that it never takes the exit status of a child libuv is about to wait for. The real waitid/waitpid
 * and /proc path runs as PID 1 in a pid namespace: test/net/notify/script-reaper.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { type ChildWaitOps, describeWaitStatus, OrphanReaper } from '../../../src/notify/script.js';

/** Our children: running or ended (zombie) with a start time; reaping removes them. */
class ProcessTable implements ChildWaitOps {
  readonly procs = new Map<number, { start: string; status: number | null }>();
  readonly reapCalls: number[] = [];
  /** Like waitid without /proc: only the first zombie (lowest pid here) is visible. */
  constructor(private readonly peekOnly = false) {}
  spawn(pid: number, start: string): void {
    this.procs.set(pid, { start, status: null });
  }
  exit(pid: number, status: number): void {
    const p = this.procs.get(pid);
    if (p) p.status = status;
  }
  /** libuv reaping one of its own children. */
  libuvWait(pid: number): void {
    this.procs.delete(pid);
  }
  async zombies(): Promise<{ pid: number; id: string }[]> {
    const z = [...this.procs.entries()]
      .filter(([, p]) => p.status !== null)
      .sort(([a], [b]) => a - b)
      .map(([pid, p]) => ({ pid, id: this.peekOnly ? '' : p.start }));
    return this.peekOnly ? z.slice(0, 1) : z;
  }
  reap(pid: number): number | null {
    this.reapCalls.push(pid);
    const p = this.procs.get(pid);
    if (!p || p.status === null) return null;
    this.procs.delete(pid);
    return p.status;
  }
}

const MIN_AGE = 2_000_000;

describe('OrphanReaper', () => {
  it('reaps a zombie only once seen minAgeUs apart, and never touches one libuv reaps meanwhile', async () => {
    const clock = new FakeClock();
    const t = new ProcessTable();
    const r = new OrphanReaper(t, { clock, minAgeUs: MIN_AGE });
    t.spawn(100, 's100'); // an orphan reparented to us
    t.spawn(200, 's200'); // a child libuv spawned
    t.exit(100, 0x0100);
    t.exit(200, 0x0700);
    expect(await r.sweep()).toBe(0);
    expect(t.reapCalls).toEqual([]);
    t.libuvWait(200); // libuv's turn after SIGCHLD
    clock.advance(MIN_AGE - 1);
    expect(await r.sweep()).toBe(0);
    clock.advance(1);
    expect(await r.sweep()).toBe(1);
    expect(t.reapCalls).toEqual([100]);
    expect(t.procs.size).toBe(0);
    expect(r.reaped).toBe(1);
  });

  it('a pid reused with another start time between two sweeps counts as new', async () => {
    const clock = new FakeClock();
    const t = new ProcessTable();
    const r = new OrphanReaper(t, { clock, minAgeUs: MIN_AGE });
    t.spawn(300, 'old');
    t.exit(300, 0);
    await r.sweep();
    t.libuvWait(300);
    t.spawn(300, 'new'); // reused, and already ended
    t.exit(300, 0x0200);
    clock.advance(MIN_AGE);
    expect(await r.sweep()).toBe(0);
    expect(t.reapCalls).toEqual([]);
    clock.advance(MIN_AGE);
    expect(await r.sweep()).toBe(1);
    expect(t.reapCalls).toEqual([300]);
  });

  it('a zombie that went away between two sweeps is forgotten, not reaped when its pid comes back', async () => {
    const clock = new FakeClock();
    const t = new ProcessTable(true); // peek: no start time to tell reuse apart
    const r = new OrphanReaper(t, { clock, minAgeUs: MIN_AGE });
    t.spawn(400, '');
    t.exit(400, 0);
    await r.sweep();
    t.libuvWait(400);
    clock.advance(MIN_AGE);
    await r.sweep(); // sees nothing: 400 is forgotten
    t.spawn(400, '');
    t.exit(400, 0);
    expect(await r.sweep()).toBe(0);
    expect(t.reapCalls).toEqual([]);
  });

  it('with a one-at-a-time peek, every orphan is reaped, one newly seen per sweep', async () => {
    const clock = new FakeClock();
    const t = new ProcessTable(true);
    const r = new OrphanReaper(t, { clock, minAgeUs: MIN_AGE });
    for (const pid of [11, 12, 13]) {
      t.spawn(pid, '');
      t.exit(pid, 0);
    }
    let sweeps = 0;
    while (t.procs.size > 0 && sweeps < 10) {
      await r.sweep();
      clock.advance(MIN_AGE);
      sweeps++;
    }
    expect(t.procs.size).toBe(0);
    expect(t.reapCalls).toEqual([11, 12, 13]);
    expect(sweeps).toBe(4);
  });

  it('with the full list, all orphans old enough go in one sweep', async () => {
    const clock = new FakeClock();
    const t = new ProcessTable();
    const r = new OrphanReaper(t, { clock, minAgeUs: MIN_AGE });
    for (let pid = 20; pid < 70; pid++) {
      t.spawn(pid, `s${pid}`);
      t.exit(pid, 0);
    }
    await r.sweep();
    clock.advance(MIN_AGE);
    expect(await r.sweep()).toBe(50);
    expect(t.procs.size).toBe(0);
  });

  it('SIGCHLD pokes arm one sweep minAgeUs later, re-armed while zombies remain', async () => {
    const clock = new FakeClock();
    const t = new ProcessTable();
    const r = new OrphanReaper(t, { clock, minAgeUs: MIN_AGE });
    t.spawn(500, 's');
    t.exit(500, 0);
    r.poke();
    r.poke();
    expect(clock.armed).toBe(1);
    clock.advance(MIN_AGE); // first sweep: seen, re-armed
    await new Promise<void>((ok) => setImmediate(ok));
    expect(t.procs.size).toBe(1);
    expect(clock.armed).toBe(1);
    clock.advance(MIN_AGE); // second sweep: reaped, nothing left to watch
    await new Promise<void>((ok) => setImmediate(ok));
    expect(t.procs.size).toBe(0);
    expect(clock.armed).toBe(0);
    r.stop();
  });

  it('a failing listing is logged, not thrown', async () => {
    const lines: string[] = [];
    const log = { warn: (_o: unknown, m: string) => lines.push(m), debug: () => {} };
    const ops: ChildWaitOps = {
      zombies: () => Promise.reject(new Error('boom')),
      reap: () => null,
    };
    const r = new OrphanReaper(ops, { log: log as never });
    expect(await r.sweep()).toBe(0);
    expect(lines).toEqual(['orphan reaper: boom']);
  });

  it('describes wait statuses', () => {
    expect(describeWaitStatus(0x0300)).toBe('exit 3');
    expect(describeWaitStatus(0)).toBe('exit 0');
    expect(describeWaitStatus(9)).toBe('signal 9');
    expect(describeWaitStatus(0x80 | 11)).toBe('signal 11');
  });
});
