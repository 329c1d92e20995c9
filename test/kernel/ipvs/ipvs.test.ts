/**
 * IPVS in a real kernel (Debian 6.1 under QEMU, test/lab/vm.ts). One boot runs the whole scenario
 * with our compiled modules (driver.mjs) next to ipvsadm, and the host checks each step:
 * config A read back with `ipvsadm -Ln`; HTTP through a NAT VIP; a reload changing one weight
 * (one SET_DEST, counters kept); stale entries after a "crash" converge; kernel errors mapped;
 * stop removes only what the config created; a kernel without IPVS gives KA_ERR_IPVS_NO_FAMILY.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDesired } from '../../../src/ipvs/desired.js';
import { needVm } from '../../lab/gates.js';
import { runInVm, sections, type VmRun } from '../../lab/vm.js';
import { describeIf } from '../../support/privilege.js';
import {
  type AdmService,
  buildForVm,
  configA,
  expectedIpvsadm,
  groupSpec,
  parseIpvsadm,
  removeBuild,
} from './fixtures.js';

interface DumpService {
  key: string;
  svc: Record<string, unknown>;
  stats?: Record<string, string>;
  dests: Array<{ addr: string; port: number; weight: number; stats?: Record<string, string> }>;
}

const FOREIGN = 'TCP 192.0.2.200:25';

function script(node: string, dist: string): string {
  const drv = `${node} ./driver.mjs ${dist}`;
  return `set -u
sec() { echo "=== $1"; }
run() { sec "$1"; shift; "$@" 2>&1; }
run info ${drv} info
# A service someone else made: never ours to touch.
ipvsadm -A -t 192.0.2.200:25 -s rr && ipvsadm -a -t 192.0.2.200:25 -r 192.0.2.201:25 -g
# NAT lab: client netns cl -> director (this VM) -> real servers in netns r1, r2 on a bridge.
echo 1 > /proc/sys/net/ipv4/ip_forward
ip netns add cl; ip netns add r1; ip netns add r2
ip link add c0 type veth peer name c1 netns cl
ip addr add 203.0.113.1/24 dev c0; ip addr add 203.0.113.10/32 dev c0; ip link set c0 up
ip -n cl addr add 203.0.113.2/24 dev c1; ip -n cl link set c1 up; ip -n cl link set lo up
ip -n cl route add default via 203.0.113.1
ip link add br0 type bridge; ip addr add 198.51.100.1/24 dev br0; ip link set br0 up
for i in 1 2; do
  ip link add s$i type veth peer name e0 netns r$i; ip link set s$i master br0; ip link set s$i up
  ip -n r$i addr add 198.51.100.1$i/24 dev e0; ip -n r$i link set e0 up; ip -n r$i link set lo up
  ip -n r$i route add default via 198.51.100.1
  ip netns exec r$i ${node} -e "require('http').createServer((q,s)=>s.end('r$i\\n')).listen(80,'198.51.100.1$i')" &
  echo $! >> pids
done
for i in 1 2; do for t in $(seq 1 100); do curl -s -m 1 -o /dev/null http://198.51.100.1$i/ && break; sleep 0.2; done; done
run apply1 ${drv} apply a.json
run adm1 ipvsadm -Ln
run http sh -c 'for i in $(seq 1 12); do ip netns exec cl curl -s -m 3 http://203.0.113.10/ || echo FAIL; done'
# The kernel folds per-CPU counters into the totals on its 2 s estimator tick: let it catch up.
sleep 3
run dump1 ${drv} dump
run stats1 ipvsadm -Ln --stats
run reload ${drv} apply a2.json a.json
run dump2 ${drv} dump
run adm2 ipvsadm -Ln
# Crash leftovers: a drifted weight and a destination the config no longer has.
ipvsadm -e -t 192.0.2.1:80 -r 192.0.2.101:80 -g -w 9
ipvsadm -a -t 192.0.2.1:80 -r 192.0.2.109:80 -g -w 1
run stale ipvsadm -Ln
run restart ${drv} apply a2.json
run adm3 ipvsadm -Ln
run replan ${drv} apply a2.json
run err-sched ${drv} add-service '{"af":2,"fwmark":0,"protocol":6,"addr":"192.0.2.99","port":80,"sched":"twos","flags":0,"timeout":0,"netmask":4294967295}'
run err-exist ${drv} add-service '{"af":2,"fwmark":0,"protocol":6,"addr":"203.0.113.10","port":80,"sched":"rr","flags":0,"timeout":0,"netmask":4294967295}'
ip link add ksync type dummy; ip link set ksync up
run sync-backup ${drv} sync ksync 51 BACKUP
run sync-master ${drv} sync ksync 51 MASTER
run sync-adm ipvsadm -Ln --daemon
run sync-stop ${drv} sync ksync 51 STOP
run sync-adm2 ipvsadm -Ln --daemon
run stop ${drv} stop a2.json
run adm4 ipvsadm -Ln
run timeouts ${drv} timeouts 600 60 45
run timeouts-adm ipvsadm -Ln --timeout
run flush ${drv} flush
run group-reload ${drv} group-reload g1.json g2.json g3.json
kill $(cat pids) 2>/dev/null
for m in ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_dh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_lblc ip_vs_lblcr ip_vs; do rmmod $m; done
run nofamily ${drv} info
echo "=== end"
`;
}

const TOTALS = ['conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes'];
const noRates = (st: Record<string, string> | undefined): Record<string, string> | undefined =>
  st && Object.fromEntries(Object.entries(st).filter(([k]) => TOTALS.includes(k)));

const result = (text: string | undefined): Record<string, unknown> => {
  const line = (text ?? '').split('\n').find((l) => l.startsWith('@@'));
  if (!line) throw new Error(`no driver result in:\n${text}`);
  return JSON.parse(line.slice(2)) as Record<string, unknown>;
};

describeIf('IPVS over generic netlink in the kernel VM', needVm, () => {
  let build: { dir: string; dist: string } | undefined;
  let run: VmRun;
  let s: Map<string, string>;

  beforeAll(async () => {
    build = buildForVm();
    run = await runInVm(
      [
        {
          name: 'ipvs',
          script: script(process.execPath, build.dist),
          files: {
            'driver.mjs': readFileSync(join(import.meta.dirname, 'driver.mjs'), 'utf8'),
            'a.json': JSON.stringify(configA(1)),
            'a2.json': JSON.stringify(configA(5)),
            'g1.json': JSON.stringify(groupSpec('TCP')),
            'g2.json': JSON.stringify(groupSpec('TCP', 'inet6')),
            'g3.json': JSON.stringify(groupSpec('UDP', 'inet6')),
          },
        },
      ],
      { timeoutMs: 400_000 },
    );
    const out = run.jobs[0]?.output ?? '';
    s = sections(out);
    process.stderr.write(
      `ipvs kernel VM: boot ${Math.round(run.bootMs)} ms, whole run ${Math.round(run.wallMs)} ms\n`,
    );
    if (!s.has('end')) throw new Error(`VM job did not finish:\n${out}\n${run.driverOutput}`);
  });

  afterAll(() => {
    if (build) removeBuild(build.dir);
  });

  it('resolves the family and reads GET_INFO (1.2.1)', () => {
    expect(result(s.get('info'))).toMatchObject({ info: { version: 0x00010201 } });
  });

  it('after start, ipvsadm -Ln equals config A (every lb_kind, 9 schedulers, fwmark+persistence, TCP/UDP/SCTP, IPv6, group)', () => {
    const plan = result(s.get('apply1'));
    expect(plan.error).toBeUndefined();
    const adm = parseIpvsadm(s.get('adm1') ?? '');
    const want = expectedIpvsadm(buildDesired(configA(1), new Map()).table);
    expect(want).toHaveLength(12);
    expect(adm.filter((x) => x.key !== FOREIGN)).toEqual(want);
    // the service made by someone else is still there, untouched
    expect(adm.find((x) => x.key === FOREIGN)?.dests).toEqual(['192.0.2.201:25 Route 1']);
  });

  it('HTTP from a client namespace through the NAT VIP reaches both real servers', () => {
    const answers = (s.get('http') ?? '').split('\n').filter((l) => l !== '');
    expect(answers).toHaveLength(12);
    expect(answers.filter((a) => a === 'r1')).toHaveLength(6); // rr alternates
    expect(answers.filter((a) => a === 'r2')).toHaveLength(6);
  });

  it('a reload changing one weight is one SET_DEST; counters and other destinations are untouched', () => {
    const reload = result(s.get('reload'));
    expect(reload.plan).toEqual(['set-dest 198.51.100.12:80 in tcp 203.0.113.10:80']);
    // Totals only: cps/pps/bps are the kernel's decaying rate estimates, not counters.
    const totals = (x: DumpService | undefined) =>
      x && {
        ...x,
        stats: noRates(x.stats),
        dests: x.dests.map((y) => ({ ...y, stats: noRates(y.stats) })),
      };
    const before = (result(s.get('dump1')).services as DumpService[]).find(
      (x) => x.key === 'tcp 203.0.113.10:80',
    );
    const after = (result(s.get('dump2')).services as DumpService[]).find(
      (x) => x.key === 'tcp 203.0.113.10:80',
    );
    expect(Number(before?.stats?.conns)).toBe(12);
    expect(after?.stats?.conns).toBe(before?.stats?.conns);
    expect(after?.stats?.inpkts).toBe(before?.stats?.inpkts);
    const d = (x: DumpService | undefined, addr: string) => x?.dests.find((y) => y.addr === addr);
    expect(d(before, '198.51.100.12')?.weight).toBe(1);
    expect(d(after, '198.51.100.12')?.weight).toBe(5);
    expect(d(after, '198.51.100.12')?.stats?.conns).toBe(d(before, '198.51.100.12')?.stats?.conns);
    expect(d(totals(after), '198.51.100.11')).toEqual(d(totals(before), '198.51.100.11'));
    // every other service reads back identical, counters included
    const others = (x: unknown) =>
      (x as DumpService[]).filter((y) => y.key !== 'tcp 203.0.113.10:80').map(totals);
    expect(others(result(s.get('dump2')).services)).toEqual(others(result(s.get('dump1')).services));
    expect(parseIpvsadm(s.get('adm2') ?? '').filter((x) => x.key !== FOREIGN)).toEqual(
      expectedIpvsadm(buildDesired(configA(5), new Map()).table),
    );
  });

  it('a new start converges stale entries (drifted weight, unconfigured dest) and then plans nothing', () => {
    const stale = parseIpvsadm(s.get('stale') ?? '').find((x) => x.key === 'TCP 192.0.2.1:80');
    expect(stale?.dests).toContain('192.0.2.101:80 Route 9');
    expect(stale?.dests).toContain('192.0.2.109:80 Route 1');
    expect(result(s.get('restart')).plan).toEqual([
      'del-dest 192.0.2.109:80 in tcp 192.0.2.1:80',
      'set-dest 192.0.2.101:80 in tcp 192.0.2.1:80',
    ]);
    const adm: AdmService[] = parseIpvsadm(s.get('adm3') ?? '');
    expect(adm.filter((x) => x.key !== FOREIGN)).toEqual(
      expectedIpvsadm(buildDesired(configA(5), new Map()).table),
    );
    expect(result(s.get('replan')).ops).toBe(0);
  });

  it('kernel refusals are typed and name the operation, service, field and errno', () => {
    const sched = result(s.get('err-sched'));
    expect(sched.error).toBe('KA_ERR_IPVS_KERNEL');
    expect(sched.message).toMatch(/add-service tcp 192\.0\.2\.99:80 failed: ENOENT .*scheduler.*"twos"/);
    const exist = result(s.get('err-exist'));
    expect(exist.error).toBe('KA_ERR_IPVS_KERNEL');
    expect(exist.message).toMatch(/add-service tcp 203\.0\.113\.10:80 failed: EEXIST/);
  });

  it('lvs_sync_daemon follows the VRRP state (BACKUP, MASTER, stop)', () => {
    const backup = result(s.get('sync-backup'));
    expect(backup.error).toBeUndefined();
    expect(backup.daemons).toEqual([expect.objectContaining({ state: 2, mcastIfn: 'ksync', syncId: 51 })]);
    const master = result(s.get('sync-master'));
    expect((master.actions as Array<{ kind: string }>).map((a) => a.kind)).toEqual(['stop', 'start']);
    expect(master.daemons).toEqual([expect.objectContaining({ state: 1, mcastIfn: 'ksync', syncId: 51 })]);
    expect(s.get('sync-adm')).toMatch(/master sync daemon \(mcast=ksync, syncid=51/);
    expect(result(s.get('sync-stop')).daemons).toEqual([]);
    expect(s.get('sync-adm2')).not.toMatch(/sync daemon/);
  });

  it('stop removes what the configuration created and leaves the foreign service', () => {
    expect(result(s.get('stop')).ops).toBe(12);
    expect(parseIpvsadm(s.get('adm4') ?? '').map((x) => x.key)).toEqual([FOREIGN]);
  });

  it('lvs_timeouts and lvs_flush: SET_CONFIG/GET_CONFIG agree with ipvsadm, FLUSH empties the table', () => {
    expect(result(s.get('timeouts')).timeouts).toEqual({ tcp: 600, tcpFin: 60, udp: 45 });
    expect(s.get('timeouts-adm')).toMatch(/Timeout \(tcp tcpfin udp\): 600 60 45/);
    expect(result(s.get('flush')).services).toBe(0);
  });

  it('reload of a group changing only its family, then its protocol: only services whose kernel key changed are replaced', () => {
    interface Step {
      plan: string[];
      table: Array<{ key: string; stats?: Record<string, string>; dests: string[] }>;
    }
    const r = result(s.get('group-reload')) as Record<string, unknown> & {
      start: Step;
      before: Step['table'];
      family: Step;
      protocol: Step;
      stop: Step;
      http: string;
    };
    expect(r.error).toBeUndefined();
    expect(r.start.table.map((x) => x.key).sort()).toEqual(['inet fwmark 9', 'tcp 203.0.113.10:80']);
    expect(
      r.http
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    ).toEqual(['r1', 'r1', 'r2', 'r2']);
    const tcp = (t: Step['table']) => t.find((x) => x.key === 'tcp 203.0.113.10:80');
    expect(Number(tcp(r.before)?.stats?.conns)).toBe(4);
    // ip_family only: no kernel key changes, nothing is sent, the counters go on
    expect(r.family.plan).toEqual([]);
    expect(noRates(tcp(r.family.table)?.stats)).toEqual(noRates(tcp(r.before)?.stats));
    // the kernel finds a service by (family, protocol, address, port): a SET_SERVICE cannot move it
    // to another protocol, so a protocol change is one DEL_SERVICE and one NEW_SERVICE
    expect(r.setService).toEqual({ error: 'KA_ERR_IPVS_KERNEL', errno: 'ESRCH' });
    expect(r.protocol.plan).toEqual([
      'del-service tcp 203.0.113.10:80',
      'add-service udp 203.0.113.10:80',
      'add-dest 198.51.100.11:80 in udp 203.0.113.10:80',
      'add-dest 198.51.100.12:80 in udp 203.0.113.10:80',
    ]);
    expect(r.protocol.table.map((x) => [x.key, [...x.dests].sort()]).sort()).toEqual([
      ['inet fwmark 9', ['198.51.100.11:80', '198.51.100.12:80']],
      ['udp 203.0.113.10:80', ['198.51.100.11:80', '198.51.100.12:80']],
    ]);
    expect(r.stop.plan.sort()).toEqual(['del-service inet fwmark 9', 'del-service udp 203.0.113.10:80']);
    expect(r.stop.table).toEqual([]);
  });

  it('without the ip_vs module, open() fails with KA_ERR_IPVS_NO_FAMILY', () => {
    expect(result(s.get('nofamily'))).toMatchObject({ error: 'KA_ERR_IPVS_NO_FAMILY' });
  });
});
