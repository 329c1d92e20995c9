/**
 * The addon against a real kernel: two namespaces joined by a veth pair exchange VRRP (IP protocol
 * 112) adverts over IPv4/IPv6 multicast and unicast; rtnetlink dumps, notifications and errors;
 * nlctrl resolution; an AF_PACKET gratuitous ARP; a systemd-style notify datagram.
 */
import { execFileSync } from 'node:child_process';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SysError, SysErrors } from '../../../src/sys/errors.js';
import { ifIndexToName, ifNameToIndex } from '../../../src/sys/ifaces.js';
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket } from '../../../src/sys/netlink-socket.js';
import { inNetns } from '../../../src/sys/netns.js';
import { ETH_P_ARP, type PacketMessage, PacketSocket } from '../../../src/sys/packet-socket.js';
import { IPPROTO_ICMPV6, IPPROTO_VRRP, type RawMessage, RawSocket } from '../../../src/sys/raw-socket.js';
import { sendUnixDatagram, UnixDatagramReceiver } from '../../../src/sys/unix-dgram.js';
import { decodeArp, gratuitousArpFrame } from '../../../src/wire/arp.js';
import { decodeFamily, getFamilyRequest } from '../../../src/wire/genl-ctrl.js';
import { decodeNeighbourAdvert, encodeNeighbourAdvert } from '../../../src/wire/ndisc.js';
import { NLM_F_REQUEST, type NlMsg } from '../../../src/wire/netlink.js';
import {
  decodeAddr,
  decodeLink,
  delAddr,
  delLink,
  delRoute,
  delRule,
  getAddrDump,
  getLinkDump,
  IFF_UP,
  IN6_ADDR_GEN_MODE_NONE,
  IPV4_DEVCONF_ACCEPT_LOCAL,
  IPV4_DEVCONF_ARP_IGNORE,
  ifinfomsg,
  newAddr,
  newMacvlan,
  newRoute,
  newRule,
  RTM_GETLINK,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_LINK,
  setAddrGenMode,
  setInetConf,
  setLinkUp,
} from '../../../src/wire/rtnetlink.js';
import { decodeVrrp, encodeVrrp, encodeVrrpIpv4Packet, type VrrpAdvert } from '../../../src/wire/vrrp.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { createVethLab, nextEvent, type VethLab } from './veth-lab.js';

type Closable = { close(): void };

describeIf('sys sockets between two namespaces', needRoot, () => {
  let lab: VethLab;
  const open: Closable[] = [];
  const keep = <T extends Closable>(s: T): T => {
    open.push(s);
    return s;
  };
  let vaIndex = 0;
  let vbIndex = 0;
  let vaMac = '';
  let vaLinkLocal = '';

  const advert = (
    family: 4 | 6,
    version: 2 | 3,
    vrid: number,
    addrs: string[],
  ): Omit<VrrpAdvert, 'checksum'> => ({
    version,
    type: 1,
    vrid,
    priority: 100,
    advertInterval: version === 2 ? 1 : 100,
    authType: 0,
    authData: version === 2 ? Buffer.alloc(8) : Buffer.alloc(0),
    addresses: addrs,
    family,
  });
  const strip = (a: VrrpAdvert) => ({ ...a, checksum: 0 });

  beforeAll(async () => {
    lab = await createVethLab();
    vaIndex = inNetns(lab.a, () => ifNameToIndex('va'));
    vbIndex = inNetns(lab.b, () => ifNameToIndex('vb'));
    // The link-local and MAC of va come from rtnetlink, through the code under test.
    const nl = keep(inNetns(lab.a, () => NetlinkSocket.open(NETLINK_ROUTE)));
    const links = (await nl.request(getLinkDump())).map(decodeLink);
    vaMac = links.find((l) => l.name === 'va')!.mac!;
    const addrs = (await nl.request(getAddrDump(6))).map(decodeAddr);
    vaLinkLocal = addrs.find((a) => a.ifindex === vaIndex && a.address.startsWith('fe80:'))!.address;
  });

  afterAll(async () => {
    for (const s of open) s.close();
    await lab?.destroy();
  });

  it('IPv4 multicast 224.0.0.18: payload, TTL 255, ifindex, source and destination', async () => {
    const rx = keep(
      inNetns(lab.b, () => RawSocket.open({ family: 4, protocol: IPPROTO_VRRP, ifname: 'vb' })),
    );
    rx.join('224.0.0.18');
    const tx = keep(
      inNetns(lab.a, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'va', receive: false })),
    );
    const a = advert(4, 3, 51, ['192.0.2.100']);
    const msg = encodeVrrp(a, { src: '192.0.2.1', dst: '224.0.0.18' });
    const got = nextEvent<RawMessage>(rx, 'message');
    expect(tx.send(msg, '224.0.0.18')).toBe(msg.length);
    const m = await got;
    const ihl = (m.data[0]! & 0x0f) * 4;
    expect(m.data[9]).toBe(112);
    expect(m.data.subarray(ihl)).toEqual(msg);
    expect(strip(decodeVrrp(m.data.subarray(ihl), 4))).toEqual(strip({ ...a, checksum: 0 }));
    expect([m.data[1], m.tos]).toEqual([0xc0, 0xc0]); // TOS in the header and from IP_RECVTOS
    expect([m.ttl, m.ifindex, m.src, m.dst]).toEqual([255, vbIndex, '192.0.2.1', '224.0.0.18']);
    expect(m.data[8]).toBe(255); // TTL in the received IP header agrees with the cmsg
  });

  it('SO_TIMESTAMPNS: the kernel receive time on the monotonic clock, before the handler ran', async () => {
    const rx = keep(
      inNetns(lab.b, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'vb', timestamps: true })),
    );
    rx.join('224.0.0.18');
    const plain = keep(inNetns(lab.b, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'vb' })));
    plain.join('224.0.0.18');
    const tx = keep(
      inNetns(lab.a, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'va', receive: false })),
    );
    const monoUs = () => Number(process.hrtime.bigint() / 1000n);
    const msg = encodeVrrp(advert(4, 3, 51, ['192.0.2.100']), { src: '192.0.2.1', dst: '224.0.0.18' });
    const handledAt: number[] = [];
    rx.on('message', () => handledAt.push(monoUs()));
    const got = nextEvent<RawMessage>(rx, 'message');
    const other = nextEvent<RawMessage>(plain, 'message');
    const before = monoUs();
    tx.send(msg, '224.0.0.18');
    const m = await got;
    expect(m.rxMonotonicUs).toBeDefined();
    // Stamped after the send started and no later than the handler saw it.
    expect(m.rxMonotonicUs!).toBeGreaterThanOrEqual(before - 1);
    expect(m.rxMonotonicUs!).toBeLessThanOrEqual(handledAt[0]! + 1);
    process.stdout.write(
      `SO_TIMESTAMPNS: packet handled ${handledAt[0]! - m.rxMonotonicUs!} µs after the kernel got it\n`,
    );
    expect((await other).rxMonotonicUs).toBeUndefined(); // only with the option
  });

  it('IPv4 with IP_HDRINCL (the header keepalived builds) to 224.0.0.18, then leave stops delivery', async () => {
    const rx = keep(inNetns(lab.b, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'vb' })));
    rx.join('224.0.0.18');
    const tx = keep(
      inNetns(lab.a, () =>
        RawSocket.open({ family: 4, protocol: 112, ifname: 'va', hdrincl: true, receive: false }),
      ),
    );
    const a = advert(4, 2, 52, ['192.0.2.101', '192.0.2.102']);
    const pkt = encodeVrrpIpv4Packet({ advert: a, id: 1, src: '192.0.2.1', dst: '224.0.0.18' });
    const got = nextEvent<RawMessage>(rx, 'message');
    tx.send(pkt, '224.0.0.18');
    const m = await got;
    expect(m.data.subarray(20)).toEqual(pkt.subarray(20));
    expect(m.data.readUInt16BE(4)).toBe(1); // our IP id survived
    expect([m.ttl, m.ifindex, m.src, m.dst]).toEqual([255, vbIndex, '192.0.2.1', '224.0.0.18']);
    expect(decodeVrrp(m.data.subarray(20), 4).addresses).toEqual(['192.0.2.101', '192.0.2.102']);

    rx.leave('224.0.0.18');
    let after = 0;
    rx.on('message', (x) => {
      if (x.dst === '224.0.0.18') after++;
    });
    // A unicast packet sent after the multicast one acts as a barrier: once it arrives, the multicast
    // one would have arrived too (same link, same order).
    const barrier = nextEvent<RawMessage>(rx, 'message', (x) => x.dst === '192.0.2.2');
    tx.send(pkt, '224.0.0.18');
    tx.send(encodeVrrpIpv4Packet({ advert: a, id: 2, src: '192.0.2.1', dst: '192.0.2.2' }), '192.0.2.2');
    await barrier;
    expect(after).toBe(0);
  });

  it('IPv4 unicast: TTL 255 and the unicast destination', async () => {
    const rx = keep(inNetns(lab.b, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'vb' })));
    const tx = keep(
      inNetns(lab.a, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'va', receive: false })),
    );
    const msg = encodeVrrp(advert(4, 3, 53, ['192.0.2.103']), { src: '192.0.2.1', dst: '192.0.2.2' });
    const got = nextEvent<RawMessage>(rx, 'message', (x) => x.dst === '192.0.2.2');
    tx.send(msg, '192.0.2.2');
    const m = await got;
    expect(m.data.subarray((m.data[0]! & 0x0f) * 4)).toEqual(msg);
    expect([m.ttl, m.ifindex, m.src]).toEqual([255, vbIndex, '192.0.2.1']);
  });

  it('IPv6 multicast ff02::12 from the link-local (IPV6_PKTINFO), kernel checksum, hop limit 255', async () => {
    const rx = keep(inNetns(lab.b, () => RawSocket.open({ family: 6, protocol: 112, ifname: 'vb' })));
    rx.join('ff02::12');
    const tx = keep(
      inNetns(lab.a, () => RawSocket.open({ family: 6, protocol: 112, ifname: 'va', receive: false })),
    );
    const a = advert(6, 3, 54, ['fe80::54', 'fd00::54']);
    const msg = encodeVrrp(a); // checksum left 0: IPV6_CHECKSUM=6 makes the kernel fill it
    const got = nextEvent<RawMessage>(rx, 'message');
    expect(tx.send(msg, 'ff02::12', { src: vaLinkLocal })).toBe(msg.length);
    const m = await got;
    expect(m.data.length).toBe(msg.length);
    expect(m.data.subarray(0, 6)).toEqual(msg.subarray(0, 6));
    expect(m.data.subarray(8)).toEqual(msg.subarray(8));
    expect(m.data.readUInt16BE(6)).not.toBe(0); // the kernel summed it (and the receiver verified it)
    expect(strip(decodeVrrp(m.data, 6))).toEqual(strip({ ...a, checksum: 0 }));
    expect([m.ttl, m.ifindex, m.src, m.dst]).toEqual([255, vbIndex, vaLinkLocal, 'ff02::12']);
    expect(m.tos).toBe(0xc0); // IPV6_TCLASS
  });

  it('IPv6 unicast to fd00::2 with a chosen global source', async () => {
    const rx = keep(inNetns(lab.b, () => RawSocket.open({ family: 6, protocol: 112, ifname: 'vb' })));
    const tx = keep(
      inNetns(lab.a, () => RawSocket.open({ family: 6, protocol: 112, ifname: 'va', receive: false })),
    );
    const msg = encodeVrrp(advert(6, 3, 55, ['fd00::55']));
    const got = nextEvent<RawMessage>(rx, 'message', (x) => x.dst === 'fd00::2');
    tx.send(msg, 'fd00::2', { src: 'fd00::1' });
    const m = await got;
    expect(decodeVrrp(m.data, 6).addresses).toEqual(['fd00::55']);
    expect([m.ttl, m.ifindex, m.src]).toEqual([255, vbIndex, 'fd00::1']);
  });

  it('NETLINK_ROUTE in a namespace: dump links (lo and va by name and index), port id', async () => {
    const nl = keep(inNetns(lab.a, () => NetlinkSocket.open(NETLINK_ROUTE)));
    expect(nl.portId).toBeGreaterThan(0);
    const links = (await nl.request(getLinkDump())).map(decodeLink);
    const lo = links.find((l) => l.name === 'lo');
    const va = links.find((l) => l.name === 'va');
    expect(lo?.ifindex).toBe(1);
    expect(va?.ifindex).toBe(vaIndex);
    expect(va?.kind).toBe('veth');
    expect(va?.mac).toBe(vaMac);
    expect(va?.mtu).toBe(1500);
    expect(links.map((l) => l.name).sort()).toEqual(['lo', 'va']);
    expect(inNetns(lab.a, () => ifIndexToName(vaIndex))).toBe('va');
  });

  it('netlink: multi-part dumps are collected to NLMSG_DONE; overlapping requests match by seq', async () => {
    const cmds: string[] = [];
    for (const net of ['198.51.100', '203.0.113']) {
      for (let i = 1; i <= 254; i++) cmds.push(`addr add ${net}.${i}/32 dev vb`);
    }
    execFileSync('ip', ['-n', lab.b, '-batch', '-'], { input: `${cmds.join('\n')}\n` });
    const nl = keep(inNetns(lab.b, () => NetlinkSocket.open(NETLINK_ROUTE)));
    // Two dumps and a single GETLINK in flight together.
    const [addrs, links, lo] = await Promise.all([
      nl.request(getAddrDump(4)),
      nl.request(getLinkDump()),
      nl.request({ type: RTM_GETLINK, flags: NLM_F_REQUEST, header: ifinfomsg({ index: 1 }), attrs: [] }),
    ]);
    const v4 = addrs.map(decodeAddr);
    const bytes = addrs.reduce((n, m) => n + 16 + m.payload.length, 0);
    process.stdout.write(`multi-part dump: ${v4.length} IPv4 addresses, ${bytes} bytes of messages\n`);
    expect(bytes).toBeGreaterThan(32768); // more than one kernel dump part (at most 32 KiB each)
    expect(v4.length).toBe(508 + 2); // + 127.0.0.1 and 192.0.2.2
    expect(new Set(v4.map((a) => a.address)).size).toBe(510);
    expect(
      links
        .map(decodeLink)
        .map((l) => l.name)
        .sort(),
    ).toEqual(['lo', 'vb']);
    expect(lo.map(decodeLink).map((l) => l.name)).toEqual(['lo']);
    expect(nl.pendingCount).toBe(0);
  });

  it('rtnetlink change + notification + kernel error with ext-ack', async () => {
    const ev = keep(
      inNetns(lab.a, () => NetlinkSocket.open(NETLINK_ROUTE, { groups: [RTNLGRP_IPV4_IFADDR] })),
    );
    const nl = keep(inNetns(lab.a, () => NetlinkSocket.open(NETLINK_ROUTE)));
    const spec = {
      family: 4 as const,
      ifindex: vaIndex,
      address: '192.0.2.11',
      prefixlen: 24,
      label: 'va:vip',
    };
    const seen = nextEvent<NlMsg>(ev, 'event', (m) => m.type === 20);
    expect(await nl.request(newAddr(spec))).toEqual([]);
    const n = decodeAddr(await seen);
    expect([n.address, n.prefixlen, n.ifindex, n.label, n.deleted]).toEqual([
      '192.0.2.11',
      24,
      vaIndex,
      'va:vip',
      false,
    ]);

    const err = (await nl.request(newAddr(spec)).catch((e: unknown) => e)) as SysError;
    expect(err.code).toBe(SysErrors.KA_ERR_SYS_NETLINK);
    expect(err.errno).toBe('EEXIST');
    expect(String(err.details.extAck ?? '')).toMatch(/already/i);

    const gone = nextEvent<NlMsg>(ev, 'event', (m) => m.type === 21);
    await nl.request(delAddr(spec));
    expect(decodeAddr(await gone).deleted).toBe(true);
    expect(nl.pendingCount).toBe(0);
  });

  it('the kernel accepts the VMAC, devconf, addr_gen_mode, up, route and rule encoders (and their deletes)', async () => {
    const nl = keep(inNetns(lab.a, () => NetlinkSocket.open(NETLINK_ROUTE)));
    await nl.request(newMacvlan({ name: 'vrrp.51', parentIndex: vaIndex, mac: '00:00:5e:00:01:33' }));
    const vmac = (await nl.request(getLinkDump())).map(decodeLink).find((l) => l.name === 'vrrp.51')!;
    expect([vmac.kind, vmac.parentIndex, vmac.mac]).toEqual(['macvlan', vaIndex, '00:00:5e:00:01:33']);
    await nl.request(
      setInetConf(vmac.ifindex, [
        [IPV4_DEVCONF_ARP_IGNORE, 1],
        [IPV4_DEVCONF_ACCEPT_LOCAL, 1],
      ]),
    );
    const sysctl = (name: string) =>
      execFileSync('ip', ['netns', 'exec', lab.a, 'sysctl', '-n', `net.ipv4.conf.vrrp/51.${name}`])
        .toString()
        .trim();
    expect([sysctl('arp_ignore'), sysctl('accept_local')]).toEqual(['1', '1']);
    await nl.request(setAddrGenMode(vmac.ifindex, IN6_ADDR_GEN_MODE_NONE));
    await nl.request(setLinkUp(vmac.ifindex));
    const up = (await nl.request(getLinkDump())).map(decodeLink).find((l) => l.ifindex === vmac.ifindex)!;
    expect(up.flags & IFF_UP).toBe(IFF_UP);

    const route = { family: 4 as const, dst: '198.51.100.0', dstLen: 24, gateway: '192.0.2.2', oif: vaIndex };
    await nl.request(newRoute(route));
    const routes = execFileSync('ip', ['-n', lab.a, 'route', 'show', 'proto', '18']).toString();
    expect(routes).toMatch(/198\.51\.100\.0\/24 via 192\.0\.2\.2 dev va/);
    const rule = { family: 4 as const, src: '192.0.2.1', srcLen: 32, table: 100, priority: 16384 };
    await nl.request(newRule(rule));
    expect(execFileSync('ip', ['-n', lab.a, 'rule', 'show']).toString()).toMatch(
      /16384:\s+from 192\.0\.2\.1 lookup 100/,
    );

    await nl.request(delRule(rule));
    await nl.request(delRoute(route));
    await nl.request(delLink(vmac.ifindex));
    expect(execFileSync('ip', ['-n', lab.a, 'rule', 'show']).toString()).not.toMatch(/lookup 100/);
    expect(execFileSync('ip', ['-n', lab.a, 'route', 'show', 'proto', '18']).toString().trim()).toBe('');
    expect((await nl.request(getLinkDump())).map(decodeLink).map((l) => l.name)).not.toContain('vrrp.51');
  });

  it('an overrun event socket (ENOBUFS) signals resync and keeps delivering', async () => {
    const ev = keep(
      inNetns(lab.a, () => NetlinkSocket.open(NETLINK_ROUTE, { groups: [RTNLGRP_LINK], rcvbuf: 0 })),
    );
    const resync = nextEvent<SysError>(ev, 'resync');
    // The event loop is blocked while `ip -batch` creates and deletes links, so notifications pile up
    // in the smallest receive buffer the kernel allows.
    const cmds: string[] = [];
    for (let i = 0; i < 100; i++)
      cmds.push(`link add ktd${i} type veth peer name kte${i}`, `link del ktd${i}`);
    execFileSync('ip', ['-n', lab.a, '-batch', '-'], { input: `${cmds.join('\n')}\n` });
    const e = await resync;
    expect([e.code, e.errno]).toEqual([SysErrors.KA_ERR_SYS_NETLINK_OVERRUN, 'ENOBUFS']);
    // 'resync' is emitted before the queued messages are drained (same poll callback); let that finish.
    await tick();
    // With the minimum buffer only the first notification of a burst fits (here: one of the pair).
    const later = nextEvent<NlMsg>(
      ev,
      'event',
      (m) => m.type === 16 && decodeLink(m).name.startsWith('ktafter'),
    );
    execFileSync('ip', ['-n', lab.a, 'link', 'add', 'ktafter', 'type', 'veth', 'peer', 'name', 'ktafter2']);
    expect(decodeLink(await later).kind).toBe('veth');
    execFileSync('ip', ['-n', lab.a, 'link', 'del', 'ktafter']);
  });

  it('NETLINK_GENERIC: resolves the nlctrl family (id 0x10) through genl-ctrl', async () => {
    const g = keep(inNetns(lab.a, () => NetlinkSocket.open(NETLINK_GENERIC)));
    const replies = await g.request(getFamilyRequest('nlctrl'));
    expect(replies).toHaveLength(1);
    const fam = decodeFamily(replies[0]!);
    expect([fam.id, fam.name]).toEqual([0x10, 'nlctrl']);
    expect(fam.mcastGroups.map((x) => x.name)).toContain('notify');
    const missing = (await g
      .request(getFamilyRequest('no-such-family'))
      .catch((e: unknown) => e)) as SysError;
    expect(missing.errno).toBe('ENOENT');
  });

  it('AF_PACKET: a gratuitous ARP frame sent on va is received on vb', async () => {
    const rx = keep(
      inNetns(lab.b, () => PacketSocket.open({ protocol: ETH_P_ARP, ifindex: vbIndex, receive: true })),
    );
    const tx = keep(inNetns(lab.a, () => PacketSocket.open({ protocol: ETH_P_ARP, ifindex: vaIndex })));
    const frame = gratuitousArpFrame(vaMac, '192.0.2.1');
    const got = nextEvent<PacketMessage>(rx, 'message', (x) => x.data.subarray(0, 42).equals(frame));
    expect(tx.send(frame)).toBe(42);
    const m = await got;
    expect([m.ifindex, m.protocol, m.pkttype]).toEqual([vbIndex, ETH_P_ARP, 1]); // PACKET_BROADCAST
    expect(decodeArp(m.data.subarray(14)).spa).toBe('192.0.2.1');
  });

  it('ICMPv6 raw socket: an unsolicited NA from fd00::1 to ff02::1 arrives with hop limit 255', async () => {
    const rx = keep(
      inNetns(lab.b, () => RawSocket.open({ family: 6, protocol: IPPROTO_ICMPV6, ifname: 'vb' })),
    );
    rx.join('ff02::1'); // IPV6_MULTICAST_ALL is off, so even all-nodes needs a socket-level join
    const tx = keep(
      inNetns(lab.a, () =>
        RawSocket.open({ family: 6, protocol: IPPROTO_ICMPV6, ifname: 'va', receive: false }),
      ),
    );
    const na = { router: false, solicited: false, override: true, target: 'fd00::1', tlla: vaMac };
    const body = encodeNeighbourAdvert(na, 'fd00::1', 'ff02::1');
    const got = nextEvent<RawMessage>(rx, 'message', (x) => x.data[0] === 136 && x.dst === 'ff02::1');
    expect(tx.send(body, 'ff02::1', { src: 'fd00::1' })).toBe(32);
    const m = await got;
    expect(decodeNeighbourAdvert(m.data, { src: m.src, dst: 'ff02::1' })).toEqual(na);
    expect([m.ttl, m.ifindex, m.src]).toEqual([255, vbIndex, 'fd00::1']);
  });

  it('errors carry the errno name: missing interface, namespace, index', () => {
    const e1 = (() => {
      try {
        inNetns(lab.a, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'nosuchif0' }));
      } catch (e) {
        return e as SysError;
      }
    })();
    expect(e1?.code).toBe(SysErrors.KA_ERR_SYS_CALL);
    expect(['ENODEV', 'ENXIO']).toContain(e1?.errno);
    expect(() => inNetns(`${lab.a}-missing`, () => 0)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    expect(() => ifIndexToName(0x7ffffff0)).toThrow(expect.objectContaining({ errno: 'ENXIO' }));
    expect(() => RawSocket.open({ family: 4, protocol: 112, bindAddress: '1.2.3' })).toThrow(
      expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }),
    );
  });

  it('AF_UNIX datagram to an abstract name (systemd NOTIFY_SOCKET style)', async () => {
    const name = `@${lab.a}-notify`;
    const rx = keep(UnixDatagramReceiver.listen(name));
    const got = nextEvent<Buffer>(rx, 'message');
    expect(sendUnixDatagram(name, Buffer.from('READY=1\nSTATUS=ok'))).toBe(17);
    expect((await got).toString()).toBe('READY=1\nSTATUS=ok');
    expect(() => sendUnixDatagram(`${name}-absent`, Buffer.from('x'))).toThrow(
      expect.objectContaining({ errno: 'ECONNREFUSED' }),
    );
  });
});
