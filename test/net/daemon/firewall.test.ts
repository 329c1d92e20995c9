/**
 * The accept-mode firewall in a namespace: with an instance's VIPs in the sets, ICMP echo and TCP to
 * the VIPs from a peer are dropped while VRRP to 224.0.0.18 and traffic to the primary address pass;
 * removeVips lets VIP traffic through again; stop removes the tables; a stale table from a crashed run
 * is replaced. Then the ruleset is compared with the one Debian's keepalived 2.2.7 builds for the
 * same configuration.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Counters } from '../../../src/core/counters.js';
import {
  Firewall,
  type FirewallVip,
  firewallSettings,
  instanceVips,
  instanceVmac,
  nftRunner,
} from '../../../src/daemon/firewall.js';
import { ifNameToIndex } from '../../../src/sys/ifaces.js';
import { inNetns } from '../../../src/sys/netns.js';
import { IPPROTO_VRRP, type RawMessage, RawSocket } from '../../../src/sys/raw-socket.js';
import { needKeepalived, needLab } from '../../lab/gates.js';
import type { LabNode } from '../../lab/node.js';
import { type Frame, startCapture, waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const SETTINGS = {
  table: 'keepalived',
  priority: -1,
  counters: false,
  ifindex: false,
  disableLocalIgmp: false,
};
const VIP4 = '192.0.2.100';
const VIP6 = 'fd00::100';
const VIPS: FirewallVip[] = [
  { address: VIP4, ifname: 'eth0' },
  { address: VIP6, ifname: 'eth0' },
];

/** ping from a node; true when answered. */
async function pings(from: LabNode, addr: string): Promise<boolean> {
  const r = await execa('ip', ['netns', 'exec', from.ns, 'ping', '-c1', '-W1', addr], { reject: false });
  return r.exitCode === 0;
}

/**
 * TCP connect from a node to a closed port: 'refused' when the SYN reached the host (RST back),
 * 'silent' when nothing came back within 3 s (dropped).
 */
async function tcp(from: LabNode, addr: string): Promise<'refused' | 'silent' | string> {
  const r = await execa(
    'ip',
    ['netns', 'exec', from.ns, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${addr}/9`],
    { reject: false },
  );
  if (r.exitCode === 124) return 'silent';
  if (/refused/i.test(r.stderr)) return 'refused';
  return `exit ${r.exitCode}: ${r.stderr}`;
}

async function tables(n: LabNode): Promise<string> {
  return (await n.exec('nft', ['list', 'tables'])).trim();
}

/** `nft -j list ruleset` without handles and metainfo, set elements sorted (kernel order varies). */
async function ruleset(n: LabNode): Promise<unknown[]> {
  const j = JSON.parse(await n.exec('nft', ['-j', 'list', 'ruleset'])) as { nftables: unknown[] };
  const clean = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(clean);
    if (v && typeof v === 'object') {
      const o = Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== 'handle')
          .map(([k, x]) => [k, clean(x)]),
      );
      if (Array.isArray(o.elem))
        o.elem = [...o.elem].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
      return o;
    }
    return v;
  };
  return j.nftables.filter((x) => !(x && typeof x === 'object' && 'metainfo' in x)).map(clean);
}

describeIf('accept-mode firewall drops VIP traffic, not VRRP', needLab, () => {
  let topo: Topology | undefined;
  let v: LabNode;
  let p: LabNode;
  let fw: Firewall;
  const counters = new Counters();
  const sockets: RawSocket[] = [];

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'v', links: [{ addrs: ['192.0.2.1/24', 'fd00::1/64'] }] },
        { name: 'p', links: [{ addrs: ['192.0.2.2/24', 'fd00::2/64'] }] },
      ],
    });
    v = topo.node('v');
    p = topo.node('p');
    await v.ip(['addr', 'add', `${VIP4}/24`, 'dev', 'eth0']);
    await v.ip(['addr', 'add', `${VIP6}/64`, 'dev', 'eth0', 'nodad']);
    fw = new Firewall({
      settings: SETTINGS,
      run: nftRunner({ prefix: ['ip', 'netns', 'exec', v.ns] }),
      counters,
    });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await topo?.destroy();
  });

  it('start replaces a stale table left by a crashed run', async () => {
    await v.exec('nft', ['add', 'table', 'ip', 'keepalived']);
    await v.exec('nft', [
      'add',
      'chain',
      'ip',
      'keepalived',
      'junk',
      '{ type filter hook input priority 0; }',
    ]);
    await v.exec('nft', ['add', 'rule', 'ip', 'keepalived', 'junk', 'drop']);
    expect(await pings(p, '192.0.2.1')).toBe(false);
    expect(await fw.start()).toEqual({ ok: true });
    expect(await tables(v)).toBe('');
    expect(await pings(p, '192.0.2.1')).toBe(true);
  });

  it('with the VIPs in the sets: ICMP and TCP to the VIPs dropped, primary addresses answer', async () => {
    expect(await pings(p, VIP4)).toBe(true);
    expect(await tcp(p, VIP4)).toBe('refused');
    expect(await fw.addVips('VI_1', VIPS)).toEqual({ ok: true });
    expect(await tables(v)).toBe('table ip keepalived\ntable ip6 keepalived');
    const [icmp4, icmp6, tcp4, tcp6, prim4, prim6, tcpPrim] = await Promise.all([
      pings(p, VIP4),
      pings(p, VIP6),
      tcp(p, VIP4),
      tcp(p, VIP6),
      pings(p, '192.0.2.1'),
      pings(p, 'fd00::1'),
      tcp(p, '192.0.2.1'),
    ]);
    console.log(
      `firewall: to VIPs icmp4=${icmp4} icmp6=${icmp6} tcp4=${tcp4} tcp6=${tcp6}; to primaries icmp4=${prim4} icmp6=${prim6} tcp=${tcpPrim}`,
    );
    expect({ icmp4, icmp6, tcp4, tcp6 }).toEqual({
      icmp4: false,
      icmp6: false,
      tcp4: 'silent',
      tcp6: 'silent',
    });
    expect({ prim4, prim6, tcpPrim }).toEqual({ prim4: true, prim6: true, tcpPrim: 'refused' });
  });

  it('VRRP to 224.0.0.18 passes; VRRP addressed to the VIP is dropped (as keepalived drops it)', async () => {
    const rx = inNetns(v.ns, () => RawSocket.open({ family: 4, protocol: IPPROTO_VRRP, ifname: 'eth0' }));
    sockets.push(rx);
    rx.join('224.0.0.18');
    const tx = inNetns(p.ns, () =>
      RawSocket.open({ family: 4, protocol: IPPROTO_VRRP, ifname: 'eth0', receive: false }),
    );
    sockets.push(tx);
    const seen: RawMessage[] = [];
    const mcast = new Promise<void>((resolve) => {
      rx.on('message', (m) => {
        seen.push(m);
        if (m.dst === '224.0.0.18') resolve();
      });
    });
    // Same path, sent in order: when the multicast one has arrived, the VIP one would have too.
    tx.send(Buffer.from('to-vip'), VIP4);
    tx.send(Buffer.from('to-group'), '224.0.0.18');
    await mcast;
    expect(seen.map((m) => [m.dst, m.data.subarray((m.data[0]! & 0x0f) * 4).toString()])).toEqual([
      ['224.0.0.18', 'to-group'],
    ]);
  });

  it('removeVips: VIP traffic passes again, the tables and rules stay', async () => {
    expect(await fw.removeVips('VI_1')).toEqual({ ok: true });
    const [icmp4, icmp6, tcp4] = await Promise.all([pings(p, VIP4), pings(p, VIP6), tcp(p, VIP4)]);
    expect({ icmp4, icmp6, tcp4 }).toEqual({ icmp4: true, icmp6: true, tcp4: 'refused' });
    expect(await tables(v)).toBe('table ip keepalived\ntable ip6 keepalived');
    expect(await v.exec('nft', ['list', 'set', 'ip', 'keepalived', 'vips'])).not.toContain('elements');
  });

  it('a link-local VIP on a missing interface fails as one typed, counted error and changes nothing', async () => {
    const before = await ruleset(v);
    const r = await fw.addVips('VI_2', [
      { address: '192.0.2.101', ifname: 'eth0' },
      { address: 'fe80::100', ifname: 'nosuch0' },
    ]);
    expect(!r.ok && r.error.code).toBe('KA_ERR_DAEMON_FIREWALL');
    expect(!r.ok && r.error.message).toMatch(/Interface does not exist/);
    expect(counters.get('firewall.errors.KA_ERR_DAEMON_FIREWALL')).toBe(1);
    expect(await ruleset(v)).toEqual(before);
  });

  it('a batch too long for one argument (6000 VIPs, over 64 KiB of JSON) goes through a file', async () => {
    const many = Array.from({ length: 6000 }, (_, i) => ({
      address: `fd00::1:${i.toString(16)}`,
      ifname: 'eth0',
    }));
    expect(await fw.addVips('VI_3', many)).toEqual({ ok: true });
    const set = JSON.parse(await v.exec('nft', ['-j', 'list', 'set', 'ip6', 'keepalived', 'vips'])) as {
      nftables: { set?: { elem?: unknown[] } }[];
    };
    expect(set.nftables.find((x) => x.set)?.set?.elem?.length).toBe(6000);
    expect(await fw.removeVips('VI_3')).toEqual({ ok: true });
  });

  it('stop removes both tables', async () => {
    expect(await fw.stop()).toEqual({ ok: true });
    expect(await tables(v)).toBe('');
  });
});

const VMAC_MAC = '00:00:5e:00:01:33';
/** IGMP frames (IPv4 protocol 2) in a capture. */
const igmp = (frames: readonly Frame[]): Frame[] =>
  frames.filter((f) => f.raw.length > 23 && f.raw.readUInt16BE(12) === 0x0800 && f.raw[23] === 2);

describeIf('VMAC: IGMP reports leave through the parent, not the macvlan', needLab, () => {
  let topo: Topology | undefined;
  const sockets: RawSocket[] = [];

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'v', links: [{ addrs: ['192.0.2.1/24'] }] }] });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await topo?.destroy();
  });

  it('with the VMAC in vmac_map a join on it is reported from the parent; without, from the VMAC', async () => {
    const v = topo!.node('v');
    const parentMac = v.link().mac;
    await v.ip([
      'link',
      'add',
      'link',
      'eth0',
      'name',
      'vrrp.51',
      'address',
      VMAC_MAC,
      'type',
      'macvlan',
      'mode',
      'private',
    ]);
    await v.ip(['link', 'set', 'vrrp.51', 'up']);
    const fw = new Firewall({
      settings: SETTINGS,
      run: nftRunner({ prefix: ['ip', 'netns', 'exec', v.ns] }),
    });
    expect(await fw.start()).toEqual({ ok: true });
    expect(await fw.addVmac({ vmac: 'vrrp.51', parent: 'eth0', families: ['ip'] })).toEqual({ ok: true });

    const join = async () => {
      const cap = await startCapture(topo!, { filter: 'igmp', name: `igmp-${sockets.length}` });
      const s = inNetns(v.ns, () => {
        const ifindex = ifNameToIndex('vrrp.51');
        return RawSocket.open({ family: 4, protocol: IPPROTO_VRRP, ifname: 'vrrp.51', ifindex });
      });
      sockets.push(s);
      s.join('224.0.0.18');
      await waitFor({ what: 'an IGMP report', probe: () => igmp(cap.frames()).length, timeoutMs: 5_000 });
      const frames = igmp(await cap.stop());
      s.close();
      return frames;
    };

    const filtered = await join();
    console.log(
      `firewall: IGMP with the rule: ${filtered.length} frames from ${[...new Set(filtered.map((f) => f.srcMac))]}`,
    );
    expect(filtered.length).toBeGreaterThan(0);
    expect(new Set(filtered.map((f) => f.srcMac))).toEqual(new Set([parentMac]));

    expect(await fw.removeVmac('vrrp.51')).toEqual({ ok: true });
    const plain = await join();
    expect(new Set(plain.map((f) => f.srcMac))).toContain(VMAC_MAC);
    expect(await fw.stop()).toEqual({ ok: true });
  });
});

const KEEPALIVED_CONF = `
global_defs {
  vrrp_strict
}
vrrp_instance VI_4 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  use_vmac
  virtual_ipaddress {
    192.0.2.100/24
    192.0.2.101/24
  }
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 52
  priority 100
  advert_int 1
  version 3
  virtual_ipaddress {
    fe80::100/64
    fd00::100/64
  }
}
`;

describeIf('firewall ruleset equals keepalived 2.2.7 for the same configuration', needKeepalived, () => {
  let topo: Topology | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'k', links: [{ addrs: ['192.0.2.1/24', 'fd00::1/64'] }] },
        { name: 'f', links: [{ addrs: ['192.0.2.3/24', 'fd00::3/64'] }] },
      ],
    });
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('same tables, chains, hooks, priorities, sets, rules and elements while MASTER; both gone at stop', async () => {
    const k = topo!.node('k');
    const f = topo!.node('f');
    const d = k.startKeepalived(KEEPALIVED_CONF);
    const theirs = await waitFor({
      what: 'keepalived MASTER for both instances with the VIPs in its sets',
      probe: () => ruleset(k),
      until: (r) => {
        const s = JSON.stringify(r);
        return s.includes('"192.0.2.101"') && s.includes('"fd00::100"') && s.includes('"fe80::100"');
      },
      timeoutMs: 20_000,
    }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${d.proc.output().slice(-2000)}`);
    });

    // The same configuration through the model, applied as the VRRP host would.
    const conf = join(f.dir, 'keepalived.conf');
    mkdirSync(f.dir, { recursive: true });
    writeFileSync(conf, KEEPALIVED_CONF);
    const cfg = loadConfig(conf).config;
    const s = firewallSettings(cfg.global.settings);
    const [i4, i6] = cfg.vrrpInstances as [(typeof cfg.vrrpInstances)[0], (typeof cfg.vrrpInstances)[0]];
    await f.ip(['link', 'add', 'link', 'eth0', 'name', 'vrrp.51', 'type', 'macvlan', 'mode', 'private']);
    const fw = new Firewall({ settings: s, run: nftRunner({ prefix: ['ip', 'netns', 'exec', f.ns] }) });
    expect(await fw.start()).toEqual({ ok: true });
    expect(await fw.addVmac(instanceVmac(i4, 'vrrp.51', 'eth0', s)!)).toEqual({ ok: true });
    expect(await fw.addVips(i4.name, instanceVips(i4, 'vrrp.51', s))).toEqual({ ok: true });
    expect(await fw.addVips(i6.name, instanceVips(i6, 'eth0', s))).toEqual({ ok: true });
    const ours = await ruleset(f);
    console.log(`firewall: keepalived ruleset has ${theirs.length} objects, ours ${ours.length}`);
    expect(ours).toEqual(theirs);

    await d.proc.stop();
    expect(await tables(k)).toBe('');
    expect(await fw.stop()).toEqual({ ok: true });
    expect(await tables(f)).toBe('');
  });
});
