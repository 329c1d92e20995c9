/**
 * vrrp_startup_delay on the wire: keepalived-ts started with a 3 s delay. As keepalived 2.2.7 does
 * (observed in a namespace: "Delaying startup for 3 seconds", "(VI_1) Entering BACKUP STATE (init)"
 * at once, the first advert of a priority-100 instance 3 s + 3.61 s after start), every instance
 * enters BACKUP at once and none leaves it before the delay's end: an address owner advertises only
 * after the delay, a priority-100 instance only a full Master_Down_Interval after it, and one that
 * hears a master during the delay stays BACKUP. The times from the daemon's spawn to the first advert
 * are printed; only their lower bound is asserted.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { adverts, startCapture, waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const DELAY_US = 3_000_000;
/** priority 100, advert_int 1: 3 s + (256 - 100) / 256 s */
const MDI_100_US = 3_609_375;
/** Capture timestamps against the test's clock read before the spawn. */
const SLACK_US = 20_000;

const instance = (name: string, vrid: number, prio: number, state: string, vip: string) => `
vrrp_instance ${name} {
  state ${state}
  interface eth0
  virtual_router_id ${vrid}
  priority ${prio}
  advert_int 1
  virtual_ipaddress {
    ${vip}/24
  }
}
`;

const D_CONFIG = `
global_defs {
  vrrp_startup_delay 3
}
${instance('VI_1', 61, 255, 'MASTER', '192.0.2.61')}
${instance('VI_2', 62, 100, 'BACKUP', '192.0.2.62')}
${instance('VI_3', 63, 100, 'BACKUP', '192.0.2.63')}
`;
const X_CONFIG = instance('VI_3', 63, 200, 'BACKUP', '192.0.2.63');

describeIf('vrrp_startup_delay of a running keepalived-ts', needLab, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('holds every instance in BACKUP until the delay is over, adverts heard meanwhile', async () => {
    const t = topo!;
    const d = t.node('d');
    const x = t.node('x');
    // x is master of VRID 63 before d starts
    x.startDaemon({ command: keepalivedTsCommand(), config: X_CONFIG, name: 'peer' });
    await waitForHolders([x], '192.0.2.63', ['x'], 15_000);
    const cap = await startCapture(t, { name: 'startup-delay' });
    const spawnUs = Date.now() * 1000;
    const h = d.startDaemon({ command: keepalivedTsCommand(), config: D_CONFIG, name: 'keepalived-ts' });
    await h.proc.waitForOutput(/Delaying startup for 3 seconds/, 10_000);
    await h.proc.waitForOutput(/\(VI_2\) Entering BACKUP STATE \(init\)/, 10_000);
    await waitFor({
      what: 'VI_2 advertising',
      timeoutMs: 15_000,
      probe: () => (adverts(cap.frames(), 62, '192.0.2.1').length > 0 ? true : undefined),
    });
    // VI_3 would have taken over by now if x's adverts had been ignored during the delay
    await new Promise((r) => setTimeout(r, 1_500));
    const frames = await cap.stop();
    const first = (vrid: number) => adverts(frames, vrid, '192.0.2.1')[0];
    const a1 = first(61);
    const a2 = first(62);
    expect(a1).toBeDefined();
    expect(a2).toBeDefined();
    const s1 = (a1!.tsUs - spawnUs) / 1e6;
    const s2 = (a2!.tsUs - spawnUs) / 1e6;
    console.log(
      `first advert after spawn: owner VI_1 ${s1.toFixed(3)} s, priority-100 VI_2 ${s2.toFixed(3)} s`,
    );
    expect(a1!.tsUs - spawnUs).toBeGreaterThanOrEqual(DELAY_US - SLACK_US);
    expect(a2!.tsUs - spawnUs).toBeGreaterThanOrEqual(DELAY_US + MDI_100_US - SLACK_US);
    // the owner leaves BACKUP first, 1 µs after the delay: its advert precedes VI_2's
    expect(a1!.tsUs).toBeLessThan(a2!.tsUs);
    expect(adverts(frames, 63, '192.0.2.1').filter((f) => (f.vrrp?.priority ?? 0) > 0)).toEqual([]);
    expect(h.proc.output()).not.toMatch(/\(VI_3\) Entering MASTER STATE/);
    expect(h.proc.output()).toMatch(
      /\(VI_1\) Entering BACKUP STATE \(init\)[\s\S]*\(VI_1\) Entering MASTER STATE/,
    );
  });
});
