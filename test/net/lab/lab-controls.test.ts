/**
 * The lab's own controls on real namespaces: topology shape and addressing, link down/up, bridge port
 * down/up, partition/heal, isolation, random loss, pause/resume, crash, capture, notify recorders,
 * waits that report what they saw, and teardown on normal destroy and on SIGTERM of the test process.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { notifyRecorder, startCapture, waitFor } from '../../lab/observe.js';
import { pidAlive, runSync } from '../../lab/resources.js';
import { checkLabAddress, createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const here = dirname(fileURLToPath(import.meta.url));
const procState = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
};

describeIf('lab controls on network namespaces', needLab, () => {
  let topo: Topology | undefined;
  const t = () => topo!;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'a', links: [{ addrs: ['192.0.2.1/24', 'fd00::1/64'] }] },
        { name: 'b', links: [{ addrs: ['192.0.2.2/24'] }] },
        {
          name: 'r',
          links: [
            { addrs: ['192.0.2.3/24'] },
            { segment: 'wan', addrs: ['198.51.100.3/24', 'fd00:1::3/64'] },
          ],
        },
        { name: 'd', links: [{ segment: 'wan', addrs: ['198.51.100.4/24', 'fd00:1::4/64'] }] },
      ],
    });
    console.log(`lab: 4 nodes, 2 segments up in ${topo.setupMs.toFixed(0)} ms`);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('builds nodes with their links, MACs and addresses, lo up, only inside run-named namespaces', async () => {
    expect(
      t()
        .namespaces()
        .every((ns) => ns.startsWith(`${t().id}-`)),
    ).toBe(true);
    expect(t().segments).toEqual(['lan', 'wan']);
    const r = await t().node('r').addresses();
    expect(r.filter((x) => x.ifname !== 'lo').map((x) => `${x.ifname} ${x.local}/${x.prefixlen}`)).toEqual(
      expect.arrayContaining(['eth0 192.0.2.3/24', 'eth1 198.51.100.3/24', 'eth1 fd00:1::3/64']),
    );
    expect(r.some((x) => x.ifname === 'lo' && x.local === '127.0.0.1')).toBe(true);
    const link = JSON.parse(await t().node('a').ip(['-j', 'link', 'show', 'eth0'])) as { address: string }[];
    expect(link[0]?.address).toBe(t().node('a').link().mac);
    expect(runSync('ip', ['-o', 'link', 'show'])).not.toContain(t().id);
    expect(() => checkLabAddress('10.0.0.1/8')).toThrow(/outside the documentation ranges/);
    expect(() => checkLabAddress('fd00::1/64')).not.toThrow();
  });

  it('forwards within a segment and not across segments', async () => {
    expect(await t().node('a').ping('192.0.2.2')).toEqual({ sent: 1, received: 1 });
    expect(await t().node('a').ping('fd00::1')).toEqual({ sent: 1, received: 1 });
    expect(await t().node('d').ping('fd00:1::3')).toEqual({ sent: 1, received: 1 });
    expect((await t().node('a').ping('198.51.100.4')).received).toBe(0);
  });

  it('takes a link down and up, and a bridge port down and up', async () => {
    const a = t().node('a');
    await a.linkDown();
    expect((await a.ping('192.0.2.2')).received).toBe(0);
    await a.linkUp();
    expect((await a.ping('192.0.2.2', 1, { waitS: 2 })).received).toBe(1);
    await t().portDown('b');
    expect((await a.ping('192.0.2.2')).received).toBe(0);
    await t().portUp('b');
    expect((await a.ping('192.0.2.2', 1, { waitS: 2 })).received).toBe(1);
  });

  it('partitions a segment and heals it', async () => {
    const [a, b, r] = ['a', 'b', 'r'].map((n) => t().node(n));
    await t().partition([['a'], ['b', 'r']]);
    expect((await a!.ping('192.0.2.2')).received).toBe(0);
    expect((await b!.ping('192.0.2.3')).received).toBe(1);
    expect((await r!.ping('192.0.2.1')).received).toBe(0);
    await t().heal();
    expect((await a!.ping('192.0.2.2')).received).toBe(1);
  });

  it('isolates a node without touching its links, and drops packets at random', async () => {
    const a = t().node('a');
    await a.isolate(true);
    expect((await a.ping('192.0.2.2')).received).toBe(0);
    expect(JSON.parse(await a.ip(['-j', 'link', 'show', 'eth0']))[0].operstate).toBe('UP');
    await a.isolate(false);
    expect((await a.ping('192.0.2.2')).received).toBe(1);
    await a.setLoss(50);
    // Each round trip crosses the lossy link twice: about 25 % of the probes come back.
    const lossy = await a.ping('192.0.2.2', 100, { intervalS: 0.01, waitS: 1 });
    console.log(`lab: 50 % loss each way: ${lossy.received}/${lossy.sent} echoes answered`);
    expect(lossy.received).toBeGreaterThan(0);
    expect(lossy.received).toBeLessThan(75);
    await a.setLoss(0);
    expect((await a.ping('192.0.2.2', 10, { intervalS: 0.01 })).received).toBe(10);
    await expect(a.setLoss(101)).rejects.toThrow(/integer percentage/);
  });

  it('pauses, resumes, stops and crashes processes, keeping their output', async () => {
    const b = t().node('b');
    const p = b.spawn(['sh', '-c', 'echo started; exec sleep 300'], { name: 'sleeper' });
    await waitFor({ what: 'sleeper output', probe: () => p.stdout(), timeoutMs: 5_000 });
    expect(p.stdout()).toBe('started\n');
    p.pause();
    await waitFor({
      what: 'stopped state',
      probe: () => procState(p.pid),
      until: (s) => s === 'T',
      timeoutMs: 2_000,
    });
    p.resume();
    await waitFor({
      what: 'running state',
      probe: () => procState(p.pid),
      until: (s) => s !== 'T',
      timeoutMs: 2_000,
    });
    expect(await p.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    const q1 = b.spawn(['sleep', '300']);
    const q2 = b.spawn(['sleep', '300']);
    const killed = await b.crash();
    expect(killed.sort()).toEqual([q1.pid, q2.pid].sort());
    expect(await q1.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await b.pids()).toEqual([]);
  });

  it('captures ARP on the bridge with timestamps and records notify calls', async () => {
    const cap = await startCapture(t());
    const a = t().node('a');
    await a.ip(['neigh', 'flush', 'dev', 'eth0']);
    const before = Date.now() * 1000;
    expect((await a.ping('192.0.2.2')).received).toBe(1);
    const frames = await waitFor({
      what: 'ARP request from a',
      probe: () => cap.frames().filter((f) => f.kind === 'arp' && f.srcMac === a.link().mac),
      until: (f) => f.length > 0,
      timeoutMs: 3_000,
    });
    await cap.stop();
    expect(frames[0]?.arp).toMatchObject({ op: 1, senderIp: '192.0.2.1', targetIp: '192.0.2.2' });
    expect(frames[0]!.tsUs).toBeGreaterThanOrEqual(before - 1000);
    const rec = notifyRecorder(t().dir, 'rec');
    await a.exec(rec.script, ['INSTANCE', 'VI 1', 'MASTER', '150']);
    await a.exec(rec.script, []);
    expect(rec.entries().map((e) => e.args)).toEqual([['INSTANCE', 'VI 1', 'MASTER', '150'], []]);
  });

  it('reports what a wait last saw when its deadline passes', async () => {
    let n = 0;
    await expect(
      waitFor({
        what: 'n to reach 1000',
        probe: () => ++n,
        until: (v) => v >= 1000,
        timeoutMs: 200,
        intervalMs: 20,
      }),
    ).rejects.toThrow(/timed out after 200 ms waiting for n to reach 1000; last seen: \d+/);
  });

  it('removes everything on destroy', async () => {
    const p = t().node('d').spawn(['sleep', '300']);
    const report = await t().destroy();
    console.log(`lab: teardown of 5 namespaces ${report.ms.toFixed(0)} ms`);
    expect(report).toMatchObject({ leftNamespaces: [], leftPids: [] });
    expect(pidAlive(p.pid)).toBe(false);
    expect(runSync('ip', ['netns', 'list'])).not.toContain(t().id);
  });

  it('removes everything when the test process gets SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [resolve(here, 'fixtures/signal-child.mjs'), resolve(here, '../../lab')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const made = await new Promise<{ namespaces: string[]; pid: number }>((res, rej) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.endsWith('\n')) res(JSON.parse(out));
      });
      child.once('exit', (code) => rej(new Error(`child exited ${code}: ${err}`)));
    });
    expect(runSync('ip', ['netns', 'list'])).toContain(made.namespaces[0]);
    expect(pidAlive(made.pid)).toBe(true);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const listed = runSync('ip', ['netns', 'list']);
    for (const ns of made.namespaces) expect(listed).not.toContain(ns);
    expect(pidAlive(made.pid)).toBe(false);
  });
});
