/**
 * Reload of global GARP settings (src/daemon/reload.ts planReload): keepalived re-reads
 * vrrp_min_garp and the global vrrp_garp_* defaults on SIGHUP, so a kept instance that inherits them
 * takes the new timing. The plan marks `garp` changed and VrrpHost.reload rebuilds the instance's
 * machine configuration with machineConfigOf from the new configuration (checked here on both). On the
 * wire: test/net/daemon/garp-pacing.test.ts (a reload adding and removing vrrp_garp_master_refresh).
 * promote_secondaries is an applied setting too (held or released by VrrpHost.reload; the sysctl
 * itself is checked in test/net/daemon/promote-secondaries.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { planReload } from '../../../src/daemon/reload.js';
import { machineConfigOf } from '../../../src/daemon/vrrp-host.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-reload-garp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function conf(globals: string, inst = ''): KeepalivedConfig {
  const p = join(dir, `k${n++}.conf`);
  writeFileSync(
    p,
    `global_defs {\n${globals}\n}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  priority 100\n${inst}\n  virtual_ipaddress {\n    192.0.2.50/24\n  }\n}\n`,
  );
  return loadConfig(p, {}).config;
}

/** The kept instance's GARP timing before and after, as the state machine gets it. */
function timing(a: KeepalivedConfig, b: KeepalivedConfig) {
  const k = planReload(a, b).kept[0]!;
  return {
    changed: k.changed,
    unapplied: k.unapplied,
    before: machineConfigOf(k.old, 4, '192.0.2.1').garp,
    after: machineConfigOf(k.next, 4, '192.0.2.1').garp,
  };
}

describe('reload: global GARP timing of a kept instance', () => {
  it('vrrp_min_garp turned on: garp changed, one GARP without second burst or refresh', () => {
    const t = timing(conf(''), conf('  vrrp_min_garp'));
    expect(t.changed).toEqual(['garp']);
    expect(t.unapplied).toEqual([]);
    expect(t.before).toMatchObject({ masterRepeat: 5, masterDelayUs: 5_000_000, masterRefreshRepeat: 1 });
    expect(t.after).toMatchObject({
      masterRepeat: 1,
      masterDelayUs: 0,
      masterRefreshUs: 0,
      masterRefreshRepeat: 0,
      lowerPrioRepeat: 1,
      lowerPrioDelayUs: 0,
    });
  });

  it('vrrp_min_garp turned off: garp changed back to the defaults', () => {
    const t = timing(conf('  vrrp_min_garp'), conf(''));
    expect(t.changed).toEqual(['garp']);
    expect(t.before).toMatchObject({ masterRepeat: 1, masterDelayUs: 0 });
    expect(t.after).toMatchObject({ masterRepeat: 5, masterDelayUs: 5_000_000, lowerPrioRepeat: 5 });
  });

  it('a changed global vrrp_garp_master_repeat / delay the instance inherits', () => {
    const t = timing(conf(''), conf('  vrrp_garp_master_repeat 3\n  vrrp_garp_master_delay 2'));
    expect(t.changed).toEqual(['garp']);
    expect(t.after).toMatchObject({ masterRepeat: 3, masterDelayUs: 2_000_000 });
  });

  it('the same globals: nothing changed; an instance value change alone still counts', () => {
    expect(timing(conf('  vrrp_min_garp'), conf('  vrrp_min_garp')).changed).toEqual([]);
    expect(timing(conf(''), conf(''))).toMatchObject({ changed: [] });
    const t = timing(conf(''), conf('', '  garp_master_repeat 2'));
    expect(t.changed).toEqual(['garp']);
    expect(t.after.masterRepeat).toBe(2);
  });

  it('an instance with its own timing keeps it when vrrp_min_garp is turned on', () => {
    const own = '  garp_master_repeat 3\n  garp_master_delay 2';
    const t = timing(conf('', own), conf('  vrrp_min_garp', own));
    expect(t.after).toMatchObject({ masterRepeat: 3, masterDelayUs: 2_000_000 });
  });
});

describe('reload: promote_secondaries', () => {
  it('turned on or off is applied to the kept instance', () => {
    expect(planReload(conf(''), conf('', '  promote_secondaries')).kept[0]).toMatchObject({
      changed: ['promoteSecondaries'],
      unapplied: [],
    });
    expect(planReload(conf('', '  promote_secondaries'), conf('')).kept[0]).toMatchObject({
      changed: ['promoteSecondaries'],
      unapplied: [],
    });
  });
});
