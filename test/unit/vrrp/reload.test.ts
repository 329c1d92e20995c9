/**
 * SIGHUP reload of a kept instance on the fake clock (machine.ts onReload, VrrpInstance.reconfigure):
 * the state is kept without a transition or notify, and priority, advert interval, authentication and
 * preemption come from the new configuration, with the timers keepalived restarts after a reload.
 * Also the reload plan's split of applied and unapplied changes (src/daemon/reload.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { FakeClock } from '../../../src/core/clock.js';
import { planReload } from '../../../src/daemon/reload.js';
import { type AdvertTemplate, VrrpInstance } from '../../../src/vrrp/instance.js';
import { machineConfig, step } from '../../../src/vrrp/machine.js';
import { VrrpState } from '../../../src/vrrp/types.js';
import type { VrrpAdvert } from '../../../src/wire/vrrp.js';
import { rx } from './helpers.js';

type Opts = Parameters<typeof machineConfig>[0];
const base: Opts = { name: 'VI_1', vrid: 7, primaryIp: '192.0.2.1', priority: 100 };
const tpl = (authType = 0, pass = ''): AdvertTemplate => ({
  addresses: ['192.0.2.100'],
  authType,
  authData: Buffer.from(pass.padEnd(8, '\0')),
});

function harness(o: Partial<Opts> = {}) {
  const clock = new FakeClock(0);
  const sent: [number, VrrpAdvert][] = [];
  const calls: string[] = [];
  const inst = new VrrpInstance(machineConfig({ ...base, ...o }), tpl(), {
    clock,
    transport: { send: (a) => void sent.push([clock.now(), a]) },
    addresses: { addVips: () => void calls.push('addVips'), removeVips: () => void calls.push('removeVips') },
    announcer: { announce: (n) => void calls.push(`garp:${n}`) },
    notifier: { notify: (s, p) => void calls.push(`notify:${s}:${p}`) },
  });
  return { clock, sent, calls, inst };
}

/** A started instance that became MASTER (alone on the link). */
function master(o: Partial<Opts> = {}) {
  const h = harness(o);
  h.inst.start();
  h.clock.advance(h.inst.machine.timers.down!);
  expect(h.inst.state).toBe(VrrpState.MASTER);
  h.sent.length = 0;
  h.calls.length = 0;
  return h;
}

describe('reload of a kept instance', () => {
  it('MASTER: advertises at once with the new priority, interval and PASS, then at the new interval; no transition', () => {
    const h = master();
    const t0 = h.clock.now() + 300_000; // mid-interval
    h.clock.advanceTo(t0);
    h.inst.reconfigure(
      machineConfig({ ...base, priority: 150, advertIntervalUs: 2_000_000 }),
      tpl(1, 'newpass'),
      150,
    );
    expect(h.inst.state).toBe(VrrpState.MASTER);
    expect(h.inst.machine.effectivePriority).toBe(150);
    h.clock.advance(0);
    h.clock.advance(4_000_000);
    expect(h.sent.map(([t, a]) => [t - t0, a.priority, a.advertInterval, a.authType])).toEqual([
      [0, 150, 2, 1],
      [2_000_000, 150, 2, 1],
      [4_000_000, 150, 2, 1],
    ]);
    expect(h.sent[0]![1].authData).toEqual(Buffer.from('newpass\0'));
    expect(h.calls).toEqual([]); // no notify, no VIP work
  });

  it('BACKUP: Master_Down restarts from the reload with the new interval and priority; v3 learned interval resets', () => {
    const h = harness({ version: 3, advertIntervalUs: 100_000 });
    h.inst.start();
    h.clock.advance(50_000);
    // The master advertises every 200 ms: learned.
    h.inst.receive(rx(200, '192.0.2.2', { version: 3, vrid: 7, advertInterval: 20 }));
    expect(h.inst.machine.masterAdverIntUs).toBe(200_000);
    h.clock.advance(100_000);
    const t = h.clock.now();
    h.inst.reconfigure(
      machineConfig({ ...base, version: 3, advertIntervalUs: 300_000, priority: 50 }),
      tpl(),
      50,
    );
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    expect(h.inst.machine.masterAdverIntUs).toBe(300_000);
    // 3 × 300 ms + (256 - 50) × 30 cs × 625 / 16 µs (keepalived's v3 skew arithmetic).
    const skew = Math.floor((206 * 30 * 625) / 16);
    expect(h.inst.machine.timers.down).toBe(t + 900_000 + skew);
    expect(h.calls).toEqual(['removeVips', 'notify:BACKUP:100']); // the start-up ones only
  });

  it('a BACKUP whose new priority beats the master preempts it at the next Master_Down expiry', () => {
    const h = harness();
    h.inst.start();
    h.inst.receive(rx(120, '192.0.2.2', { vrid: 7 }));
    h.inst.reconfigure(machineConfig({ ...base, priority: 130 }), tpl(), 130);
    // The master's adverts (120) are now lower: discarded, so the down timer runs out.
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1_000_000);
      h.inst.receive(rx(120, '192.0.2.2', { vrid: 7 }));
    }
    expect(h.inst.state).toBe(VrrpState.BACKUP);
    h.clock.advance(1_000_000);
    expect(h.inst.state).toBe(VrrpState.MASTER);
    expect(h.sent.at(-1)?.[1].priority).toBe(130);
  });

  it('nopreempt from the reload stops that preemption', () => {
    const h = harness({ priority: 130 });
    h.inst.start();
    h.inst.reconfigure(machineConfig({ ...base, priority: 130, nopreempt: true }), tpl(), 130);
    for (let i = 0; i < 10; i++) {
      h.clock.advance(1_000_000);
      h.inst.receive(rx(120, '192.0.2.2', { vrid: 7 }));
    }
    expect(h.inst.state).toBe(VrrpState.BACKUP);
  });

  it('tracking: the effective priority given with the reload is used; 255 owners keep 255', () => {
    const h = master();
    h.inst.reconfigure(machineConfig({ ...base, priority: 100 }), tpl(), 80);
    expect([h.inst.machine.basePriority, h.inst.machine.effectivePriority]).toEqual([100, 80]);
    h.inst.reconfigure(machineConfig({ ...base, priority: 255 }), tpl(), 80);
    expect(h.inst.machine.effectivePriority).toBe(255);
  });

  it('FAULT keeps no timer; a bad effective priority is dropped and changes nothing', () => {
    const h = harness();
    h.inst.start();
    h.inst.fault();
    h.inst.reconfigure(machineConfig({ ...base, priority: 150 }), tpl(), 150);
    expect(h.inst.state).toBe(VrrpState.FAULT);
    expect(h.clock.armed).toBe(0);
    const m = h.inst.machine;
    const r = step(
      m,
      { type: 'reload', config: machineConfig({ ...base, priority: 200 }), effectivePriority: 0 },
      5,
    );
    expect(r.state.basePriority).toBe(150);
    expect(r.actions.map((a) => a.type)).toEqual(['dropped']);
  });
});

describe('reload plan: applied and unapplied changes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-reload-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const conf = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(
      p,
      `vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n${body}\n  virtual_ipaddress {\n    192.0.2.50/24\n  }\n}\n`,
    );
    return loadConfig(p, {}).config;
  };

  it('priority, advert_int, authentication and nopreempt are applied; a switch to AH is not', () => {
    const a = conf(
      'a',
      '  priority 100\n  advert_int 1\n  authentication {\n    auth_type PASS\n    auth_pass one\n  }',
    );
    const b = conf(
      'b',
      '  priority 150\n  advert_int 2\n  nopreempt\n  authentication {\n    auth_type PASS\n    auth_pass two\n  }',
    );
    const k = planReload(a, b).kept[0]!;
    expect(k.changed).toEqual(['priority', 'advertInt', 'nopreempt', 'authentication']);
    expect(k.unapplied).toEqual([]);
    const c = conf(
      'c',
      '  priority 100\n  advert_int 1\n  authentication {\n    auth_type AH\n    auth_pass one\n  }',
    );
    const k2 = planReload(a, c).kept[0]!;
    expect(k2.unapplied).toEqual(['authentication (AH)']);
    expect(planReload(a, a).kept[0]).toMatchObject({ changed: [], unapplied: [], routesChanged: false });
  });

  it('GARP timing and advert options are applied too; changed virtual_routes are flagged for re-install', () => {
    const a = conf('a', '  priority 100');
    const b = conf(
      'b',
      '  priority 100\n  garp_master_delay 2\n  lower_prio_no_advert\n  virtual_routes {\n    198.51.100.0/24 via 192.0.2.254\n  }',
    );
    const k = planReload(a, b).kept[0]!;
    expect(k.changed).toEqual(['garp', 'lowerPrioNoAdvert']);
    expect(k.routesChanged).toBe(true);
    expect(k.unapplied).toEqual([]);
  });

  it('mcast_dst_ip, mcast_src_ip (multicast) and unicast_ttl are applied (keepalived reopens the sockets)', () => {
    const a = conf('a', '  priority 100');
    const b = conf('b', '  priority 100\n  mcast_dst_ip 224.0.0.19');
    expect(planReload(a, b).kept[0]).toMatchObject({ changed: ['mcastDstIp'], unapplied: [] });
    const c = conf('c', '  priority 100\n  mcast_src_ip 192.0.2.9');
    expect(planReload(a, c).kept[0]).toMatchObject({ changed: ['mcastSrcIp'], unapplied: [] });
    const u = conf('u', '  priority 100\n  unicast_peer {\n    192.0.2.2\n  }');
    const u2 = conf('u2', '  priority 100\n  unicast_ttl 7\n  unicast_peer {\n    192.0.2.2\n  }');
    expect(planReload(u, u2).kept[0]).toMatchObject({ changed: ['unicastTtl'], unapplied: [] });
  });

  it('a unicast instance with another unicast_src_ip is another instance (keepalived compares the source)', () => {
    const peer = '  unicast_peer {\n    192.0.2.2\n  }';
    const a = conf('a', `  priority 100\n  unicast_src_ip 192.0.2.1\n${peer}`);
    const b = conf('b', `  priority 100\n  unicast_src_ip 192.0.2.3\n${peer}`);
    const p = planReload(a, b);
    expect([p.kept.length, p.removed.length, p.added.length]).toEqual([0, 1, 1]);
    expect(planReload(a, a).kept.length).toBe(1);
  });
});
