/**
 * keepalived's dump layouts: keepalived.stats, the VRRP part of keepalived.data, file names and
 * directory. Golden texts at the bottom were captured from Debian's keepalived 2.2.7: two nodes in
 * network namespaces over a veth pair (192.0.2.1 prio 150 / 192.0.2.2 prio 100, VRID 42), then one
 * node with the CONF_RICH and CONF_VMAC configurations, each sent SIGUSR1 and SIGUSR2 with TMPDIR
 * set; the scratch directory is written /etc/keepalived here. keepalived's `fd_in` lines and its
 * `VRRP Sockpool` section are dropped from the goldens: we have no such sockets to print
 * (docs/DUMPS.md). The snapshots fed in carry the values keepalived printed (times, master address).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Command, KeepalivedConfig } from '../../../src/config/model.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import {
  dumpDir,
  dumpFileNames,
  dumpFileNamesOf,
  dumpPaths,
  formatStats,
  formatTimeval,
  formatVrrpData,
  masterDownTimerUs,
  type TrackerDumpState,
  type VrrpDumpInstance,
  writeDumpFile,
} from '../../../src/daemon/dumps.js';

let dir = '';
let savedTz: string | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kt-dumps-'));
  // keepalived printed the dates in UTC (the lab machine's zone)
  savedTz = process.env.TZ;
  process.env.TZ = 'UTC';
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

let seq = 0;
function config(text: string): KeepalivedConfig {
  const path = join(dir, `k${seq++}.conf`);
  writeFileSync(path, text);
  const { config: c, diagnostics } = loadConfig(path, {});
  expect(diagnostics.filter((d) => d.severity === 'fatal')).toEqual([]);
  return c;
}

/** keepalived resolves /bin (a symlink to /usr/bin on Debian) in the paths it prints. */
const resolved = (c: Command) => c.argv.map((w, i) => (i === 0 ? w.replace(/^\/bin\//, '/usr/bin/') : w));

/** keepalived's dump from `VRRP Topology` on, without the fd lines and the Sockpool section. */
function comparable(golden: string): string[] {
  const out: string[] = [];
  let skip = false;
  for (const l of golden.split('\n')) {
    if (l.startsWith('------<')) skip = l === '------< VRRP Sockpool >------';
    if (skip || /^ {3}fd_in \d+, fd_out \d+$/.test(l)) continue;
    out.push(l);
  }
  return out;
}

/** Our dump from `VRRP Topology` on. */
const topologyOn = (text: string) => {
  const lines = text.split('\n');
  return lines.slice(lines.indexOf('------< VRRP Topology >------'));
};

const snap = (
  s: Partial<VrrpDumpInstance> & Pick<VrrpDumpInstance, 'iname' | 'state'>,
): VrrpDumpInstance => ({
  ifp_ifname: 'eth0',
  vrid: 0,
  version: 2,
  state_name: '',
  base_priority: 100,
  effective_priority: 100,
  master_addr: null,
  vipset: false,
  vips: [],
  stats: {},
  ...s,
});

describe('dump directory and file names', () => {
  it('uses TMPDIR only when it is an absolute path, else /tmp', () => {
    expect(dumpDir({ TMPDIR: '/var/tmp/x' })).toBe('/var/tmp/x');
    expect(dumpDir({ TMPDIR: 'relative/dir' })).toBe('/tmp');
    expect(dumpDir({ TMPDIR: '' })).toBe('/tmp');
    expect(dumpDir({})).toBe('/tmp');
  });

  it('adds namespace and instance to the .data names with data_use_instance, as keepalived 2.2.7 does', () => {
    // observed: `instance inst1` → keepalived.inst1.data; `net_namespace NS` → keepalived.NS.data;
    // both → keepalived.NS_inst1.data; keepalived.stats never changes
    const n = (o: Parameters<typeof dumpFileNames>[0]) => dumpFileNames(o);
    expect(n({ dataUseInstance: false, namespace: 'ns1', instance: 'inst1' })).toEqual({
      data: 'keepalived.data',
      checkData: 'keepalived_check.data',
      stats: 'keepalived.stats',
    });
    expect(n({ dataUseInstance: true })).toEqual({
      data: 'keepalived.data',
      checkData: 'keepalived_check.data',
      stats: 'keepalived.stats',
    });
    expect(n({ dataUseInstance: true, instance: 'inst1' }).data).toBe('keepalived.inst1.data');
    expect(n({ dataUseInstance: true, namespace: 'ns1' }).data).toBe('keepalived.ns1.data');
    expect(n({ dataUseInstance: true, namespace: 'ns1', instance: 'inst1' })).toEqual({
      data: 'keepalived.ns1_inst1.data',
      checkData: 'keepalived_check.ns1_inst1.data',
      stats: 'keepalived.stats',
    });
  });

  it('reads data_use_instance, instance and net_namespace from the configuration', () => {
    const c = config(`instance inst1\nglobal_defs {\n  data_use_instance\n}\n${CONF_PAIR_A}`);
    expect(dumpFileNamesOf(c).data).toBe('keepalived.inst1.data');
    expect(dumpFileNamesOf(c, 'nsx').data).toBe('keepalived.nsx_inst1.data');
    expect(dumpFileNamesOf(config(CONF_PAIR_A), 'nsx').data).toBe('keepalived.data');
    expect(dumpPaths(c, undefined, { TMPDIR: '/run/x' })).toEqual({
      data: '/run/x/keepalived.inst1.data',
      checkData: '/run/x/keepalived_check.inst1.data',
      stats: '/run/x/keepalived.stats',
    });
  });

  it('writes mode 0600, also over an existing file of another mode', () => {
    const path = join(dir, 'keepalived.stats');
    writeFileSync(path, 'old content that is longer than the new one\n', { mode: 0o644 });
    chmodSync(path, 0o644);
    const counters = new Counters();
    expect(writeDumpFile(path, 'new\n', { log: silentLogger, counters })).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    expect(counters.get('daemon.dump_errors')).toBe(0);
  });

  it('never writes through what is planted at the path in a shared /tmp (keepalived: temp file renamed over it)', () => {
    const d = mkdtempSync(join(dir, 'planted-'));
    writeFileSync(join(d, 'passwd'), 'precious\n');
    mkdirSync(join(d, 'sub'));
    symlinkSync(join(d, 'passwd'), join(d, 'keepalived.data'));
    symlinkSync(join(d, 'absent'), join(d, 'keepalived.stats'));
    symlinkSync(join(d, 'sub'), join(d, 'keepalived_check.data'));
    execFileSync('mkfifo', [join(d, 'keepalived.json')]);
    const counters = new Counters();
    for (const name of ['keepalived.data', 'keepalived.stats', 'keepalived_check.data', 'keepalived.json']) {
      const path = join(d, name);
      expect(writeDumpFile(path, `${name}\n`, { log: silentLogger, counters })).toBe(true);
      // the link (or FIFO) is replaced by a regular file of ours, mode 0600
      expect(lstatSync(path).isFile()).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8')).toBe(`${name}\n`);
    }
    expect(readFileSync(join(d, 'passwd'), 'utf8')).toBe('precious\n');
    expect(existsSync(join(d, 'absent'))).toBe(false);
    expect(readdirSync(join(d, 'sub'))).toEqual([]);
    // no temporary file left behind
    expect(readdirSync(d).sort()).toEqual([
      'keepalived.data',
      'keepalived.json',
      'keepalived.stats',
      'keepalived_check.data',
      'passwd',
      'sub',
    ]);
    expect(counters.get('daemon.dump_errors')).toBe(0);
  });

  it('a directory at the path: not written, counted, no temporary file left', () => {
    const d = mkdtempSync(join(dir, 'dir-'));
    mkdirSync(join(d, 'keepalived.data'));
    const counters = new Counters();
    expect(writeDumpFile(join(d, 'keepalived.data'), 'x\n', { log: silentLogger, counters })).toBe(false);
    expect(counters.get('daemon.dump_errors')).toBe(1);
    expect(readdirSync(d)).toEqual(['keepalived.data']);
    expect(readdirSync(join(d, 'keepalived.data'))).toEqual([]);
  });

  it('counts a dump it cannot write and does not throw', () => {
    const counters = new Counters();
    expect(writeDumpFile(join(dir, 'no', 'such', 'dir', 'x'), 'x', { log: silentLogger, counters })).toBe(
      false,
    );
    expect(counters.get('daemon.dump_errors')).toBe(1);
  });
});

/**
 * The exporter's reading of keepalived.stats (mehdy/keepalived-exporter ParseStats), restated: an
 * unindented `VRRP Instance: NAME`, 2-space `Section:` headers, 4-space `Key: N` lines under them,
 * 2-space `Key: N` lines outside any section.
 */
function readStats(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  let inst = '';
  let section = '';
  for (const l of text.split('\n')) {
    if (l.startsWith('VRRP Instance:')) {
      inst = l.slice('VRRP Instance:'.length).trim();
      out[inst] = {};
    } else if (l.startsWith('    ') && section) {
      const [k, v] = l.trim().split(':');
      out[inst]![`${section}/${k!.trim()}`] = Number(v);
    } else if (l.startsWith('  ') && l.endsWith(':')) section = l.trim().slice(0, -1);
    else if (l.startsWith('  ')) {
      section = '';
      const [k, v] = l.trim().split(':');
      out[inst]![k!.trim()] = Number(v);
    }
  }
  return out;
}

describe('keepalived.stats', () => {
  it('is keepalived 2.2.7 text for the same counts (golden: the BACKUP node of the pair)', () => {
    expect(formatStats([{ name: 'VI_1', stats: { 'vrrp.advert_rcvd': 3 } }])).toBe(STATS_B);
  });

  it('folds our receive-check counters into keepalived stats, each readable as the exporter reads it', () => {
    const rx = (c: string) => `vrrp.rx.KA_ERR_VRRP_RX_${c}`;
    const text = formatStats([
      {
        name: 'VI_1',
        stats: {
          'vrrp.advert_rcvd': 11,
          'vrrp.advert_sent': 12,
          'vrrp.become_master': 2,
          'vrrp.release_master': 1,
          [rx('TRUNCATED')]: 1,
          [rx('LENGTH')]: 2,
          [rx('TTL')]: 3,
          [rx('TYPE')]: 4,
          [rx('INTERVAL')]: 5,
          [rx('NADDR')]: 6,
          [rx('AUTH_TYPE_INVALID')]: 7,
          [rx('AUTH_TYPE_MISMATCH')]: 8,
          [rx('AUTH_PASS')]: 9,
          'vrrp.pri_zero_rcvd': 13,
          'vrrp.pri_zero_sent': 14,
          'vrrp.garp_sent': 99,
        },
      },
      { name: 'VI_2', stats: {} },
    ]);
    const r = readStats(text);
    expect(r.VI_1).toEqual({
      'Advertisements/Received': 11,
      'Advertisements/Sent': 12,
      'Became master': 2,
      'Released master': 1,
      'Packet Errors/Length': 3,
      'Packet Errors/TTL': 3,
      'Packet Errors/Invalid Type': 4,
      'Packet Errors/Advertisement Interval': 5,
      'Packet Errors/Address List': 6,
      'Authentication Errors/Invalid Type': 7,
      'Authentication Errors/Type Mismatch': 8,
      'Authentication Errors/Failure': 9,
      'Priority Zero/Received': 13,
      'Priority Zero/Sent': 14,
    });
    expect(Object.values(r.VI_2!).every((v) => v === 0)).toBe(true);
    expect(Object.keys(r.VI_2!)).toHaveLength(14);
    expect(text).not.toContain('garp');
  });

  it('is empty without instances', () => {
    expect(formatStats([])).toBe('');
  });
});

describe('keepalived.data, VRRP part', () => {
  it('formats times as keepalived prints a timeval (local time)', () => {
    expect(formatTimeval(1795426492.304273)).toBe('1795426492.304273 (Mon Nov 23 09:34:52.304273 2026)');
    expect(formatTimeval(0)).toBe('0.000000 (Thu Jan  1 00:00:00.000000 1970)');
  });

  it('computes the master down timer as keepalived printed it (v2 skew in seconds, v3 in intervals)', () => {
    expect(masterDownTimerUs(1_000_000, 150, 2)).toBe(3_414_062);
    expect(masterDownTimerUs(2_000_000, 200, 2)).toBe(6_218_750);
    expect(masterDownTimerUs(500_000, 70, 3)).toBe(1_863_281);
  });

  const trackChk: TrackerDumpState[] = [{ kind: 'script', name: 'chk', up: true }];

  it('matches keepalived 2.2.7 for the MASTER of the pair', () => {
    const text = formatVrrpData({
      config: config(CONF_PAIR_A),
      instances: [
        snap({
          iname: 'VI_1',
          vrid: 42,
          state: 2,
          base_priority: 150,
          effective_priority: 150,
          vipset: true,
          last_transition: 1795426492.304273,
          read_timeout: 1795426495.306546,
          src_ip: '192.0.2.1',
        }),
      ],
      trackers: trackChk,
    });
    expect(topologyOn(text)).toEqual(comparable(DATA_A));
  });

  it('matches keepalived 2.2.7 for the BACKUP of the pair', () => {
    const text = formatVrrpData({
      config: config(
        CONF_PAIR_A.replace('router_id nodea', 'router_id nodeb').replace('priority 150', 'priority 100'),
      ),
      instances: [
        snap({
          iname: 'VI_1',
          vrid: 42,
          state: 1,
          master_addr: '192.0.2.1',
          master_priority: 150,
          last_transition: 1795426489.735948,
          read_timeout: 1795426497.915953,
          src_ip: '192.0.2.2',
        }),
      ],
      trackers: trackChk,
    });
    expect(topologyOn(text)).toEqual(comparable(DATA_B));
  });

  it('matches keepalived 2.2.7 with unicast, PASS, a sync group, notify scripts, IPv6 v3 and a failing script', () => {
    const text = formatVrrpData({
      config: config(CONF_RICH),
      instances: [
        // a BACKUP that has seen no master: keepalived prints ff02::12 / 0 (the last address it printed)
        snap({
          iname: 'VI_1',
          vrid: 51,
          state: 1,
          base_priority: 200,
          effective_priority: 200,
          master_priority: 0,
          last_transition: 1795426560.93357,
          read_timeout: 1795426567.162892,
        }),
        snap({
          iname: 'VI_2',
          vrid: 52,
          version: 3,
          state: 2,
          base_priority: 90,
          effective_priority: 70,
          vipset: true,
          last_transition: 1795426562.819614,
          read_timeout: 1795426565.831075,
          src_ip: 'fe80::1c8a:efff:fe4f:23e8',
          ifindex: 2,
        }),
        snap({
          iname: 'VI_3',
          vrid: 53,
          state: 1,
          wantstate: 2,
          master_priority: 0,
          last_transition: 1795426560.944141,
          read_timeout: 1795426568.164198,
          src_ip: '192.0.2.1',
        }),
      ],
      trackers: [
        { kind: 'script', name: 'bad', up: false },
        { kind: 'script', name: 'good', up: true },
      ],
      commandArgv: resolved,
    });
    expect(topologyOn(text)).toEqual(comparable(DATA_R));
  });

  it('matches keepalived 2.2.7 with use_vmac, AH, virtual routes and every kind of tracker', () => {
    const text = formatVrrpData({
      config: config(CONF_VMAC),
      instances: [
        snap({
          iname: 'VI_1',
          vrid: 61,
          state: 2,
          base_priority: 100,
          effective_priority: 122,
          vipset: true,
          last_transition: 1795426615.60822,
          read_timeout: 1795426617.608416,
          src_ip: '192.0.2.1',
        }),
      ],
      trackers: [
        { kind: 'script', name: 'good', up: true },
        { kind: 'file', name: 'tf', up: true, value: 1 },
        { kind: 'process', name: 'tp', up: false, value: 0 },
      ],
      commandArgv: resolved,
    });
    expect(topologyOn(text)).toEqual(comparable(DATA_S));
  });

  it('prints only Global definitions lines keepalived 2.2.7 prints, with its values', () => {
    const text = formatVrrpData({ config: config(CONF_PAIR_A), instances: [] });
    const lines = text.split('\n');
    const ours = lines.slice(0, lines.indexOf('------< VRRP Topology >------'));
    const theirs = new Set(GLOBAL_A.split('\n'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((l) => !theirs.has(l))).toEqual([]);
  });

  it('is read by the exporter rules: instance, state, wantstate, interface, VRID, VIPs, script status', () => {
    const text = formatVrrpData({
      config: config(CONF_RICH),
      instances: [
        snap({ iname: 'VI_1', vrid: 51, state: 2, vipset: true }),
        snap({ iname: 'VI_2', vrid: 52, version: 3, state: 3, wantstate: 1 }),
      ],
      trackers: [{ kind: 'script', name: 'bad', up: false, running: true }],
    });
    const d = readData(text);
    expect(d.VI_1).toEqual({
      State: 'MASTER',
      Wantstate: 'MASTER',
      Interface: 'eth0',
      'Gratuitous ARP delay': '5',
      'Virtual Router ID': '51',
      vips: [
        '192.0.2.101/24 dev eth0 scope global label eth0:v1 set',
        '192.0.2.102 dev eth0 scope global set',
      ],
    });
    expect(d.VI_2?.State).toBe('FAULT');
    expect(d.VI_2?.Wantstate).toBe('BACKUP');
    expect(readScripts(text)).toEqual([{ name: 'bad', Status: 'BAD', State: 'running' }]);
  });

  it('skips snapshot entries the configuration does not name', () => {
    const text = formatVrrpData({
      config: config(CONF_PAIR_A),
      instances: [snap({ iname: 'GONE', state: 2 })],
    });
    expect(text).not.toContain('GONE');
  });
});

/**
 * The exporter's reading of keepalived.data (ParseVRRPData), restated: ` VRRP Instance = NAME`
 * starts an instance; 3-space `Key = value` or `Key: value` lines; `Virtual IP (N):` followed by
 * 5-space address lines; any other unindented line ends the instance.
 */
function readData(text: string): Record<string, Record<string, string | string[]>> {
  const out: Record<string, Record<string, string | string[]>> = {};
  let inst = '';
  let key = '';
  const keep = new Set(['State', 'Wantstate', 'Interface', 'Gratuitous ARP delay', 'Virtual Router ID']);
  for (const l of text.split('\n')) {
    if (l.startsWith(' VRRP Instance') && l.includes('=')) {
      inst = l.split('=')[1]!.trim();
      out[inst] = { vips: [] };
    } else if (l.startsWith('   ') && inst) {
      let val: string;
      if (l.startsWith('     ')) val = l.trim();
      else {
        const sep = l.includes('=') ? '=' : l.includes(':') ? ':' : undefined;
        if (!sep) continue;
        const [k, v] = l.trim().split(sep);
        key = k!.trim();
        if (key.startsWith('Virtual IP (')) continue;
        val = (v ?? '').trim();
        if (keep.has(key)) out[inst]![key] = val;
        continue;
      }
      if (key.startsWith('Virtual IP (') && val) (out[inst]!.vips as string[]).push(val);
    } else if (!l.startsWith(' VRRP Version') && !l.startsWith(' VRRP Script')) inst = '';
  }
  return out;
}

/** ParseVRRPScript, restated: ` VRRP Script = NAME`, then 3-space `Status = …` / `State = …`. */
function readScripts(text: string): { name: string; Status?: string; State?: string }[] {
  const out: { name: string; Status?: string; State?: string }[] = [];
  let cur: { name: string; Status?: string; State?: string } | undefined;
  for (const l of text.split('\n')) {
    if (l.startsWith(' VRRP Script') && l.includes('=')) {
      cur = { name: l.split('=')[1]!.trim() };
      out.push(cur);
    } else if (cur && l.startsWith('   ')) {
      if (!l.includes('=')) continue;
      const [k, v] = l.trim().split('=');
      if (k!.trim() === 'Status') cur.Status = v!.trim();
      if (k!.trim() === 'State') cur.State = v!.trim();
    } else if (!l.startsWith('    ')) cur = undefined;
  }
  return out;
}

// ---- goldens (keepalived 2.2.7 output and the configurations it ran) ----

const CONF_PAIR_A = `global_defs {
  router_id nodea
  script_user root
}
vrrp_script chk {
  script "/etc/keepalived/chk.sh"
  interval 1
  weight -60
  fall 2
  rise 2
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 42
  priority 150
  advert_int 1
  virtual_ipaddress {
    192.0.2.100/24
  }
  track_script {
    chk
  }
}
`;

const CONF_RICH = `global_defs {
  router_id rich
  script_user root
}
vrrp_script good {
  script "/etc/keepalived/chk.sh"
  interval 1
  weight 10
}
vrrp_script bad {
  script "/etc/keepalived/bad.sh"
  interval 2
  timeout 3
  fall 1
}
track_file tf {
  file "/etc/keepalived/tf"
  weight 5
}
vrrp_sync_group G1 {
  group {
    VI_1
    VI_3
  }
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 200
  advert_int 2
  nopreempt
  authentication {
    auth_type PASS
    auth_pass secret1
  }
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.9
    192.0.2.8
  }
  virtual_ipaddress {
    192.0.2.101/24 dev eth0 label eth0:v1
    192.0.2.102
  }
  virtual_ipaddress_excluded {
    203.0.113.5/24
  }
  track_interface {
    eth0 weight 7
  }
  track_script {
    good
  }
  track_file {
    tf
  }
  notify_master "/bin/true m"
  notify_backup /bin/true
  notify_fault /bin/true
  notify_stop /bin/true
  notify /bin/true
}
vrrp_instance VI_2 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 90
  version 3
  advert_int 0.5
  preempt_delay 4
  smtp_alert
  track_script {
    bad weight -20
  }
  virtual_ipaddress {
    fd00::52/64
    198.51.100.52/24
  }
}
vrrp_instance VI_3 {
  interface eth0
  virtual_router_id 53
  priority 100
  virtual_ipaddress {
    198.51.100.53
  }
}
`;

const CONF_VMAC = `global_defs {
  router_id rich2
  script_user root
}
vrrp_script good {
  script "/etc/keepalived/chk.sh"
  interval 1
  weight 10
}
track_file tf {
  file "/etc/keepalived/tf"
  weight 5
}
vrrp_track_process tp {
  process sleep
  weight 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  use_vmac vrrp42
  virtual_router_id 61
  priority 100
  nopreempt
  authentication {
    auth_type AH
    auth_pass secret1
  }
  virtual_ipaddress {
    192.0.2.111/24
  }
  virtual_routes {
    203.0.113.0/24 via 192.0.2.254
  }
  track_interface {
    lo weight 7
  }
  track_script {
    good
  }
  track_file {
    tf
  }
  track_process {
    tp
  }
  notify_master_rx_lower_pri /bin/true
}
`;

const DATA_A = `------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   State = MASTER
   Flags: none
   Wantstate = MASTER
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795426492.304273 (Mon Nov 23 09:34:52.304273 2026)
   Read timeout = 1795426495.306546 (Mon Nov 23 09:34:55.306546 2026)
   Master down timer = 3414062 usecs
   Interface = eth0
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 42
   Priority = 150
   Effective priority = 150
   Total priority = 150
   Advert interval = 1 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.100/24 dev eth0 scope global set
   fd_in 13, fd_out 14
   Tracked scripts :
     chk weight -60
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
------< VRRP Sockpool >------
 fd_in 13 fd_out = 14
   Interface = eth0
   Family = IPv4
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_1 vrid 42
------< VRRP Scripts >------
 VRRP Script = chk
   Command = '/etc/keepalived/chk.sh'
   Interval = 1 sec
   Timeout = 0 sec
   Weight = -60
   Rise = 2
   Fall = 2
   Result = 3
   Insecure = no
   Init state = unknown
   Status = GOOD
   Script uid:gid = 0:0
   VRRP instances :
   Tracking instances :
     VI_1, weight -60
   State = idle
`;

const DATA_B = `------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   State = BACKUP
   Master router = 192.0.2.1
   Master priority = 150
   Flags: none
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795426489.735948 (Mon Nov 23 09:34:49.735948 2026)
   Read timeout = 1795426497.915953 (Mon Nov 23 09:34:57.915953 2026)
   Master down timer = 3609375 usecs
   Interface = eth0
   Using src_ip = 192.0.2.2
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 42
   Priority = 100
   Effective priority = 100
   Total priority = 100
   Advert interval = 1 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.100/24 dev eth0 scope global
   fd_in 13, fd_out 14
   Tracked scripts :
     chk weight -60
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
------< VRRP Sockpool >------
 fd_in 13 fd_out = 14
   Interface = eth0
   Family = IPv4
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_1 vrid 42
------< VRRP Scripts >------
 VRRP Script = chk
   Command = '/etc/keepalived/chk.sh'
   Interval = 1 sec
   Timeout = 0 sec
   Weight = -60
   Rise = 2
   Fall = 2
   Result = 3
   Insecure = no
   Init state = unknown
   Status = GOOD
   Script uid:gid = 0:0
   VRRP instances :
   Tracking instances :
     VI_1, weight -60
   State = idle
`;

const DATA_R = `------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   Sync group = G1
   State = BACKUP
   Master router = ff02::12
   Master priority = 0
   Flags:
     Using unicast
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795426560.933570 (Mon Nov 23 09:36:00.933570 2026)
   Read timeout = 1795426567.162892 (Mon Nov 23 09:36:07.162892 2026)
   Master down timer = 6218750 usecs
   Interface = eth0
   Using src_ip = 192.0.2.1 (from configuration)
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 51
   Priority = 200
   Effective priority = 200
   Total priority = 200
   Advert interval = 2 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = SIMPLE_PASSWORD
   Password = secret1
   Virtual IP (2):
     192.0.2.101/24 dev eth0 scope global label eth0:v1
     192.0.2.102 dev eth0 scope global
   Virtual IP Excluded :
     203.0.113.5/24 dev eth0 scope global
   Unicast TTL = 255
   Check unicast src : no
   Unicast Peer :
     192.0.2.9 min_ttl 0 max_ttl 255
     192.0.2.8 min_ttl 0 max_ttl 255
   Unicast checksum compatibility = no
   fd_in 14, fd_out 15
   Using smtp notification = no
   Notify deleted = Fault
   Backup state transition script = '/usr/bin/true', uid:gid 0:0
   Master state transition script = '/usr/bin/true' 'm', uid:gid 0:0
   Fault state transition script = '/usr/bin/true', uid:gid 0:0
   Stop state transition script = '/usr/bin/true', uid:gid 0:0
   Generic state transition script = '/usr/bin/true', uid:gid 0:0
   Notify priority changes = false
 VRRP Instance = VI_2
   VRRP Version = 3
   Using Native IPv6
   State = MASTER
   Flags: none
   Wantstate = MASTER
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795426562.819614 (Mon Nov 23 09:36:02.819614 2026)
   Read timeout = 1795426565.831075 (Mon Nov 23 09:36:05.831075 2026)
   Master down timer = 1863281 usecs
   Interface = eth0
   Using src_ip = fe80::1c8a:efff:fe4f:23e8
   Multicast address ff02::12, ifindex 2
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 52
   Priority = 90
   Effective priority = 70
   Total priority = 70
   Advert interval = 500 milli-sec
   Accept = enabled
   Preempt = enabled
   Preempt delay = 4 secs
   Promote_secondaries = disabled
   Virtual IP (1):
     fd00::52/64 dev eth0 scope global preferred_lft forever set
   fd_in 16, fd_out 17
   Tracked scripts :
     bad weight -20
   Using smtp notification = yes
   Notify deleted = Fault
   Notify priority changes = false
 VRRP Instance = VI_3
   VRRP Version = 2
   Sync group = G1
   State = BACKUP
   Master router = ff02::12
   Master priority = 0
   Flags: none
   Wantstate = MASTER
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795426560.944141 (Mon Nov 23 09:36:00.944141 2026)
   Read timeout = 1795426568.164198 (Mon Nov 23 09:36:08.164198 2026)
   Master down timer = 3609375 usecs
   Interface = eth0
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 53
   Priority = 100
   Effective priority = 100
   Total priority = 100
   Advert interval = 1 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     198.51.100.53 dev eth0 scope global
   fd_in 18, fd_out 19
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
------< VRRP Sockpool >------
 fd_in 14 fd_out = 15
   Interface = eth0
   Family = IPv4
   Protocol = VRRP
   Type = Unicast
   Address = 192.0.2.1
   Rx buf size = 0
   VRRP instances
     VI_1 vrid 51
 fd_in 16 fd_out = 17
   Interface = eth0
   Family = IPv6
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_2 vrid 52
 fd_in 18 fd_out = 19
   Interface = eth0
   Family = IPv4
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_3 vrid 53
------< VRRP Sync groups >------
 VRRP Sync Group = G1, BACKUP
   Num member fault 0, num member init 0
   VRRP member instances :
     VI_1
     VI_3
   Using smtp notification = no
------< VRRP Scripts >------
 VRRP Script = bad
   Command = '/etc/keepalived/bad.sh'
   Interval = 2 sec
   Timeout = 3 sec
   Weight = 0
   Rise = 1
   Fall = 1
   Result = 0
   Insecure = no
   Init state = unknown
   Status = BAD
   Script uid:gid = 0:0
   VRRP instances :
   Tracking instances :
     VI_2, weight -20
   State = idle
`;

const DATA_S = `------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   State = MASTER
   Flags:
   Wantstate = MASTER
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795426615.608220 (Mon Nov 23 09:36:55.608220 2026)
   Read timeout = 1795426617.608416 (Mon Nov 23 09:36:57.608416 2026)
   Master down timer = 3523437 usecs
   Use VMAC, i/f name vrrp42, is_up = true, xmit_base = false
   Interface = vrrp42, vmac on eth0
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 61
   Priority = 100
   Effective priority = 122
   Total priority = 122
   Advert interval = 1 sec
   Accept = enabled
   Preempt = disabled
   Promote_secondaries = disabled
   Authentication type = IPSEC_AH
   Virtual IP (1):
     192.0.2.111/24 dev vrrp42@eth0 scope global set
   fd_in 15, fd_out 16
   Virtual Routes :
     prepend 203.0.113.0/24 via inet 192.0.2.254 proto 18 no_track
   Tracked interfaces :
     lo weight 7
   Tracked scripts :
     good weight 10
   Tracked files :
     tf, weight 5
   Tracked processes :
     tp, weight 3
   Using smtp notification = no
   Notify deleted = Fault
   Master rx lower pri state transition script = '/usr/bin/true', uid:gid 0:0
   Notify priority changes = false
------< VRRP Sockpool >------
 fd_in 15 fd_out = 16
   Interface = vrrp42
   Family = IPv4
   Protocol = AH
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_1 vrid 61
------< VRRP Scripts >------
 VRRP Script = good
   Command = '/etc/keepalived/chk.sh'
   Interval = 1 sec
   Timeout = 0 sec
   Weight = 10
   Rise = 1
   Fall = 1
   Result = 1
   Insecure = no
   Init state = unknown
   Status = GOOD
   Script uid:gid = 0:0
   VRRP instances :
   Tracking instances :
     VI_1, weight 10
   State = idle
------< VRRP Track files >------
 Track file = tf
   File = /etc/keepalived/tf
   Status = 1
   Weight = 5
   Tracking instances :
     VI_1, weight 5
------< VRRP Track processes >------
 VRRP Track process = tp
   Process = sleep
   Min processes = 1
   Current processes = 0
   Have quorum = false
   Weight = 3
   Terminate delay = 0.000000s
   Fork delay = 0.000000s
   Fork delay timer not running
   Terminate delay timer not running
   Full command = false
   Tracking instances :
     VI_1, weight 3
`;

const STATS_B = `VRRP Instance: VI_1
  Advertisements:
    Received: 3
    Sent: 0
  Became master: 0
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 0
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 0
  Priority Zero:
    Received: 0
    Sent: 0
`;

const GLOBAL_A = `------< Global definitions >------
 Network namespace = (default)
 Network namespace ipvs = (main namespace)
 Router ID = nodea
 Default smtp_alert = unset
 Default smtp_alert_vrrp = unset
 Default smtp_alert_checker = unset
 Checkers log all failures = false
 No test config before reload
 Dynamic interfaces = false
 Default interface = eth0
 Disable local IGMP = no
 LVS flush = false
 LVS flush on stop = disabled
 FIFO write vrrp states on reload = false
 VRRP notify priority changes = false
 VRRP IPv4 mcast group = 224.0.0.18
 VRRP IPv6 mcast group = ff02::12
 Gratuitous ARP delay = 5
 Gratuitous ARP repeat = 5
 Gratuitous ARP refresh timer = 0
 Gratuitous ARP refresh repeat = 1
 Gratuitous ARP lower priority delay = 5
 Gratuitous ARP lower priority repeat = 5
 Num adverts before down = 3
 Gratuitous ARP for each secondary VMAC = 0s
 Send advert after receive lower priority advert = true
 Send advert after receive higher priority advert = false
 Gratuitous ARP interval = 0.000000
 Gratuitous NA interval = 0.000000
 VRRP default protocol version = 2
 nftables without counters
 libnftnl version 1.2.3
 VRRP check unicast_src = false
 VRRP skip check advert addresses = false
 VRRP strict mode = false
 Max auto priority = 0
 Min auto priority delay = 1000000 usecs
 VRRP process priority = 0
 VRRP don't swap = false
 VRRP realtime priority = 0
 VRRP realtime limit = 10000
 Checker process priority = 0
 Checker don't swap = false
 Checker realtime priority = 0
 Checker realtime limit = 10000
 BFD process priority = 0
 BFD don't swap = false
 BFD realtime priority = 0
 BFD realtime limit = 10000
 SNMP vrrp disabled
 SNMP checker disabled
 SNMP RFCv2 disabled
 SNMP RFCv3 disabled
 SNMP traps disabled
 SNMP socket = default (unix:/var/agentx/master)
 DBus disabled
 DBus service name = 
 Script security disabled
 Default script uid:gid 0:0
 vrrp_netlink_cmd_rcv_bufs = 0
 vrrp_netlink_cmd_rcv_bufs_force = 0
 vrrp_netlink_monitor_rcv_bufs = 0
 vrrp_netlink_monitor_rcv_bufs_force = 0
 process_monitor_rcv_bufs = 0
 process_monitor_rcv_bufs_force = 0
 lvs_netlink_cmd_rcv_bufs = 0
 lvs_netlink_cmd_rcv_bufs_force = 0
 lvs_netlink_monitor_rcv_bufs = 0
 lvs_netlink_monitor_rcv_bufs_force = 0
 rs_init_notifies = 0
 no_checker_emails = 0
 rx_bufs_multiples = 3
 umask = 0177
`;
