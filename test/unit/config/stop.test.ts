import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configTestExitCode, type Diagnostic, KaClass } from '../../../src/config/diagnostics.js';
import { loadConfig } from '../../../src/config/load.js';

// keepalived 2.2.7 exits at once with status 2 when a handler reads a word the line lacks
// (test/interop/config/sweep.test.ts compares every keyword with keepalived -t); loading stops there.
const dir = mkdtempSync(join(tmpdir(), 'kt-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function load(conf: string, extra: Record<string, string> = {}) {
  const main = join(dir, `c${n++}.conf`);
  writeFileSync(main, conf);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  const r = loadConfig(main, { configId: 'nodeA', interfaceExists: (i) => i === 'eth0' });
  return { ...r, main, exit: configTestExitCode(r.diagnostics) };
}

const stops = (ds: readonly Diagnostic[]) => ds.filter((d) => d.code === 'KA_ERR_CONF_MISSING_WORD');
const VI = (body: string) =>
  `vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n${body}  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n`;

describe('a missing parameter keepalived reads unconditionally', () => {
  it('stops with exit 2, a fatal diagnostic where the word is missing, and what was expected', () => {
    const r = load(VI('  advert_int 1\n  garp_master_delay\n'));
    expect(r.exit).toBe(2);
    const [d, more] = stops(r.diagnostics);
    expect(more).toBeUndefined();
    expect(d).toMatchObject({
      severity: 'fatal',
      kaClass: KaClass.Stop,
      keyword: 'garp_master_delay',
      pos: { file: r.main, line: 5, col: 20 },
      expected: 'an integer in [0, 4294]',
    });
    expect(d?.message).toMatch(/missing a parameter after 'garp_master_delay'/);
    // no model: keepalived has exited
    expect(r.config.vrrpInstances).toEqual([]);
  });

  it('reports nothing after the stopping line: later keywords, parser and preprocessor errors', () => {
    const r = load(
      `global_defs {\n  router_idd x\n}\n${VI('  priority\n  bogus_keyword 1\n')}}\ninclude_check missing-*.conf\nvrrp_script {\n`,
    );
    expect(r.exit).toBe(2);
    const codes = r.diagnostics.map((d) => [d.code, d.pos?.line]);
    // the unknown keyword before the stop is kept
    expect(codes).toContainEqual(['KA_ERR_CONF_UNKNOWN_KEYWORD', 2]);
    expect(codes).toContainEqual(['KA_ERR_CONF_MISSING_WORD', 7]);
    // after it: the unknown keyword, the stray brace, the missing include, the unclosed block
    expect(r.diagnostics.filter((d) => (d.pos?.line ?? 0) > 7)).toEqual([]);
  });

  it('keeps parser diagnostics of included files read before the stop, not of files after it', () => {
    const r = load('include inc-a.conf\nglobal_defs {\n  vrrp_version\n}\ninclude inc-b.conf\n', {
      'inc-a.conf': '}\n',
      'inc-b.conf': '}\n}\nfoo_b 1\n',
    });
    expect(r.exit).toBe(2);
    const files = r.diagnostics.map((d) => d.pos?.file.split('/').pop());
    expect(files).toContain('inc-a.conf');
    expect(files).not.toContain('inc-b.conf');
  });

  it('stops at a block header without its name before reading the block', () => {
    for (const head of ['vrrp_script', 'track_file', 'vrrp_track_process', 'virtual_server_group']) {
      const r = load(`${head} {\n  bogus_keyword 1\n}\n`);
      expect(r.exit, head).toBe(2);
      expect(stops(r.diagnostics)[0]?.keyword, head).toBe(head);
      expect(r.diagnostics.some((d) => d.code === 'KA_ERR_CONF_UNKNOWN_KEYWORD')).toBe(false);
    }
    const vs = load(
      'virtual_server 192.0.2.10 80 {\n  protocol TCP\n  real_server {\n    weight 1\n  }\n}\n',
    );
    expect(vs.exit).toBe(2);
    expect(stops(vs.diagnostics)[0]?.pos?.line).toBe(3);
  });

  it('stops at a word list keepalived reads (priority, lvs_method, process)', () => {
    expect(load(VI('  priority\n')).exit).toBe(2);
    expect(load('virtual_server 192.0.2.10 80 {\n  lvs_method\n}\n').exit).toBe(2);
    expect(load('vrrp_track_process p {\n  process\n}\n').exit).toBe(2);
  });

  it('stops at a route or rule option without its value, as keepalived', () => {
    const route = (l: string) => load(`static_routes {\n  ${l}\n}\n`);
    const rule = (l: string) => load(`static_rules {\n  ${l}\n}\n`);
    for (const l of ['192.0.2.0/24 via', '192.0.2.0/24 dev', '192.0.2.0/24 table', 'blackhole', '1', 'to'])
      expect(route(l).exit, l).toBe(2);
    for (const l of ['from', 'from 192.0.2.0/24 table', 'to 192.0.2.0/24 fwmark'])
      expect(rule(l).exit, l).toBe(2);
    // keepalived checks these itself: an error, not a stop
    for (const l of ['192.0.2.0/24 pref', '192.0.2.0/24 track_group', '1 2'])
      expect(route(l).exit, l).toBe(5);
    for (const l of ['from 192.0.2.0/24 pref', 'from 192.0.2.0/24 tunnel_id'])
      expect(rule(l).exit, l).toBe(5);
    const d = stops(route('192.0.2.0/24 metric').diagnostics)[0];
    expect(d).toMatchObject({ keyword: 'metric', pos: { line: 2, col: 22 }, expected: 'a number' });
  });

  it('does not stop where keepalived checks the argument itself', () => {
    for (const kw of ['router_id', 'vrrp_priority', 'notification_email_from', 'vrrp_rx_bufs_multiplier']) {
      const r = load(`global_defs {\n  ${kw}\n}\n`);
      expect(r.exit, kw).toBe(5);
      expect(stops(r.diagnostics), kw).toEqual([]);
    }
  });

  it('an empty quoted argument is a word: no stop', () => {
    expect(stops(load(VI('  garp_master_delay ""\n')).diagnostics)).toEqual([]);
  });
});
