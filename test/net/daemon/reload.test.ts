/**
 * SIGHUP reload through VrrpHost.reload() (driven by reload-driver.mjs inside a lab node, as run.ts
 * will call it): the kept instance stays MASTER without a transition or notify while its VIP set and
 * its priority follow the new configuration, the removed instance goes away with a FAULT notify and its VIP, the
 * new instance starts in BACKUP. Also the pure plan (reload.ts) on the same two configurations.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { planReload } from '../../../src/daemon/reload.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const DRIVER = resolve(dirname(fileURLToPath(import.meta.url)), 'reload-driver.mjs');

const inst = (name: string, vrid: number, state: string, vips: string[], notify: string, extra = '') => `
vrrp_instance ${name} {
  state ${state}
  interface eth0
  virtual_router_id ${vrid}
  priority 100
  advert_int 1
  virtual_ipaddress {
${vips.map((v) => `    ${v}/24`).join('\n')}
  }
  notify ${notify}
${extra}
}
`;

describeIf('reload (SIGHUP) keeps kept instances, removes and adds the others', needLab, () => {
  let topo: Topology | undefined;
  let n: LabNode;
  let proc: LabProcess;
  let rec: NotifyRecorder;
  let rec2: NotifyRecorder;
  let confA = '';
  let confB = '';
  let path = '';

  const events = () =>
    proc
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
  const calls = () => rec.entries().map((e) => e.args.join(' '));

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'r', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    n = topo.node('r');
    rec = notifyRecorder(topo.dir, 'notify');
    rec2 = notifyRecorder(topo.dir, 'notify-daemon');
    confA =
      inst('VI_1', 1, 'MASTER', ['192.0.2.101'], rec.script) +
      inst('VI_2', 2, 'MASTER', ['192.0.2.102'], rec.script);
    // VI_1 is kept with a new priority (applied without a transition), a VIP more.
    confB =
      inst('VI_1', 1, 'MASTER', ['192.0.2.101', '192.0.2.111'], rec.script).replace(
        'priority 100',
        'priority 120',
      ) +
      'vrrp_script chk {\n  script "/bin/true"\n  interval 1\n  weight 10\n}\n' +
      inst('VI_3', 3, 'BACKUP', ['192.0.2.103'], rec.script, '  track_script {\n    chk\n  }');
    path = join(topo.dir, 'keepalived.conf');
    writeFileSync(path, confA);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('plans the diff as keepalived matches instances (VRID, family, interface, unicast)', () => {
    writeFileSync(`${path}.b`, confB);
    const a = loadConfig(path, {}).config;
    const b = loadConfig(`${path}.b`, {}).config;
    const plan = planReload(a, b);
    expect(plan.kept.map((k) => [k.old.name, k.next.name])).toEqual([['VI_1', 'VI_1']]);
    expect(plan.kept[0]?.vipsAdded.map((v) => v.address)).toEqual(['192.0.2.111']);
    expect(plan.kept[0]?.vipsRemoved).toEqual([]);
    expect(plan.kept[0]?.unapplied).toEqual([]);
    expect(plan.kept[0]?.changed).toEqual(['priority']);
    expect(plan.added.map((c) => c.name)).toEqual(['VI_3']);
    expect(plan.removed.map((c) => c.name)).toEqual(['VI_2']);
    // A renamed instance with the same VRID/family/interface is the same instance.
    const renamed = loadConfig(path, {}).config;
    writeFileSync(`${path}.c`, confA.replace('VI_1', 'VI_ONE').replace('priority 100', 'priority 110'));
    const c = loadConfig(`${path}.c`, {}).config;
    const p2 = planReload(renamed, c);
    expect(p2.kept.map((k) => [k.old.name, k.next.name])).toContainEqual(['VI_1', 'VI_ONE']);
    expect(p2.kept.find((k) => k.next.name === 'VI_ONE')).toMatchObject({
      changed: ['priority'],
      unapplied: [],
    });
    expect(p2.added).toEqual([]);
    expect(p2.removed).toEqual([]);
  });

  it('applies it to a running host without a transition of the kept instance', async () => {
    proc = n.spawn([process.execPath, DRIVER, path], { name: 'reload-driver' });
    await waitFor({
      what: 'both instances MASTER with their VIPs',
      probe: async () => (await n.hasAddress('192.0.2.101')) && (await n.hasAddress('192.0.2.102')),
      timeoutMs: 15_000,
    });
    await waitFor({
      what: 'MASTER notifies',
      probe: calls,
      until: (c) => c.includes('INSTANCE VI_1 MASTER 100') && c.includes('INSTANCE VI_2 MASTER 100'),
      timeoutMs: 5_000,
    });
    const before = calls();
    writeFileSync(path, confB);
    proc.signal('SIGHUP');
    const ev = await waitFor({
      what: 'the reload applied',
      probe: () => events().find((e) => e.event === 'reloaded'),
      timeoutMs: 10_000,
    });
    console.log(`reload: ${JSON.stringify(ev)}`);
    expect(ev).toMatchObject({ added: ['VI_3'], removed: ['VI_2'] });
    await waitFor({
      what: 'VIP set after reload',
      probe: async () => [
        await n.hasAddress('192.0.2.101'),
        await n.hasAddress('192.0.2.111'),
        await n.hasAddress('192.0.2.102'),
      ],
      until: (x) => x.join() === 'true,true,false',
      timeoutMs: 5_000,
    });
    // The new instance starts (its vrrp_script, new with the reload, starts too: weight +10 once it
    // succeeds) and, alone on the link, becomes MASTER after Master_Down_Interval.
    await waitFor({
      what: 'VI_3 MASTER with the script weight',
      probe: calls,
      until: (c) => c.includes('INSTANCE VI_3 MASTER 110'),
      timeoutMs: 10_000,
    });
    expect(await n.hasAddress('192.0.2.103')).toBe(true);
    const after = calls().slice(before.length);
    console.log(`reload: notify calls after SIGHUP: ${JSON.stringify(after)}`);
    // VI_1 kept: no notify at all; VI_2 removed: FAULT (no notify_deleted).
    expect(after.filter((c) => c.includes(' VI_1 '))).toEqual([]);
    expect(after.filter((c) => c.includes(' VI_2 '))).toEqual(['INSTANCE VI_2 FAULT 100']);
    expect(after.filter((c) => c.includes(' VI_3 ')).at(-1)).toBe('INSTANCE VI_3 MASTER 110');
    proc.signal('SIGUSR1');
    const snap = await waitFor({
      what: 'a snapshot',
      probe: () =>
        events().find((e) => e.event === 'snapshot') as
          | {
              instances: {
                iname: string;
                state_name: string;
                base_priority: number;
                effective_priority: number;
              }[];
            }
          | undefined,
      timeoutMs: 5_000,
    });
    expect(snap.instances.map((i) => [i.iname, i.state_name, i.base_priority, i.effective_priority])).toEqual(
      [
        ['VI_1', 'MASTER', 120, 120],
        ['VI_3', 'MASTER', 100, 110],
      ],
    );
    await proc.stop();
  });

  it('the real daemon reloads on SIGHUP the same way', async () => {
    const a = confA.replaceAll(rec.script, rec2.script);
    const b = confB.replaceAll(rec.script, rec2.script);
    const d = n.startDaemon({ command: keepalivedTsCommand(), config: a, name: 'keepalived-ts' });
    const calls2 = () => rec2.entries().map((e) => e.args.join(' '));
    await waitFor({
      what: 'both instances MASTER',
      probe: calls2,
      until: (c) => c.includes('INSTANCE VI_1 MASTER 100') && c.includes('INSTANCE VI_2 MASTER 100'),
      timeoutMs: 15_000,
    });
    const before = calls2().length;
    writeFileSync(d.configPath, b);
    d.proc.signal('SIGHUP');
    await waitFor({
      what: 'VIP set after SIGHUP',
      probe: async () => [
        await n.hasAddress('192.0.2.101'),
        await n.hasAddress('192.0.2.111'),
        await n.hasAddress('192.0.2.102'),
      ],
      until: (x) => x.join() === 'true,true,false',
      timeoutMs: 10_000,
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${d.proc.output().slice(-2000)}`);
    });
    await waitFor({
      what: 'VI_3 MASTER',
      probe: calls2,
      until: (c) => c.includes('INSTANCE VI_3 MASTER 110'),
      timeoutMs: 10_000,
    });
    const after = calls2().slice(before);
    console.log(`reload (daemon, SIGHUP): notify calls ${JSON.stringify(after)}`);
    expect(after.filter((c) => c.includes(' VI_1 '))).toEqual([]);
    expect(after.filter((c) => c.includes(' VI_2 '))).toEqual(['INSTANCE VI_2 FAULT 100']);
    expect(d.proc.output()).toContain('(VI_1) reload: applying changed priority');
    expect(d.proc.running).toBe(true);
    await d.proc.stop();
    expect(await n.hasAddress('192.0.2.101')).toBe(false);
  });
});
