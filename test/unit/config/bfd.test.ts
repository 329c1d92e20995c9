import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-bfd-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bfds(text: string) {
  const file = join(dir, 'k.conf');
  writeFileSync(file, text);
  const { config, diagnostics } = loadConfig(file, { configId: 'x' });
  return { bfds: config.bfdInstances, diagnostics };
}

describe('bfd_instance defaults (keepalived bfd_parser.c)', () => {
  it('ttl 255 for an IPv4 neighbour, hop limit 64 for IPv6, explicit values kept', () => {
    const { bfds: b, diagnostics } = bfds(
      'bfd_instance A {\n neighbor_ip 192.0.2.2\n}\nbfd_instance B {\n neighbor_ip fd00::2\n}\nbfd_instance C {\n neighbor_ip fd00::3\n hoplimit 255\n max_hops 3\n}\n',
    );
    expect(diagnostics).toEqual([]);
    expect(b.map((x) => [x.name, x.ttl, x.maxHops])).toEqual([
      ['A', 255, 0],
      ['B', 64, 0],
      ['C', 255, 3],
    ]);
  });
  it('a max_hops above the ttl is an error and is lowered to it', () => {
    const { bfds: b, diagnostics } = bfds('bfd_instance A {\n neighbor_ip fd00::2\n max_hops 100\n}\n');
    expect(b[0]?.maxHops).toBe(64);
    expect(diagnostics.map((d) => [d.code, d.keyword, d.pos?.line])).toEqual([
      ['KA_ERR_CONF_BAD_VALUE', 'max_hops', 3],
    ]);
  });
});
