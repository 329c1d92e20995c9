import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

// Instance fix-ups and GARP defaults. Expected: keepalived 2.2.7 (Debian) run in a network namespace
// on the same global_defs and
// instance lines, read from its SIGUSR1 dump ("Gratuitous ARP ..." lines, global then instance;
// State, Authentication type, Promote_secondaries) and its -t messages.
const dir = mkdtempSync(join(tmpdir(), 'kt-inst-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function load(global: string, inst: string) {
  const path = join(dir, `c${n++}.conf`);
  writeFileSync(
    path,
    `global_defs {\n${global}}\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n${inst}  virtual_ipaddress {\n    192.0.2.10/24\n  }\n}\n`,
  );
  const r = loadConfig(path, { configId: 'n' });
  const vi = r.config.vrrpInstances[0]!;
  const msgs = r.diagnostics.map((x) => x.message);
  return { g: r.config.global.garp, i: vi.garp, vi, msgs };
}
// [delay, repeat, refresh, refresh repeat, lower delay, lower repeat], in the dump's order
const row = (t: {
  masterDelay: number;
  masterRepeat: number;
  masterRefresh: number;
  masterRefreshRepeat: number;
  lowerPrioDelay: number;
  lowerPrioRepeat: number;
}) => [
  t.masterDelay,
  t.masterRepeat,
  t.masterRefresh,
  t.masterRefreshRepeat,
  t.lowerPrioDelay,
  t.lowerPrioRepeat,
];

describe('instance lower-priority GARP defaults', () => {
  it("come from the global values, not from the instance's own master ones", () => {
    const a = load('', '  garp_master_delay 3\n  garp_master_repeat 3\n');
    expect(row(a.g)).toEqual([5, 5, 0, 1, 5, 5]);
    expect(row(a.i)).toEqual([3, 3, 0, 1, 5, 5]);
    const b = load(
      '  vrrp_garp_lower_prio_delay 9\n  vrrp_garp_master_delay 7\n  vrrp_garp_master_repeat 4\n',
      '  garp_master_delay 3\n  garp_master_repeat 3\n',
    );
    expect(row(b.g)).toEqual([7, 4, 0, 1, 9, 4]);
    expect(row(b.i)).toEqual([3, 3, 0, 1, 9, 4]);
    const c = load('  vrrp_garp_master_delay 7\n', '  garp_master_delay 3\n');
    expect(row(c.i)).toEqual([3, 5, 0, 1, 7, 5]);
  });
});

describe('vrrp_min_garp', () => {
  it('alone: one GARP, no second burst, no refresh', () => {
    const a = load('  vrrp_min_garp\n', '');
    expect(row(a.g)).toEqual([0, 1, 0, 0, 0, 1]);
    expect(row(a.i)).toEqual([0, 1, 0, 0, 0, 1]);
  });

  it('a value written after it wins, even when it equals the old default; instance values win', () => {
    const a = load('  vrrp_min_garp\n  vrrp_garp_master_repeat 5\n', '  garp_master_delay 5\n');
    expect(row(a.g)).toEqual([0, 5, 0, 0, 0, 5]);
    expect(row(a.i)).toEqual([5, 5, 0, 0, 0, 5]);
  });

  it('a value written before it is kept too', () => {
    const a = load(
      '  vrrp_garp_master_repeat 3\n  vrrp_garp_master_delay 2\n  vrrp_garp_master_refresh 9\n  vrrp_garp_lower_prio_repeat 7\n  vrrp_min_garp\n',
      '',
    );
    expect(row(a.g)).toEqual([2, 3, 9, 0, 2, 7]);
    expect(row(a.i)).toEqual([2, 3, 9, 0, 2, 7]);
  });
});

describe('strict mode', () => {
  it('sends no lower-priority GARPs; the global values stay as written', () => {
    const a = load('  vrrp_strict\n', '');
    expect(row(a.g)).toEqual([5, 5, 0, 1, 5, 5]);
    expect(row(a.i)).toEqual([5, 5, 0, 1, 0, 0]);
    expect(a.msgs.some((m) => /Strict mode requires/.test(m))).toBe(false);
  });

  it("resets an instance's own lower-priority values with keepalived's messages", () => {
    const a = load(
      '  vrrp_strict\n  vrrp_garp_lower_prio_delay 9\n  vrrp_garp_lower_prio_repeat 4\n',
      '  garp_lower_prio_repeat 3\n',
    );
    expect(row(a.g)).toEqual([5, 5, 0, 1, 9, 4]);
    expect(row(a.i)).toEqual([5, 5, 0, 1, 0, 0]);
    expect(a.msgs).toContain('(VI_1) Strict mode requires no repeat garps. resetting');
    const b = load('', '  strict_mode true\n  garp_lower_prio_delay 4\n');
    expect(row(b.i)).toEqual([5, 5, 0, 1, 0, 0]);
    expect(b.msgs).toContain('(VI_1) Strict mode requires no repeat garp delay. resetting');
    // explicit zeroes draw no message (keepalived -t exits 0)
    const c = load('', '  strict_mode true\n  garp_lower_prio_delay 0\n  garp_lower_prio_repeat 0\n');
    expect(c.msgs.some((m) => /Strict mode requires/.test(m))).toBe(false);
  });
});

describe('promote_secondaries', () => {
  it('is ignored on a VMAC instance, strict or not, with keepalived message', () => {
    for (const g of ['', '  vrrp_strict\n']) {
      const a = load(g, '  use_vmac\n  promote_secondaries\n');
      expect(a.vi.promoteSecondaries).toBe(false);
      expect(a.msgs).toContain('(VI_1) promote_secondaries is automatically set for vmacs - ignoring');
    }
  });

  it('is kept without a VMAC, strict mode too', () => {
    const a = load('  vrrp_strict\n', '  promote_secondaries\n');
    expect(a.vi.promoteSecondaries).toBe(true);
    expect(a.msgs.some((m) => /promote_secondaries/.test(m))).toBe(false);
  });
});

const AH = '  authentication {\n    auth_type AH\n    auth_pass secret\n  }\n';

describe('AH authentication with state MASTER', () => {
  it('keeps AH and starts the instance as BACKUP', () => {
    const a = load('', `  state MASTER\n  priority 100\n${AH}`);
    expect(a.vi.state).toBe('BACKUP');
    expect(a.vi.authentication).toEqual({ type: 'AH', pass: 'secret' });
    expect(a.msgs).toEqual(['(VI_1) Initial state master is incompatible with AH authentication - clearing']);
  });

  it('leaves an address owner MASTER, without a message', () => {
    const a = load('', `  state MASTER\n  priority 255\n${AH}`);
    expect(a.vi.state).toBe('MASTER');
    expect(a.vi.authentication?.type).toBe('AH');
    expect(a.msgs).toEqual([]);
  });

  it('in strict mode: BACKUP for not being the owner, authentication dropped, no AH message', () => {
    const a = load('  vrrp_strict\n', `  state MASTER\n  priority 100\n${AH}`);
    expect(a.vi.state).toBe('BACKUP');
    expect(a.vi.authentication).toBeUndefined();
    expect(a.msgs).toEqual([
      '(VI_1) State MASTER must match being address owner',
      '(VI_1) Strict mode does not support authentication. Ignoring.',
    ]);
  });
});

describe('VRRPv3 advert_int', () => {
  it('above 40.95 s is capped at 40.95 s', () => {
    for (const [w, shown] of [
      ['50', '50.00'],
      ['40.96', '40.96'],
      ['255', '255.00'],
    ]) {
      const a = load('', `  version 3\n  priority 100\n  advert_int ${w}\n`);
      expect(a.vi.advertInt).toBe(40.95);
      expect(a.vi.advertIntCs).toBe(4095);
      expect(a.msgs).toEqual([
        `(VI_1) VRRPv3 advertisement interval ${shown}s is out of range. Must be less than 40.96s. Setting to 40.95s`,
      ]);
    }
  });

  it('with vrrp_version 3 in global_defs too; 40.95 itself is taken as is', () => {
    expect(load('  vrrp_version 3\n', '  priority 100\n  advert_int 100\n').vi.advertInt).toBe(40.95);
    const a = load('', '  version 3\n  priority 100\n  advert_int 40.95\n');
    expect(a.vi.advertInt).toBe(40.95);
    expect(a.msgs).toEqual([]);
  });

  it('above 255 s is still refused (interval 1 s)', () => {
    const a = load('', '  version 3\n  priority 100\n  advert_int 256\n');
    expect(a.vi.advertInt).toBe(1);
    expect(a.msgs.length).toBe(1);
  });
});
