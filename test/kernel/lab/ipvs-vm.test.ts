/**
 * The IPVS kernel VM: one boot runs two jobs. (1) create a service and a destination with ipvsadm and
 * read them back; (2) client / director / real-server namespaces pass HTTP through an IPVS NAT service.
 */
import { beforeAll, expect, it } from 'vitest';
import { needVm } from '../../lab/gates.js';
import { runInVm, type VmRun } from '../../lab/vm.js';
import { describeIf } from '../../support/privilege.js';

const BODY = 'hello from the real server';

const ipvsadmJob = `set -e
ipvsadm -A -t 192.0.2.10:80 -s wrr
ipvsadm -a -t 192.0.2.10:80 -r 198.51.100.2:8080 -m -w 3
ipvsadm -A -u [fd00::10]:53 -s sh
ipvsadm -a -u [fd00::10]:53 -r [fd00::2]:53 -g -w 1
ipvsadm -Ln
`;

const natJob = `set -e
for n in c d r; do ip netns add $n; ip -n $n link set lo up; done
ip link add c0 netns c type veth peer name d0 netns d
ip link add r0 netns r type veth peer name d1 netns d
ip -n c addr add 203.0.113.2/24 dev c0; ip -n c link set c0 up
ip -n d addr add 203.0.113.1/24 dev d0; ip -n d link set d0 up
ip -n d addr add 198.51.100.1/24 dev d1; ip -n d link set d1 up
ip -n r addr add 198.51.100.2/24 dev r0; ip -n r link set r0 up
ip -n r route add default via 198.51.100.1
ip netns exec d sysctl -qw net.ipv4.ip_forward=1
mkdir -p /tmp/www; echo '${BODY}' > /tmp/www/index.html
ip netns exec r busybox httpd -p 198.51.100.2:8080 -h /tmp/www
ip netns exec d ipvsadm -A -t 203.0.113.1:80 -s rr
ip netns exec d ipvsadm -a -t 203.0.113.1:80 -r 198.51.100.2:8080 -m
# HTTP/1.0 GET with bash's /dev/tcp: Debian's static busybox wget segfaults (static glibc resolver).
get() { ip netns exec c timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET /index.html HTTP/1.0\r\n\r\n" >&3 && cat <&3' get "$@"; }
# The client has no route to the real server: only the director's NAT can answer.
if get 198.51.100.2 8080 2>/dev/null; then echo DIRECT reachable; else echo DIRECT unreachable; fi
get 203.0.113.1 80 > response.txt
head -1 response.txt
echo "BODY $(tail -1 response.txt)"
ip netns exec d ipvsadm -Lnc
`;

describeIf('IPVS in the kernel VM', needVm, () => {
  let vm: VmRun;

  beforeAll(async () => {
    vm = await runInVm(
      [
        { name: 'ipvsadm', script: ipvsadmJob },
        { name: 'nat-http', script: natJob },
      ],
      { timeoutMs: 300_000 },
    );
    console.log(
      `vm: boot ${vm.bootMs.toFixed(0)} ms (guest uptime at job start ${vm.guestBootMs.toFixed(0)} ms), ` +
        `whole run ${vm.wallMs.toFixed(0)} ms`,
    );
  });

  it('creates an IPVS service and destination with ipvsadm and reads them back', () => {
    const job = vm.jobs[0]!;
    expect(job.exitCode, job.output).toBe(0);
    const lines = job.output.split('\n').map((l) => l.trim().split(/\s+/));
    expect(job.output).toMatch(/^IP Virtual Server version \d+\.\d+\.\d+/m);
    expect(lines).toContainEqual(['TCP', '192.0.2.10:80', 'wrr']);
    expect(lines).toContainEqual(['->', '198.51.100.2:8080', 'Masq', '3', '0', '0']);
    expect(lines).toContainEqual(['UDP', '[fd00::10]:53', 'sh']);
    expect(lines).toContainEqual(['->', '[fd00::2]:53', 'Route', '1', '0', '0']);
  });

  it('passes HTTP from a client through an IPVS NAT service to a real server', () => {
    const job = vm.jobs[1]!;
    expect(job.exitCode, job.output).toBe(0);
    expect(job.output).toContain('DIRECT unreachable');
    expect(job.output).toContain(`BODY ${BODY}`);
    // ipvsadm -Lnc: the connection table holds client -> virtual -> real (pro expire state src vip dst).
    const conns = job.output
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[0] === 'TCP' && f[4] === '203.0.113.1:80');
    expect(conns.length).toBeGreaterThanOrEqual(1);
    expect(conns[0]?.[3]).toMatch(/^203\.0\.113\.2:\d+$/);
    expect(conns[0]?.[5]).toBe('198.51.100.2:8080');
  });
});
