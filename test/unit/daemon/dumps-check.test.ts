/**
 * keepalived_check.data (the checker's SIGUSR1 dump) in keepalived 2.2.7's layout. Golden captured
 * from Debian's keepalived 2.2.7 in the kernel VM (test/lab/vm.ts: Debian kernel with ip_vs under
 * QEMU): CONF below in a network namespace with 198.51.100.11-15 and fd00::11 on a dummy link and
 * an HTTP server on .11 and .12 (so .11's /health answers 404 and fails, .12 is up, the rest have
 * no server), keepalived run with TMPDIR set, sent SIGUSR1 after 15 s. The snapshot fed in carries
 * what keepalived reported at that moment (who is up, the quorum of each service).
 *
 * Runtime values LvsHost.snapshot() does not carry are compared as `<runtime>` (RUNTIME_ONLY below):
 * a checker's retry count, the URL that failed last, when a MISC_CHECK script last ran.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Command, KeepalivedConfig } from '../../../src/config/model.js';
import { formatCheckData, formatCheckerTime } from '../../../src/daemon/dumps.js';
import type { LvsSnapshot } from '../../../src/daemon/metrics.js';

let dir = '';
let savedTz: string | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kt-dumps-check-'));
  savedTz = process.env.TZ;
  process.env.TZ = 'UTC';
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

function config(text: string): KeepalivedConfig {
  const path = join(dir, 'keepalived.conf');
  writeFileSync(path, text);
  const { config: c, diagnostics } = loadConfig(path, {});
  expect(diagnostics.filter((d) => d.severity === 'fatal')).toEqual([]);
  return c;
}

/** keepalived resolves /bin (a symlink to /usr/bin on Debian) in the paths it prints. */
const resolved = (c: Command) => c.argv.map((w, i) => (i === 0 ? w.replace(/^\/bin\//, '/usr/bin/') : w));

/** What keepalived reported when the golden was taken. */
const LVS: LvsSnapshot = {
  virtualServers: [
    {
      name: '203.0.113.10 80',
      protocol: 'tcp',
      family: 'inet',
      quorumUp: true,
      realServers: [
        { addr: '198.51.100.11', port: 80, up: false, weight: 2 },
        { addr: '198.51.100.12', port: 80, up: true, weight: 1 },
      ],
    },
    {
      name: '203.0.113.11 53',
      protocol: 'udp',
      family: 'inet',
      quorumUp: false,
      realServers: [{ addr: '198.51.100.13', port: 53, up: false, weight: 5 }],
    },
    {
      name: 'fwmark 5',
      protocol: 'tcp',
      family: 'inet',
      quorumUp: false,
      realServers: [{ addr: '198.51.100.14', port: 0, up: false, weight: 1 }],
    },
    {
      name: 'group VG1',
      protocol: 'tcp',
      family: 'inet',
      quorumUp: false,
      realServers: [{ addr: '198.51.100.15', port: 80, up: false, weight: 1 }],
    },
    {
      name: 'fd00::10 443',
      protocol: 'tcp',
      family: 'inet6',
      quorumUp: false,
      realServers: [{ addr: 'fd00::11', port: 443, up: false, weight: 1 }],
    },
  ],
};

const RUNTIME_ONLY = /^( {3}Retries iterations| {3}Failed URL| {3}Last ran| {3}Last status) = .*/;
const sectionsFrom = (text: string, title: string) => {
  const lines = text.split('\n');
  return lines.slice(lines.indexOf(title)).map((l) => l.replace(RUNTIME_ONLY, '$1 = <runtime>'));
};
/** keepalived prints `Failed URL` only once a URL failed: compared as one optional runtime line. */
const withoutFailedUrl = (lines: string[]) => lines.filter((l) => !l.startsWith('   Failed URL = '));

describe('keepalived_check.data', () => {
  it('matches keepalived 2.2.7 from LVS Topology on: groups, every service kind, checkers of each type', () => {
    const text = formatCheckData({ config: config(CONF), lvs: LVS, commandArgv: resolved });
    expect(withoutFailedUrl(sectionsFrom(text, '------< SSL definitions >------'))).toEqual(
      withoutFailedUrl(sectionsFrom(GOLDEN, '------< SSL definitions >------')),
    );
  });

  it('prints only Global definitions lines keepalived 2.2.7 prints in its checker dump', () => {
    const text = formatCheckData({ config: config(CONF), lvs: LVS });
    const lines = text.split('\n');
    const ours = lines.slice(0, lines.indexOf('------< SSL definitions >------'));
    const theirs = new Set(GOLDEN.split('\n'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((l) => !theirs.has(l))).toEqual([]);
  });

  it('without a snapshot prints every runtime value unset (nothing alive, no checker run)', () => {
    const text = formatCheckData({ config: config(CONF) });
    const count = (re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;
    expect(count(/^ {3}alive = 1$/)).toBe(0);
    expect(count(/^ {3}Has run = no$/)).toBe(7);
    expect(count(/^ {3}Up = no$/)).toBe(7);
    expect(text).not.toContain('------< SSL definitions >------\n Password');
  });

  it("takes 'alive' and 'RS set' from the IPVS services of the snapshot when it carries them", () => {
    const [first, second, ...rest] = LVS.virtualServers;
    const lvs = {
      virtualServers: [
        { ...first!, services: [{ dests: [{ addr: '198.51.100.12', port: 80 }] }] },
        { ...second!, services: [] },
        ...rest,
      ],
    };
    const text = formatCheckData({ config: config(CONF), lvs });
    const blocks = text.split(' ------< Virtual server >------');
    const field = (block: string | undefined, re: RegExp) =>
      (block ?? '').split('\n').filter((l) => re.test(l));
    // .11 is down: inhibit_on_failure would keep it at weight 0, but the table has no such destination
    expect(field(blocks[1], /^ {3}(alive|RS set) = /)).toEqual([
      '   alive = 1',
      '   alive = 0',
      '   RS set = 0',
      '   alive = 1',
      '   RS set = 1',
    ]);
    expect(field(blocks[2], /^ {3}alive = /)[0]).toBe('   alive = 0');
  });

  it('formats the checker times with the microseconds after the year, as keepalived does', () => {
    expect(formatCheckerTime(1795439233.669567)).toBe('1795439233.669567 (Mon Nov 23 13:07:13 2026.669567)');
    expect(formatCheckerTime(0)).toBe('0.000000 (Thu Jan  1 00:00:00 1970.000000)');
  });

  it('is parseable the way tools read it: one block per service with its real servers and their state', () => {
    const text = formatCheckData({ config: config(CONF), lvs: LVS });
    const services: { vs: string; rs: string[] }[] = [];
    let rip = '';
    for (const l of text.split('\n')) {
      const vs = /^ VS (?:VIP|FWMARK|GROUP) = (.*)$/.exec(l);
      if (vs) services.push({ vs: vs[1]!, rs: [] });
      const rs = /^ {3}RIP = (\S+), RPORT = (\d+),/.exec(l);
      if (rs) rip = `${rs[1]}:${rs[2]}`;
      const alive = /^ {3}alive = (\d)$/.exec(l);
      if (alive && rip) {
        services.at(-1)?.rs.push(`${rip} ${alive[1]}`);
        rip = '';
      }
    }
    expect(services).toEqual([
      { vs: '203.0.113.10, VPORT = 80', rs: ['198.51.100.11:80 0', '198.51.100.12:80 1'] },
      { vs: '203.0.113.11, VPORT = 53', rs: ['198.51.100.13:53 0'] },
      { vs: '5', rs: ['198.51.100.14:0 0'] },
      { vs: '[VG1]:0', rs: ['198.51.100.15:80 0'] },
      { vs: 'fd00::10, VPORT = 443', rs: ['fd00::11:443 0'] },
    ]);
  });
});

const CONF = `global_defs {
  router_id cap1
  script_user root
  enable_script_security
}
virtual_server_group VG1 {
  203.0.113.20 80
  203.0.113.21-23 8080
  fwmark 7
}
virtual_server 203.0.113.10 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  persistence_timeout 30
  quorum 1
  hysteresis 0
  quorum_up "/bin/true up"
  quorum_down /bin/true
  sorry_server 198.51.100.99 80
  alpha
  omega
  real_server 198.51.100.11 80 {
    weight 2
    inhibit_on_failure
    notify_up "/bin/true rsup"
    notify_down /bin/true
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      url {
        path /x
        digest 9b3a0c85a887a256d6939da88aabd8cd
      }
      connect_timeout 2
      retry 1
      delay_before_retry 1
    }
  }
  real_server 198.51.100.12 80 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      connect_port 80
    }
    MISC_CHECK {
      misc_path "/bin/true a b"
      misc_timeout 3
      misc_dynamic
    }
  }
}
virtual_server 203.0.113.11 53 {
  delay_loop 3
  lb_algo wlc
  lb_kind DR
  protocol UDP
  real_server 198.51.100.13 53 {
    weight 5
    DNS_CHECK {
      type A
      name example.test
      connect_timeout 1
    }
  }
}
virtual_server fwmark 5 {
  delay_loop 5
  lb_algo sh
  lb_kind TUN
  real_server 198.51.100.14 0 {
    weight 1
    SMTP_CHECK {
      connect_timeout 1
      helo_name cap.test
    }
  }
}
virtual_server group VG1 {
  delay_loop 4
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.15 80 {
    weight 1
    SSL_GET {
      url {
        path /
        status_code 200-299
      }
      connect_timeout 1
    }
  }
}
virtual_server fd00::10 443 {
  delay_loop 6
  lb_algo lc
  lb_kind NAT
  protocol TCP
  real_server fd00::11 443 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;

const GOLDEN = `------< Global definitions >------
 Network namespace = (default)
 Network namespace ipvs = (main namespace)
 Router ID = cap1
 Default smtp_alert = unset
 Default smtp_alert_vrrp = unset
 Default smtp_alert_checker = unset
 Checkers log all failures = false
 No test config before reload
 Dynamic interfaces = false
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
 Gratuitous ARP lower priority delay = 4294967295
 Gratuitous ARP lower priority repeat = 4294967295
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
 Script security enabled
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
------< SSL definitions >------
 Using autogen SSL context
------< LVS Topology >------
 System is compiled with LVS v1.2.1
 ------< Virtual server group >------
 Virtual Server Group = VG1, IPv4 = yes, IPv6 = no
   VIP = 203.0.113.20, VPORT = 80
     Alive: 0 tcp, 0 udp, 0 sctp
     reloaded = False
   VIP Range = 203.0.113.21-203.0.113.23, VPORT = 8080
     Alive: 0 tcp, 0 udp, 0 sctp
     reloaded = False
   FWMARK = 7
     Alive: 0 IPv4, 0 IPv6
     reloaded = False
 ------< Virtual server >------
 VS VIP = 203.0.113.10, VPORT = 80
   Address family = inet
   connection timeout = 5.000000
   delay_loop = 2.000000
   lvs_sched = rr
   Hashed = disabled
   flag-1 = disabled
   flag-2 = disabled
   flag-3 = disabled
   One packet scheduling = disabled
   persistence timeout = 30
   protocol = TCP
   alpha is ON
   omega is ON
   Inhibit on failure is OFF
   quorum = 1, hysteresis = 0
   Quorum up notify script = '/usr/bin/true' 'up', uid:gid 0:0
   Quorum down notify script = '/usr/bin/true', uid:gid 0:0
   Using smtp notification = no
   default forwarding method = NAT
   sorry server = [198.51.100.99]:tcp:80
     forwarding method = NAT
     Inhibit on failure is OFF
   alive = 1
   quorum_state_up = 1
   reloaded = 0
   ------< Real server >------
   RIP = 198.51.100.11, RPORT = 80, WEIGHT = 2 EFF WEIGHT = 2
   forwarding method = NAT
   Alpha is ON
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 2.000000
   Inhibit on failure is ON
     RS up notify script = '/usr/bin/true' 'rsup', uid:gid 0:0
     RS down notify script = '/usr/bin/true', uid:gid 0:0
   Using smtp notification = yes
   initial weight = 2
   effective weight = 2
   previous effective_weight = 0
   alive = 0
   num failed checkers = 1
   RS set = 1
   reloaded = 0
   ------< Real server >------
   RIP = 198.51.100.12, RPORT = 80, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = NAT
   Alpha is ON
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 2.000000
   Inhibit on failure is OFF
   Using smtp notification = yes
   initial weight = 1
   effective weight = 1
   previous effective_weight = 0
   alive = 1
   num failed checkers = 0
   RS set = 1
   reloaded = 0
 ------< Virtual server >------
 VS VIP = 203.0.113.11, VPORT = 53
   Address family = inet
   connection timeout = 5.000000
   delay_loop = 3.000000
   lvs_sched = wlc
   Hashed = disabled
   flag-1 = disabled
   flag-2 = disabled
   flag-3 = disabled
   One packet scheduling = disabled
   protocol = UDP
   alpha is OFF
   omega is OFF
   Inhibit on failure is OFF
   quorum = 1, hysteresis = 0
   Using smtp notification = no
   default forwarding method = DR
   alive = 1
   quorum_state_up = 0
   reloaded = 0
   ------< Real server >------
   RIP = 198.51.100.13, RPORT = 53, WEIGHT = 5 EFF WEIGHT = 5
   forwarding method = DR
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 3.000000
   Inhibit on failure is OFF
   Using smtp notification = yes
   initial weight = 5
   effective weight = 5
   previous effective_weight = 0
   alive = 0
   num failed checkers = 1
   RS set = 0
   reloaded = 0
 ------< Virtual server >------
 VS FWMARK = 5
   Address family = inet
   connection timeout = 5.000000
   delay_loop = 5.000000
   lvs_sched = sh
   Hashed = disabled
   sh-port = disabled
   sh-fallback = disabled
   One packet scheduling = disabled
   protocol = none
   alpha is OFF
   omega is OFF
   Inhibit on failure is OFF
   quorum = 1, hysteresis = 0
   Using smtp notification = no
   default forwarding method = TUN, type = IPIP
   alive = 1
   quorum_state_up = 0
   reloaded = 0
   ------< Real server >------
   RIP = 198.51.100.14, RPORT = 0, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = TUN, type = IPIP
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 5.000000
   Inhibit on failure is OFF
   Using smtp notification = yes
   initial weight = 1
   effective weight = 1
   previous effective_weight = 0
   alive = 0
   num failed checkers = 1
   RS set = 0
   reloaded = 0
 ------< Virtual server >------
 VS GROUP = [VG1]:0
   Address family = inet
   connection timeout = 5.000000
   delay_loop = 4.000000
   lvs_sched = wrr
   Hashed = disabled
   flag-1 = disabled
   flag-2 = disabled
   flag-3 = disabled
   One packet scheduling = disabled
   protocol = TCP
   alpha is OFF
   omega is OFF
   Inhibit on failure is OFF
   quorum = 1, hysteresis = 0
   Using smtp notification = no
   default forwarding method = NAT
   alive = 1
   quorum_state_up = 0
   reloaded = 0
   ------< Real server >------
   RIP = 198.51.100.15, RPORT = 80, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = NAT
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 4.000000
   Inhibit on failure is OFF
   Using smtp notification = yes
   initial weight = 1
   effective weight = 1
   previous effective_weight = 0
   alive = 0
   num failed checkers = 1
   RS set = 0
   reloaded = 0
 ------< Virtual server >------
 VS VIP = fd00::10, VPORT = 443
   Address family = inet6
   connection timeout = 5.000000
   delay_loop = 6.000000
   lvs_sched = lc
   Hashed = disabled
   flag-1 = disabled
   flag-2 = disabled
   flag-3 = disabled
   One packet scheduling = disabled
   protocol = TCP
   alpha is OFF
   omega is OFF
   Inhibit on failure is OFF
   quorum = 1, hysteresis = 0
   Using smtp notification = no
   default forwarding method = NAT
   alive = 1
   quorum_state_up = 0
   reloaded = 0
   ------< Real server >------
   RIP = fd00::11, RPORT = 443, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = NAT
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 6.000000
   Inhibit on failure is OFF
   Using smtp notification = yes
   initial weight = 1
   effective weight = 1
   previous effective_weight = 0
   alive = 0
   num failed checkers = 1
   RS set = 0
   reloaded = 0
------< Health checkers >------
 [203.0.113.10]:tcp:80 -> [198.51.100.11]:tcp:80
   Enabled = yes
   Up = no
   Has run = yes
   Current weight = 0
   Alpha = yes
   Delay loop = 2000000 us
   Warmup = 2000000 us
   Retries = 1
   Delay before retry = 1000000 us
   Retries iterations = 2
   Default delay before retry = 3000000 us
   Log all failures = no
   Connection
     Dest = [198.51.100.11]:80
     Timeout = 2.000000
   Keepalive method = HTTP_GET, http protocol 1.0
   Enable SNI unset
   Fast recovery unset
   Checked url = /health
     HTTP Status Code(s)
       200
   Checked url = /x
     digest = 9b3a0c85a887a256d6939da88aabd8cd
     HTTP Status Code(s)
       200-299
   Failed URL = /health
 [203.0.113.10]:tcp:80 -> [198.51.100.12]:tcp:80
   Enabled = yes
   Up = yes
   Has run = yes
   Current weight = 0
   Alpha = yes
   Delay loop = 2000000 us
   Warmup = 2000000 us
   Retries = 1
   Delay before retry = 1000000 us
   Retries iterations = 0
   Default delay before retry = 1000000 us
   Log all failures = no
   Connection
     Dest = [198.51.100.12]:80
     Timeout = 1.000000
   Keepalive method = TCP_CHECK
 [203.0.113.10]:tcp:80 -> [198.51.100.12]:tcp:80
   Enabled = yes
   Up = yes
   Has run = yes
   Current weight = 0
   Alpha = yes
   Delay loop = 2000000 us
   Warmup = 2000000 us
   Retries = 0
   Default delay before retry = 1000000 us
   Log all failures = no
   Keepalive method = MISC_CHECK
   script = '/usr/bin/true' 'a' 'b'
   timeout = 3
   dynamic = YES
   uid:gid = 0:0
   Last ran = 1795439233.669567 (Mon Nov 23 13:07:13 2026.669567)
   Last status = 0
 [203.0.113.11]:udp:53 -> [198.51.100.13]:udp:53
   Enabled = yes
   Up = no
   Has run = yes
   Current weight = 0
   Alpha = no
   Delay loop = 3000000 us
   Warmup = 3000000 us
   Retries = 3
   Delay before retry = 3000000 us
   Retries iterations = 0
   Default delay before retry = 0 us
   Log all failures = no
   Connection
     Dest = [198.51.100.13]:53
     Timeout = 1.000000
   Keepalive method = DNS_CHECK
   Type = A
   Name = example.test
 FWM 5 -> [198.51.100.14]:none:0
   Enabled = yes
   Up = no
   Has run = yes
   Current weight = 0
   Alpha = no
   Delay loop = 5000000 us
   Warmup = 5000000 us
   Retries = 1
   Delay before retry = 1000000 us
   Retries iterations = 2
   Default delay before retry = 1000000 us
   Log all failures = no
   Connection
     Dest = [198.51.100.14]:0
     Timeout = 1.000000
   Keepalive method = SMTP_CHECK
   helo = cap.test
 [VG1]:0 -> [198.51.100.15]:tcp:80
   Enabled = yes
   Up = no
   Has run = yes
   Current weight = 0
   Alpha = no
   Delay loop = 4000000 us
   Warmup = 4000000 us
   Retries = 1
   Delay before retry = 3000000 us
   Retries iterations = 2
   Default delay before retry = 3000000 us
   Log all failures = no
   Connection
     Dest = [198.51.100.15]:80
     Timeout = 1.000000
   Keepalive method = SSL_GET, http protocol 1.0
   Enable SNI unset
   Fast recovery unset
   Checked url = /
     HTTP Status Code(s)
       200-299
   Failed URL = /
 [fd00::10]:tcp:443 -> [fd00::11]:tcp:443
   Enabled = yes
   Up = no
   Has run = yes
   Current weight = 0
   Alpha = no
   Delay loop = 6000000 us
   Warmup = 6000000 us
   Retries = 1
   Delay before retry = 1000000 us
   Retries iterations = 0
   Default delay before retry = 1000000 us
   Log all failures = no
   Connection
     Dest = [fd00::11]:443
     Timeout = 1.000000
   Keepalive method = TCP_CHECK
`;
