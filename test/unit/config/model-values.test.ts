import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { parseUmask } from '../../../src/config/values.js';

// Values the model takes from forms keepalived 2.2.7 accepts (exit codes: test/interop/config sweep).
const dir = mkdtempSync(join(tmpdir(), 'kt-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function load(text: string) {
  const path = join(dir, `c${n++}.conf`);
  writeFileSync(path, text);
  return loadConfig(path, { configId: 'n' });
}

describe('umask', () => {
  it('reads C numbers and bit names joined by |, as keepalived', () => {
    expect(parseUmask(['0177'])).toBe(0o177);
    expect(parseUmask(['0x1ff'])).toBe(0o777);
    expect(parseUmask(['511'])).toBe(0o777);
    expect(parseUmask(['0'])).toBe(0);
    expect(parseUmask(['IWGRP|IWOTH'])).toBe(0o22);
    expect(parseUmask(['IWGRP', '|', 'IWOTH', '|IXOTH'])).toBe(0o23);
    expect(parseUmask(['IRUSR|IWUSR|IXUSR|IRGRP|IWGRP|IXGRP|IROTH|IWOTH|IXOTH'])).toBe(0o777);
  });

  it("gives keepalived's complaint otherwise", () => {
    expect(parseUmask(['777'])).toBe('invalid umask value 777');
    expect(parseUmask(['08'])).toBe('invalid umask value 08');
    expect(parseUmask(['0', '1'])).toBe('Extra parameter(s) to umask option');
    expect(parseUmask(['IWGRP', 'IWOTH'])).toBe('Invalid umask syntax IWOTH');
    expect(parseUmask(['IWGRP|'])).toBe('umask missing bit value');
    expect(parseUmask([''])).toBe('umask missing bit value');
    expect(parseUmask(['|IWGRP'])).toBe('Unknown umask bit |IWGRP');
  });

  it('lands in GlobalDefs.umask; an invalid later value keeps the earlier one', () => {
    expect(load('global_defs {\n  umask IWGRP|IWOTH\n}\n').config.global.umask).toBe(0o22);
    expect(load('global_defs {\n  umask 0027\n  umask 0999\n}\n').config.global.umask).toBe(0o27);
    expect(load('global_defs {\n  router_id a\n}\n').config.global.umask).toBeUndefined();
  });
});

describe('route types', () => {
  const route = (line: string) => load(`static_routes {\n  ${line} no_track\n}\n`);
  it('takes every type word keepalived takes, with its kernel number', () => {
    const cases: [string, string, number][] = [
      ['192.0.2.0/24 dev eth0', 'unicast', 1],
      ['local 192.0.2.0/24 dev eth0', 'unicast', 2],
      ['brd 192.0.2.255 dev eth0', 'unicast', 3],
      ['blackhole 192.0.2.0/24', 'blackhole', 6],
      ['6 192.0.2.0/24', 'blackhole', 6],
      ['throw 192.0.2.0/24', 'throw', 9],
      ['0xb 192.0.2.0/24', 'unicast', 11],
      ['200 192.0.2.0/24', 'unicast', 200],
    ];
    for (const [line, type, num] of cases) {
      const { config, diagnostics } = route(line);
      expect(diagnostics, line).toEqual([]);
      expect(config.staticRoutes[0]?.type, line).toBe(type);
      expect(config.staticRoutes[0]?.rtnType, line).toBe(num);
      expect(config.staticRoutes[0]?.to, line).toMatch(/^192\.0\.2\./);
    }
  });

  it('refuses a type after to, unspec and numbers above 255', () => {
    for (const line of ['to local 192.0.2.0/24', 'unspec 192.0.2.0/24', '256 192.0.2.0/24']) {
      const { config, diagnostics } = route(line);
      // keepalived 2.2.7: "VRRP parsed invalid IP X. skipping IP...", then "unknown route keyword X"
      expect(
        diagnostics.map((d) => d.code),
        line,
      ).toEqual(['KA_ERR_CONF_BAD_ADDRESS', 'KA_ERR_CONF_BAD_VALUE']);
      expect(config.staticRoutes, line).toEqual([]);
    }
  });
});

describe('prefix lengths out of range (keepalived 2.2.7 reports them and uses the maximum)', () => {
  it('keeps the address, route and rule with /32 or /128', () => {
    const { config, diagnostics } = load(
      'static_ipaddress {\n  192.0.2.1/33 dev eth0\n  fd00::1/129 dev eth0\n}\n' +
        'static_routes {\n  198.51.100.0/40 dev eth0\n}\n' +
        'static_rules {\n  from 192.0.2.0/-1 table 100 preference 5\n}\n',
    );
    expect(config.staticIpaddress.map((a) => `${a.address}/${a.prefix}`)).toEqual([
      '192.0.2.1/32',
      'fd00::1/128',
    ]);
    expect(config.staticRoutes.map((r) => r.to)).toEqual(['198.51.100.0/32']);
    expect(config.staticRules.map((r) => r.from)).toEqual(['192.0.2.0/32']);
    expect(diagnostics.map((d) => d.message)).toEqual([
      "number '33' outside range [0, 32]",
      'Invalid address prefix len 33 for address 192.0.2.1/33 - using 32',
      "number '129' outside range [0, 128]",
      'Invalid address prefix len 129 for address fd00::1/129 - using 128',
      "number '40' outside range [0, 32]",
      'Invalid address prefix len 40 for address 198.51.100.0/40 - using 32',
      "negative number '-1'",
      'Invalid address prefix len -1 for address 192.0.2.0/-1 - using 32',
    ]);
  });
});

describe('virtual_server protocol', () => {
  const vs = (head: string, extra = '') =>
    load(
      `${extra}virtual_server ${head} {\n  lvs_sched rr\n  lvs_method NAT\n  real_server 192.0.2.20 80 {\n  }\n}\n`,
    );
  it('defaults to UDP for address services, with an error, as keepalived', () => {
    const r = vs('192.0.2.10 80');
    expect(r.config.virtualServers[0]?.protocol).toBe('UDP');
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      'Virtual server 192.0.2.10 80: no protocol set - defaulting to UDP',
    ]);
  });
  it('leaves fwmark services alone, one-packet scheduling included', () => {
    const r = load(
      'virtual_server fwmark 4 {\n  lvs_sched rr\n  lvs_method NAT\n  ops\n  real_server 192.0.2.20 80 {\n  }\n}\n',
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.config.virtualServers[0]?.ops).toBe(true);
  });
  it('checks a group only when it holds addresses', () => {
    expect(vs('group G', 'virtual_server_group G {\n  fwmark 3\n}\n').diagnostics).toEqual([]);
    expect(
      vs('group G', 'virtual_server_group G {\n  192.0.2.10 80\n}\n').config.virtualServers[0]?.protocol,
    ).toBe('UDP');
  });
});
