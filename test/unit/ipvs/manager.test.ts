import { describe, expect, it } from 'vitest';
import {
  type QuorumEvent,
  type RealServerSpec,
  realServerId,
  reloadRenames,
  type VirtualServerSpec,
  vsKey,
} from '../../../src/ipvs/desired.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { IpvsManager } from '../../../src/ipvs/manager.js';

const vs = (n: number, weights: number[], extra: Partial<VirtualServerSpec> = {}): VirtualServerSpec => ({
  name: `vs${n}`,
  target: { kind: 'addr', addr: `192.0.2.${n}`, port: 80 },
  protocol: 'TCP',
  lbAlgo: 'wrr',
  lbKind: { method: 'DR' },
  realServers: weights.map((w, i) => ({
    addr: `198.51.100.${i + 1}`,
    port: 80,
    weight: w,
    hasCheckers: true,
  })),
  ...extra,
});

const weights = async (k: FakeIpvs, key: string) =>
  (await k.readTable())
    .get(key)
    ?.dests.map((d) => `${d.addr}=${d.weight}`)
    .sort();

describe('IpvsManager over the in-memory IPVS', () => {
  it('start, checker results, reload, stop', async () => {
    const k = new FakeIpvs();
    // someone else's service
    await k.apply({
      kind: 'add-service',
      svc: {
        af: 2,
        fwmark: 0,
        protocol: 6,
        addr: '203.0.113.5',
        port: 25,
        sched: 'rr',
        flags: 0,
        timeout: 0,
        netmask: 0xffffffff,
      },
    });
    const events: QuorumEvent[] = [];
    const a = vs(1, [2, 3], { quorum: 3, sorryServer: { addr: '198.51.100.99', port: 80 }, omega: true });
    const b = vs(2, [1]);
    const m = new IpvsManager(k, [a, b], { onQuorum: (e) => events.push(e) });
    await m.start();
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual(['198.51.100.1=2', '198.51.100.2=3']);
    const rs2 = a.realServers[1];
    if (!rs2) throw new Error('fixture');
    // .2 fails: sum 2 < quorum 3 -> sorry server replaces the pool
    await m.setHealth(realServerId(a, rs2), { up: false });
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual(['198.51.100.99=1']);
    const kinds = () => events.map((e) => `${e.kind}${e.init ? `/${e.init}` : ''}`);
    expect(kinds()).toEqual(['quorum-up/start', 'quorum-up/start', 'quorum-down']);
    // concurrent results fold into at most one extra pass and end converged
    await Promise.all([
      m.setHealth(realServerId(a, rs2), { up: true }),
      m.setHealth(realServerId(a, rs2), { up: true, weight: 9 }),
    ]);
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual(['198.51.100.1=2', '198.51.100.2=9']);
    // reload drops vs2 and changes a weight: only those operations
    const before = k.log.length;
    await m.reload([
      vs(1, [4, 3], { quorum: 3, sorryServer: { addr: '198.51.100.99', port: 80 }, omega: true }),
    ]);
    expect(k.log.slice(before).map((o) => o.kind)).toEqual(['del-service', 'set-dest']);
    // checker state of the kept real server survived the reload (dynamic weight 9)
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual(['198.51.100.1=4', '198.51.100.2=9']);
    const plan = await m.stop();
    expect(plan.map((o) => o.kind)).toEqual(['del-service']);
    expect([...(await k.readTable()).keys()]).toEqual(['tcp 203.0.113.5:25']);
    expect(kinds()).toEqual([
      'quorum-up/start',
      'quorum-up/start',
      'quorum-down',
      'quorum-up',
      'quorum-down',
    ]);
  });

  it("a reload's first pass re-decides kept virtual servers as keepalived's init_services", async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const a = vs(1, [2, 3], { quorum: 9 });
    const m = new IpvsManager(k, [a], { onQuorum: (e) => events.push(e) });
    await m.start();
    // below quorum, no sorry server: nothing at start
    expect(events).toEqual([]);
    // the reload brings a sorry server: it goes in and quorum_down is notified
    const sorry = { addr: '198.51.100.99', port: 80 };
    await m.reload([vs(1, [2, 3], { quorum: 9, sorryServer: sorry })]);
    expect(events).toEqual([
      { vs: 'vs1 TCP', kind: 'quorum-down', weightSum: 5, threshold: 9, init: 'reload' },
    ]);
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual(['198.51.100.99=1']);
    // the same sorry server again: no notification; a lower quorum: up, still worded as a start
    await m.reload([vs(1, [2, 3], { quorum: 9, sorryServer: sorry })]);
    expect(events).toHaveLength(1);
    const b = vs(1, [2, 3], { quorum: 5, sorryServer: sorry });
    await m.reload([b]);
    expect(events.at(-1)).toEqual({
      vs: 'vs1 TCP',
      kind: 'quorum-up',
      weightSum: 5,
      threshold: 5,
      init: 'reload',
    });
    // later passes are transitions again
    await m.setHealth(realServerId(b, b.realServers[0] as (typeof b.realServers)[0]), { up: false });
    expect(events.at(-1)).toEqual({ vs: 'vs1 TCP', kind: 'quorum-down', weightSum: 3, threshold: 5 });
  });
});

describe('IpvsManager: identity, order and reload comparisons', () => {
  it('a TCP and a UDP virtual server on the same address and port keep their own quorum and health', async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const tcp = vs(1, [1], { quorum: 1 });
    const udp = vs(1, [1], { quorum: 1, protocol: 'UDP' });
    expect(vsKey(tcp)).not.toBe(vsKey(udp));
    expect(realServerId(tcp, tcp.realServers[0] as RealServerSpec)).not.toBe(
      realServerId(udp, udp.realServers[0] as RealServerSpec),
    );
    const m = new IpvsManager(k, [tcp, udp], { onQuorum: (e) => events.push(e) });
    await m.start();
    expect(events.map((e) => `${e.vs} ${e.kind}`)).toEqual(['vs1 TCP quorum-up', 'vs1 UDP quorum-up']);
    // the TCP one's real server fails: only the TCP service loses it, only its quorum goes
    await m.setHealth(realServerId(tcp, tcp.realServers[0] as RealServerSpec), { up: false });
    expect(events.slice(2).map((e) => `${e.vs} ${e.kind}`)).toEqual(['vs1 TCP quorum-down']);
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual([]);
    expect(await weights(k, 'udp 192.0.2.1:80')).toEqual(['198.51.100.1=1']);
    expect([m.quorumUp(vsKey(tcp)), m.quorumUp(vsKey(udp))]).toEqual([false, true]);
    // a reload changing only the protocol: a new virtual server, decided as at start
    await m.reload([vs(1, [1], { quorum: 1, protocol: 'SCTP' }), udp]);
    expect(events.slice(3).map((e) => `${e.vs} ${e.kind} ${e.init}`)).toEqual(['vs1 SCTP quorum-up start']);
  });

  it('two `virtual_server group G` of different protocols keep their own quorum and health', async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const target = {
      kind: 'group' as const,
      name: 'G',
      entries: [{ kind: 'addr' as const, range: '192.0.2.7', port: 80 }],
    };
    const tcp = vs(7, [1], { name: 'group G', target, quorum: 1 });
    const udp = vs(7, [1], { name: 'group G', target, quorum: 1, protocol: 'UDP' });
    expect(vsKey(tcp)).not.toBe(vsKey(udp));
    expect(realServerId(tcp, tcp.realServers[0] as RealServerSpec)).not.toBe(
      realServerId(udp, udp.realServers[0] as RealServerSpec),
    );
    const m = new IpvsManager(k, [tcp, udp], { onQuorum: (e) => events.push(e) });
    await m.start();
    expect(events.map((e) => e.kind)).toEqual(['quorum-up', 'quorum-up']);
    await m.setHealth(realServerId(tcp, tcp.realServers[0] as RealServerSpec), { up: false });
    expect(events.slice(2).map((e) => [e.vs, e.kind])).toEqual([[vsKey(tcp), 'quorum-down']]);
    expect(await weights(k, 'tcp 192.0.2.7:80')).toEqual([]);
    expect(await weights(k, 'udp 192.0.2.7:80')).toEqual(['198.51.100.1=1']);
    expect([m.quorumUp(vsKey(tcp)), m.quorumUp(vsKey(udp))]).toEqual([false, true]);
  });

  it('two `virtual_server fwmark 5` in different families keep their own quorum and health', async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const target = { kind: 'fwmark' as const, fwmark: 5 };
    const v4 = vs(5, [1], { name: 'fwmark 5', target, quorum: 1, ipFamily: 'inet' });
    const v6: VirtualServerSpec = {
      ...vs(5, [], { name: 'fwmark 5', target, quorum: 1 }),
      realServers: [{ addr: 'fd00::1', port: 80, weight: 1, hasCheckers: true }],
    };
    // family from ip_family, else from the first real server
    expect(vsKey(v4)).not.toBe(vsKey(v6));
    expect(vsKey(v6)).toBe(vsKey({ ...v6, ipFamily: 'inet6' }));
    const m = new IpvsManager(k, [v4, v6], { onQuorum: (e) => events.push(e) });
    await m.start();
    await m.setHealth(realServerId(v6, v6.realServers[0] as RealServerSpec), { up: false });
    expect(events.slice(2).map((e) => [e.vs, e.kind])).toEqual([[vsKey(v6), 'quorum-down']]);
    expect([m.quorumUp(vsKey(v4)), m.quorumUp(vsKey(v6))]).toEqual([true, false]);
    const table = await k.readTable();
    const byAf = [...table.values()].map((s) => `${s.svc.af} ${s.dests.length}`).sort();
    expect(byAf).toEqual(['10 0', '2 1']);
  });

  it('notifies after IPVS is programmed: the service is in the table when quorum_up runs', async () => {
    const k = new FakeIpvs();
    const seen: string[] = [];
    const a = vs(1, [1, 1], { quorum: 2, sorryServer: { addr: '198.51.100.99', port: 80 } });
    const m = new IpvsManager(k, [a], {
      onQuorum: (e) => {
        const dests = k.services.get('tcp 192.0.2.1:80')?.dests.map((d) => d.addr) ?? [];
        seen.push(`${e.kind}: ${dests.sort().join(' ') || 'no service'}`);
      },
    });
    await m.start();
    await m.setHealth(realServerId(a, a.realServers[0] as RealServerSpec), { up: false });
    expect(seen).toEqual([
      'quorum-up: 198.51.100.1 198.51.100.2',
      // the incremental pass too: the sorry server is in when quorum_down runs
      'quorum-down: 198.51.100.99',
    ]);
  });

  it('a kernel failure still notifies, after the attempt', async () => {
    const k = new FakeIpvs();
    const order: string[] = [];
    k.refuse = (op) => {
      order.push(`apply ${op.kind}`);
      return 'ENOMEM';
    };
    const m = new IpvsManager(k, [vs(1, [1])], { onQuorum: (e) => order.push(e.kind) });
    await expect(m.start()).rejects.toThrow();
    expect(order).toEqual(['apply add-service', 'quorum-up']);
  });

  it('a sorry_server with and without the default port is the same one on reload', async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const m = new IpvsManager(
      k,
      [vs(1, [2, 3], { quorum: 9, sorryServer: { addr: '198.51.100.99', port: 80 } })],
      {
        onQuorum: (e) => events.push(e),
      },
    );
    await m.start();
    expect(events).toHaveLength(1); // "Starting with quorum down", the sorry server in
    await m.reload([vs(1, [2, 3], { quorum: 9, sorryServer: { addr: '198.51.100.99' } })]);
    expect(events).toHaveLength(1);
    // another port is another sorry server
    await m.reload([vs(1, [2, 3], { quorum: 9, sorryServer: { addr: '198.51.100.99', port: 8080 } })]);
    expect(events).toHaveLength(2);
    expect(await weights(k, 'tcp 192.0.2.1:80')).toEqual(['198.51.100.99=1']);
  });
});

describe('IpvsManager options: lvs_flush, lvs_flush_on_stop, lvs_timeouts', () => {
  it('flushes at start and stop when asked, and sets timeouts', async () => {
    const k = new FakeIpvs();
    await k.apply({
      kind: 'add-service',
      svc: {
        af: 2,
        fwmark: 0,
        protocol: 6,
        addr: '203.0.113.5',
        port: 25,
        sched: 'rr',
        flags: 0,
        timeout: 0,
        netmask: 0xffffffff,
      },
    });
    const m = new IpvsManager(k, [vs(1, [1])], {
      flushOnStart: true,
      flushOnStop: true,
      timeouts: { tcp: 600, udp: 60 },
    });
    await m.start();
    expect([...(await k.readTable()).keys()]).toEqual(['tcp 192.0.2.1:80']);
    expect(await k.timeouts()).toEqual({ tcp: 600, tcpFin: 120, udp: 60 });
    expect(await m.stop()).toEqual([]);
    expect((await k.readTable()).size).toBe(0);
  });
});

describe('IpvsManager.stop: one virtual server at a time (keepalived clear_services)', () => {
  it('per virtual server in configuration order: the caller hook, its omega quorum-down, then its services go', async () => {
    const k = new FakeIpvs();
    const trace: string[] = [];
    const specs = [vs(1, [1], { omega: true }), vs(2, [1]), vs(3, [1], { omega: true })];
    const m = new IpvsManager(k, specs, {
      onQuorum: (e) => trace.push(`${e.kind}${e.stopping ? '/stopping' : ''} ${e.vs}`),
    });
    await m.start();
    trace.length = 0;
    const before = k.log.length;
    const deleted = () =>
      k.log
        .slice(before)
        .map((o) => o.svc.addr)
        .join(',');
    const plan = await m.stop((key) => trace.push(`hook ${key} after [${deleted()}]`));
    expect(trace).toEqual([
      'hook vs1 TCP after []',
      'quorum-down/stopping vs1 TCP',
      'hook vs2 TCP after [192.0.2.1]',
      'hook vs3 TCP after [192.0.2.1,192.0.2.2]',
      'quorum-down/stopping vs3 TCP',
    ]);
    expect(plan.map((o) => `${o.kind} ${o.svc.addr}`)).toEqual([
      'del-service 192.0.2.1',
      'del-service 192.0.2.2',
      'del-service 192.0.2.3',
    ]);
    expect((await k.readTable()).size).toBe(0);
  });

  it('with lvs_flush_on_stop the flush comes first, then the notifiers', async () => {
    const k = new FakeIpvs();
    const trace: string[] = [];
    const m = new IpvsManager(k, [vs(1, [1], { omega: true })], {
      flushOnStop: true,
      onQuorum: (e) => trace.push(`${e.kind} ${e.vs}`),
    });
    await m.start();
    trace.length = 0;
    await m.stop((key) => trace.push(`hook ${key} with ${k.services.size} services left`));
    expect(trace).toEqual(['hook vs1 TCP with 0 services left', 'quorum-down vs1 TCP']);
  });
});

describe('reload of a group virtual server whose protocol or family changed (keepalived vs_iseq: by group name)', () => {
  const group = (
    protocol: VirtualServerSpec['protocol'],
    extra: Partial<VirtualServerSpec> = {},
  ): VirtualServerSpec => ({
    name: 'G',
    target: {
      kind: 'group',
      name: 'G',
      entries: [
        { kind: 'addr', range: '192.0.2.80', port: 80 },
        { kind: 'fwmark', fwmark: 9, family: 'inet' },
      ],
    },
    protocol,
    lbAlgo: 'rr',
    lbKind: { method: 'DR' },
    alpha: true,
    realServers: [{ addr: '198.51.100.1', port: 80, weight: 1, hasCheckers: true }],
    ...extra,
  });

  it('reloadRenames: by key first, then an unmatched group block takes the first free new block on its group', () => {
    const tcp = group('TCP');
    const udp = group('UDP');
    const sctp = group('SCTP');
    expect([...reloadRenames([tcp], [udp])]).toEqual([[vsKey(tcp), vsKey(udp)]]);
    expect([...reloadRenames([tcp], [group('TCP', { ipFamily: 'inet6' })])]).toEqual([
      [vsKey(tcp), 'G TCP inet6'],
    ]);
    // TCP kept by key; UDP takes the free SCTP block
    expect([...reloadRenames([tcp, udp], [tcp, sctp])]).toEqual([[vsKey(udp), vsKey(sctp)]]);
    // two old blocks, one new: only one keeps its state, the other is dropped
    expect([...reloadRenames([tcp, udp], [sctp])]).toEqual([[vsKey(tcp), vsKey(sctp)]]);
    // another group, an address virtual server: never renamed
    expect([
      ...reloadRenames([tcp], [group('UDP', { target: { kind: 'group', name: 'H', entries: [] } })]),
    ]).toEqual([]);
    expect([...reloadRenames([vs(1, [1])], [vs(1, [1], { protocol: 'UDP' })])]).toEqual([]);
  });

  it('TCP -> UDP: one delete and one add for the address entry; the fwmark service and the alpha server health stay', async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const tcp = group('TCP');
    const m = new IpvsManager(k, [tcp], { onQuorum: (e) => events.push(e) });
    await m.start();
    const rs = tcp.realServers[0];
    if (!rs) throw new Error('fixture');
    await m.setHealth(realServerId(tcp, rs), { up: true }); // alpha: in the pool after its first success
    const gen = k.services.get('inet fwmark 9')?.generation;
    const before = k.log.length;
    events.length = 0;
    const udp = group('UDP');
    await m.reload([udp]);
    expect(k.log.slice(before).map((o) => `${o.kind} ${o.svc.fwmark ? 'fwmark' : o.svc.protocol}`)).toEqual([
      'del-service 6',
      'add-service 17',
      'add-dest 17',
    ]);
    expect(k.services.get('inet fwmark 9')?.generation).toBe(gen);
    expect(await weights(k, 'inet fwmark 9')).toEqual(['198.51.100.1=1']);
    expect(await weights(k, 'udp 192.0.2.80:80')).toEqual(['198.51.100.1=1']);
    expect([...(await k.readTable()).keys()].sort()).toEqual(['inet fwmark 9', 'udp 192.0.2.80:80']);
    expect(events).toEqual([]); // quorum kept: no notifier
    expect(m.quorumUp(vsKey(udp))).toBe(true);
    // the carried health is the new virtual server's: its failure empties both services
    const rsUdp = udp.realServers[0];
    if (!rsUdp) throw new Error('fixture');
    await m.setHealth(realServerId(udp, rsUdp), { up: false });
    expect(await weights(k, 'inet fwmark 9')).toEqual([]);
    expect(events.map((e) => `${e.kind} ${e.vs}`)).toEqual([`quorum-down ${vsKey(udp)}`]);
  });
});
