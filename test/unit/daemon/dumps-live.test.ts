/**
 * liveDumpFields: the Wantstate, Read timeout and interface-fault lines of keepalived.data (and
 * JSON wantstate) from a running instance's machine view, the clocks and link states. Expected
 * lines are what Debian's keepalived 2.2.7 printed on SIGUSR1 for the same configuration in a
 * network namespace: VI_1 tracking eth1 (down), VI_2 untracked, both on eth0; first with eth0 up
 * but not running (both FAULT, faults 2 and 1), then running (VI_1 FAULT with 1, VI_2 BACKUP with
 * its down deadline as read timeout, then MASTER with its next advert).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import {
  formatTimeval,
  formatVrrpData,
  formatVrrpJson,
  type LiveMachineView,
  liveDumpFields,
  type VrrpDumpInstance,
} from '../../../src/daemon/dumps.js';

const CONF = `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  track_interface {
    eth1
  }
  virtual_ipaddress {
    192.0.2.100/24
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.101/24
  }
}
`;
const dir = mkdtempSync(join(tmpdir(), 'dumps-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'k.conf'), CONF);
const config = loadConfig(join(dir, 'k.conf'), {}).config;

const MONO = 50_000_000; // µs
const WALL = 1795461702.159573; // s
const snap = (iname: string, m: LiveMachineView, up: ReadonlySet<string>): VrrpDumpInstance => ({
  iname,
  ifp_ifname: 'eth0',
  vrid: iname === 'VI_1' ? 51 : 52,
  version: 2,
  state: m.state,
  state_name: '',
  base_priority: 100,
  effective_priority: 100,
  master_addr: null,
  vipset: false,
  vips: [],
  stats: {},
  ...liveDumpFields({
    machine: m,
    monoNowUs: MONO,
    wallNowS: WALL,
    interfaces: iname === 'VI_1' ? ['eth0', 'eth1'] : ['eth0'],
    isUp: (n) => up.has(n),
  }),
});
/** `Name = value` lines of each instance block. */
function lines(text: string, keys: string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | undefined;
  for (const l of text.split('\n')) {
    const inst = /^ VRRP Instance = (\S+)/.exec(l);
    if (inst) out[inst[1]!] = cur = {};
    else if (/^-+</.test(l)) cur = undefined;
    const kv = /^ {3}([^=]+?) = (.*)$/.exec(l);
    if (cur && kv && keys.includes(kv[1]!)) cur[kv[1]!] = kv[2]!;
  }
  return out;
}
const KEYS = ['State', 'Wantstate', 'Number of interface and track script faults', 'Read timeout'];
const FAULT: LiveMachineView = { state: 3, timers: {}, wantMaster: false };

describe('live dump fields (keepalived 2.2.7 SIGUSR1 prints)', () => {
  it('interfaces up but not running: both FAULT, faults 2 (own + tracked weight 0) and 1, no read timer', () => {
    const text = formatVrrpData({
      config,
      instances: [snap('VI_1', FAULT, new Set()), snap('VI_2', FAULT, new Set())],
    });
    expect(lines(text, KEYS)).toEqual({
      VI_1: {
        State: 'FAULT',
        Wantstate: 'FAULT',
        'Number of interface and track script faults': '2',
        'Read timeout': 'DISABLED',
      },
      VI_2: {
        State: 'FAULT',
        Wantstate: 'FAULT',
        'Number of interface and track script faults': '1',
        'Read timeout': 'DISABLED',
      },
    });
  });

  it('BACKUP reads until its Master_Down deadline, MASTER until its next advert; FAULT counts the tracked link', () => {
    const up = new Set(['eth0']);
    const backup: LiveMachineView = { state: 1, timers: { down: MONO + 2_173_738 }, wantMaster: false };
    const master: LiveMachineView = { state: 2, timers: { advert: MONO + 1_000_000 }, wantMaster: false };
    for (const [m, want, at] of [
      [backup, 'BACKUP', WALL + 2.173738],
      [master, 'MASTER', WALL + 1],
    ] as const) {
      const text = formatVrrpData({ config, instances: [snap('VI_1', FAULT, up), snap('VI_2', m, up)] });
      expect(lines(text, KEYS)).toEqual({
        VI_1: {
          State: 'FAULT',
          Wantstate: 'FAULT',
          'Number of interface and track script faults': '1',
          'Read timeout': 'DISABLED',
        },
        VI_2: {
          State: want,
          Wantstate: want,
          'Number of interface and track script faults': '0',
          'Read timeout': formatTimeval(at),
        },
      });
    }
  });

  it('a BACKUP waiting for its sync group wants MASTER (data and JSON)', () => {
    const waiting: LiveMachineView = { state: 1, timers: {}, wantMaster: true };
    const s = snap('VI_2', waiting, new Set(['eth0']));
    expect(s.wantstate).toBe(2);
    expect(s.read_timeout).toBeUndefined();
    expect(lines(formatVrrpData({ config, instances: [s] }), KEYS).VI_2?.Wantstate).toBe('MASTER');
    const json = JSON.parse(formatVrrpJson({ config, instances: [s] })) as { data: { wantstate: number } }[];
    expect(json[0]?.data.wantstate).toBe(2);
  });
});
