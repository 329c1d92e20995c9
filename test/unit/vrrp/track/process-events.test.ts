/**
 * vrrp_track_process in event mode, with a fake event source and a fake /proc tree: the sequences
 * keepalived's track_process.c handles (fork/exec/comm/exit), debounce on a fake clock, quorum
 * windows, and the fallback to polling when the connector is refused.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Clock, FakeClock, type Micros, type TimerHandle } from '../../../../src/core/clock.js';
import { Counters } from '../../../../src/core/counters.js';
import { KaError } from '../../../../src/core/errors.js';
import { SysError, SysErrors } from '../../../../src/sys/errors.js';
import {
  type ConnectorSocket,
  type ProcConnectorOptions,
  ProcConnectorSource,
  type ProcEventSink,
  type ProcEventSource,
  ProcessTable,
  procfsReader,
  TrackProcess,
  type TrackProcessOptions,
} from '../../../../src/vrrp/track/process.js';
import type { NlMsg } from '../../../../src/wire/netlink.js';
import { decodeMsgs, encodeMsg, NLMSG_DONE } from '../../../../src/wire/netlink.js';
import {
  CN_IDX_PROC,
  CN_VAL_PROC,
  decodeCnMsg,
  encodeCnMsg,
  encodeProcEvent,
  PROC_CN_MCAST_IGNORE,
  PROC_CN_MCAST_LISTEN,
  type ProcEvent,
} from '../../../../src/wire/proc-connector.js';

const T = { cpu: 0, timestampNs: 0n };
const fork = (parent: number, child: number, childTgid = child): ProcEvent => ({
  ...T,
  what: 'fork',
  parentPid: parent,
  parentTgid: parent,
  childPid: child,
  childTgid,
});
const exec = (pid: number, tgid = pid): ProcEvent => ({ ...T, what: 'exec', pid, tgid });
const comm = (pid: number, name: string): ProcEvent => ({ ...T, what: 'comm', pid, tgid: pid, comm: name });
const exit = (pid: number, tgid = pid): ProcEvent => ({
  ...T,
  what: 'exit',
  pid,
  tgid,
  exitCode: 0,
  exitSignal: 17,
});

/** An honest in-memory source: subscribe/close bookkeeping, events delivered in order. */
class FakeSource implements ProcEventSource {
  readonly sinks = new Set<ProcEventSink>();
  refuse: KaError | null = null;
  /** Called inside subscribe's caller's scan window, to model events racing the initial scan. */
  subscribe(sink: ProcEventSink) {
    if (this.refuse) throw this.refuse;
    this.sinks.add(sink);
    return { close: () => this.sinks.delete(sink) };
  }
  emit(...evs: ProcEvent[]) {
    for (const ev of evs) for (const s of [...this.sinks]) s.event(ev);
  }
  lost() {
    for (const s of [...this.sinks]) s.lost();
  }
  fail(err: KaError) {
    for (const s of [...this.sinks]) s.failed(err);
  }
}

let root: string;
const setProc = async (pid: number, name: string, argv: string[] = [name], state = 'S') => {
  await mkdir(join(root, String(pid)), { recursive: true });
  await writeFile(join(root, String(pid), 'stat'), `${pid} (${name}) ${state} 1 ${pid} ${pid} 0 -1\n`);
  await writeFile(join(root, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
};
const dropProc = (pid: number) => rm(join(root, String(pid)), { recursive: true, force: true });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kt-procev-'));
  await setProc(1, 'init', ['/sbin/init']);
  await setProc(500, 'nginx', ['nginx', '-g', 'daemon off;']);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function tracker(src: ProcEventSource | null, o: Partial<TrackProcessOptions> = {}) {
  const clock = new FakeClock(0);
  const seen: Array<[number, boolean]> = [];
  const counters = new Counters();
  const tp = new TrackProcess({
    name: 'nginx',
    match: { process: 'nginx' },
    clock,
    counters,
    procRoot: root,
    events: src,
    intervalUs: 3_600_000_000,
    onChange: (h) => seen.push([clock.now(), h]),
    ...o,
  });
  return { tp, clock, seen, counters };
}

describe('TrackProcess event mode: fork / exec / comm / exit', () => {
  it('initial scan, then exec of a new match gains at once, exit of the last one loses', async () => {
    const src = new FakeSource();
    const { tp, seen } = tracker(src, { quorum: 2 });
    expect(await tp.start()).toBe(false);
    expect(tp.mode).toBe('events');
    expect(tp.count).toBe(1);
    await setProc(600, 'nginx');
    src.emit(exec(600));
    expect(tp.count).toBe(2);
    expect(seen).toEqual([[0, true]]);
    src.emit(exit(600));
    expect(seen).toEqual([
      [0, true],
      [0, false],
    ]);
    tp.stop();
    expect(src.sinks.size).toBe(0);
  });

  it('fork of a counted process counts the child; threads (pid ≠ tgid) are ignored', async () => {
    const src = new FakeSource();
    const { tp } = tracker(src);
    await tp.start();
    // A new thread of 600 (a child of 500 running something else) is reported with 600's parent.
    src.emit(fork(500, 501), fork(500, 777, 600), fork(1, 900));
    expect(tp.count).toBe(2); // 500 and its child 501; the thread and init's child do not count
    src.emit(exit(777, 500)); // a thread exiting is not the process exiting
    expect(tp.count).toBe(2);
    src.emit(exit(501));
    expect(tp.count).toBe(1);
    tp.stop();
  });

  it('the child execs something else: dropped; exec into a match: added', async () => {
    const src = new FakeSource();
    const { tp } = tracker(src);
    await tp.start();
    src.emit(fork(500, 501));
    await setProc(501, 'logrotate');
    src.emit(exec(501));
    expect(tp.count).toBe(1);
    await setProc(1000, 'nginx');
    src.emit(fork(1, 1000), exec(1000)); // started by an untracked parent, matched on exec
    expect(tp.count).toBe(2);
    await dropProc(1001);
    src.emit(exec(1001)); // gone before its /proc entry was read: not counted
    expect(tp.count).toBe(2);
    tp.stop();
  });

  it('comm change renames a process in or out of the match; cmdline matches ignore comm', async () => {
    const src = new FakeSource();
    const { tp, seen } = tracker(src);
    await tp.start();
    src.emit(comm(500, 'nginx-old'));
    expect(seen).toEqual([[0, false]]);
    src.emit(comm(500, 'nginx'));
    expect(seen).toEqual([
      [0, false],
      [0, true],
    ]);
    tp.stop();

    const src2 = new FakeSource();
    const full = tracker(src2, { match: { process: 'nginx', params: ['-g', 'daemon off;'] } });
    expect(await full.tp.start()).toBe(true);
    src2.emit(comm(500, 'renamed'));
    expect(full.tp.count).toBe(1);
    full.tp.stop();
  });

  it('names longer than 15 characters match the truncated comm of the event', async () => {
    const src = new FakeSource();
    const { tp } = tracker(src, { match: { process: 'a-very-long-process-name' } });
    expect(await tp.start()).toBe(false);
    src.emit(comm(500, 'a-very-long-pro'));
    expect(tp.count).toBe(1);
    tp.stop();
  });
});

describe('TrackProcess event mode: debounce and quorum window', () => {
  it('fork gain waits fork_delay, exit loss waits terminate_delay, a change back cancels', async () => {
    const src = new FakeSource();
    const { tp, clock, seen } = tracker(src, {
      quorum: 2,
      forkDelayUs: 500_000,
      terminateDelayUs: 2_000_000,
    });
    expect(await tp.start()).toBe(false);
    clock.advance(1_000_000);
    src.emit(fork(500, 501)); // gain pending until 1.5 s
    clock.advance(400_000);
    expect(seen).toEqual([]);
    clock.advance(100_000);
    expect(seen).toEqual([[1_500_000, true]]);
    src.emit(exit(501)); // loss pending until 3.5 s
    clock.advance(1_000_000);
    src.emit(fork(500, 502)); // back within: pending loss cancelled
    clock.advance(5_000_000);
    expect(seen).toEqual([[1_500_000, true]]);
    src.emit(exit(502)); // at 7.5 s, lost at 9.5 s
    clock.advance(2_000_000);
    expect(seen).toEqual([
      [1_500_000, true],
      [9_500_000, false],
    ]);
    tp.stop();
  });

  it('an exec gain is immediate even with fork_delay, and cancels a pending terminate_delay', async () => {
    const src = new FakeSource();
    const { tp, clock, seen } = tracker(src, { forkDelayUs: 1_000_000, terminateDelayUs: 1_000_000 });
    expect(await tp.start()).toBe(true);
    src.emit(exit(500)); // loss pending until 1 s
    clock.advance(500_000);
    await setProc(600, 'nginx');
    src.emit(exec(600)); // back at once: nothing reported
    clock.advance(2_000_000);
    expect(seen).toEqual([]);
    src.emit(exit(600));
    clock.advance(1_000_000);
    expect(seen).toEqual([[3_500_000, false]]);
    await setProc(700, 'nginx');
    src.emit(exec(700));
    expect(seen).toEqual([
      [3_500_000, false],
      [3_500_000, true],
    ]);
    tp.stop();
  });

  it('quorum_max: one fork too many loses quorum, the exit of one regains it', async () => {
    const src = new FakeSource();
    const { tp, seen } = tracker(src, { quorum: 1, quorumMax: 2 });
    await setProc(501, 'nginx');
    expect(await tp.start()).toBe(true);
    expect(tp.count).toBe(2);
    src.emit(fork(500, 502));
    expect(seen).toEqual([[0, false]]);
    src.emit(exit(501));
    expect(seen).toEqual([
      [0, false],
      [0, true],
    ]);
    tp.stop();
  });

  it('stop cancels a pending delay and later events are ignored', async () => {
    const src = new FakeSource();
    const { tp, clock, seen } = tracker(src, { terminateDelayUs: 1_000_000 });
    await tp.start();
    src.emit(exit(500));
    tp.stop();
    clock.advance(5_000_000);
    expect(seen).toEqual([]);
    expect(src.sinks.size).toBe(0);
  });
});

describe('TrackProcess event mode: scans and resync', () => {
  it('events that arrive during the initial scan are applied after it, in order', async () => {
    const src = new FakeSource();
    const { tp } = tracker(src);
    const started = tp.start();
    // the scan is in flight: 500 exits, 600 starts
    src.emit(exit(500));
    await setProc(600, 'nginx');
    src.emit(exec(600));
    await started;
    expect(tp.count).toBe(1); // the scan still saw 500; its queued exit removed it, 600 was added
    tp.stop();
  });

  it('lost events: a full rescan rebuilds the set and the quorum follows (debounced)', async () => {
    const src = new FakeSource();
    const { tp, clock, seen } = tracker(src, { terminateDelayUs: 1_000_000 });
    expect(await tp.start()).toBe(true);
    await dropProc(500);
    src.lost();
    await new Promise((r) => setTimeout(r, 50));
    expect(tp.count).toBe(0);
    clock.advance(1_000_000);
    expect(seen).toEqual([[1_000_000, false]]);
    tp.stop();
  });
});

describe('TrackProcess: no connector → polling', () => {
  it('a refused subscribe is counted, logged once for all trackers, and polling works', async () => {
    const src = new FakeSource();
    src.refuse = new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'refused', { errno: 'ECONNREFUSED' });
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, m: string) => warnings.push(m), info() {}, debug() {} };
    const a = tracker(src, { intervalUs: 1_000_000, log: log as never });
    const b = tracker(src, { intervalUs: 1_000_000, log: log as never });
    expect(await a.tp.start()).toBe(true);
    expect(await b.tp.start()).toBe(true);
    expect(a.tp.mode).toBe('polling');
    expect(a.counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
    expect(b.counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
    expect(warnings).toEqual(['refused']);
    await dropProc(500);
    a.clock.advance(1_000_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.seen).toEqual([[1_000_000, false]]);
    a.tp.stop();
    b.tp.stop();
  });

  it('a source that fails after start switches the tracker to polling', async () => {
    const src = new FakeSource();
    const { tp, clock, seen, counters } = tracker(src, { intervalUs: 1_000_000 });
    await tp.start();
    src.fail(new KaError('KA_ERR_TRACK_PROC_CONNECTOR', 'LISTEN answered with error 1'));
    expect(tp.mode).toBe('polling');
    expect(counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
    await dropProc(500);
    clock.advance(1_000_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([[1_000_000, false]]);
    tp.stop();
  });

  it('a fake procRoot without an explicit source polls (its pids are not the kernel’s)', async () => {
    const { tp } = tracker(null);
    const plain = new TrackProcess({ name: 'x', match: { process: 'x' }, procRoot: root, onChange() {} });
    await plain.start();
    expect(plain.mode).toBe('polling');
    plain.stop();
    tp.stop();
  });
});

/** A socket double for ProcConnectorSource: records what is sent, lets the test inject datagrams. */
class FakeConnectorSocket implements ConnectorSocket {
  readonly sent: Buffer[] = [];
  closed = false;
  failSend: Error | null = null;
  private readonly handlers = new Map<string, Array<(x: never) => void>>();
  on(event: string, fn: (x: never) => void): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
    return this;
  }
  fire(event: 'event' | 'resync' | 'error', x: unknown) {
    for (const f of this.handlers.get(event) ?? []) (f as (y: unknown) => void)(x);
  }
  sendRaw(buf: Buffer): number {
    if (this.failSend) throw this.failSend;
    this.sent.push(buf);
    return buf.length;
  }
  close() {
    this.closed = true;
  }
  /** The ack cookie the source put in its LISTEN. */
  get cookie(): number {
    const [m] = decodeMsgs(this.sent[0] ?? Buffer.alloc(0));
    return decodeCnMsg(m?.payload ?? Buffer.alloc(0)).ack;
  }
}
const kernelMsg = (ev: ProcEvent, ack = 0): NlMsg => {
  const [m] = decodeMsgs(
    encodeMsg({
      type: NLMSG_DONE,
      flags: 0,
      seq: 1,
      header: encodeCnMsg({
        idx: CN_IDX_PROC,
        val: CN_VAL_PROC,
        seq: 1,
        ack,
        flags: 0,
        data: encodeProcEvent(ev),
      }),
    }),
  );
  if (!m) throw new Error('no message');
  return m;
};
const opOf = (b: Buffer | undefined) => {
  const [m] = decodeMsgs(b ?? Buffer.alloc(0));
  return decodeCnMsg(m?.payload ?? Buffer.alloc(0)).data.readUInt32LE(0);
};

describe('ProcConnectorSource (one shared socket)', () => {
  it('opens once for several subscribers, sends LISTEN, dispatches, IGNOREs and closes after the last', () => {
    const socks: FakeConnectorSocket[] = [];
    const source = new ProcConnectorSource(() => {
      const s = new FakeConnectorSocket();
      socks.push(s);
      return s;
    });
    const got: string[][] = [[], []];
    const mk = (i: number): ProcEventSink => ({
      event: (ev) => got[i]?.push(ev.what),
      lost: () => got[i]?.push('lost'),
      failed: () => got[i]?.push('failed'),
    });
    const s1 = source.subscribe(mk(0));
    const s2 = source.subscribe(mk(1));
    expect(socks.length).toBe(1);
    const sock = socks[0] as FakeConnectorSocket;
    expect(opOf(sock.sent[0])).toBe(PROC_CN_MCAST_LISTEN);
    sock.fire('event', kernelMsg(exec(5)));
    sock.fire('event', kernelMsg({ ...T, what: 'other', code: 4, data: Buffer.alloc(0) }));
    sock.fire('resync', new Error('ENOBUFS'));
    expect(got).toEqual([
      ['exec', 'lost'],
      ['exec', 'lost'],
    ]);
    s1.close();
    expect(sock.closed).toBe(false);
    s2.close();
    expect(sock.closed).toBe(true);
    expect(opOf(sock.sent[1])).toBe(PROC_CN_MCAST_IGNORE);
    source.subscribe(mk(0)).close(); // reopens on demand
    expect(socks.length).toBe(2);
  });

  it('malformed messages are counted and dropped; other listeners’ acks are ignored', () => {
    const sock = new FakeConnectorSocket();
    const source = new ProcConnectorSource(() => sock);
    const counters = new Counters();
    const events: string[] = [];
    source.subscribe(
      { event: (e) => events.push(e.what), lost() {}, failed: () => events.push('failed') },
      { counters },
    );
    const bad = kernelMsg(exec(5));
    sock.fire('event', { ...bad, payload: bad.payload.subarray(0, 30) });
    sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 1 }, sock.cookie + 7));
    sock.fire('event', kernelMsg(exit(5)));
    expect(counters.get('KA_ERR_NL_BAD_MSG')).toBe(1);
    expect(events).toEqual(['exit']);
  });

  it('our LISTEN acked with an error: subscribers fall back, later subscribers are refused at once', () => {
    const sock = new FakeConnectorSocket();
    let opens = 0;
    const source = new ProcConnectorSource(() => {
      opens++;
      return sock;
    });
    const failed: KaError[] = [];
    source.subscribe({ event() {}, lost() {}, failed: (e) => failed.push(e) });
    sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 1 }, sock.cookie + 1));
    expect(failed.map((e) => e.code)).toEqual(['KA_ERR_TRACK_PROC_CONNECTOR']);
    expect(sock.closed).toBe(true);
    expect(() => source.subscribe({ event() {}, lost() {}, failed() {} })).toThrow(failed[0]);
    expect(opens).toBe(1);
  });

  it('an opener that throws or a refused LISTEN (ECONNREFUSED) is KA_ERR_TRACK_PROC_CONNECTOR', () => {
    const sink: ProcEventSink = { event() {}, lost() {}, failed() {} };
    const noSocket = new ProcConnectorSource(() => {
      throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
    });
    expect(() => noSocket.subscribe(sink)).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_PROC_CONNECTOR' }),
    );
    const sock = new FakeConnectorSocket();
    sock.failSend = new Error('ECONNREFUSED');
    const refused = new ProcConnectorSource(() => sock);
    expect(() => refused.subscribe(sink)).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_PROC_CONNECTOR' }),
    );
    expect(sock.closed).toBe(true);
    expect(refused.isOpen).toBe(false);
  });
});

/** A clock whose time jumps: timers due by then run late, with now() already at the new time. */
class JumpClock implements Clock {
  private t = 0;
  private timers: Array<{ at: Micros; fn: () => void; off: boolean }> = [];
  now(): Micros {
    return this.t;
  }
  at(at: Micros, fn: () => void): TimerHandle {
    const h = { at, fn, off: false };
    this.timers.push(h);
    return {
      cancel: () => {
        h.off = true;
      },
    };
  }
  jump(to: Micros): void {
    this.t = to;
    for (;;) {
      const due = this.timers.find((h) => !h.off && h.at <= to);
      if (!due) break;
      due.off = true;
      due.fn();
    }
    this.timers = this.timers.filter((h) => !h.off);
  }
  get armed(): number {
    return this.timers.filter((h) => !h.off).length;
  }
}

/** A source whose every opened socket is a recorded fake. */
const recordingSource = (opts: ProcConnectorOptions) => {
  const socks: FakeConnectorSocket[] = [];
  const source = new ProcConnectorSource(() => {
    const s = new FakeConnectorSocket();
    socks.push(s);
    return s;
  }, opts);
  return { socks, source };
};

describe('ProcConnectorSource: ack deadline, retry and sequence gaps (fake clock)', () => {
  const seqMsg = (ev: ProcEvent, seq: number): NlMsg => {
    const m = kernelMsg(ev);
    const payload = Buffer.from(m.payload);
    payload.writeUInt32LE(seq, 8); // cn_msg.seq
    return { ...m, payload };
  };

  it('pending until our ack, then ready; no ack within the deadline is a silent refusal', async () => {
    const clock = new FakeClock(0);
    const { socks, source } = recordingSource({ clock, ackTimeoutUs: 2_000_000 });
    const got: string[] = [];
    const sink: ProcEventSink = {
      event: (e) => got.push(e.what),
      lost: () => got.push('lost'),
      failed: (e) => got.push(`failed:${e.code}:${/not acknowledged/.test(e.message)}`),
      ready: () => got.push('ready'),
    };
    const sub = source.subscribe(sink);
    expect(sub.pending).toBe(true);
    const sock = socks[0] as FakeConnectorSocket;
    sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 0 }, sock.cookie + 1));
    expect(sub.pending).toBe(false);
    expect(source.isConfirmed).toBe(true);
    clock.advance(5_000_000); // the deadline was cancelled by the ack
    expect(got).toEqual(['ready']);
    sub.close();

    const sub2 = source.subscribe(sink);
    expect(sub2.pending).toBe(true);
    clock.advance(1_999_999);
    expect(got).toEqual(['ready']);
    clock.advance(1);
    expect(got).toEqual(['ready']); // decided after the datagrams pending now (setImmediate)
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['ready', 'failed:KA_ERR_TRACK_PROC_CONNECTOR:true']);
    expect(socks[1]?.closed).toBe(true);
    expect(sub2.pending).toBe(false);
    // sticky until reset; a retry after reset opens a new socket
    expect(() => source.subscribe(sink)).toThrow(/not acknowledged/);
    source.reset();
    source.subscribe(sink).close();
    expect(socks.length).toBe(3);
  });

  it('the deadline decides only after pending datagrams are read: an ack queued behind a blocked loop counts', () => {
    const clock = new FakeClock(0);
    const deferred: Array<() => void> = [];
    const { socks, source } = recordingSource({
      clock,
      ackTimeoutUs: 2_000_000,
      defer: (fn) => deferred.push(fn),
    });
    const got: string[] = [];
    const sink: ProcEventSink = {
      event: (e) => got.push(e.what),
      lost: () => got.push('lost'),
      failed: () => got.push('failed'),
      ready: () => got.push('ready'),
    };
    source.subscribe(sink);
    const sock = socks[0] as FakeConnectorSocket;
    clock.advance(2_000_000); // timers run first: the ack is still unread
    expect(got).toEqual([]);
    expect(deferred).toHaveLength(1);
    sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 0 }, sock.cookie + 1)); // the poll phase
    for (const fn of deferred.splice(0)) fn();
    expect(got).toEqual(['ready']);
    expect(source.isConfirmed).toBe(true);
    expect(sock.closed).toBe(false);
  });

  it('a deadline timer that fires late (the loop was blocked) is armed once more before it refuses', () => {
    const clock = new JumpClock();
    const { socks, source } = recordingSource({ clock, ackTimeoutUs: 2_000_000, defer: (fn) => fn() });
    const got: string[] = [];
    const sink: ProcEventSink = {
      event() {},
      lost() {},
      failed: () => got.push('failed'),
      ready: () => got.push('ready'),
    };
    source.subscribe(sink);
    clock.jump(5_000_000); // due at 2 s, run at 5 s
    expect(got).toEqual([]);
    expect(clock.armed).toBe(1);
    clock.jump(9_000_000); // the second deadline, late too: no third chance
    expect(got).toEqual(['failed']);
    expect(socks[0]?.closed).toBe(true);

    // on time: refused at once (after the deferral)
    source.reset();
    source.subscribe(sink);
    clock.jump(11_000_000);
    expect(got).toEqual(['failed', 'failed']);

    // late, then acked within the second deadline
    source.reset();
    source.subscribe(sink);
    clock.jump(20_000_000);
    const sock = socks[2] as FakeConnectorSocket;
    sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 0 }, sock.cookie + 1));
    clock.jump(30_000_000);
    expect(got).toEqual(['failed', 'failed', 'ready']);
    expect(clock.armed).toBe(0);
  });

  it('a receive error is lost events; errors that repeat or a dead socket fail the source', () => {
    const clock = new FakeClock(0);
    const { socks, source } = recordingSource({ clock, defer: (fn) => fn() });
    const counters = new Counters();
    const got: string[] = [];
    const sink: ProcEventSink = {
      event: (e) => got.push(e.what),
      lost: () => got.push('lost'),
      failed: (e) => got.push(`failed:${e.code}`),
      ready: () => got.push('ready'),
    };
    const ack = (sock: FakeConnectorSocket) =>
      sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 0 }, sock.cookie + 1));
    const eio = () => new SysError(SysErrors.KA_ERR_SYS_CALL, 'recvmsg: EIO', 'EIO', 'recvmsg');
    source.subscribe(sink, { counters });
    const sock = socks[0] as FakeConnectorSocket;
    ack(sock);
    sock.fire('error', eio());
    expect(got).toEqual(['ready', 'lost']);
    clock.advance(10_000_000); // the first one is out of the window
    sock.fire('error', eio());
    sock.fire('error', eio());
    expect(got).toEqual(['ready', 'lost', 'lost', 'lost']);
    expect(source.isOpen).toBe(true);
    sock.fire('error', eio()); // the third within 10 s
    expect(got).toEqual(['ready', 'lost', 'lost', 'lost', 'failed:KA_ERR_TRACK_PROC_CONNECTOR']);
    expect(sock.closed).toBe(true);
    expect(opOf(sock.sent[1])).toBe(PROC_CN_MCAST_IGNORE);
    expect(counters.get('KA_ERR_SYS_CALL')).toBe(4);
    expect(() => source.subscribe(sink)).toThrow(/receive errors repeat/);

    // a closed descriptor: failed at once
    source.reset();
    source.subscribe(sink, { counters });
    const again = socks[1] as FakeConnectorSocket;
    ack(again);
    again.fire(
      'error',
      new SysError(SysErrors.KA_ERR_SYS_CLOSED, 'netlink socket closed', 'EBADF', 'recvmsg'),
    );
    expect(got.slice(5)).toEqual(['ready', 'failed:KA_ERR_TRACK_PROC_CONNECTOR']);
    expect(again.closed).toBe(true);
  });

  it('a table on the connector: a receive error rescans, a dead socket polls and the retry resumes events', async () => {
    const clock = new FakeClock(0);
    const { socks, source } = recordingSource({ clock, defer: (fn) => fn() });
    const fs = procfsReader(root);
    const scans: Array<Promise<unknown>> = [];
    const reader = {
      entry: fs.entry,
      scan: (c: boolean) => {
        const p = fs.scan(c);
        scans.push(p);
        return p;
      },
    };
    const table = new ProcessTable({ events: source, reader, clock, retryMinUs: 1_000_000 });
    const tp = new TrackProcess({
      name: 'nginx',
      match: { process: 'nginx' },
      table,
      clock,
      intervalUs: 3_600_000_000,
      onChange() {},
    });
    const started = tp.start();
    const ack = (sock: FakeConnectorSocket) =>
      sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 0 }, sock.cookie + 1));
    ack(socks[0] as FakeConnectorSocket);
    expect(await started).toBe(true);
    expect(table.counts.scans).toBe(1);
    await dropProc(500); // gone while events were lost
    (socks[0] as FakeConnectorSocket).fire(
      'error',
      new SysError(SysErrors.KA_ERR_SYS_CALL, 'EIO', 'EIO', 'recvmsg'),
    );
    expect(tp.mode).toBe('events');
    await new Promise((r) => setImmediate(r));
    expect(scans).toHaveLength(2); // the error started a rescan
    await table.rescan(false); // joins it
    expect(tp.count).toBe(0); // it saw 500 gone
    (socks[0] as FakeConnectorSocket).fire(
      'error',
      new SysError(SysErrors.KA_ERR_SYS_CLOSED, 'netlink socket closed', 'EBADF', 'recvmsg'),
    );
    expect(tp.mode).toBe('polling');
    clock.advance(1_000_000);
    expect(socks).toHaveLength(2);
    ack(socks[1] as FakeConnectorSocket);
    expect(tp.mode).toBe('events');
    tp.stop();
    expect(clock.armed).toBe(0);
  });

  it('a forward jump of the per-CPU sequence is lost events; repeats, steps back and other CPUs are not', () => {
    const sock = new FakeConnectorSocket();
    const source = new ProcConnectorSource(() => sock, { clock: new FakeClock(0) });
    const counters = new Counters();
    const got: string[] = [];
    source.subscribe(
      { event: (e) => got.push(`${e.what}${e.cpu}`), lost: () => got.push('lost'), failed() {} },
      { counters },
    );
    sock.fire('event', seqMsg(exec(5), 10));
    sock.fire('event', seqMsg(exit(5), 11));
    sock.fire('event', seqMsg({ ...exec(6), cpu: 1 }, 900)); // first seen on CPU 1: its baseline
    sock.fire('event', seqMsg({ ...T, what: 'other', code: 4, data: Buffer.alloc(0) }, 12)); // counted, not passed on
    sock.fire('event', seqMsg(exec(7), 12)); // a repeat
    sock.fire('event', seqMsg(exec(8), 15)); // 13 and 14 missing
    expect(got).toEqual(['exec0', 'exit0', 'exec1', 'exec0', 'lost', 'exec0']);
    expect(counters.get('track.proc_events_seq_gaps')).toBe(1);
    sock.fire('resync', new Error('ENOBUFS')); // one loss; the gap after the overrun is not another
    sock.fire('event', seqMsg(exec(9), 40));
    expect(got.slice(6)).toEqual(['lost', 'exec0']);
    sock.fire('event', seqMsg(exec(9), 41));
    sock.fire('event', seqMsg(exec(9), 39)); // a step back (reordered): nothing lost
    expect(got.slice(8)).toEqual(['exec0', 'exec0']);
    sock.fire('resync', new Error('ENOBUFS'));
    sock.fire('event', seqMsg(exec(9), 0xffffffff));
    sock.fire('event', seqMsg(exec(9), 0)); // wraps: nothing lost
    sock.fire('event', seqMsg(exec(9), 2));
    expect(got.slice(10)).toEqual(['lost', 'exec0', 'exec0', 'lost', 'exec0']);
    expect(counters.get('track.proc_events_seq_gaps')).toBe(2);
  });

  it('a table on the connector: polls after the silent refusal, retries, follows events after an ack', async () => {
    const clock = new FakeClock(0);
    const { socks, source } = recordingSource({ ackTimeoutUs: 500_000 });
    const counters = new Counters();
    const table = new ProcessTable({
      events: source,
      reader: procfsReader(root),
      clock,
      counters,
      retryMinUs: 2_000_000,
    });
    const tp = new TrackProcess({
      name: 'nginx',
      match: { process: 'nginx' },
      table,
      clock,
      counters,
      intervalUs: 3_600_000_000,
      onChange() {},
    });
    const started = tp.start();
    expect(table.mode).toBe('confirming');
    clock.advance(500_000);
    await started;
    expect(tp.mode).toBe('polling');
    expect(counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
    clock.advance(2_000_000);
    expect(socks.length).toBe(2);
    expect(counters.get('track.proc_connector_retries')).toBe(1);
    const sock = socks[1] as FakeConnectorSocket;
    sock.fire('event', kernelMsg({ ...T, what: 'ack', err: 0 }, sock.cookie + 1));
    expect(tp.mode).toBe('events');
    tp.stop();
    expect(sock.closed).toBe(true);
    expect(opOf(sock.sent[1])).toBe(PROC_CN_MCAST_IGNORE);
  });
});
