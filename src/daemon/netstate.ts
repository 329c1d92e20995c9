/**
 * The daemon's view of links and addresses: one rtnetlink dump at start, then RTNLGRP_LINK /
 * IPV4_IFADDR / IPV6_IFADDR notifications (no polling). On ENOBUFS (notifications lost) it dumps
 * again. A second socket carries commands (VIP add/remove, VMAC links), so replies and events never mix.
 */
import { EventEmitter } from 'node:events';
import type { Counters } from '../core/counters.js';
import { type Logger, silentLogger } from '../core/log.js';
import { NETLINK_ROUTE, NetlinkSocket } from '../sys/netlink-socket.js';
import type { NlMsg } from '../wire/netlink.js';
import {
  type AddrInfo,
  decodeRtnl,
  getAddrDump,
  getLinkDump,
  IFA_F_SECONDARY,
  IFF_RUNNING,
  IFF_UP,
  type LinkInfo,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_LINK,
  type RtRequest,
} from '../wire/rtnetlink.js';

type NetStateEvents = {
  /** A link appeared, changed or went away (`now.deleted`). `before` is undefined for a new link. */
  link: [now: LinkInfo, before: LinkInfo | undefined];
  /**
   * An address was added or removed. `own`: the change answers a request of this NetState's command
   * socket (the kernel puts the requester's port id in the notification), as keepalived tells its
   * own VIP changes from others' (`-a` logs only the others).
   */
  addr: [a: AddrInfo, own: boolean];
};

/** keepalived's notion of "up": IFF_UP and IFF_RUNNING both set. */
export const linkIsUp = (l: LinkInfo | undefined): boolean =>
  l !== undefined && !l.deleted && (l.flags & (IFF_UP | IFF_RUNNING)) === (IFF_UP | IFF_RUNNING);

export class NetState extends EventEmitter<NetStateEvents> {
  private readonly links = new Map<number, LinkInfo>();
  private readonly addrs = new Map<number, AddrInfo[]>();

  private constructor(
    private readonly cmd: NetlinkSocket,
    private readonly events: NetlinkSocket,
    private readonly log: Logger,
    private readonly counters: Counters | undefined,
  ) {
    super();
  }

  static async open(o: { log?: Logger; counters?: Counters } = {}): Promise<NetState> {
    const cmd = NetlinkSocket.open(NETLINK_ROUTE);
    let events: NetlinkSocket;
    try {
      events = NetlinkSocket.open(NETLINK_ROUTE, {
        groups: [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
        rcvbuf: 4 << 20,
      });
    } catch (e) {
      cmd.close();
      throw e;
    }
    const s = new NetState(cmd, events, o.log ?? silentLogger, o.counters);
    events.on('event', (m) => s.onMessage(m, true));
    events.on('resync', () => {
      s.counters?.inc('netlink.resync');
      s.log.warn('netlink notifications lost (ENOBUFS); dumping links and addresses again');
      s.dump().catch((e) => s.log.error({ err: e }, 'netlink re-dump failed'));
    });
    events.on('error', (e) => {
      s.counters?.inc('netlink.bad_event');
      s.log.warn({ err: e }, 'bad netlink notification ignored');
    });
    try {
      await s.dump();
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** Sends a command on the command socket (VIPs, links); rejects with the kernel's error. */
  request(req: RtRequest): Promise<NlMsg[]> {
    return this.cmd.request(req);
  }

  link(nameOrIndex: string | number): LinkInfo | undefined {
    if (typeof nameOrIndex === 'number') return this.links.get(nameOrIndex);
    for (const l of this.links.values()) if (l.name === nameOrIndex) return l;
    return undefined;
  }

  addresses(ifindex: number): readonly AddrInfo[] {
    return this.addrs.get(ifindex) ?? [];
  }

  /** The interface's primary IPv4 address: the first without IFA_F_SECONDARY. */
  primaryIpv4(ifindex: number): string | undefined {
    return this.addresses(ifindex).find((a) => a.family === 4 && !(a.flags & IFA_F_SECONDARY))?.address;
  }

  /** The interface's IPv6 link-local address (VRRPv3 IPv6 adverts use it as source). */
  linkLocalIpv6(ifindex: number): string | undefined {
    return this.addresses(ifindex).find((a) => a.family === 6 && a.address.toLowerCase().startsWith('fe80:'))
      ?.address;
  }

  hasAddress(ifindex: number, address: string): boolean {
    return this.addresses(ifindex).some((a) => a.address === address);
  }

  close(): void {
    this.cmd.close();
    this.events.close();
  }

  private async dump(): Promise<void> {
    const links = await this.cmd.request(getLinkDump());
    const addrs = await this.cmd.request(getAddrDump(0));
    const seen = new Set<number>();
    for (const m of links) {
      const ev = this.decode(m);
      if (ev?.kind === 'link') seen.add(ev.link.ifindex);
      if (ev) this.apply(ev, true);
    }
    for (const [ifindex, l] of this.links) {
      if (!seen.has(ifindex)) this.apply({ kind: 'link', link: { ...l, deleted: true } }, true);
    }
    this.addrs.clear();
    for (const m of addrs) {
      const ev = this.decode(m);
      if (ev) this.apply(ev, false);
    }
  }

  private decode(m: NlMsg): ReturnType<typeof decodeRtnl> {
    try {
      return decodeRtnl(m);
    } catch (e) {
      this.counters?.inc('netlink.bad_event');
      this.log.warn({ err: e }, 'undecodable rtnetlink message ignored');
      return undefined;
    }
  }

  private onMessage(m: NlMsg, emit: boolean): void {
    const ev = this.decode(m);
    if (ev) this.apply(ev, emit, m.pid !== 0 && m.pid === this.cmd.portId);
  }

  private apply(ev: NonNullable<ReturnType<typeof decodeRtnl>>, emit: boolean, own = false): void {
    if (ev.kind === 'link') {
      const before = this.links.get(ev.link.ifindex);
      if (ev.link.deleted) {
        this.links.delete(ev.link.ifindex);
        this.addrs.delete(ev.link.ifindex);
      } else {
        this.links.set(ev.link.ifindex, ev.link);
      }
      if (emit) this.emit('link', ev.link, before);
      return;
    }
    const a = ev.addr;
    const list = (this.addrs.get(a.ifindex) ?? []).filter(
      (x) => !(x.family === a.family && x.address === a.address && x.prefixlen === a.prefixlen),
    );
    if (!a.deleted) list.push(a);
    this.addrs.set(a.ifindex, list);
    if (emit) this.emit('addr', a, own);
  }
}
