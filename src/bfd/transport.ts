/**
 * The I/O BFD needs (STYLE.md habit 6): listen on port 3784 per family, and one sender per session.
 * `UdpBfdTransport` (udp.ts) is the kernel one; `FakeBfdNetwork` below is an honest in-memory one
 * (delivery on the injected clock, TTL decremented per hop, loss) for tests without privilege.
 */
import type { Clock } from '../core/clock.js';

export interface BfdDatagram {
  readonly data: Buffer;
  readonly src: string;
  readonly srcPort: number;
  /** Destination address (IP_PKTINFO / IPV6_PKTINFO), when the kernel gave it. */
  readonly dst: string | undefined;
  /** Received TTL / hop limit, when the kernel gave it. */
  readonly ttl: number | undefined;
  readonly truncated: boolean;
}

export interface BfdListener {
  close(): void;
}

export interface BfdSender {
  /** Sends to `dst` port 3784; throws a KaError (SysError) on failure. */
  send(data: Buffer, dst: string): void;
  close(): void;
}

export interface BfdTransport {
  listen(family: 4 | 6, onDatagram: (d: BfdDatagram) => void, onError: (e: unknown) => void): BfdListener;
  sender(o: { family: 4 | 6; source: string | undefined; ttl: number; random: () => number }): BfdSender;
}

interface FakeNode {
  addrs: string[];
  listeners: Map<4 | 6, (d: BfdDatagram) => void>;
}

/** An in-memory network: nodes own addresses; datagrams arrive `delayUs` later with TTL - `hops`. */
export class FakeBfdNetwork {
  private readonly nodes: FakeNode[] = [];
  /** Drop every datagram from these source addresses. */
  readonly blocked = new Set<string>();
  hops = 0;
  sent = 0;

  constructor(
    private readonly clock: Clock,
    private readonly delayUs = 1000,
  ) {}

  /** A transport for the node owning `addrs` (the first of each family is its default source). */
  node(addrs: string[]): BfdTransport {
    const n: FakeNode = { addrs, listeners: new Map() };
    this.nodes.push(n);
    const fam = (a: string): 4 | 6 => (a.includes(':') ? 6 : 4);
    return {
      listen: (family, onDatagram) => {
        n.listeners.set(family, onDatagram);
        return { close: () => n.listeners.delete(family) };
      },
      sender: (o) => {
        let open = true;
        const src = o.source ?? addrs.find((a) => fam(a) === o.family) ?? '';
        return {
          send: (data, dst) => {
            if (!open) throw new Error('fake sender closed');
            this.sent++;
            if (this.blocked.has(src)) return;
            const to = this.nodes.find((x) => x.addrs.includes(dst));
            const copy = Buffer.from(data);
            this.clock.at(this.clock.now() + this.delayUs, () =>
              to?.listeners.get(o.family)?.({
                data: copy,
                src,
                srcPort: 49152,
                dst,
                ttl: o.ttl - this.hops,
                truncated: false,
              }),
            );
          },
          close: () => {
            open = false;
          },
        };
      },
    };
  }
}
