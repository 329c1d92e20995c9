/**
 * vrrp_rt_priority with 1,000 VRRP instances: the start-up burst (1,000 instances entering BACKUP,
 * then becoming MASTER together: VIPs over rtnetlink, gratuitous ARPs, notify scripts) must not
 * exceed RLIMIT_RTTIME (keepalived's default 10 ms soft limit). The daemon runs from dist/ in a lab
 * namespace with four links (250 VRIDs each). Evidence that no SIGXCPU was sent: the kernel raises
 * the soft limit by one second with each SIGXCPU (so /proc/<pid>/limits still showing 10000 µs
 * proves none was sent), and the daemon logs keepalived's "process has used too much CPU time"
 * line for each one it receives. See docs/SCHEDULING.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const LINKS = 4;
const PER_LINK = 250;
const INSTANCES = LINKS * PER_LINK;
const RT_PRIORITY = 10;
/** keepalived's default vrrp_rlimit_rttime (µs), left unset in the configuration. */
const RLIMIT_RTTIME = 10_000;

/** Every tenth instance runs a notify script (each appends its instance name and state to a file). */
function config(notifyScript: string): string {
  let out = `global_defs {\n  vrrp_rt_priority ${RT_PRIORITY}\n}\n`;
  for (let i = 0; i < INSTANCES; i++) {
    const vrid = (i % PER_LINK) + 1;
    out += `vrrp_instance VI_${i} {
  state BACKUP
  interface eth${Math.floor(i / PER_LINK)}
  virtual_router_id ${vrid}
  priority 100
  advert_int 1
${i % 10 === 0 ? `  notify ${notifyScript}\n` : ''}  virtual_ipaddress {
    198.51.100.${vrid}/32
  }
}
`;
  }
  return out;
}

/** Main thread's policy and rt_priority (proc(5) stat fields 41 and 40). */
function mainSched(pid: number): { policy: number; rtPriority: number } {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { policy: Number(f[38]), rtPriority: Number(f[37]) };
}

const SCHED_RR = 2;

describeIf('vrrp_rt_priority: 1,000 instances start without SIGXCPU', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let daemon: DaemonHandle;
  let notifyLog = '';
  const masters = () => new Set(daemon.proc.stderr().match(/\(VI_\d+\) Entering MASTER STATE/g) ?? []).size;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        {
          name: 'd',
          links: Array.from({ length: LINKS }, (_, i) => ({
            segment: `s${i}`,
            addrs: [`192.0.2.${i + 1}/24`],
          })),
        },
      ],
    });
    d = topo.node('d');
    notifyLog = join(d.dir, 'notify.log');
    const script = join(d.dir, 'notify.sh');
    mkdirSync(d.dir, { recursive: true });
    writeFileSync(script, `#!/bin/sh\necho "$2 $3" >> ${notifyLog}\n`, { mode: 0o755 });
    daemon = d.startDaemon({ command: keepalivedTsCommand(), config: config(script), name: 'keepalived-ts' });
    // The scheduling is applied once the start-up transitions have drained (priorities.ts).
    await waitFor({
      what: `${INSTANCES} instances MASTER and SCHED_RR applied`,
      probe: () => masters() >= INSTANCES && daemon.proc.stderr().includes('set RLIMIT_RTTIME'),
      timeoutMs: 50_000,
    });
  }, 60_000);

  afterAll(async () => {
    await topo?.destroy();
  });

  it('every instance became MASTER and holds its VIP on its link', async () => {
    expect(masters()).toBe(INSTANCES);
    for (let i = 0; i < LINKS; i++) {
      const out = await d.ip(['-4', '-o', 'addr', 'show', 'dev', `eth${i}`]);
      expect(out.match(/inet 198\.51\.100\.\d+\/32/g)?.length).toBe(PER_LINK);
    }
    expect(daemon.proc.stderr()).not.toContain('ENOBUFS');
  });

  it('the main thread is SCHED_RR under the default RLIMIT_RTTIME', () => {
    expect(mainSched(daemon.proc.pid)).toEqual({ policy: SCHED_RR, rtPriority: RT_PRIORITY });
  });

  it('no SIGXCPU: the soft limit is still the configured one and nothing was logged', () => {
    const limits = readFileSync(`/proc/${daemon.proc.pid}/limits`, 'utf8');
    expect(limits).toMatch(new RegExp(`^Max realtime timeout\\s+${RLIMIT_RTTIME}\\s`, 'm'));
    expect(daemon.proc.stderr()).not.toContain('process has used too much CPU time');
    expect(daemon.proc.running).toBe(true);
  });

  it('the notify scripts ran: BACKUP then MASTER for each of the 100 instances that have one', () => {
    const lines = readFileSync(notifyLog, 'utf8').trim().split('\n');
    const byInstance = new Map<string, string[]>();
    for (const l of lines) {
      const [name, state] = l.split(' ');
      if (name && state) byInstance.set(name, [...(byInstance.get(name) ?? []), state]);
    }
    expect(byInstance.size).toBe(INSTANCES / 10);
    for (const states of byInstance.values()) expect(states).toEqual(['BACKUP', 'MASTER']);
  });
});
