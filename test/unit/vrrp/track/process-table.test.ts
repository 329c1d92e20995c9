/**
 * The shared process table (src/vrrp/track/process.ts ProcessTable) behind every track_process:
 * one /proc read per exec event however many trackers there are, one rescan after lost events and
 * one scan per poll for all of them, the initial scan shared by trackers starting together, and the
 * connector retry with a bounded backoff on a fake clock. /proc is an in-memory reader that counts
 * its reads; the event source is an honest in-memory source.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import { Counters } from '../../../../src/core/counters.js';
import { KaError } from '../../../../src/core/errors.js';
import {
  type ProcEntry,
  type ProcEventSink,
  type ProcEventSource,
  ProcessTable,
  type ProcessTableOptions,
  type ProcReader,
  TrackProcess,
  type TrackProcessOptions,
} from '../../../../src/vrrp/track/process.js';
import type { ProcEvent } from '../../../../src/wire/proc-connector.js';

const T = { cpu: 0, timestampNs: 0n };
const fork = (parent: number, child: number): ProcEvent => ({
  ...T,
  what: 'fork',
  parentPid: parent,
  parentTgid: parent,
  childPid: child,
  childTgid: child,
});
const exec = (pid: number, tgid = pid): ProcEvent => ({ ...T, what: 'exec', pid, tgid });
const exit = (pid: number): ProcEvent => ({
  ...T,
  what: 'exit',
  pid,
  tgid: pid,
  exitCode: 0,
  exitSignal: 17,
});

/** An in-memory process table that counts every read; `hold()` keeps the next scans pending. */
class MemReader implements ProcReader {
  readonly procs = new Map<number, { comm: string; argv: string[] }>();
  entryReads = 0;
  cmdlineReads = 0;
  scans = 0;
  private gate: Promise<void> | null = null;
  private readFirst = false;
  private open: (() => void) | null = null;

  set(pid: number, comm: string, argv: string[] = [comm]): void {
    this.procs.set(pid, { comm, argv });
  }
  private entryOf(pid: number, withCmdline: boolean): ProcEntry | null {
    const p = this.procs.get(pid);
    if (!p) return null;
    if (withCmdline) this.cmdlineReads++;
    return {
      pid,
      comm: p.comm,
      zombie: false,
      cmdline: withCmdline ? Buffer.from(`${p.argv.join('\0')}\0`) : null,
    };
  }
  entry(pid: number, withCmdline: boolean): ProcEntry | null {
    this.entryReads++;
    return this.entryOf(pid, withCmdline);
  }
  async scan(withCmdline: boolean): Promise<ProcEntry[]> {
    this.scans++;
    const read = () => [...this.procs.keys()].flatMap((pid) => this.entryOf(pid, withCmdline) ?? []);
    const early = this.readFirst ? read() : null;
    if (this.gate) await this.gate;
    return early ?? read();
  }
  /** Scans pend until release(); with `readFirst` they read /proc at once and only return then. */
  hold(readFirst = false): void {
    this.readFirst = readFirst;
    this.gate = new Promise((r) => {
      this.open = r;
    });
  }
  release(): void {
    this.gate = null;
    this.readFirst = false;
    this.open?.();
  }
}

/** An in-memory event source; `refuse` makes subscribe throw, `pendingAck` models LISTEN awaiting its ack. */
class FakeSource implements ProcEventSource {
  readonly sinks = new Set<ProcEventSink>();
  refuse: KaError | null = null;
  pendingAck = false;
  subscribes = 0;
  resets = 0;
  subscribe(sink: ProcEventSink) {
    this.subscribes++;
    if (this.refuse) throw this.refuse;
    this.sinks.add(sink);
    const pending = this.pendingAck;
    return { close: () => this.sinks.delete(sink), pending };
  }
  reset() {
    this.resets++;
  }
  emit(...evs: ProcEvent[]) {
    for (const ev of evs) for (const s of [...this.sinks]) s.event(ev);
  }
  lost() {
    for (const s of [...this.sinks]) s.lost();
  }
  ack() {
    for (const s of [...this.sinks]) s.ready?.();
  }
  fail(err: KaError) {
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const s of sinks) s.failed(err);
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function setup(n: number, o: Partial<ProcessTableOptions> = {}, t: Partial<TrackProcessOptions> = {}) {
  const clock = new FakeClock(0);
  const reader = new MemReader();
  reader.set(1, 'init', ['/sbin/init']);
  reader.set(500, 'nginx', ['nginx', '-g', 'daemon off;']);
  const src = new FakeSource();
  const counters = new Counters();
  const info: string[] = [];
  const warn: string[] = [];
  const debug: string[] = [];
  const log = {
    info: (_o: unknown, m?: string) => info.push(m ?? String(_o)),
    warn: (_o: unknown, m?: string) => warn.push(m ?? String(_o)),
    debug: (_o: unknown, m?: string) => debug.push(m ?? String(_o)),
  };
  const table = new ProcessTable({ events: src, reader, clock, counters, log: log as never, ...o });
  const trackers = Array.from(
    { length: n },
    (_, i) =>
      new TrackProcess({
        name: `t${i}`,
        // every third tracker matches on the command line, the others on comm
        match: i % 3 === 2 ? { process: 'nginx', params: ['-g', 'daemon off;'] } : { process: 'nginx' },
        table,
        clock,
        intervalUs: 1_000_000,
        onChange() {},
        ...t,
      }),
  );
  return { clock, reader, src, counters, table, trackers, logs: { info, warn, debug } };
}

describe('ProcessTable: one /proc read per event, whatever the number of trackers', () => {
  for (const n of [1, 10, 100]) {
    it(`${n} tracker(s): one entry read per exec, none for fork/comm/exit or thread execs`, async () => {
      const { reader, src, table, trackers } = setup(n);
      for (const tp of trackers) await tp.start();
      expect(table.mode).toBe('events');
      const before = reader.entryReads;
      reader.set(600, 'nginx', ['nginx', '-g', 'daemon off;']);
      src.emit(fork(1, 600), exec(600));
      expect(reader.entryReads - before).toBe(1);
      // the one read carried the cmdline (some trackers match on it) and every tracker used it
      expect(trackers.map((tp) => tp.count)).toEqual(trackers.map(() => 2));
      reader.set(700, 'nginx', ['nginx', '-t']);
      src.emit(exec(700), exec(701, 700), fork(700, 702), exit(600));
      expect(reader.entryReads - before).toBe(2);
      // comm trackers count 500 and 700; cmdline trackers only 500 (700 has other arguments)
      expect(trackers.map((tp) => tp.count)).toEqual(trackers.map((_, i) => (i % 3 === 2 ? 1 : 3)));
      expect(table.counts.entryReads).toBe(reader.entryReads);
      for (const tp of trackers) tp.stop();
      expect(src.sinks.size).toBe(0);
      expect(table.mode).toBe('idle');
    });
  }

  it('the exec read leaves the cmdline out when no tracker matches on it', async () => {
    const { reader, src, trackers } = setup(2, {}, { match: { process: 'nginx' } });
    for (const tp of trackers) await tp.start();
    const before = reader.cmdlineReads;
    reader.set(600, 'nginx');
    src.emit(exec(600));
    expect(reader.cmdlineReads).toBe(before);
    expect(trackers.map((tp) => tp.count)).toEqual([2, 2]);
  });

  it('trackers starting together share the initial scan; one started later scans again', async () => {
    const { reader, trackers, table } = setup(10);
    const all = Promise.all(trackers.map((tp) => tp.start()));
    expect(await all).toEqual(trackers.map(() => true));
    expect(reader.scans).toBe(1);
    const late = new TrackProcess({ name: 'late', match: { process: 'nginx' }, table, onChange() {} });
    expect(await late.start()).toBe(true);
    expect(reader.scans).toBe(2);
  });
});

describe('ProcessTable: one rescan after lost events, shared by every tracker', () => {
  it('lost events with 100 trackers: one scan; events during it are queued, read once, applied after', async () => {
    const { reader, src, table, trackers, counters, logs } = setup(100);
    for (const tp of trackers) await tp.start();
    const scans = reader.scans;
    reader.hold();
    reader.procs.delete(500);
    src.lost();
    src.lost(); // a second loss while the scan is pending: one more scan after it, not one per tracker
    reader.set(600, 'nginx', ['nginx', '-g', 'daemon off;']);
    src.emit(exec(600));
    expect(reader.entryReads).toBe(1);
    expect(trackers[0]?.count).toBe(1); // 500 still counted: nothing applied before the scan ends
    reader.release();
    await tick();
    await tick();
    expect(reader.scans - scans).toBe(2);
    expect(table.counts.scans).toBe(reader.scans);
    expect(trackers.map((tp) => tp.count)).toEqual(trackers.map(() => 1)); // 600 only
    expect(counters.get('track.proc_events_lost')).toBe(2);
    expect(logs.warn.filter((m) => /events lost/.test(m))).toHaveLength(2);
  });

  it('a rescan asked by any tracker is one scan for all of them, and their quorum follows', async () => {
    const seen: string[] = [];
    const { reader, trackers, clock } = setup(3, {}, { terminateDelayUs: 1_000_000 });
    const tps = trackers.map(
      (tp, i) =>
        new TrackProcess({
          name: `s${i}`,
          match: { process: 'nginx' },
          table: (tp as unknown as { table: ProcessTable }).table,
          clock,
          terminateDelayUs: 1_000_000,
          onChange: (h) => seen.push(`s${i}:${h}`),
        }),
    );
    for (const tp of tps) await tp.start();
    const scans = reader.scans;
    reader.procs.delete(500);
    await tps[1]?.scan();
    expect(reader.scans - scans).toBe(1);
    expect(tps.map((tp) => tp.count)).toEqual([0, 0, 0]);
    clock.advance(1_000_000);
    expect(seen).toEqual(['s0:false', 's1:false', 's2:false']);
  });
});

describe('ProcessTable: polling is one scan per interval for all trackers', () => {
  it('no event source: 50 trackers, one scan per second, quorum on every tracker', async () => {
    const seen: boolean[] = [];
    const { reader, trackers, clock, table } = setup(50, { events: null }, { onChange: (h) => seen.push(h) });
    for (const tp of trackers) await tp.start();
    expect(table.mode).toBe('polling');
    const scans = reader.scans;
    reader.procs.delete(500);
    clock.advance(1_000_000);
    await tick();
    expect(reader.scans - scans).toBe(1);
    expect(seen).toEqual(trackers.map(() => false));
    clock.advance(3_000_000);
    await tick();
    expect(reader.scans - scans).toBeGreaterThanOrEqual(2);
    expect(reader.scans - scans).toBeLessThanOrEqual(4);
  });
});

describe('ProcessTable: a tracker callback that throws', () => {
  it('is logged; the other trackers are still updated and polling goes on', async () => {
    const errors: string[] = [];
    const calls: boolean[] = [];
    const { reader, trackers, clock, table } = setup(
      2,
      {
        events: null,
        log: { error: (_o: unknown, m: string) => errors.push(m), warn() {}, info() {}, debug() {} } as never,
      },
      {
        onChange: (h) => {
          calls.push(h);
          throw new Error('callback failed');
        },
      },
    );
    for (const tp of trackers) await tp.start();
    reader.procs.delete(500);
    clock.advance(1_000_000);
    await tick();
    expect(errors).toEqual(['track_process update failed', 'track_process update failed']);
    expect(calls).toEqual([false, false]);
    expect(trackers.map((tp) => tp.haveQuorum)).toEqual([false, false]);
    reader.set(500, 'nginx', ['nginx', '-g', 'daemon off;']);
    clock.advance(1_000_000);
    await tick();
    expect(table.mode).toBe('polling');
    expect(calls).toEqual([false, false, true, true]); // the next poll ran
  });
});

describe('ProcessTable: connector retry with a bounded backoff (fake clock)', () => {
  it('refused at start: polls, retries at 1, 2, 4, 8, 8 s …, counts each try, logs each state change once', async () => {
    const { src, trackers, table, clock, counters, logs, reader } = setup(
      5,
      { retryMinUs: 1_000_000, retryMaxUs: 8_000_000 },
      { intervalUs: 60_000_000 },
    );
    src.refuse = new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'refused', { errno: 'ECONNREFUSED' });
    for (const tp of trackers) expect(await tp.start()).toBe(true);
    expect(table.mode).toBe('polling');
    expect(trackers.every((tp) => tp.mode === 'polling')).toBe(true);
    expect(src.subscribes).toBe(1);
    expect(logs.warn).toEqual(['refused']);
    const tries: number[] = [];
    for (let i = 0; i < 6; i++) {
      const n = src.subscribes;
      while (src.subscribes === n) clock.advance(100_000);
      tries.push(clock.now());
    }
    expect(tries).toEqual([1_000_000, 3_000_000, 7_000_000, 15_000_000, 23_000_000, 31_000_000]);
    expect(counters.get('track.proc_connector_retries')).toBe(6);
    expect(src.resets).toBe(6);
    expect(logs.warn).toEqual(['refused']); // failed retries are not warnings
    expect(logs.debug.filter((m) => /retry failed/.test(m))).toHaveLength(6);

    // the connector comes back: events mode after one shared rescan, logged once
    src.refuse = null;
    reader.procs.delete(500);
    const scans = reader.scans;
    clock.advance(8_000_000);
    expect(src.subscribes).toBe(8);
    expect(table.mode).toBe('events');
    expect(trackers.every((tp) => tp.mode === 'events')).toBe(true);
    await tick();
    expect(reader.scans - scans).toBe(1);
    expect(trackers.map((tp) => tp.count)).toEqual([0, 0, 0, 0, 0]);
    expect(logs.info.filter((m) => /available again/.test(m))).toHaveLength(1);
    reader.set(600, 'nginx', ['nginx', '-g', 'daemon off;']);
    src.emit(exec(600));
    expect(trackers.map((tp) => tp.count)).toEqual([1, 1, 1, 1, 1]);

    // fails again later: back to polling, backoff starts again from the minimum
    src.fail(new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'LISTEN answered with error 1'));
    expect(table.mode).toBe('polling');
    expect(logs.warn).toEqual(['refused', 'LISTEN answered with error 1']);
    const n = src.subscribes;
    const at = clock.now();
    while (src.subscribes === n) clock.advance(100_000);
    expect(clock.now() - at).toBe(1_000_000);
    for (const tp of trackers) tp.stop();
    expect(clock.armed).toBe(0);
  });

  it('a pending LISTEN: the table waits for the ack; events before it are ignored', async () => {
    const { src, trackers, table, reader } = setup(2);
    src.pendingAck = true;
    const started = Promise.all(trackers.map((tp) => tp.start()));
    await tick();
    expect(table.mode).toBe('confirming');
    expect(reader.scans).toBe(0);
    reader.set(600, 'nginx');
    src.emit(exec(600));
    expect(reader.entryReads).toBe(0);
    src.ack();
    expect(await started).toEqual([true, true]);
    expect(table.mode).toBe('events');
    expect(reader.scans).toBe(1);
    expect(trackers.map((tp) => tp.count)).toEqual([2, 2]); // 500, and 600 seen by the scan after the ack
  });

  it('a retry whose LISTEN is pending keeps polling until the ack', async () => {
    const { src, trackers, table, clock, reader } = setup(1, { retryMinUs: 1_000_000 });
    src.refuse = new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'refused');
    await trackers[0]?.start();
    src.refuse = null;
    src.pendingAck = true;
    clock.advance(1_000_000);
    await tick();
    expect(src.subscribes).toBe(2);
    expect(table.mode).toBe('polling');
    const scans = reader.scans;
    clock.advance(1_000_000); // the poll still runs
    await tick();
    expect(reader.scans - scans).toBe(1);
    src.ack();
    expect(table.mode).toBe('events');
    trackers[0]?.stop();
    expect(clock.armed).toBe(0);
  });

  it('stop and start again while a scan is pending: the new start gets its own scan', async () => {
    const { reader, trackers, table } = setup(1);
    const tp = trackers[0] as TrackProcess;
    reader.hold();
    const first = tp.start();
    tp.stop();
    expect(table.mode).toBe('idle');
    reader.release();
    expect(await first).toBe(false);
    expect(await tp.start()).toBe(true);
    expect(tp.count).toBe(1);
    tp.stop();

    // replaced in one turn (a reload), the old tracker's scan still pending
    reader.hold();
    const again = tp.start();
    tp.stop();
    const next = new TrackProcess({ name: 'n', match: { process: 'nginx' }, table, onChange() {} });
    const last = next.start();
    reader.release();
    expect(await again).toBe(false);
    expect(await last).toBe(true);
    expect(next.count).toBe(1);
    next.stop();
  });

  it('the connector back while a poll scan is in flight: events wait for that scan, quorum does not flap', async () => {
    const seen: boolean[] = [];
    const { src, trackers, table, clock, reader } = setup(
      1,
      { retryMinUs: 1_000_000 },
      { match: { process: 'nginx' }, onChange: (h) => seen.push(h) },
    );
    const tp = trackers[0] as TrackProcess;
    reader.procs.delete(500);
    src.refuse = new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'refused');
    expect(await tp.start()).toBe(false);
    expect(table.mode).toBe('polling');
    src.refuse = null;
    src.pendingAck = true;
    reader.hold(true);
    clock.advance(1_000_000); // the poll scan starts (held open) and the retry subscribes
    await tick();
    expect(reader.scans).toBe(2);
    expect(src.subscribes).toBe(2);
    src.ack(); // events from here on; the poll scan read /proc before them
    expect(table.mode).toBe('events');
    reader.set(600, 'nginx');
    src.emit(exec(600));
    reader.release(); // the old scan (without 600) finishes
    for (let i = 0; i < 4; i++) await tick();
    expect(tp.count).toBe(1);
    expect(tp.haveQuorum).toBe(true);
    expect(seen).toEqual([true]); // gained once: no LOST from the stale poll result
    src.emit(exit(600));
    expect(seen).toEqual([true, false]);
    tp.stop();
    expect(clock.armed).toBe(0);
  });

  it('a failure during a rescan: the events queued before it are still applied, then polling', async () => {
    const { reader, src, trackers, table } = setup(2, {}, { match: { process: 'nginx' } });
    for (const tp of trackers) await tp.start();
    reader.hold();
    src.lost();
    reader.set(600, 'nginx');
    src.emit(exec(600));
    src.emit(exit(500));
    src.fail(new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'LISTEN answered with error 1'));
    expect(table.mode).toBe('polling');
    src.emit(exit(600)); // after the failure: not taken
    reader.release();
    await tick();
    await tick();
    // the scan (held from before the exec) saw 500 and 600; the queued exit of 500 removed it
    expect(trackers.map((tp) => tp.count)).toEqual([1, 1]);
  });
});
