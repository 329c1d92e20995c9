/**
 * Trackers a VrrpHost instance runs with (instanceTrackers), for sync-group members. keepalived
 * 2.2.7 (vrrp.c vrrp_complete_instance, sync_group_tracking_init) drops a member's own weighted
 * track_script unless the group has sync_group_tracking_weight, and applies the group's track_*
 * weights to every member. The configuration is the SNMP interop one
 * (test/interop/fixtures/snmp/node-a-track.conf), where keepalived advertises 110; the warnings
 * are keepalived 2.2.7's as it logged them for this file. An interface whose weight the group
 * clears keeps `reverse` in keepalived's dump but does not fault when up (Debian's 2.2.7 in a
 * namespace: `lo weight -5 reverse` in a member goes MASTER; standalone `lo weight 0 reverse` is
 * FAULT), so it runs as a plain weight-0 interface.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { instanceTrackers } from '../../../src/daemon/vrrp-host.js';
import { InstanceTracking } from '../../../src/vrrp/track/instance.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-track-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function conf(groupExtra: string, priority = 100): string {
  return `
vrrp_script chk_ok {
  script "/bin/true ok"
  interval 1
  weight 10
}
vrrp_script chk_bad {
  script /bin/false
  interval 1
  weight -20
}
vrrp_script chk_rev {
  script /bin/true
  interval 2
  weight 5 reverse
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_2
  }
  track_interface {
    eth1 weight 7
  }
  track_script {
    chk_ok
  }
${groupExtra}
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 71
  priority ${priority}
  track_interface {
    eth1
    lo weight -5 reverse
  }
  track_script {
    chk_ok
    chk_bad weight -30
    chk_rev
  }
  virtual_ipaddress {
    192.0.2.121/24
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 72
  priority 100
  virtual_ipaddress {
    192.0.2.122/24
  }
}
`;
}

let n = 0;
function trackersOf(text: string, inst = 'VI_1') {
  const path = join(dir, `k${n++}.conf`);
  writeFileSync(path, text);
  const { config, diagnostics } = loadConfig(path, {});
  expect(diagnostics.filter((d) => d.severity === 'fatal')).toEqual([]);
  const cfg = config.vrrpInstances.find((i) => i.name === inst);
  if (!cfg) throw new Error(`no ${inst}`);
  return { cfg, ...instanceTrackers(config, cfg) };
}

/** Effective priority with every tracked script up (passing) and every interface up. */
function priorityAllUp(base: number, r: ReturnType<typeof trackersOf>): number {
  const t = new InstanceTracking({
    instance: 'VI_1',
    basePriority: base,
    trackers: r.trackers,
    onChange: () => {},
  });
  t.seed(r.trackers.map((x) => ({ kind: x.kind as 'interface', name: x.name, state: 'up' as const })));
  return t.result.effectivePriority;
}

describe('instanceTrackers: sync-group members (keepalived 2.2.7 rules)', () => {
  it('drops the member own weighted scripts and applies the group weights', () => {
    const r = trackersOf(conf(''));
    expect(r.trackers.map((t) => `${t.kind}:${t.name}:${t.weight}${t.reverse ? 'r' : ''}`)).toEqual([
      'interface:eth1:0',
      'interface:lo:0',
      'script:chk_ok:10',
    ]);
    expect(r.warnings).toEqual([
      '(VI_1) ignoring lo tracked interface weight due to SYNC group',
      '(VI_1) ignoring tracked script chk_ok with weights due to SYNC group',
      '(VI_1) ignoring tracked script chk_bad with weights due to SYNC group',
      '(VI_1) ignoring tracked script chk_rev with weights due to SYNC group',
    ]);
    // keepalived advertises 110 with this configuration (SNMP interop walk).
    expect(priorityAllUp(100, r)).toBe(110);
  });

  it('a member without own trackers gets the group ones with their weights', () => {
    const r = trackersOf(conf(''), 'VI_2');
    expect(r.trackers.map((t) => `${t.kind}:${t.name}:${t.weight}`)).toEqual([
      'interface:eth1:7',
      'script:chk_ok:10',
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('sync_group_tracking_weight keeps the member own weights (group ones for the rest)', () => {
    const r = trackersOf(conf('  sync_group_tracking_weight'));
    expect(r.trackers.map((t) => `${t.kind}:${t.name}:${t.weight}${t.reverse ? 'r' : ''}`)).toEqual([
      'interface:eth1:0',
      'interface:lo:-5r',
      'script:chk_ok:10',
      'script:chk_bad:-30',
      'script:chk_rev:5r',
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('an address-owner member clears the group weights', () => {
    const r = trackersOf(conf(''), 'VI_2');
    const owner = trackersOf(conf('', 255), 'VI_2');
    expect(r.trackers.every((t) => t.kind !== 'script' || t.weight === 10)).toBe(true);
    expect(owner.trackers.map((t) => `${t.kind}:${t.name}:${t.weight}`)).toEqual([
      'interface:eth1:0',
      'script:chk_ok:0',
    ]);
    expect(owner.warnings).toEqual([
      "(G1) Cannot have weighted track interface 'eth1' with member having priority 255 - clearing weight",
      "(G1) Cannot have weighted track script 'chk_ok' with member having priority 255 - clearing weight",
    ]);
  });
});
