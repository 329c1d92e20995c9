/**
 * BFD's UDP sockets (RFC 5881 §4-5) on src/sys/udp-socket.ts, which reads the received TTL / hop
 * limit (IP_RECVTTL / IPV6_RECVHOPLIMIT control messages) that GTSM needs and node:dgram cannot.
 *
 * Listeners: one per family on port 3784, the IPv6 one IPV6_V6ONLY (keepalived uses one dual-stack
 * socket; two sockets give the same packets). Senders: one per session, bound to `source_ip` (or
 * any) and a random free port in 49152-65535 (RFC 5881 §4), TTL / hop limit from the config.
 */
import { UdpSocket } from '../sys/udp-socket.js';
import { BFD_PORT_SINGLE_HOP } from '../wire/bfd.js';
import type { BfdListener, BfdSender, BfdTransport } from './transport.js';

/** RFC 5881 §4: the source port MUST be in 49152-65535. */
export const BFD_SOURCE_PORT_MIN = 49152;
export const BFD_SOURCE_PORT_MAX = 65535;

/** BFD control packets are 24 bytes (+ authentication); longer reads are reported truncated. */
const RECEIVE_BUFFER = 512;

export class UdpBfdTransport implements BfdTransport {
  constructor(private readonly port = BFD_PORT_SINGLE_HOP) {}

  listen(
    family: 4 | 6,
    onDatagram: Parameters<BfdTransport['listen']>[1],
    onError: (e: unknown) => void,
  ): BfdListener {
    const sock = UdpSocket.open({
      family,
      recvTtl: true,
      recvPktinfo: true,
      ...(family === 6 ? { v6only: true } : {}),
    });
    try {
      sock.bind(undefined, this.port);
      sock.on('message', (m) =>
        onDatagram({
          data: m.data,
          src: m.src,
          srcPort: m.srcPort,
          dst: m.dst,
          ttl: m.ttl,
          truncated: m.truncated,
        }),
      );
      sock.on('error', onError);
      sock.startReceiving(RECEIVE_BUFFER);
    } catch (e) {
      sock.close();
      throw e;
    }
    return { close: () => sock.close() };
  }

  sender(o: { family: 4 | 6; source: string | undefined; ttl: number; random: () => number }): BfdSender {
    const sock = UdpSocket.open({ family: o.family, ttl: o.ttl });
    try {
      sock.bindInRange(o.source, BFD_SOURCE_PORT_MIN, BFD_SOURCE_PORT_MAX, o.random);
    } catch (e) {
      sock.close();
      throw e;
    }
    const port = this.port;
    return {
      send: (data, dst) => {
        sock.send(data, dst, port);
      },
      close: () => sock.close(),
    };
  }
}
