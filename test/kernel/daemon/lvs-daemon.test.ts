/**
 * The LVS side of the daemon in a real kernel (Debian kernel under QEMU, test/lab/vm.ts), one boot:
 * client, director and two real-server namespaces; the daemon runs in the director namespace with a
 * NAT rr virtual server whose real servers are checked by HTTP_GET (r1) and TCP_CHECK (r2). The VM
 * job prints `=== section` blocks; the host asserts on them: the table read back with ipvsadm,
 * HTTP through the VIP, a stopped real server leaving within the checker bound and coming back,
 * SIGTERM removing the daemon's services and leaving a foreign one.
 *
 * Entry: `bin/keepalived-ts.js -n -l -D -f CONF -p PID` once src/daemon/run.ts constructs LvsHost;
 * until then lvsd.mjs, a stand-in taking the same options (the `entry` section says which ran).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needVm } from '../../lab/gates.js';
import { runInVm, sections } from '../../lab/vm.js';
import { describeIf } from '../../support/privilege.js';
import { parseIpvsadm } from '../ipvs/fixtures.js';

const repoRoot = join(import.meta.dirname, '../../..');
/** Whether src/daemon/run.ts already runs LvsHost (then the real binary is started). */
const WIRED = readFileSync(join(repoRoot, 'src/daemon/run.ts'), 'utf8').includes('LvsHost');

/** Checker timing of the config below, and the bound each fault must be detected within. */
const DELAY_LOOP = 1;
const RETRY = 1;
const CONNECT_TIMEOUT = 1;
/** delay_loop × (retry + 1) + connect_timeout (issue 7), in ms. */
const BOUND_MS = (DELAY_LOOP * (RETRY + 1) + CONNECT_TIMEOUT) * 1000;
/** Margin for node under QEMU TCG (no KVM): event loop and ipvsadm polling are slow there. */
const MARGIN_MS = 4000;

const conf = (weight2: number) => `
virtual_server 203.0.113.10 80 {
  delay_loop ${DELAY_LOOP}
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.11 80 {
    weight 1
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      connect_timeout ${CONNECT_TIMEOUT}
      retry ${RETRY}
      delay_before_retry 1
    }
  }
  real_server 198.51.100.12 80 {
    weight ${weight2}
    TCP_CHECK {
      connect_timeout ${CONNECT_TIMEOUT}
      retry ${RETRY}
      delay_before_retry 1
    }
  }
}
`;

/** Compiles the daemon (main, LvsHost, the checker worker) into a directory the VM can read. */
function build(): { dir: string; dist: string } {
  mkdirSync('/var/tmp', { recursive: true });
  const dir = mkdtempSync('/var/tmp/kt-lvsd-');
  const dist = join(dir, 'dist');
  const roots = ['main.ts', 'daemon/lvs-host.ts', 'check/worker-entry.ts'].map((f) =>
    join(repoRoot, 'src', f),
  );
  // Files others are editing may not type-check at this moment; tsc still emits, so check the output.
  spawnSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
      ...['--skipLibCheck', '--types', 'node', '--outDir', dist, '--rootDir', join(repoRoot, 'src')],
      ...roots,
    ],
    { stdio: 'pipe' },
  );
  for (const f of ['main.js', 'daemon/lvs-host.js', 'check/worker-entry.js']) {
    if (!existsSync(join(dist, f))) throw new Error(`build for the VM produced no ${f}`);
  }
  symlinkSync(join(repoRoot, 'native'), join(dir, 'native'));
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(repoRoot, 'bin/keepalived-ts.js'), join(dir, 'bin/keepalived-ts.js'));
  return { dir, dist };
}

function script(node: string, dist: string, entry: string): string {
  // How long the job waits for the table to change; the latency is judged on the daemon's log times.
  const limit = 30_000;
  return `set -u
NODE=${node}
export KT_DIST=${dist}
D="ip netns exec dir"
sec() { echo "=== $1"; }
now() { date +%s%3N; }
ip netns add cl; ip netns add dir; ip netns add r1; ip netns add r2
ip -n dir link set lo up
ip -n dir link add c0 type veth peer name c1 netns cl
ip -n dir addr add 203.0.113.1/24 dev c0; ip -n dir addr add 203.0.113.10/32 dev c0; ip -n dir link set c0 up
ip -n cl addr add 203.0.113.2/24 dev c1; ip -n cl link set c1 up; ip -n cl link set lo up
ip -n cl route add default via 203.0.113.1
ip -n dir link add br0 type bridge; ip -n dir addr add 198.51.100.1/24 dev br0; ip -n dir link set br0 up
for i in 1 2; do
  ip -n dir link add s$i type veth peer name e0 netns r$i
  ip -n dir link set s$i master br0; ip -n dir link set s$i up
  ip -n r$i addr add 198.51.100.1$i/24 dev e0; ip -n r$i link set e0 up; ip -n r$i link set lo up
  ip -n r$i route add default via 198.51.100.1
done
$D sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
srv() { ip netns exec r$1 $NODE ./server.mjs 198.51.100.1$1 r$1 > srv$1.log 2>&1 & echo $! > srv$1.pid; }
waitsrv() { for t in $(seq 1 150); do $D curl -s -m 1 -o /dev/null http://198.51.100.1$1/health && return 0; sleep 0.2; done; return 1; }
# when server N started listening (its own stamp): the base of the "back" latency
listening() { echo "at=$(sed -n 's/^listening //p' srv$1.log)"; }
has() { $D ipvsadm -Ln | grep -q " $1 "; }
# wait_for present|absent RS: prints ok=1 and the ms it took, or ok=0 after ${limit} ms
wait_for() {
  T=$(now); ok=0
  while [ $(( $(now) - T )) -lt ${limit} ]; do
    if [ "$1" = present ]; then has "$2" && { ok=1; break; }; else has "$2" || { ok=1; break; }; fi
    sleep 0.05
  done
  echo "ok=$ok ms=$(( $(now) - T ))"
}
http() { for i in $(seq 1 $1); do ip netns exec cl curl -s -m 3 http://203.0.113.10/ || echo FAIL; done; }
srv 1; srv 2; waitsrv 1; waitsrv 2
# someone else's service in the director: never ours to touch
$D ipvsadm -A -t 192.0.2.200:25 -s rr; $D ipvsadm -a -t 192.0.2.200:25 -r 192.0.2.201:25 -g
sec entry; echo "${entry}"
T0=$(now)
$D $NODE ${entry} -n -l -D -f ./keepalived.conf -p ./kt.pid > daemon.log 2>&1 &
DPID=$!
ok=0; for t in $(seq 1 600); do [ "$($D ipvsadm -Ln | grep -c ' Masq ')" = 2 ] && { ok=1; break; }; sleep 0.1; done
sec start; echo "ok=$ok ms=$(( $(now) - T0 ))"
sec adm1; $D ipvsadm -Ln
sec http1; http 8
# r1 is checked by HTTP_GET: stop its HTTP server
sec leave1; kill $(cat srv1.pid); echo "at=$(now)"; wait_for absent 198.51.100.11:80
sec adm2; $D ipvsadm -Ln
sec http2; http 4
srv 1; waitsrv 1; sec back1; listening 1; wait_for present 198.51.100.11:80
# r2 is checked by TCP_CHECK
sec leave2; kill $(cat srv2.pid); echo "at=$(now)"; wait_for absent 198.51.100.12:80
sec http3; http 4
srv 2; waitsrv 2; sec back2; listening 2; wait_for present 198.51.100.12:80
sec adm3; $D ipvsadm -Ln
# reload changing r2's weight: one destination changes, the service's counters stay
# (the kernel folds per-CPU counters into the totals on its 2 s estimator tick: let it catch up)
sleep 3
sec stats1; $D ipvsadm -Ln --stats
cp keepalived2.conf keepalived.conf; kill -HUP $DPID
T=$(now); ok=0
while [ $(( $(now) - T )) -lt ${limit} ]; do $D ipvsadm -Ln | grep -q '198.51.100.12:80 *Masq *3 ' && { ok=1; break; }; sleep 0.05; done
sec reload; echo "ok=$ok ms=$(( $(now) - T ))"
sec stats2; $D ipvsadm -Ln --stats
sec adm5; $D ipvsadm -Ln
kill -USR1 $DPID; sleep 1
sec snapshot; cat kt.pid.snapshot 2>/dev/null || grep -E '^ VS |^   RIP = |^   (alive|quorum_state_up) = |^{"lvs"' /tmp/keepalived_check.data; echo
kill -TERM $DPID
for t in $(seq 1 200); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
sec term; if kill -0 $DPID 2>/dev/null; then echo alive=1; else echo alive=0; fi; if [ -e kt.pid ]; then echo pidfile=1; else echo pidfile=0; fi
sec adm4; $D ipvsadm -Ln
sec log; cat daemon.log
kill $(cat srv1.pid) $(cat srv2.pid) 2>/dev/null
echo "=== end"
`;
}

/** `ok=1 ms=1234` → { ok, ms }. */
function timing(text: string | undefined): { ok: boolean; ms: number } {
  const m = /ok=(\d) ms=(\d+)/.exec(text ?? '');
  if (!m) throw new Error(`no timing line in: ${text}`);
  return { ok: m[1] === '1', ms: Number(m[2]) };
}

/** ms from the job's `at=` stamp (fault made or server back) to the daemon's log line matching `msg`. */
function latency(sec: string | undefined, log: string | undefined, msg: string): number {
  const at = /at=(\d+)/.exec(sec ?? '');
  if (!at) throw new Error(`no at= stamp in: ${sec}`);
  const t0 = Number(at[1]);
  for (const line of (log ?? '').split('\n')) {
    if (!line.startsWith('{')) continue;
    const rec = JSON.parse(line) as { time?: string; msg?: string };
    if (rec.msg === msg && rec.time !== undefined && Date.parse(rec.time) >= t0)
      return Date.parse(rec.time) - t0;
  }
  throw new Error(`no log line "${msg}" after ${t0}`);
}

const RM1 = 'Removing service [198.51.100.11]:tcp:80 from VS [203.0.113.10]:tcp:80';
const ADD1 = 'Adding service [198.51.100.11]:tcp:80 to VS [203.0.113.10]:tcp:80';
const RM2 = 'Removing service [198.51.100.12]:tcp:80 from VS [203.0.113.10]:tcp:80';
const ADD2 = 'Adding service [198.51.100.12]:tcp:80 to VS [203.0.113.10]:tcp:80';

const lines = (text: string | undefined) => (text ?? '').split('\n').filter((l) => l !== '');

const FOREIGN = { key: 'TCP 192.0.2.200:25', line: 'rr', dests: ['192.0.2.201:25 Route 1'] };

describeIf('keepalived-ts LVS daemon in the kernel VM', needVm, () => {
  let built: { dir: string; dist: string } | undefined;
  let s: Map<string, string>;

  beforeAll(async () => {
    built = build();
    const entry = WIRED ? join(built.dir, 'bin/keepalived-ts.js') : './lvsd.mjs';
    const run = await runInVm(
      [
        {
          name: 'lvs-daemon',
          script: script(process.execPath, built.dist, entry),
          files: {
            'keepalived.conf': conf(1),
            'keepalived2.conf': conf(3),
            'lvsd.mjs': readFileSync(join(import.meta.dirname, 'lvsd.mjs'), 'utf8'),
            'server.mjs': readFileSync(join(import.meta.dirname, 'server.mjs'), 'utf8'),
          },
        },
      ],
      { timeoutMs: 540_000 },
    );
    const out = run.jobs[0]?.output ?? '';
    s = sections(out);
    const t = (k: string, msg: string) => {
      try {
        return latency(s.get(k), s.get('log'), msg);
      } catch {
        return Number.NaN;
      }
    };
    process.stderr.write(
      `lvs daemon VM (${WIRED ? 'bin/keepalived-ts.js' : 'lvsd.mjs stand-in'}): boot ${Math.round(run.bootMs)} ms, ` +
        `run ${Math.round(run.wallMs)} ms; table programmed ${s.has('start') ? timing(s.get('start')).ms : Number.NaN} ms after launch; ` +
        `HTTP_GET fault → removed after ${t('leave1', RM1)} ms, back ${t('back1', ADD1)} ms after the server answered; ` +
        `TCP_CHECK fault → removed after ${t('leave2', RM2)} ms, back ${t('back2', ADD2)} ms (bound ${BOUND_MS} ms + margin ${MARGIN_MS} ms)\n`,
    );
    if (!s.has('end')) throw new Error(`VM job did not finish:\n${out}\n${run.driverOutput}`);
  });

  afterAll(() => {
    if (built) rmSync(built.dir, { recursive: true, force: true });
  });

  it('after start, ipvsadm -Ln equals the configuration (and the foreign service is untouched)', () => {
    expect(timing(s.get('start')).ok).toBe(true);
    expect(parseIpvsadm(s.get('adm1') ?? '')).toEqual([
      FOREIGN,
      {
        key: 'TCP 203.0.113.10:80',
        line: 'rr',
        dests: ['198.51.100.11:80 Masq 1', '198.51.100.12:80 Masq 1'],
      },
    ]);
  });

  it('HTTP from the client namespace through the VIP reaches both real servers', () => {
    const answers = lines(s.get('http1'));
    expect(answers).toHaveLength(8);
    expect(answers.filter((a) => a === 'r1')).toHaveLength(4);
    expect(answers.filter((a) => a === 'r2')).toHaveLength(4);
  });

  it('HTTP_GET: a stopped HTTP server leaves the table within the bound; traffic goes to the healthy one', () => {
    expect(timing(s.get('leave1')).ok).toBe(true);
    expect(latency(s.get('leave1'), s.get('log'), RM1)).toBeLessThanOrEqual(BOUND_MS + MARGIN_MS);
    expect(parseIpvsadm(s.get('adm2') ?? '')).toEqual([
      FOREIGN,
      { key: 'TCP 203.0.113.10:80', line: 'rr', dests: ['198.51.100.12:80 Masq 1'] },
    ]);
    expect(lines(s.get('http2'))).toEqual(['r2', 'r2', 'r2', 'r2']);
  });

  it('HTTP_GET: the restarted server comes back', () => {
    expect(timing(s.get('back1')).ok).toBe(true);
    expect(latency(s.get('back1'), s.get('log'), ADD1)).toBeLessThanOrEqual(BOUND_MS + MARGIN_MS);
  });

  it('TCP_CHECK: a stopped server leaves within the bound and comes back', () => {
    expect(timing(s.get('leave2')).ok).toBe(true);
    expect(latency(s.get('leave2'), s.get('log'), RM2)).toBeLessThanOrEqual(BOUND_MS + MARGIN_MS);
    expect(lines(s.get('http3'))).toEqual(['r1', 'r1', 'r1', 'r1']);
    expect(timing(s.get('back2')).ok).toBe(true);
    expect(latency(s.get('back2'), s.get('log'), ADD2)).toBeLessThanOrEqual(BOUND_MS + MARGIN_MS);
    expect(parseIpvsadm(s.get('adm3') ?? '')).toEqual([
      FOREIGN,
      {
        key: 'TCP 203.0.113.10:80',
        line: 'rr',
        dests: ['198.51.100.11:80 Masq 1', '198.51.100.12:80 Masq 1'],
      },
    ]);
  });

  it('SIGHUP reload changing one weight changes only that destination; counters are kept', () => {
    expect(timing(s.get('reload')).ok).toBe(true);
    expect(parseIpvsadm(s.get('adm5') ?? '')).toEqual([
      FOREIGN,
      {
        key: 'TCP 203.0.113.10:80',
        line: 'rr',
        dests: ['198.51.100.11:80 Masq 1', '198.51.100.12:80 Masq 3'],
      },
    ]);
    const conns = (text: string | undefined, row: RegExp) => {
      const m = row.exec(text ?? '');
      if (!m) throw new Error(`no ${row} in ${text}`);
      return Number(m[1]);
    };
    const SVC = /^TCP\s+203\.0\.113\.10:80\s+(\d+)/m;
    const R1 = /->\s+198\.51\.100\.11:80\s+(\d+)/;
    // 8 + 4 + 4 requests went through the VIP before the reload; none after it
    expect(conns(s.get('stats1'), SVC)).toBe(16);
    expect(conns(s.get('stats2'), SVC)).toBe(conns(s.get('stats1'), SVC));
    expect(conns(s.get('stats2'), R1)).toBe(conns(s.get('stats1'), R1));
  });

  it('the daemon changed the kernel by these operations only, in this order', () => {
    const ops = lines(s.get('log'))
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { msg?: string }).msg ?? '')
      .filter((m) => /^(add|set|del)-(service|dest) /.test(m));
    const svc = 'tcp 203.0.113.10:80';
    expect(ops).toEqual([
      `add-service ${svc}`,
      `add-dest 198.51.100.11:80 in ${svc}`,
      `add-dest 198.51.100.12:80 in ${svc}`,
      `del-dest 198.51.100.11:80 in ${svc}`,
      `add-dest 198.51.100.11:80 in ${svc}`,
      `del-dest 198.51.100.12:80 in ${svc}`,
      `add-dest 198.51.100.12:80 in ${svc}`,
      `set-dest 198.51.100.12:80 in ${svc}`,
      `del-service ${svc}`,
    ]);
  });

  // SIGUSR1: the stand-in writes LvsHost.snapshot() (JSON); the daemon keepalived_check.data in
  // keepalived's layout (` VS VIP = A, VPORT = P`, `   RIP = …`, `   alive = 0|1` per real server),
  // or, before run.ts writes that layout, a `{"lvs": snapshot}` line.
  it('the snapshot reports the service and both real servers up', () => {
    type Snap = {
      virtualServers: Array<{ name: string; realServers: Array<{ addr: string; up: boolean }> }>;
    };
    const got = lines(s.get('snapshot'));
    if (got[0]?.startsWith('{')) {
      const raw = JSON.parse(got[0]) as Snap & { lvs?: Snap };
      const snap = raw.lvs ?? raw;
      expect(snap.virtualServers.map((v) => [v.name, v.realServers.map((r) => `${r.addr} ${r.up}`)])).toEqual(
        [['203.0.113.10 80', ['198.51.100.11 true', '198.51.100.12 true']]],
      );
      return;
    }
    const services: [string, string[]][] = [];
    let rip = '';
    for (const l of got) {
      const vs = /^ VS VIP = (\S+), VPORT = (\d+)$/.exec(l);
      if (vs) services.push([`${vs[1]} ${vs[2]}`, []]);
      const rs = /^ {3}RIP = (\S+), RPORT = \d+,/.exec(l);
      if (rs) rip = rs[1] ?? '';
      const alive = /^ {3}alive = ([01])$/.exec(l);
      if (alive && rip) {
        services.at(-1)?.[1].push(`${rip} ${alive[1] === '1'}`);
        rip = '';
      }
    }
    expect(services).toEqual([['203.0.113.10 80', ['198.51.100.11 true', '198.51.100.12 true']]]);
  });

  it('SIGTERM: the daemon exits, removes its pid file and its services, and leaves the foreign one', () => {
    expect(lines(s.get('term'))).toEqual(['alive=0', 'pidfile=0']);
    expect(parseIpvsadm(s.get('adm4') ?? '')).toEqual([FOREIGN]);
  });
});
