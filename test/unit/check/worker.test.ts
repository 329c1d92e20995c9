import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { icmpPinger } from '../../../src/check/icmp.js';
import type { Runner } from '../../../src/check/index.js';
import type { RealServerEvent, TcpCheckSpec } from '../../../src/check/types.js';
import { CheckerWorker, serveScheduler } from '../../../src/check/worker.js';
import { KaError } from '../../../src/core/errors.js';

// The worker protocol, in-thread over a MessageChannel (the same code runs behind worker_threads).
const spec: TcpCheckSpec = {
  kind: 'TCP_CHECK',
  connectIp: '198.51.100.2',
  connectPort: 80,
  connectTimeout: 0.01,
  delayLoop: 0.02,
  retry: 1,
  delayBeforeRetry: 0.01,
  warmup: 0,
  alpha: false,
};

describe('checker worker protocol', () => {
  it('adds servers, relays events and stats, reports errors, removes and stops', async () => {
    const { port1, port2 } = new MessageChannel();
    let healthy = true;
    const runner: Runner = async () =>
      healthy ? { ok: true } : { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', 'refused') };
    serveScheduler(port1, { maxConcurrent: 4 }, runner);
    const events: RealServerEvent[] = [];
    const errors: KaError[] = [];
    let wake: () => void = () => {};
    const w = new CheckerWorker(
      {
        onEvent: (e) => {
          events.push(e);
          wake();
        },
        onError: (e) => {
          errors.push(e);
          wake();
        },
      },
      { endpoint: port2 },
    );
    const until = (cond: () => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => (cond() ? resolve() : undefined);
        wake = check;
        check();
      });
    w.add({ id: 'rs1', weight: 3, checkers: [spec] });
    await until(() => events.length === 1);
    expect(events[0]).toEqual({ realServer: 'rs1', up: true });
    healthy = false;
    await until(() => events.length === 2);
    const tcpChecker = { index: 0, kind: 'TCP_CHECK' };
    expect(events[1]).toEqual({ realServer: 'rs1', up: false, checker: { ...tcpChecker, up: false } });
    healthy = true;
    await until(() => events.length === 3);
    expect(events[2]).toEqual({ realServer: 'rs1', up: true, checker: { ...tcpChecker, up: true } });
    const stats = await w.stats();
    expect(stats.attempts).toBeGreaterThanOrEqual(3); // fail, retry fails (DOWN), success (UP)
    expect(stats.failCodes.KA_ERR_CHECK_REFUSED).toBeGreaterThanOrEqual(2);
    // the worker's own counters travel with the stats (PING_CHECK's raw-socket refusals, fallbacks)
    const before = icmpPinger.counters.get('check.ping.fallback');
    icmpPinger.counters.inc('check.ping.fallback');
    expect((await w.stats()).counters['check.ping.fallback']).toBe(before + 1);
    w.add({ id: 'rs1', weight: 3, checkers: [spec] });
    await until(() => errors.length === 1);
    expect(errors[0]).toMatchObject({ code: 'KA_ERR_CHECK_SPEC', details: { id: 'rs1' } });
    port2.postMessage({ type: 'bogus' });
    await until(() => errors.length === 2);
    expect(errors[1]?.code).toBe('KA_ERR_CHECK_SPEC');
    w.remove('rs1');
    await w.stop();
    const after = (await w.stats()).attempts;
    await new Promise((r) => setTimeout(r, 60));
    expect((await w.stats()).attempts).toBe(after);
    port1.close();
  });
});

describe('checker worker: BFD sessions', () => {
  it('a bfd message sets the BFD_CHECK checkers of that instance; a malformed one is a typed error', async () => {
    const { port1, port2 } = new MessageChannel();
    serveScheduler(port1, {}, async () => ({ ok: true }));
    const events: RealServerEvent[] = [];
    const errors: KaError[] = [];
    const w = new CheckerWorker(
      { onEvent: (e) => events.push(e), onError: (e) => errors.push(e) },
      { endpoint: port2 },
    );
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    };
    w.add({
      id: 'rs1',
      weight: 1,
      checkers: [
        { kind: 'BFD_CHECK', name: 'b1', delayLoop: 1, retry: 0, delayBeforeRetry: 1, alpha: false },
      ],
    });
    w.bfd('b1', false);
    await until(() => events.length === 2);
    expect(events).toEqual([
      { realServer: 'rs1', up: true },
      { realServer: 'rs1', up: false, checker: { index: 0, kind: 'BFD_CHECK', up: false, bfd: 'b1' } },
    ]);
    port2.postMessage({ type: 'bfd', name: 'b1', up: 'yes' });
    await until(() => errors.length === 1);
    expect(errors[0]?.code).toBe('KA_ERR_CHECK_SPEC');
    await w.stop();
    port1.close();
  });
});

describe('checker worker logging', () => {
  it('counts syslog send errors in its own counters, which travel with the stats', async () => {
    const saved = process.env.KEEPALIVED_TS_SYSLOG_SOCKET;
    // a log socket nobody listens on: every datagram fails (ENOENT)
    process.env.KEEPALIVED_TS_SYSLOG_SOCKET = `/nonexistent-kt-${process.pid}/log`;
    const { port1, port2 } = new MessageChannel();
    try {
      const runner: Runner = async () => ({
        ok: false,
        error: new KaError('KA_ERR_CHECK_REFUSED', 'refused'),
      });
      serveScheduler(port1, { maxConcurrent: 4, logLevel: 'info' }, runner);
      const events: RealServerEvent[] = [];
      const w = new CheckerWorker({ onEvent: (e) => events.push(e) }, { endpoint: port2 });
      const before = (await w.stats()).counters['log.syslog_errors'] ?? 0;
      w.add({ id: 'rs1', weight: 1, checkers: [spec] });
      // the real server goes down: logged at info, sent to the missing socket
      for (let i = 0; i < 200 && !events.some((e) => !e.up); i++) await new Promise((r) => setTimeout(r, 10));
      expect(events.some((e) => !e.up)).toBe(true);
      let errs = before;
      for (let i = 0; i < 100 && errs === before; i++) {
        await new Promise((r) => setTimeout(r, 10));
        errs = (await w.stats()).counters['log.syslog_errors'] ?? 0;
      }
      expect(errs).toBeGreaterThan(before);
      await w.stop();
    } finally {
      port1.close();
      if (saved === undefined) delete process.env.KEEPALIVED_TS_SYSLOG_SOCKET;
      else process.env.KEEPALIVED_TS_SYSLOG_SOCKET = saved;
    }
  });
});
