import { describe, expect, it } from 'vitest';
import { type Clock, FakeClock, type Micros } from '../../../src/core/clock.js';
import { isKaError } from '../../../src/core/errors.js';
import { VrrpInstance, type VrrpInstanceDeps } from '../../../src/vrrp/instance.js';
import { machineConfig } from '../../../src/vrrp/machine.js';
import type { VrrpAction } from '../../../src/vrrp/types.js';
import { VrrpState } from '../../../src/vrrp/types.js';
import type { VrrpAdvert } from '../../../src/wire/vrrp.js';
import { rx } from './helpers.js';

type Opts = Parameters<typeof machineConfig>[0];

/** An instance whose operations record into `calls`; individual operations can be replaced. */
function harness(
  o: Partial<Opts> = {},
  over: Partial<VrrpInstanceDeps> = {},
  clock: Clock = new FakeClock(0),
) {
  const calls: string[] = [];
  const sent: VrrpAdvert[] = [];
  const seen: [VrrpAction['type'], Micros][] = [];
  const deps: VrrpInstanceDeps = {
    clock,
    transport: {
      send: (a) => {
        sent.push(a);
        calls.push(`send:${a.priority}`);
      },
    },
    addresses: { addVips: () => void calls.push('addVips'), removeVips: () => void calls.push('removeVips') },
    announcer: { announce: (n) => void calls.push(`garp:${n}`) },
    notifier: { notify: (s, p) => void calls.push(`notify:${s}:${p}`) },
    onAction: (a, t) => void seen.push([a.type, t]),
    ...over,
  };
  const inst = new VrrpInstance(
    machineConfig({ name: 'VI_1', vrid: 7, primaryIp: '192.0.2.1', ...o }),
    { addresses: ['192.0.2.100', '192.0.2.101'], authType: 1, authData: Buffer.from('secret1\0') },
    deps,
  );
  return { inst, calls, sent, seen };
}

describe('VrrpInstance runtime', () => {
  it('arms exactly one timer per deadline and runs an election on the clock', () => {
    const clock = new FakeClock(0);
    const { inst, calls } = harness({}, {}, clock);
    inst.start();
    expect(clock.armed).toBe(1);
    clock.advance(3_609_374);
    expect(inst.state).toBe(VrrpState.BACKUP);
    clock.advance(1);
    expect(inst.state).toBe(VrrpState.MASTER);
    expect(clock.armed).toBe(2); // advert + garpDelay
    expect(calls).toEqual([
      'removeVips',
      'notify:BACKUP:100',
      'send:100',
      'addVips',
      'garp:5',
      'notify:MASTER:100',
    ]);
  });

  it('builds the advert the codec expects (v2 seconds + auth; v3 centiseconds, no auth)', () => {
    const v2 = harness().inst.buildAdvert(150);
    expect(v2).toEqual({
      version: 2,
      type: 1,
      vrid: 7,
      priority: 150,
      advertInterval: 1,
      authType: 1,
      authData: Buffer.from('secret1\0'),
      addresses: ['192.0.2.100', '192.0.2.101'],
      family: 4,
      checksum: 0,
    });
    const v3 = harness({ version: 3, advertIntervalUs: 100_000 }).inst.buildAdvert(0);
    expect([v3.version, v3.advertInterval, v3.authType, v3.authData.length, v3.priority]).toEqual([
      3, 10, 0, 0, 0,
    ]);
  });

  it('waits for an asynchronous VIP add before sending GARPs; the advert goes first, synchronously', async () => {
    let release: () => void = () => {};
    const clock = new FakeClock(0);
    const h = harness(
      { priority: 255 },
      {
        addresses: {
          addVips: () =>
            new Promise<void>((r) => {
              release = () => {
                h.calls.push('addVips:done');
                r();
              };
            }),
          removeVips: () => void h.calls.push('removeVips'),
        },
      },
      clock,
    );
    h.inst.start();
    clock.advance(1);
    expect(h.calls).toEqual(['removeVips', 'notify:BACKUP:255', 'send:255']);
    release();
    await h.inst.idle();
    expect(h.calls).toEqual([
      'removeVips',
      'notify:BACKUP:255',
      'send:255',
      'addVips:done',
      'garp:5',
      'notify:MASTER:255',
    ]);
  });

  it('a failing operation is logged and counted; the machine and later actions carry on', async () => {
    const clock = new FakeClock(0);
    const h = harness(
      { priority: 255 },
      {
        transport: {
          send: () => {
            throw new Error('ENETUNREACH');
          },
        },
        addresses: { addVips: () => Promise.reject(new Error('EPERM')), removeVips: () => {} },
      },
      clock,
    );
    h.inst.start();
    clock.advance(2_000_001);
    await h.inst.idle();
    expect(h.inst.state).toBe(VrrpState.MASTER);
    expect(h.inst.counters.get('vrrp.action_failed.sendAdvert')).toBe(3);
    expect(h.inst.counters.get('vrrp.action_failed.addVips')).toBe(1);
    expect(h.calls).toEqual(['notify:BACKUP:255', 'garp:5', 'notify:MASTER:255']);
  });

  it('a ms-granular timer waking early does not make the machine act before its µs deadline', () => {
    const fake = new FakeClock(0);
    // Node's setTimeout truncates the delay to whole ms (at least 1): 3609.375 ms fires at 3609 ms
    const msTimer: Clock = {
      now: () => fake.now(),
      at: (at, fn) => fake.at(fake.now() + Math.max(1000, Math.trunc((at - fake.now()) / 1000) * 1000), fn),
    };
    const h = harness({}, {}, msTimer);
    h.inst.start();
    fake.advance(3_700_000);
    // woke at 3.609000 s (early), re-armed for the remaining 375 µs, which rounds up to 1 ms
    expect(h.seen.find(([t]) => t === 'sendAdvert')).toEqual(['sendAdvert', 3_610_000]);
  });

  it('counts adverts, priority 0, become/release master, received adverts and dropped input', () => {
    const clock = new FakeClock(0);
    const h = harness({}, {}, clock);
    h.inst.start();
    clock.advance(3_609_375 + 2_000_000);
    h.inst.receive(rx(0, '192.0.2.2', { vrid: 7 }));
    h.inst.receive(rx(150, '192.0.2.2', { vrid: 7 }));
    h.inst.receive(rx(150, 'bogus', { vrid: 7 }));
    h.inst.stop();
    expect(h.inst.counters.snapshot()).toEqual({
      'vrrp.advert_rcvd': 3,
      'vrrp.advert_sent': 4, // becoming master, two periodic, answer to priority 0
      'vrrp.become_master': 1,
      'vrrp.dropped.KA_ERR_VRRP_ADVERT_SRC': 1,
      'vrrp.pri_zero_rcvd': 1,
      'vrrp.release_master': 1,
    });
    expect(h.inst.state).toBe(VrrpState.INIT);
    expect(clock.armed).toBe(0);
  });

  it('kill() cancels every timer and ignores later events', () => {
    const clock = new FakeClock(0);
    const h = harness({}, {}, clock);
    h.inst.start();
    h.inst.kill();
    expect(clock.armed).toBe(0);
    h.inst.receive(rx(150, '192.0.2.2', { vrid: 7 }));
    clock.advance(10_000_000);
    expect(h.inst.state).toBe(VrrpState.BACKUP);
  });

  it('refuses a bad configuration with a typed error', () => {
    let err: unknown;
    try {
      harness({ advertIntervalUs: 0 });
    } catch (e) {
      err = e;
    }
    expect(isKaError(err, 'KA_ERR_VRRP_MACHINE_CONFIG')).toBe(true);
  });

  it('anchors the timers an advert restarts on its receive time, clamped to [last step, now]', () => {
    const clock = new FakeClock(0);
    const h = harness({}, {}, clock);
    h.inst.start();
    clock.advance(1_000_000);
    // Received by the kernel 700 µs before the event loop handled it.
    h.inst.receive(rx(150, '192.0.2.2', { vrid: 7 }), 999_300);
    expect(h.inst.machine.timers.down).toBe(999_300 + 3_609_375);
    // A stamp from the future is clamped to now.
    clock.advance(1_000);
    h.inst.receive(rx(150, '192.0.2.2', { vrid: 7 }), 5_000_000);
    expect(h.inst.machine.timers.down).toBe(1_001_000 + 3_609_375);
    // A stamp older than the previous step is clamped to that step: time never goes backwards.
    clock.advance(1_000);
    h.inst.receive(rx(150, '192.0.2.2', { vrid: 7 }), 500_000);
    expect(h.inst.machine.timers.down).toBe(1_001_000 + 3_609_375);
    // A priority-0 advert arms the skew time from its receive time.
    clock.advance(1_000);
    h.inst.receive(rx(0, '192.0.2.2', { vrid: 7 }), 1_002_600);
    expect(h.inst.machine.timers.down).toBe(1_002_600 + 609_375);
    clock.advanceTo(1_002_600 + 609_374);
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    clock.advance(1);
    expect(h.inst.state).toBe(VrrpState.MASTER);
  });

  it('sends the takeover advert before re-arming any timer', () => {
    const clock = new FakeClock(0);
    let armedAtSend = -1;
    const send = () => {
      armedAtSend = clock.armed;
    };
    const h = harness({}, { transport: { send } }, clock);
    h.inst.start();
    clock.advance(3_609_375);
    expect(h.inst.state).toBe(VrrpState.MASTER);
    expect(armedAtSend).toBe(0); // the fired down timer is gone, advert and garpDelay not yet armed
    expect(clock.armed).toBe(2);
  });

  it('warmUp() changes nothing: no action, no timer, same machine', () => {
    const clock = new FakeClock(0);
    const h = harness({}, {}, clock);
    h.inst.start();
    const before = h.inst.machine;
    const calls = h.calls.length;
    h.inst.warmUp();
    expect(h.inst.machine).toBe(before);
    expect(h.calls.length).toBe(calls);
    expect(h.sent).toEqual([]);
    expect(clock.armed).toBe(1);
  });

  it('a timer found far past its deadline (stalled process) waits one clock turn so queued adverts count first', () => {
    // A clock driven turn by turn, like an event loop: `turn()` runs the timers due when it starts.
    let t = 0;
    let timers: { at: Micros; fn: () => void; off: boolean }[] = [];
    const clock: Clock = {
      now: () => t,
      at: (at, fn) => {
        const e = { at, fn, off: false };
        timers.push(e);
        return {
          cancel: () => {
            e.off = true;
          },
        };
      },
    };
    const turn = () => {
      const due = timers.filter((e) => !e.off && e.at <= t);
      timers = timers.filter((e) => !due.includes(e) && !e.off);
      for (const e of due) e.fn();
    };
    const h = harness({ version: 3, advertIntervalUs: 100_000 }, {}, clock);
    h.inst.start();
    h.inst.receive(rx(200, '192.0.2.2', { version: 3, vrid: 7, advertInterval: 10 }));
    const masterDownUs = h.inst.machine.timers.down!; // the advert came at t = 0
    // Stopped for 700 ms: the timer is seen 340 ms late; the adverts queued meanwhile are read next.
    t = 700_000;
    turn();
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    h.inst.receive(rx(200, '192.0.2.2', { version: 3, vrid: 7, advertInterval: 10 }), 650_000);
    turn();
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    expect(h.inst.machine.timers.down).toBe(650_000 + masterDownUs);
    // Without input in between, the deferred expiry takes effect on the next turn.
    t = 2_000_000;
    turn();
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    turn();
    expect(h.inst.state).toBe(VrrpState.MASTER);
    expect(h.sent.map((a) => a.priority)).toEqual([100]);
  });
});
