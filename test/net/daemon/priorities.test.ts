/**
 * keepalived's scheduling keywords on a running keepalived-ts (src/daemon/priorities.ts): the daemon
 * runs in a lab namespace with a VRRP instance and a checked real server (so the checker worker thread
 * exists); the kernel's view of each thread (/proc/<pid>/task/<tid>/stat: nice, policy, rt_priority)
 * and of the process (/proc/<pid>/status VmLck, /proc/<pid>/limits) shows what was applied.
 * The daemon is compiled from this checkout into a private directory (dist/ may be stale).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import type { DaemonHandle, LabNode } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const repoRoot = join(import.meta.dirname, '../../..');
const VRRP_RT = 30;
const CHECKER_NICE = 7;
const RTTIME = 200_000;

const CONFIG = `
global_defs {
  vrrp_rt_priority ${VRRP_RT}
  vrrp_rlimit_rttime ${RTTIME}
  checker_priority ${CHECKER_NICE}
  checker_no_swap
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 21
  priority 150
  advert_int 1
  virtual_ipaddress {
    192.0.2.90/24
  }
}
virtual_server 192.0.2.90 80 {
  delay_loop 1
  lvs_sched rr
  lvs_method NAT
  protocol TCP
  real_server 192.0.2.1 9 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`;

/** One thread's scheduling as the kernel reports it (proc(5) stat fields 19, 40, 41). */
interface ThreadSched {
  tid: number;
  nice: number;
  rtPriority: number;
  policy: number;
}

function threads(pid: number): ThreadSched[] {
  const out: ThreadSched[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3
    out.push({ tid: Number(t), nice: Number(f[16]), rtPriority: Number(f[37]), policy: Number(f[38]) });
  }
  return out;
}

const SCHED_OTHER = 0;
const SCHED_RR = 2;

/** Compiles the daemon and the checker worker into a private directory; returns its entry script. */
function build(dir: string): string {
  const dist = join(dir, 'dist');
  // Files others are editing may not type-check at this moment; tsc still emits, so check the output.
  spawnSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
      ...['--skipLibCheck', '--types', 'node', '--outDir', dist, '--rootDir', join(repoRoot, 'src')],
      ...['main.ts', 'check/worker-entry.ts'].map((f) => join(repoRoot, 'src', f)),
    ],
    { stdio: 'pipe' },
  );
  for (const f of ['main.js', 'check/worker-entry.js'])
    if (!existsSync(join(dist, f))) throw new Error(`private build produced no ${f}`);
  symlinkSync(join(repoRoot, 'native'), join(dir, 'native'));
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  const entry = join(dir, 'entry.mjs');
  const main = pathToFileURL(join(dist, 'main.js')).href;
  const text = `import { main } from ${JSON.stringify(main)};\nmain(process.argv.slice(2)).then((c) => { process.exitCode = c; });\n`;
  spawnSync('sh', ['-c', 'cat > "$1"', 'sh', entry], { input: text });
  return entry;
}

describeIf('scheduling keywords on the daemon’s threads', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let daemon: DaemonHandle;
  let buildDir = '';

  beforeAll(async () => {
    mkdirSync('/var/tmp', { recursive: true });
    buildDir = mkdtempSync('/var/tmp/kt-prio-');
    const entry = build(buildDir);
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    d = topo.node('d');
    daemon = d.startDaemon({ command: [process.execPath, entry], config: CONFIG, name: 'keepalived-ts' });
    // The worker reports its tid once it runs its first check; then the main thread renices it.
    await waitFor({
      what: 'a thread with checker_priority',
      probe: () => threads(daemon.proc.pid).find((t) => t.nice === CHECKER_NICE),
      timeoutMs: 20_000,
    });
  }, 120_000);

  afterAll(async () => {
    await topo?.destroy();
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it('vrrp_rt_priority: the main thread (tid = pid) is SCHED_RR at that priority', () => {
    const main = threads(daemon.proc.pid).find((t) => t.tid === daemon.proc.pid);
    expect(main).toMatchObject({ policy: SCHED_RR, rtPriority: VRRP_RT });
  });

  it('checker_priority: exactly one other thread (the checker worker) has that nice, SCHED_OTHER', () => {
    const all = threads(daemon.proc.pid);
    const niced = all.filter((t) => t.nice === CHECKER_NICE);
    expect(niced).toHaveLength(1);
    expect(niced[0]?.tid).not.toBe(daemon.proc.pid);
    expect(niced[0]?.policy).toBe(SCHED_OTHER);
    // nothing else was made real-time
    expect(all.filter((t) => t.policy === SCHED_RR).map((t) => t.tid)).toEqual([daemon.proc.pid]);
  });

  it('vrrp_rlimit_rttime sets RLIMIT_RTTIME; checker_no_swap is said, not applied', () => {
    const status = readFileSync(`/proc/${daemon.proc.pid}/status`, 'utf8');
    expect(Number(/^VmLck:\s+(\d+) kB/m.exec(status)?.[1])).toBe(0);
    expect(daemon.proc.stderr()).toContain('checker_no_swap: not applied');
    const limits = readFileSync(`/proc/${daemon.proc.pid}/limits`, 'utf8');
    expect(limits).toMatch(new RegExp(`^Max realtime timeout\\s+${RTTIME}\\s`, 'm'));
  });

  it('the daemon is still running (SIGXCPU past the soft limit is handled, not fatal)', () => {
    expect(daemon.proc.running).toBe(true);
  });
});
