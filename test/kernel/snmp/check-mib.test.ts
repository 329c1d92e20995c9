/**
 * KEEPALIVED-MIB check subtree with kernel IPVS (Debian kernel under QEMU, test/lab/vm.ts), one
 * boot: a director namespace runs snmpd (AgentX master), the trap receiver and keepalived-ts
 * (bin/keepalived-ts.js from the repository's dist/: `npm run build` first) with a NAT virtual
 * server whose two real servers on a second namespace are checked by TCP_CHECK, one listening and
 * one not. The job prints `=== section` blocks: the walks and ipvsadm tables before and after the
 * second real server comes up, the traps until after SIGTERM.
 */
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { parseTraps } from '../../interop/snmp-lab.js';
import { parseWalkEntries } from '../../interop/snmp-walk.js';
import { needVm } from '../../lab/gates.js';
import { runInVm, sections } from '../../lab/vm.js';
import { describeIf } from '../../support/privilege.js';

const repoRoot = join(import.meta.dirname, '../../..');
const CHECK = '1.3.6.1.4.1.9586.100.5.3';
const hex = (s: string) => Buffer.from(s).toString('hex');

const conf = (socket: string) => `global_defs {
  router_id lvsvm
  enable_snmp_checker
  enable_traps
  snmp_socket unix:${socket}
}
virtual_server 203.0.113.10 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  omega
  real_server 198.51.100.11 80 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 198.51.100.11 81 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`;

function script(node: string): string {
  return `set -u
NODE=${node}
R=${repoRoot}
D="ip netns exec dir"
sec() { echo "=== $1"; }
ip netns add dir; ip netns add r1
ip -n dir link set lo up
ip -n dir addr add 203.0.113.10/32 dev lo
ip -n dir link add s1 type veth peer name e0 netns r1
ip -n dir addr add 198.51.100.1/24 dev s1; ip -n dir link set s1 up
ip -n r1 addr add 198.51.100.11/24 dev e0; ip -n r1 link set e0 up; ip -n r1 link set lo up
lsn() { ip netns exec r1 $NODE -e "require('net').createServer((s)=>s.end()).listen($1,'198.51.100.11',()=>console.log('listening'))" > srv$1.log 2>&1 & echo $! > srv$1.pid; }
lsn 80
# the AgentX socket on the VM's own /run: the job folder is a 9p share, which takes no sockets
S=/run/kt-snmp; mkdir -p $S/persist
printf 'master agentx\\nagentXSocket unix:%s/agentx\\nrocommunity public 127.0.0.1\\ntrap2sink 127.0.0.1:16262 public\\n' "$S" > snmpd.conf
$D env MIBS= SNMP_PERSISTENT_DIR=$S/persist /usr/sbin/snmpd -f -Lo -C -I -smux -c snmpd.conf -p $S/snmpd.pid udp:127.0.0.1:16161 > snmpd.log 2>&1 &
for t in $(seq 1 100); do [ -S $S/agentx ] && break; sleep 0.1; done
sec snmpd; [ -S $S/agentx ] && echo ok=1 || { echo ok=0; cat snmpd.log; }
$D $NODE $R/test/interop/snmp-trap-receiver.mjs 16262 > traps.log 2>&1 &
RPID=$!
for t in $(seq 1 100); do grep -q listening traps.log && break; sleep 0.1; done
$D $NODE $R/bin/keepalived-ts.js -n -l -D -f ./keepalived.conf -p ./kt.pid -r ./vrrp.pid -c ./checkers.pid -b ./bfd.pid > daemon.log 2>&1 &
DPID=$!
walk() { $D env MIBS= snmpwalk -v2c -c public -On -t 1 -r 1 127.0.0.1:16161 .${CHECK}; }
status() { walk 2>/dev/null | grep -c "^.${CHECK}.4.1.6.1.$1 = INTEGER: $2"; }
ok=0; for t in $(seq 1 60); do [ "$(status 2 2)" = 1 ] && { ok=1; break; }; sleep 0.5; done
sec down; echo "ok=$ok"
sec walk1; walk
sec adm1; $D ipvsadm -Ln
lsn 81
ok=0; for t in $(seq 1 60); do [ "$(status 2 1)" = 1 ] && { ok=1; break; }; sleep 0.5; done
sec up; echo "ok=$ok"
sec walk2; walk
sec adm2; $D ipvsadm -Ln
kill -TERM $DPID
for t in $(seq 1 200); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
sleep 1
sec adm3; $D ipvsadm -Ln
sec traps; cat traps.log
sec log; cat daemon.log
kill $RPID $(cat srv80.pid) $(cat srv81.pid) $(cat $S/snmpd.pid) 2>/dev/null
echo "=== end"
`;
}

describeIf('KEEPALIVED-MIB check subtree over kernel IPVS (QEMU)', needVm, () => {
  let s: Map<string, string>;

  beforeAll(async () => {
    const run = await runInVm(
      [
        {
          name: 'snmp-check',
          script: script(process.execPath),
          files: { 'keepalived.conf': conf('/run/kt-snmp/agentx') },
        },
      ],
      { timeoutMs: 540_000 },
    );
    s = sections(run.jobs[0]?.output ?? '');
    process.stderr.write(
      `snmp check VM: boot ${Math.round(run.bootMs)} ms, whole run ${Math.round(run.wallMs)} ms\n`,
    );
    if (!s.has('end')) process.stderr.write(`${run.jobs[0]?.output ?? run.console}\n`);
  }, 600_000);

  const walk = (k: string) =>
    new Map(
      parseWalkEntries(s.get(k) ?? '').map((e) => [e.oid.slice(CHECK.length + 1), `${e.type} ${e.value}`]),
    );

  it('the failing real server reads dead and is out of the IPVS table; the other is alive and in it', () => {
    expect(s.get('down')?.trim()).toBe('ok=1');
    const w = walk('walk1');
    console.log(`snmp check VM walk: ${w.size} objects`);
    expect([w.get('3.1.20.1'), w.get('3.1.21.1'), w.get('3.1.23.1')]).toEqual([
      'gauge 2',
      'gauge 1',
      'integer 1',
    ]);
    expect([w.get('4.1.6.1.1'), w.get('4.1.6.1.2')]).toEqual(['integer 1', 'integer 2']);
    const adm = s.get('adm1') ?? '';
    expect(adm).toMatch(/198\.51\.100\.11:80 +Masq/);
    expect(adm).not.toMatch(/198\.51\.100\.11:81/);
  });

  it('once it listens, it reads alive and is in the table', () => {
    expect(s.get('up')?.trim()).toBe('ok=1');
    const w = walk('walk2');
    expect([w.get('3.1.21.1'), w.get('4.1.6.1.2')]).toEqual(['gauge 2', 'integer 1']);
    expect(s.get('adm2') ?? '').toMatch(/198\.51\.100\.11:81 +Masq/);
  });

  it('traps: quorum at start, the real server down then up, quorum shutdown(3) at stop (omega)', () => {
    const traps = parseTraps(s.get('traps') ?? '').filter((t) => t.trap.startsWith(`${CHECK}.5.0.`));
    const brief = traps.map((t) => {
      const v = (col: string) => t.objects.find((o) => o.oid === `${CHECK}.${col}`)?.value;
      return t.trap.endsWith('.2') ? `quorum ${v('3.1.23')}` : `rs ${v('4.1.5')} ${v('4.1.6')}`;
    });
    console.log(`snmp check VM traps: ${brief.join(', ')}`);
    expect(brief).toEqual(['quorum 1', 'rs 81 2', 'rs 81 1', 'quorum 3']);
    const rid = traps[0]?.objects.at(-1);
    expect(rid).toEqual({ oid: '1.3.6.1.4.1.9586.100.5.1.2.0', value: hex('lvsvm') });
    expect(s.get('adm3') ?? '').not.toMatch(/203\.0\.113\.10:80/);
  });
});
