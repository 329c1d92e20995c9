/**
 * vrrp_startup_delay on the wire: keepalived-ts started with a 3 s delay. As keepalived 2.2.7 does
 * (observed in a namespace: "Delaying startup for 3 seconds", "(VI_1) Entering BACKUP STATE (init)"
 * at once, the first advert of a priority-100 instance 3 s + 3.61 s after start), every instance
 * enters BACKUP at once and none leaves it before the delay's end: an address owner advertises only
 * after the delay, a priority-100 instance only a full Master_Down_Interval after it, and one that
 * hears a master during the delay stays BACKUP. No wall-clock bound is asserted: the delay is
 * counted in adverts. The peer x advertises every second: at least 2 of its adverts lie between the
 * daemon's "Delaying startup" log line (its own timestamp) and its first advert (none without the
 * delay). The owner VI_1 advertises every second once the delay is over: at least 3 of its adverts
 * precede VI_2's first, which waits a full Master_Down_Interval (3.61 s) after the delay (1 if its
 * timer had run from start-up). The times from the log line to the first adverts are printed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { adverts, startCapture, waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

/** The daemon's log lines (JSON on stderr): message and time (epoch µs, ms resolution). */
const logLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; time: string })
    .map((l) => ({ msg: l.msg, us: Date.parse(l.time) * 1000 }));

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
    const lines = logLines(h.proc.stderr());
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l.msg));
    // keepalived's order: the delay announced, every instance in BACKUP at once, then MASTER
    const delaying = at(/^Delaying startup for 3 seconds$/);
    expect(delaying).toBeGreaterThanOrEqual(0);
    for (const i of ['VI_1', 'VI_2', 'VI_3']) {
      const backup = at(new RegExp(`^\\(${i}\\) Entering BACKUP STATE \\(init\\)$`));
      expect(backup, i).toBeGreaterThan(delaying);
    }
    expect(at(/^\(VI_1\) Entering MASTER STATE$/)).toBeGreaterThan(at(/^\(VI_1\) Entering BACKUP STATE/));
    const startUs = lines[delaying]!.us;
    const own = (vrid: number) => adverts(frames, vrid, '192.0.2.1');
    const a1 = own(61)[0];
    const a2 = own(62)[0];
    expect(a1).toBeDefined();
    expect(a2).toBeDefined();
    // no advert of d (any instance) before VI_1's first: the owner is the first to leave BACKUP
    expect(frames.filter((f) => f.vrrp && f.srcIp === '192.0.2.1' && f.tsUs < a1!.tsUs)).toEqual([]);
    const peer = adverts(frames, 63, '192.0.2.2').filter((f) => f.tsUs > startUs && f.tsUs < a1!.tsUs);
    const ownBefore2 = own(61).filter((f) => f.tsUs < a2!.tsUs);
    console.log(
      `first advert after "Delaying startup" (daemon's log time): owner VI_1 ${((a1!.tsUs - startUs) / 1e6).toFixed(3)} s, ` +
        `priority-100 VI_2 ${((a2!.tsUs - startUs) / 1e6).toFixed(3)} s; peer adverts meanwhile ${peer.length}, ` +
        `VI_1 adverts before VI_2's first ${ownBefore2.length}`,
    );
    // the delay (3 s) held the owner while the peer advertised at least twice
    expect(peer.length).toBeGreaterThanOrEqual(2);
    // VI_2's Master_Down timer started at the delay's end, not at start-up
    expect(ownBefore2.length).toBeGreaterThanOrEqual(3);
    expect(adverts(frames, 63, '192.0.2.1').filter((f) => (f.vrrp?.priority ?? 0) > 0)).toEqual([]);
    expect(h.proc.output()).not.toMatch(/\(VI_3\) Entering MASTER STATE/);
    expect(h.proc.output()).toMatch(
      /\(VI_1\) Entering BACKUP STATE \(init\)[\s\S]*\(VI_1\) Entering MASTER STATE/,
    );
  });
});
