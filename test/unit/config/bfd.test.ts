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
  it('intervals are ms with up to 3 decimals, in keepalived 2.2.7 ranges; max_hops -1 is 255 (no TTL check)', () => {
    const { bfds: b, diagnostics } = bfds(
      'bfd_instance A {\n neighbor_ip 192.0.2.2\n min_rx 10.5\n min_tx 4294967\n idle_tx 1000.001\n max_hops -1\n}\n',
    );
    expect(diagnostics).toEqual([]);
    expect(b.map((x) => [x.minRx, x.minTx, x.idleTx, x.maxHops])).toEqual([[10.5, 4294967, 1000.001, 255]]);
  });
  it('rejects idle_tx under 1000 ms, intervals over 4294967 ms or with 4 decimals, max_hops under -1', () => {
    const { bfds: b, diagnostics } = bfds(
      'bfd_instance A {\n neighbor_ip 192.0.2.2\n idle_tx 999\n min_rx 4294968\n min_tx 1.2345\n max_hops -2\n}\n',
    );
    expect(diagnostics.map((d) => [d.code, d.keyword, d.pos?.line])).toEqual([
      ['KA_ERR_CONF_BAD_NUMBER', 'idle_tx', 3],
      ['KA_ERR_CONF_BAD_NUMBER', 'min_rx', 4],
      ['KA_ERR_CONF_BAD_NUMBER', 'min_tx', 5],
      ['KA_ERR_CONF_BAD_NUMBER', 'max_hops', 6],
    ]);
    // the bad values are ignored: defaults stay
    expect(b.map((x) => [x.idleTx, x.minRx, x.minTx, x.maxHops])).toEqual([[1000, 10, 10, 0]]);
  });
  it('drops an instance that repeats a neighbour (or source/neighbour pair), or mixes families', () => {
    const { bfds: b, diagnostics } = bfds(
      [
        'bfd_instance A {\n neighbor_ip 192.0.2.2\n source_ip 192.0.2.1\n}',
        'bfd_instance B {\n neighbor_ip 192.0.2.2\n source_ip 192.0.2.3\n}',
        'bfd_instance C {\n neighbor_ip 192.0.2.2\n source_ip 192.0.2.1\n}',
        'bfd_instance D {\n neighbor_ip 192.0.2.2\n}',
        'bfd_instance E {\n neighbor_ip fd00::2\n source_ip 192.0.2.1\n}\n',
      ].join('\n'),
    );
    expect(b.map((x) => x.name)).toEqual(['A', 'B']);
    expect(diagnostics.map((d) => [d.code, d.keyword, d.message])).toEqual([
      [
        'KA_ERR_CONF_DUPLICATE',
        'neighbor_ip',
        expect.stringContaining(
          'BFD instance C has duplicate source/neighbor address 192.0.2.1/192.0.2.2, ignoring instance',
        ),
      ],
      [
        'KA_ERR_CONF_DUPLICATE',
        'neighbor_ip',
        expect.stringContaining('BFD instance D has duplicate neighbor address 192.0.2.2, ignoring instance'),
      ],
      [
        'KA_ERR_CONF_CONFLICT',
        'source_ip',
        expect.stringContaining(
          'BFD instance E source address 192.0.2.1 and neighbor address fd00::2 are not of the same family',
        ),
      ],
    ]);
  });
});
