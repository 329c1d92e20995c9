import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { VrrpInstance } from '../../../src/vrrp/instance.js';
import { initialState, machineConfig, step } from '../../../src/vrrp/machine.js';
import { VrrpState } from '../../../src/vrrp/types.js';
import { rx } from './helpers.js';

type Opts = Parameters<typeof machineConfig>[0];

/** An instance on a fake clock; `calls` records what it does, with the time. */
function harness(o: Partial<Opts> = {}, start = 1_000_000) {
  const clock = new FakeClock(start);
  const calls: string[] = [];
  const at = () => `${(clock.now() - start) / 1e6}s`;
  const inst = new VrrpInstance(
    machineConfig({ name: 'VI_1', vrid: 1, primaryIp: '192.0.2.1', ...o }),
    { addresses: ['192.0.2.100'] },
    {
      clock,
      transport: { send: (a) => void calls.push(`${at()} advert ${a.priority}`) },
      addresses: { addVips: () => undefined, removeVips: () => undefined },
      announcer: { announce: () => undefined },
      notifier: { notify: (s) => void calls.push(`${at()} notify ${s}`) },
    },
  );
  return { clock, inst, calls, start };
}

// priority 100, advert_int 1: Master_Down_Interval = 3 s + skew (256-100)/256 s = 3.609375 s
const MDI = 3_609_375;

describe('vrrp_startup_delay (keepalived vrrp_delayed_start_time)', () => {
  it('enters BACKUP at once but leaves it only a full Master_Down_Interval after the delay', () => {
    const h = harness();
    h.inst.start(h.start + 3_000_000);
    expect(h.inst.state).toBe(VrrpState.BACKUP); // not INIT: keepalived logs "Entering BACKUP STATE (init)"
    expect(h.inst.machine.timers.down).toBe(h.start + 3_000_000 + MDI);
    h.clock.advance(3_000_000 + MDI - 1);
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    h.clock.advance(1);
    expect(h.inst.state).toBe(VrrpState.MASTER);
    expect(h.calls).toEqual(['0s notify BACKUP', '6.609375s advert 100', '6.609375s notify MASTER']);
  });

  it('holds an address owner (state MASTER, priority 255) until 1 µs after the delay', () => {
    const h = harness({ priority: 255, initialState: 'MASTER' });
    h.inst.start(h.start + 2_000_000);
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    h.clock.advance(2_000_000);
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    h.clock.advance(1);
    expect(h.inst.state).toBe(VrrpState.MASTER);
  });

  it('takes adverts during the delay (a master is learnt; its adverts restart the timer from the delay end)', () => {
    const h = harness();
    h.inst.start(h.start + 10_000_000);
    h.clock.advance(1_000_000);
    h.inst.receive(rx(200, '192.0.2.9'));
    expect(h.inst.machine.masterAddr).toBe('192.0.2.9');
    // priority 100 listening to a master at 200: MDI = 3 s + skew of our own priority
    expect(h.inst.machine.timers.down).toBe(h.start + 10_000_000 + MDI);
    // the delay is over: the next advert restarts the timer from now, as without a delay
    h.clock.advance(9_500_000);
    h.inst.receive(rx(200, '192.0.2.9'));
    expect(h.inst.machine.timers.down).toBe(h.clock.now() + MDI);
    expect(h.inst.machine.startHoldUntil).toBeNull();
    expect(h.inst.state).toBe(VrrpState.BACKUP);
  });

  it('a priority-0 advert during the delay only brings the timer to the delay end + skew', () => {
    const h = harness();
    h.inst.start(h.start + 5_000_000);
    h.clock.advance(1_000_000);
    h.inst.receive(rx(0, '192.0.2.9'));
    expect(h.inst.machine.timers.down).toBe(h.start + 5_000_000 + 609_375);
  });

  it('without a delay (or one already over) start-up is unchanged', () => {
    const a = harness({ priority: 255, initialState: 'MASTER' });
    a.inst.start();
    a.clock.advance(1);
    expect(a.inst.state).toBe(VrrpState.MASTER);
    const b = harness();
    b.inst.start(b.start - 1);
    expect(b.inst.machine.startHoldUntil).toBeNull();
    expect(b.inst.machine.timers.down).toBe(b.start + MDI);
  });

  it('the step function ignores a hold for a machine already started (reload does not delay)', () => {
    const cfg = machineConfig({ name: 'VI_1', vrid: 1, primaryIp: '192.0.2.1' });
    const started = step(initialState(cfg), { type: 'startup' }, 0).state;
    const again = step(started, { type: 'startup', holdUntil: 10_000_000 }, 1);
    expect(again.state.startHoldUntil).toBeNull();
    expect(again.actions).toEqual([]);
  });
});
