/**
 * keepalived.json (SIGJSON) in keepalived 2.2.7's layout, and the keepalived.data lines that go with
 * it (virtual rules, the master of a BACKUP that has seen none, IPv6 /128 VIPs). Goldens captured
 * from Debian's keepalived 2.2.7 in a network namespace (veth v0 with 192.0.2.1/24, v1 without
 * address): each configuration below was run with TMPDIR set, then sent signal 36 (`--signum=JSON`)
 * and SIGUSR1; the scratch directory is written /etc/keepalived here. The snapshots fed in carry
 * the runtime values keepalived printed (times, counters, source addresses).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { formatVrrpData, formatVrrpJson, printfG, type VrrpDumpInstance } from '../../../src/daemon/dumps.js';

let dir = '';
let savedTz: string | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kt-dumps-json-'));
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

const snap = (
  s: Partial<VrrpDumpInstance> & Pick<VrrpDumpInstance, 'iname' | 'state'>,
): VrrpDumpInstance => ({
  ifp_ifname: 'v0',
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

/** Our counters for keepalived's "advert_sent N, become_master 1". */
const mastered = (sent: number) => ({ 'vrrp.advert_sent': sent, 'vrrp.become_master': 1 });

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

/** The runtime values keepalived printed for one instance (inputs of the formatter, not outputs). */
function runtimeOf(golden: string, iname: string): Partial<VrrpDumpInstance> {
  const block = golden.split(/^ VRRP Instance = /m).find((b) => b.startsWith(`${iname}\n`)) ?? '';
  const val = (re: RegExp) => re.exec(block)?.[1];
  const num = (re: RegExp) => {
    const v = val(re);
    return v === undefined ? undefined : Number(v);
  };
  const out: Record<string, unknown> = {
    last_transition: num(/Last transition = ([\d.]+)/),
    read_timeout: num(/Read timeout = ([\d.]+)/),
    src_ip: val(/Using src_ip = (\S+)/),
    ifindex: num(/ifindex (\d+)/),
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as Partial<VrrpDumpInstance>;
}

describe('keepalived.json', () => {
  it('matches keepalived 2.2.7: notify scripts, PASS, excluded VIPs, route, rule, tracked interface and script; a v3 MASTER', () => {
    const text = formatVrrpJson({
      config: config(CONF_1),
      instances: [
        snap({ iname: 'VI_1', vrid: 51, state: 1, last_transition: 1795439559.013665 }),
        snap({
          iname: 'VI_2',
          vrid: 52,
          version: 3,
          state: 2,
          base_priority: 150,
          effective_priority: 150,
          vipset: true,
          last_transition: 1795439560.730654,
          stats: mastered(9),
        }),
      ],
    });
    expect(text).toBe(`${JSON_1}\n`);
  });

  it('matches keepalived 2.2.7: VMAC, AH, rules with and without preference, every notify script kind, IPv6', () => {
    const text = formatVrrpJson({
      config: config(CONF_4),
      instances: [
        snap({
          iname: 'VI_A',
          vrid: 61,
          state: 2,
          vipset: true,
          last_transition: 1795439571.682965,
          stats: mastered(3),
        }),
        snap({
          iname: 'VI_B',
          vrid: 62,
          version: 3,
          state: 2,
          vipset: true,
          last_transition: 1795439571.701044,
          stats: mastered(3),
        }),
      ],
    });
    expect(text).toBe(`${JSON_4}\n`);
  });

  it('matches keepalived 2.2.7: BACKUPs that have seen no master, unicast, a /128 IPv6 VIP, tracked file and process', () => {
    const c = config(CONF_2);
    const names = ['VI_1', 'VI_2', 'VI_3', 'VI_4', 'VI_6'];
    const text = formatVrrpJson({
      config: c,
      instances: names.map((iname, i) =>
        snap({
          iname,
          vrid: c.vrrpInstances[i]!.vrid,
          version: c.vrrpInstances[i]!.version,
          state: 1,
          base_priority: c.vrrpInstances[i]!.priority,
          effective_priority: c.vrrpInstances[i]!.priority,
          ...runtimeOf(TOPOLOGY_2, iname),
        }),
      ),
    });
    expect(text).toBe(`${JSON_2}\n`);
  });

  it('writes nothing without instances (keepalived writes no file then)', () => {
    expect(formatVrrpJson({ config: config(CONF_1), instances: [] })).toBe('');
  });

  it('formats floats as C printf %g does', () => {
    // values printf("%g") gives in C
    const cases: [number, string][] = [
      [0, '0'],
      [0.5, '0.5'],
      [1, '1'],
      [255, '255'],
      [40.95, '40.95'],
      [1.23456789, '1.23457'],
      [123456.7, '123457'],
      [1e6, '1e+06'],
      [1234567, '1.23457e+06'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [-2.5, '-2.5'],
    ];
    for (const [x, want] of cases) expect(printfG(x), String(x)).toBe(want);
  });

  it('escapes strings as keepalived does (\\/) and stays valid JSON for quotes, backslashes and control characters', () => {
    const c = config(
      CONF_1.replace(
        'notify_backup /etc/keepalived/chk.sh',
        'notify_backup "/etc/keepalived/chk.sh \\"q\\" a\\\\b"',
      ),
    );
    const text = formatVrrpJson({
      config: c,
      instances: [snap({ iname: 'VI_1', vrid: 51, state: 1 })],
      commandArgv: (cmd) => [...cmd.argv, 'tab\there', 'bell\u0007'],
    });
    expect(text).toContain(String.raw`"script_backup":"'\/etc\/keepalived\/chk.sh'`);
    const doc = JSON.parse(text) as { data: Record<string, unknown> }[];
    const backup = doc[0]?.data.script_backup as string;
    expect(backup.startsWith("'/etc/keepalived/chk.sh'")).toBe(true);
    expect(backup.endsWith("'tab\there' 'bell\u0007'")).toBe(true);
    // no raw control character but the final newline
    expect(/[\u0000-\u0009\u000b-\u001f]/u.test(text)).toBe(false);
  });
});

/**
 * keepalived-exporter's JSON reading (collector.go VRRPData/VRRPStats, decoded by Go's
 * encoding/json), restated: `[{data: {iname, state, wantstate, ifp_ifname, garp_delay, vrid, vips},
 * stats: {14 counters}}]`, every number an integer literal (Go rejects `1.5` or `1e+06` for an int
 * field), every VIP at least `ADDR dev IF` (its ParseVIP takes fields 0 and 2).
 */
function exporterDecode(text: string) {
  const ints = ['state', 'wantstate', 'garp_delay', 'vrid'];
  const stats = [
    'advert_rcvd',
    'advert_sent',
    'become_master',
    'release_master',
    'packet_len_err',
    'advert_interval_err',
    'ip_ttl_err',
    'invalid_type_rcvd',
    'addr_list_err',
    'invalid_authtype',
    'authtype_mismatch',
    'auth_failure',
    'pri_zero_rcvd',
    'pri_zero_sent',
  ];
  for (const k of [...ints, ...stats]) {
    for (const m of text.matchAll(new RegExp(`"${k}":([^,}]*)`, 'g')))
      expect(m[1], `${k} is an integer literal`).toMatch(/^-?\d+$/);
  }
  const doc = JSON.parse(text) as { data: Record<string, unknown>; stats: Record<string, unknown> }[];
  return doc.map(({ data, stats: st }) => {
    expect(typeof data.iname).toBe('string');
    expect(typeof data.ifp_ifname).toBe('string');
    for (const k of stats) expect(Number.isInteger(st[k]), k).toBe(true);
    const vips = (data.vips ?? []) as string[];
    return {
      iname: data.iname,
      state: data.state,
      wantstate: data.wantstate,
      intf: data.ifp_ifname,
      vrid: data.vrid,
      vips: vips.map((v) => {
        const f = v.split(' ');
        expect(f.length).toBeGreaterThanOrEqual(3);
        return `${f[0]} on ${f[2]}`;
      }),
      sent: st.advert_sent,
    };
  });
}

describe('keepalived.json as keepalived-exporter reads it', () => {
  it('decodes every instance with its state, interface, VRID, VIPs and counters', () => {
    const text = formatVrrpJson({
      config: config(CONF_4),
      instances: [
        snap({ iname: 'VI_A', vrid: 61, state: 2, vipset: true, stats: mastered(7) }),
        snap({ iname: 'VI_B', vrid: 62, version: 3, state: 3, wantstate: 1 }),
      ],
    });
    expect(exporterDecode(text)).toEqual([
      {
        iname: 'VI_A',
        state: 2,
        wantstate: 2,
        intf: 'vrrp9',
        vrid: 61,
        vips: ['192.0.2.120/24 on vrrp9@v0'],
        sent: 7,
      },
      { iname: 'VI_B', state: 3, wantstate: 1, intf: 'v0', vrid: 62, vips: ['fd00::7/64 on v0'], sent: 0 },
    ]);
  });

  it("accepts keepalived's own file the same way (the golden decodes to the same shape)", () => {
    expect(exporterDecode(JSON_4).map((i) => i.intf)).toEqual(['vrrp9', 'v0']);
  });
});

describe('keepalived.data lines that go with it', () => {
  it('matches keepalived 2.2.7 for BACKUPs that have seen no master (Master router from the last address printed), v3 BACKUP intervals, /128 IPv6 VIP', () => {
    const c = config(CONF_2);
    const text = formatVrrpData({
      config: c,
      instances: c.vrrpInstances.map((i) =>
        snap({
          iname: i.name,
          vrid: i.vrid,
          version: i.version,
          state: 1,
          base_priority: i.priority,
          effective_priority: i.priority,
          ...runtimeOf(TOPOLOGY_2, i.name),
        }),
      ),
    });
    const lines = text.split('\n');
    expect(lines.slice(lines.indexOf('------< VRRP Topology >------'))).toEqual(comparable(TOPOLOGY_2));
  });

  it('prints virtual rules as keepalived 2.2.7 (preference or the next from 16384 per family)', () => {
    const c = config(CONF_4);
    const text = formatVrrpData({
      config: c,
      instances: [snap({ iname: 'VI_A', vrid: 61, state: 2, vipset: true })],
    });
    const lines = text.split('\n');
    const at = lines.indexOf('   Virtual Rules :');
    expect(lines.slice(at, at + 3)).toEqual([
      '   Virtual Rules :',
      '     from 0.0.0.0/0 to 192.0.2.0/24 priority 100 tos 0x0 protocol 18 lookup 254',
      '     from 192.0.2.120 priority 16384 tos 0x0 protocol 18 type blackhole',
    ]);
  });
});

describe('vrrp_strict', () => {
  it('matches keepalived 2.2.7: strict MASTER (nftables set, no lower priority GARPs, no accept) and a FAULT on a tracked interface', () => {
    const c = config(CONF_6);
    const instances = [
      snap({
        iname: 'VI_S',
        vrid: 81,
        version: 3,
        state: 2,
        base_priority: 120,
        effective_priority: 120,
        vipset: true,
        stats: mastered(1),
        ...runtimeOf(TOPOLOGY_6, 'VI_S'),
      }),
      snap({
        iname: 'VI_F',
        vrid: 82,
        state: 3,
        base_priority: 120,
        effective_priority: 120,
        down_interfaces: ['v1'],
        ...runtimeOf(TOPOLOGY_6, 'VI_F'),
      }),
    ];
    expect(formatVrrpJson({ config: c, instances })).toBe(`${JSON_6}\n`);
    const lines = formatVrrpData({ config: c, instances }).split('\n');
    // keepalived's dump ends with its Sockpool section (left out): no final empty line to compare
    expect(lines.slice(lines.indexOf('------< VRRP Topology >------'), -1)).toEqual(comparable(TOPOLOGY_6));
  });
});

const CONF_1 = `global_defs {
  router_id r1
  script_user root
}
vrrp_script chk {
  script "/etc/keepalived/chk.sh arg1 'two words'"
  interval 1
  weight -10
}
vrrp_instance VI_1 {
  state BACKUP
  interface v0
  virtual_router_id 51
  priority 100
  advert_int 255
  authentication {
    auth_type PASS
    auth_pass secret12345
  }
  virtual_ipaddress {
    192.0.2.100/24
    192.0.2.101 label v0:vip
  }
  virtual_ipaddress_excluded {
    192.0.2.102/24
  }
  virtual_routes {
    198.51.100.0/24 via 192.0.2.254 dev v0
  }
  virtual_rules {
    from 192.0.2.100 table 100
  }
  track_interface {
    v1 weight -5
  }
  track_script {
    chk
  }
  notify_master "/etc/keepalived/chk.sh master"
  notify_backup /etc/keepalived/chk.sh
  notify "/etc/keepalived/chk.sh gen"
  preempt_delay 5
}
vrrp_instance VI_2 {
  state MASTER
  interface v0
  virtual_router_id 52
  priority 150
  advert_int 0.5
  version 3
  virtual_ipaddress {
    192.0.2.110
  }
}
`;

const CONF_2 = `global_defs {
  router_id r1
  script_user root
}
vrrp_track_process tp {
  process sleep
  weight 3
}
vrrp_track_file tf {
  file /etc/keepalived/tf
  weight 2
}
vrrp_instance VI_1 {
  state BACKUP
  interface v0
  virtual_router_id 51
  priority 100
  advert_int 255
  virtual_ipaddress {
    192.0.2.100/24
  }
  track_process {
    tp
  }
  track_file {
    tf
  }
}
vrrp_instance VI_2 {
  state BACKUP
  interface v0
  virtual_router_id 52
  priority 150
  advert_int 255
  virtual_ipaddress {
    192.0.2.110
  }
}
vrrp_instance VI_3 {
  state BACKUP
  interface v0
  virtual_router_id 53
  priority 150
  advert_int 255
  unicast_peer {
    192.0.2.77
  }
  virtual_ipaddress {
    192.0.2.111
  }
}
vrrp_instance VI_4 {
  state BACKUP
  interface v0
  virtual_router_id 54
  priority 150
  advert_int 255
  virtual_ipaddress {
    192.0.2.112
  }
}
vrrp_instance VI_6 {
  state BACKUP
  interface v0
  virtual_router_id 56
  priority 150
  advert_int 40
  native_ipv6
  virtual_ipaddress {
    fd00::5
  }
}
`;

const CONF_4 = `global_defs {
  router_id r4
  script_user root
  vrrp_skip_check_adv_addr
}
vrrp_instance VI_A {
  state BACKUP
  interface v0
  use_vmac vrrp9
  virtual_router_id 61
  priority 100
  nopreempt
  dont_track_primary
  garp_master_refresh 30
  garp_lower_prio_delay 7
  lower_prio_no_advert
  higher_prio_send_advert
  promote_secondaries
  smtp_alert
  notify_deleted "/etc/keepalived/chk.sh del"
  notify_fault /etc/keepalived/chk.sh
  notify_stop /etc/keepalived/chk.sh
  notify_master_rx_lower_pri /etc/keepalived/chk.sh
  authentication {
    auth_type AH
    auth_pass secret1longer
  }
  virtual_ipaddress {
    192.0.2.120/24
  }
  virtual_rules {
    from all to 192.0.2.0/24 priority 100 table main
    from 192.0.2.120 blackhole
  }
}
vrrp_instance VI_B {
  state BACKUP
  interface v0
  virtual_router_id 62
  priority 100
  virtual_ipaddress {
    fd00::7/64
  }
  virtual_rules {
    from fd00::7 lookup 9
  }
}
`;

const JSON_1 = String.raw`[{"data":{"iname":"VI_1","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439559.013665,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":51,"base_priority":100,"effective_priority":100,"vipset":false,"promote_secondaries":false,"adver_int":255,"master_adver_int":255,"accept":1,"nopreempt":false,"preempt_delay":5,"state":1,"wantstate":1,"version":2,"smtp_alert":false,"notify_deleted":false,"script_backup":"'\/etc\/keepalived\/chk.sh'","script_master":"'\/etc\/keepalived\/chk.sh' 'master'","script":"'\/etc\/keepalived\/chk.sh' 'gen'","vips":["192.0.2.100\/24 dev v0 scope global","192.0.2.101 dev v0 scope global label v0:vip"],"evips":["192.0.2.102\/24 dev v0 scope global"],"vroutes":["prepend 198.51.100.0\/24 via inet 192.0.2.254 dev v0 proto 18"],"vrules":["from 192.0.2.100 priority 16384 tos 0x0 protocol 18 lookup 100"],"track_ifp":["v1"],"track_script":["'\/etc\/keepalived\/chk.sh' 'arg1' 'two words'"],"auth_type":1,"auth_data":"secret12"},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_2","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439560.730654,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":52,"base_priority":150,"effective_priority":150,"vipset":true,"promote_secondaries":false,"adver_int":0.5,"master_adver_int":0.5,"accept":1,"nopreempt":false,"preempt_delay":0,"state":2,"wantstate":2,"version":3,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.110 dev v0 scope global set"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":9,"become_master":1,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}}]`;

const JSON_2 = String.raw`[{"data":{"iname":"VI_1","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439513.063025,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":51,"base_priority":100,"effective_priority":100,"vipset":false,"promote_secondaries":false,"adver_int":255,"master_adver_int":255,"accept":1,"nopreempt":false,"preempt_delay":0,"state":1,"wantstate":1,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.100\/24 dev v0 scope global"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_2","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439513.063378,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":52,"base_priority":150,"effective_priority":150,"vipset":false,"promote_secondaries":false,"adver_int":255,"master_adver_int":255,"accept":1,"nopreempt":false,"preempt_delay":0,"state":1,"wantstate":1,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.110 dev v0 scope global"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_3","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439513.063741,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":53,"base_priority":150,"effective_priority":150,"vipset":false,"promote_secondaries":false,"adver_int":255,"master_adver_int":255,"accept":1,"nopreempt":false,"preempt_delay":0,"state":1,"wantstate":1,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.111 dev v0 scope global"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_4","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439513.063917,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":54,"base_priority":150,"effective_priority":150,"vipset":false,"promote_secondaries":false,"adver_int":255,"master_adver_int":255,"accept":1,"nopreempt":false,"preempt_delay":0,"state":1,"wantstate":1,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.112 dev v0 scope global"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_6","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439513.064274,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":56,"base_priority":150,"effective_priority":150,"vipset":false,"promote_secondaries":false,"adver_int":40,"master_adver_int":40,"accept":1,"nopreempt":false,"preempt_delay":0,"state":1,"wantstate":1,"version":3,"smtp_alert":false,"notify_deleted":false,"vips":["fd00::5 dev v0 scope global deprecated"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}}]`;

const JSON_4 = String.raw`[{"data":{"iname":"VI_A","dont_track_primary":1,"skip_check_adv_addr":1,"strict_mode":0,"vmac_ifname":"vrrp9","ifp_ifname":"vrrp9","master_priority":0,"last_transition":1795439571.682965,"garp_delay":5,"garp_refresh":30,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":7,"garp_lower_prio_rep":5,"lower_prio_no_advert":1,"higher_prio_send_advert":1,"vrid":61,"base_priority":100,"effective_priority":100,"vipset":true,"promote_secondaries":false,"adver_int":1,"master_adver_int":1,"accept":1,"nopreempt":true,"preempt_delay":0,"state":2,"wantstate":2,"version":2,"smtp_alert":true,"notify_deleted":true,"script_fault":"'\/etc\/keepalived\/chk.sh'","script_stop":"'\/etc\/keepalived\/chk.sh'","script_deleted":"'\/etc\/keepalived\/chk.sh' 'del'","script_master_rx_lower_pri":"'\/etc\/keepalived\/chk.sh'","vips":["192.0.2.120\/24 dev vrrp9@v0 scope global set"],"vrules":["from 0.0.0.0\/0 to 192.0.2.0\/24 priority 100 tos 0x0 protocol 18 lookup 254","from 192.0.2.120 priority 16384 tos 0x0 protocol 18 type blackhole"],"auth_type":2,"auth_data":"secret1l"},"stats":{"advert_rcvd":0,"advert_sent":3,"become_master":1,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_B","dont_track_primary":0,"skip_check_adv_addr":1,"strict_mode":0,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795439571.701044,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":5,"garp_lower_prio_rep":5,"lower_prio_no_advert":0,"higher_prio_send_advert":0,"vrid":62,"base_priority":100,"effective_priority":100,"vipset":true,"promote_secondaries":false,"adver_int":1,"master_adver_int":1,"accept":1,"nopreempt":false,"preempt_delay":0,"state":2,"wantstate":2,"version":3,"smtp_alert":false,"notify_deleted":false,"vips":["fd00::7\/64 dev v0 scope global preferred_lft forever set"],"vrules":["from fd00::7 priority 16384 tos 0x0 protocol 18 lookup 9"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":3,"become_master":1,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}}]`;

const TOPOLOGY_2 = `------< VRRP Topology >------
 VRRP Instance = VI_1
   VRRP Version = 2
   State = BACKUP
   Master router = ff02::12
   Master priority = 0
   Flags: none
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795439513.063025 (Mon Nov 23 13:11:53.063025 2026)
   Read timeout = 1795440278.673650 (Mon Nov 23 13:24:38.673650 2026)
   Master down timer = 765609375 usecs
   Interface = v0
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
   Virtual Router ID = 51
   Priority = 100
   Effective priority = 100
   Total priority = 100
   Advert interval = 255 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.100/24 dev v0 scope global
   fd_in 15, fd_out 16
   Tracked files :
     tf, weight 2
   Tracked processes :
     tp, weight 3
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
 VRRP Instance = VI_2
   VRRP Version = 2
   State = BACKUP
   Master router = 224.0.0.18
   Master priority = 0
   Flags: none
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795439513.063378 (Mon Nov 23 13:11:53.063378 2026)
   Read timeout = 1795440278.478337 (Mon Nov 23 13:24:38.478337 2026)
   Master down timer = 765414062 usecs
   Interface = v0
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
   Virtual Router ID = 52
   Priority = 150
   Effective priority = 150
   Total priority = 150
   Advert interval = 255 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.110 dev v0 scope global
   fd_in 15, fd_out 16
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
 VRRP Instance = VI_3
   VRRP Version = 2
   State = BACKUP
   Master router = 224.0.0.18
   Master priority = 0
   Flags:
     Using unicast
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795439513.063741 (Mon Nov 23 13:11:53.063741 2026)
   Read timeout = 1795440278.478337 (Mon Nov 23 13:24:38.478337 2026)
   Master down timer = 765414062 usecs
   Interface = v0
   Using src_ip = 192.0.2.1
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
   Priority = 150
   Effective priority = 150
   Total priority = 150
   Advert interval = 255 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.111 dev v0 scope global
   Unicast TTL = 255
   Check unicast src : no
   Unicast Peer :
     192.0.2.77 min_ttl 0 max_ttl 255
   Unicast checksum compatibility = no
   fd_in 17, fd_out 18
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
 VRRP Instance = VI_4
   VRRP Version = 2
   State = BACKUP
   Master router = 192.0.2.77
   Master priority = 0
   Flags: none
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795439513.063917 (Mon Nov 23 13:11:53.063917 2026)
   Read timeout = 1795440278.478338 (Mon Nov 23 13:24:38.478338 2026)
   Master down timer = 765414062 usecs
   Interface = v0
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
   Virtual Router ID = 54
   Priority = 150
   Effective priority = 150
   Total priority = 150
   Advert interval = 255 sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.112 dev v0 scope global
   fd_in 15, fd_out 16
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
 VRRP Instance = VI_6
   VRRP Version = 3
   Using Native IPv6
   State = BACKUP
   Master router = 224.0.0.18
   Master priority = 0
   Master advert int = 40.00 sec
   Flags: none
   Wantstate = BACKUP
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795439513.064274 (Mon Nov 23 13:11:53.064274 2026)
   Read timeout = 1795439649.626776 (Mon Nov 23 13:14:09.626776 2026)
   Master down timer = 136562500 usecs
   Interface = v0
   Using src_ip = fe80::a470:feff:feeb:85ea
   Multicast address ff02::12, ifindex 3
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 5
   Gratuitous ARP lower priority repeat = 5
   Down timer adverts = 3
   Send advert after receive lower priority advert = true
   Send advert after receive higher priority advert = false
   Virtual Router ID = 56
   Priority = 150
   Effective priority = 150
   Total priority = 150
   Advert interval = 40000 milli-sec
   Master advert interval = 40000 milli-sec
   Accept = enabled
   Preempt = enabled
   Promote_secondaries = disabled
   Virtual IP (1):
     fd00::5 dev v0 scope global deprecated
   fd_in 19, fd_out 20
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
------< VRRP Sockpool >------
 fd_in 15 fd_out = 16
   Interface = v0
   Family = IPv4
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_1 vrid 51
     VI_2 vrid 52
     VI_4 vrid 54
 fd_in 17 fd_out = 18
   Interface = v0
   Family = IPv4
   Protocol = VRRP
   Type = Unicast
   Address = 192.0.2.1
   Rx buf size = 0
   VRRP instances
     VI_3 vrid 53
 fd_in 19 fd_out = 20
   Interface = v0
   Family = IPv6
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_6 vrid 56
------< VRRP Track files >------
 Track file = tf
   File = /etc/keepalived/tf
   Status = 0
   Weight = 2
   Tracking instances :
     VI_1, weight 2
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

const CONF_6 = `global_defs {
  router_id r6
  vrrp_strict
  script_user root
}
vrrp_instance VI_S {
  state BACKUP
  interface v0
  virtual_router_id 81
  priority 120
  advert_int 2
  version 3
  virtual_ipaddress {
    192.0.2.140
  }
}
vrrp_instance VI_F {
  state BACKUP
  interface v0
  virtual_router_id 82
  priority 120
  advert_int 1
  track_interface {
    v1
  }
  virtual_ipaddress {
    192.0.2.141/24
  }
}
`;
const JSON_6 = String.raw`[{"data":{"iname":"VI_S","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":1,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795440737.257039,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":0,"garp_lower_prio_rep":0,"lower_prio_no_advert":1,"higher_prio_send_advert":0,"vrid":81,"base_priority":120,"effective_priority":120,"vipset":true,"promote_secondaries":false,"adver_int":2,"master_adver_int":2,"accept":0,"nopreempt":false,"preempt_delay":0,"state":2,"wantstate":2,"version":3,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.140 dev v0 scope global set nftable_set"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":1,"become_master":1,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}},{"data":{"iname":"VI_F","dont_track_primary":0,"skip_check_adv_addr":0,"strict_mode":1,"vmac_ifname":"","ifp_ifname":"v0","master_priority":0,"last_transition":1795440730.178409,"garp_delay":5,"garp_refresh":0,"garp_rep":5,"garp_refresh_rep":1,"garp_lower_prio_delay":0,"garp_lower_prio_rep":0,"lower_prio_no_advert":1,"higher_prio_send_advert":0,"vrid":82,"base_priority":120,"effective_priority":120,"vipset":false,"promote_secondaries":false,"adver_int":1,"master_adver_int":1,"accept":0,"nopreempt":false,"preempt_delay":0,"state":3,"wantstate":3,"version":2,"smtp_alert":false,"notify_deleted":false,"vips":["192.0.2.141\/24 dev v0 scope global"],"track_ifp":["v1"],"auth_type":0},"stats":{"advert_rcvd":0,"advert_sent":0,"become_master":0,"release_master":0,"packet_len_err":0,"advert_interval_err":0,"ip_ttl_err":0,"invalid_type_rcvd":0,"addr_list_err":0,"invalid_authtype":0,"authtype_mismatch":0,"auth_failure":0,"pri_zero_rcvd":0,"pri_zero_sent":0}}]`;
const TOPOLOGY_6 = `------< VRRP Topology >------
 VRRP Instance = VI_S
   VRRP Version = 3
   State = MASTER
   Flags: none
   Wantstate = MASTER
   Number of config faults = 0
   Number of interface and track script faults = 0
   Number of track scripts init = 0
   Last transition = 1795440737.257039 (Mon Nov 23 13:32:17.257039 2026)
   Read timeout = 1795440739.257041 (Mon Nov 23 13:32:19.257041 2026)
   Master down timer = 7062500 usecs
   Interface = v0
   Enforcing strict VRRP compliance
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 0
   Gratuitous ARP lower priority repeat = 0
   Down timer adverts = 3
   Send advert after receive lower priority advert = false
   Send advert after receive higher priority advert = false
   Virtual Router ID = 81
   Priority = 120
   Effective priority = 120
   Total priority = 120
   Advert interval = 2000 milli-sec
   Accept = disabled
   Preempt = enabled
   Promote_secondaries = disabled
   Virtual IP (1):
     192.0.2.140 dev v0 scope global set nftable_set
   fd_in 13, fd_out 14
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
 VRRP Instance = VI_F
   VRRP Version = 2
   State = FAULT
   Flags: none
   Wantstate = FAULT
   Number of config faults = 0
   Number of interface and track script faults = 1
   Number of track scripts init = 0
   Last transition = 1795440730.178409 (Mon Nov 23 13:32:10.178409 2026)
   Read timeout = DISABLED
   Master down timer = 3531250 usecs
   Interface = v0
   Enforcing strict VRRP compliance
   Using src_ip = 192.0.2.1
   Multicast address 224.0.0.18
   Gratuitous ARP delay = 5
   Gratuitous ARP repeat = 5
   Gratuitous ARP refresh = 0
   Gratuitous ARP refresh repeat = 1
   Gratuitous ARP lower priority delay = 0
   Gratuitous ARP lower priority repeat = 0
   Down timer adverts = 3
   Send advert after receive lower priority advert = false
   Send advert after receive higher priority advert = false
   Virtual Router ID = 82
   Priority = 120
   Effective priority = 120
   Total priority = 120
   Advert interval = 1 sec
   Accept = disabled
   Preempt = enabled
   Promote_secondaries = disabled
   Authentication type = none
   Virtual IP (1):
     192.0.2.141/24 dev v0 scope global
   fd_in 13, fd_out 14
   Tracked interfaces :
     v1 weight 0
   Using smtp notification = no
   Notify deleted = Fault
   Notify priority changes = false
------< VRRP Sockpool >------
 fd_in 13 fd_out = 14
   Interface = v0
   Family = IPv4
   Protocol = VRRP
   Type = Multicast
   Rx buf size = 0
   VRRP instances
     VI_S vrid 81
     VI_F vrid 82
`;
