/**
 * SIGHUP reload of trackers and socket settings on running hosts (issue #5 review):
 *   - a changed vrrp_script (same name, other command) replaces the running tracker: the old script
 *     is no longer run, the new one runs at once ("considered successful on reload" first, as
 *     keepalived), and the instance's priority follows its result;
 *   - a track_file and a vrrp_script that no instance uses any more stop: the inotify watch is gone
 *     from the process and the script still running is killed;
 *   - a changed weight in a vrrp_script block keeps the tracker and re-wires the instance;
 *   - mcast_dst_ip, mcast_src_ip and unicast_ttl are applied to the running instance: adverts go to the new group
 *     (a peer still on the old group stops hearing them) and carry the new TTL.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { type DaemonHandle, keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { adverts, type Capture, startCapture, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const DRIVER = resolve(dirname(fileURLToPath(import.meta.url)), 'reload-driver.mjs');

/** inotify watches held by a process (the `inotify wd:` lines of its fdinfo). */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // fd closed while listing
    }
  }
  return n;
}

const lines = (path: string) =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l !== '').length
    : 0;

describeIf('reload replaces changed trackers and stops unused ones', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let proc: LabProcess;
  let dir = '';

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'r', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('r');
    dir = topo.dir;
    const script = (name: string, body: string) => {
      const p = join(dir, `${name}.sh`);
      writeFileSync(p, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    };
    script('chk-a', `echo run >> '${join(dir, 'runs-a')}'\nexit 0`);
    script('chk-b', `echo run >> '${join(dir, 'runs-b')}'\nexit 1`);
    script('slow', `echo $$ > '${join(dir, 'slow.pid')}'\nexec sleep 60`);
    writeFileSync(join(dir, 'tf'), '5\n');
  });

  afterAll(async () => {
    await proc?.stop();
    await topo?.destroy();
  });

  const conf = (chk: string, tracked: string) => `
vrrp_script chk {
  script "${join(dir, `${chk}.sh`)}"
  interval 1
  weight 10
}
vrrp_script slow {
  script "${join(dir, 'slow.sh')}"
  interval 1
  timeout 120
  weight -20
}
track_file tf {
  file "${join(dir, 'tf')}"
  weight 1
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 1
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.101/24
  }
${tracked}
}
`;

  it('the changed script runs instead of the old one, the unused file watch and script run are gone', async () => {
    const path = join(dir, 'keepalived.conf');
    writeFileSync(
      path,
      conf('chk-a', '  track_script {\n    chk\n    slow\n  }\n  track_file {\n    tf\n  }'),
    );
    proc = n.spawn([process.execPath, DRIVER, path], { name: 'reload-trackers' });
    const events = () =>
      proc
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    const snapshot = async () => {
      const before = events().filter((e) => e.event === 'snapshot').length;
      proc.signal('SIGUSR1');
      const s = await waitFor({
        what: 'a snapshot',
        probe: () => events().filter((e) => e.event === 'snapshot')[before],
        timeoutMs: 5_000,
      });
      return (s.instances as { effective_priority: number; state_name: string }[])[0]!;
    };
    const started = await waitFor({
      what: 'the driver started',
      probe: () => events().find((e) => e.event === 'started'),
      timeoutMs: 15_000,
    });
    const pid = started.pid as number;
    // chk OK (+10), tf 5 × weight 1 (+5), slow never returns (adds nothing)
    await waitFor({
      what: 'MASTER at effective priority 115, the slow script running',
      probe: async () => {
        const s = await snapshot();
        return [s.state_name, s.effective_priority, existsSync(join(dir, 'slow.pid'))];
      },
      until: ([st, p, s]) => st === 'MASTER' && p === 115 && s === true,
      timeoutMs: 15_000,
    });
    const transitions = () => proc.output().match(/Entering \w+ STATE/g)?.length ?? 0;
    const before = transitions();
    const slowPid = Number(readFileSync(join(dir, 'slow.pid'), 'utf8'));
    expect(existsSync(`/proc/${slowPid}`)).toBe(true);
    const watchesBefore = inotifyWatches(pid);
    expect(watchesBefore).toBeGreaterThanOrEqual(1);

    // chk now runs chk-b (exits 1); slow and tf are no longer tracked by anyone
    writeFileSync(path, conf('chk-b', '  track_script {\n    chk\n  }'));
    proc.signal('SIGHUP');
    await waitFor({
      what: 'the reload applied',
      probe: () => events().find((e) => e.event === 'reloaded'),
      timeoutMs: 10_000,
    });
    const out = proc.output();
    expect(out).toContain('VRRP_Script(chk) considered successful on reload');
    expect(out).toContain('VRRP_Script(chk) changed by reload - restarting it');
    expect(out).toContain('VRRP_Script(slow) no longer used - stopped');
    expect(out).toContain('track_file tf no longer used - stopped');
    // the new script's first result (a failure) comes at once: no +10 any more, no tf
    await waitFor({
      what: 'effective priority 100',
      probe: async () => (await snapshot()).effective_priority,
      until: (p) => p === 100,
      timeoutMs: 5_000,
    });
    await waitFor({
      what: 'the slow script killed',
      probe: () => !existsSync(`/proc/${slowPid}`),
      timeoutMs: 5_000,
    });
    expect(inotifyWatches(pid)).toBe(watchesBefore - 1);
    // from the new script's first run on, the old one is never run again
    await waitFor({ what: 'chk-b ran', probe: () => lines(join(dir, 'runs-b')) >= 1, timeoutMs: 5_000 });
    const oldRuns = lines(join(dir, 'runs-a'));
    await waitFor({
      what: 'chk-b ran 3 more times',
      probe: () => lines(join(dir, 'runs-b')) >= 4,
      timeoutMs: 10_000,
    });
    expect(lines(join(dir, 'runs-a'))).toBe(oldRuns);
    const s = await snapshot();
    expect([s.state_name, s.effective_priority]).toEqual(['MASTER', 100]);
    expect(transitions()).toBe(before); // kept instance: no transition

    // only the weight of the vrrp_script block changes: the tracker keeps running (same runs file,
    // no restart), the instance is re-wired to the new weight (KO with weight -30: 100 - 30)
    const restarts = () => proc.output().match(/VRRP_Script\(chk\) changed by reload/g)?.length ?? 0;
    writeFileSync(path, conf('chk-b', '  track_script {\n    chk\n  }').replace('weight 10', 'weight -30'));
    proc.signal('SIGHUP');
    await waitFor({
      what: 'the second reload applied',
      probe: () => events().filter((e) => e.event === 'reloaded').length,
      until: (c) => c === 2,
      timeoutMs: 10_000,
    });
    await waitFor({
      what: 'effective priority 70',
      probe: async () => (await snapshot()).effective_priority,
      until: (p) => p === 70,
      timeoutMs: 5_000,
    });
    expect(restarts()).toBe(1);
    const runsB = lines(join(dir, 'runs-b'));
    await waitFor({
      what: 'chk-b still running',
      probe: () => lines(join(dir, 'runs-b')) > runsB,
      timeoutMs: 5_000,
    });
    expect(transitions()).toBe(before);
    console.log(
      `reload-trackers: chk-a ran ${oldRuns} times before the reload, chk-b ${lines(join(dir, 'runs-b'))} after; inotify watches ${watchesBefore} -> ${inotifyWatches(pid)}`,
    );
  });
});

describeIf('reload applies mcast_dst_ip and unicast_ttl to running instances', needLab, () => {
  let topo: Topology | undefined;
  let a: LabNode;
  let b: LabNode;
  let da: DaemonHandle;
  let db: DaemonHandle;
  let cap: Capture;

  const conf = (priority: number, group: string, ttl: string) => `
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 31
  priority ${priority}
  advert_int 1
${group}
  virtual_ipaddress {
    192.0.2.131/24
  }
}
vrrp_instance VI_2 {
  state MASTER
  interface eth0
  virtual_router_id 32
  priority ${priority}
  advert_int 1
  unicast_peer {
    ${priority === 120 ? '192.0.2.2' : '192.0.2.1'}
  }
${ttl}
  virtual_ipaddress {
    192.0.2.132/24
  }
}
${
  priority === 120
    ? `vrrp_instance VI_3 {
  state MASTER
  interface eth0
  virtual_router_id 33
  version 3
  priority 120
  advert_int 1
  unicast_peer {
    fd00::2
  }
${ttl}
  virtual_ipaddress {
    fd00::133/64
  }
}`
    : ''
}
`;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24', '192.0.2.11/24', 'fd00::1/64'] }] },
        { name: 'b', links: [{ addrs: ['192.0.2.2/24', 'fd00::2/64'] }] },
      ],
    });
    a = topo.node('a');
    b = topo.node('b');
    // IPv6 adverts leave from the link-local address: wait until it exists
    await waitFor({
      what: 'a link-local address on a',
      probe: async () => (await a.addresses()).some((x) => x.local.startsWith('fe80:')),
      timeoutMs: 10_000,
    });
    cap = await startCapture(topo);
  });

  afterAll(async () => {
    await cap?.stop();
    await da?.proc.stop();
    await db?.proc.stop();
    await topo?.destroy();
  });

  it('adverts move to the new group with the new TTL; the peer follows only once it is reloaded too', async () => {
    da = a.startDaemon({ command: keepalivedTsCommand(), config: conf(120, '', ''), name: 'keepalived-ts' });
    db = b.startDaemon({ command: keepalivedTsCommand(), config: conf(100, '', ''), name: 'keepalived-ts' });
    const dstIp = (raw: Buffer) => [...raw.subarray(30, 34)].join('.');
    const ttl = (raw: Buffer) => raw[22];
    const hopLimit = (raw: Buffer) => raw[21];
    const fromA = (vrid: number) => adverts(cap.frames(), vrid, '192.0.2.1');
    await waitFor({
      what: 'b BACKUP in both instances',
      probe: () => db.proc.output().match(/Entering BACKUP STATE/g)?.length ?? 0,
      until: (c) => c >= 2,
      timeoutMs: 15_000,
    });
    await waitFor({
      what: 'adverts of a to 224.0.0.18 (TTL 255) and unicast to b (TTL 255)',
      probe: () => [fromA(31).at(-1), fromA(32).at(-1), adverts(cap.frames(), 33).at(-1)],
      until: ([m, u, v6]) =>
        m !== undefined && u !== undefined && v6 !== undefined && m.vrrp?.priority === 120,
      timeoutMs: 10_000,
    });
    expect([dstIp(fromA(31).at(-1)!.raw), ttl(fromA(31).at(-1)!.raw)]).toEqual(['224.0.0.18', 255]);
    expect([dstIp(fromA(32).at(-1)!.raw), ttl(fromA(32).at(-1)!.raw)]).toEqual(['192.0.2.2', 255]);
    expect(hopLimit(adverts(cap.frames(), 33).at(-1)!.raw)).toBe(255);
    const seen = cap.frames().length;
    const aOut = da.proc.output().length;
    const bOut0 = db.proc.output().length;

    writeFileSync(
      da.configPath,
      conf(120, '  mcast_dst_ip 224.0.0.19\n  mcast_src_ip 192.0.2.11', '  unicast_ttl 7'),
    );
    da.proc.signal('SIGHUP');
    const moved = await waitFor({
      what: 'adverts of a to 224.0.0.19 and unicast with TTL 7',
      probe: () => {
        const after = cap.frames().slice(seen);
        const m = adverts(after, 31).filter((f) => dstIp(f.raw) === '224.0.0.19');
        const u = adverts(after, 32, '192.0.2.1').filter((f) => ttl(f.raw) === 7);
        const u6 = adverts(after, 33).filter((f) => hopLimit(f.raw) === 7);
        return m.length > 0 && u.length > 0 && u6.length > 0 ? { m: m[0]!, u: u[0]!, u6: u6[0]! } : undefined;
      },
      timeoutMs: 10_000,
    });
    expect([moved.m.dstMac, moved.m.srcIp]).toEqual(['01:00:5e:00:00:13', '192.0.2.11']);
    // every advert to the new group leaves from the new source
    expect(
      adverts(cap.frames().slice(seen), 31)
        .filter((f) => dstIp(f.raw) === '224.0.0.19')
        .every((f) => f.srcIp === '192.0.2.11'),
    ).toBe(true);
    expect(moved.u.vrrp?.priority).toBe(120);
    expect(moved.u6.vrrp?.version).toBe(3);
    expect(da.proc.output()).toContain('(VI_1) reload: applying changed mcastDstIp, mcastSrcIp');
    // b still listens on 224.0.0.18: it no longer hears a and takes VI_1 over (a stays MASTER too)
    await waitFor({
      what: 'b MASTER of VI_1',
      probe: () => db.proc.output().slice(bOut0),
      until: (o) => o.includes('(VI_1) Entering MASTER STATE'),
      timeoutMs: 10_000,
    });
    // b's adverts still go to the old group, which a left: a stays MASTER
    expect(da.proc.output().slice(aOut)).not.toContain('(VI_1) Entering BACKUP STATE');

    // b joins the new group: it hears a's higher priority and goes back to BACKUP
    const bOut = db.proc.output().length;
    writeFileSync(db.configPath, conf(100, '  mcast_dst_ip 224.0.0.19', ''));
    db.proc.signal('SIGHUP');
    await waitFor({
      what: 'b back to BACKUP of VI_1',
      probe: () => db.proc.output().slice(bOut),
      until: (o) => o.includes('(VI_1) Entering BACKUP STATE'),
      timeoutMs: 10_000,
    });
    expect(da.proc.running && db.proc.running).toBe(true);
  });
});
