/**
 * BFD's UDP sockets (RFC 5881 §4-5), opened through the native addon because node:dgram cannot read
 * the received TTL / hop limit (IP_RECVTTL / IPV6_RECVHOPLIMIT control messages) that GTSM needs.
 * Only existing addon calls are used (socket, setsockopt, bind, sendmsg, recvmsg with cmsgs).
 * It sits in src/bfd/ because src/sys/ is not BFD's to edit; it belongs in src/sys/ (udp-socket.ts).
 *
 * Listeners: one per family on port 3784, the IPv6 one IPV6_V6ONLY (keepalived uses one dual-stack
 * socket; two sockets give the same packets). Senders: one per session, bound to `source_ip` (or
 * any) and a port in 49152-65535 (RFC 5881 §4), TTL / hop limit from the config.
 */
import {
  decodeCmsgInt,
  decodeCmsgs,
  decodeIn6Pktinfo,
  decodeInPktinfo,
  decodeSockaddrInet,
  sockaddrIn,
  sockaddrIn6,
} from '../sys/abi.js';
import { addon, k, type NativeSocket, sys, toSysError } from '../sys/native.js';
import { BFD_PORT_SINGLE_HOP } from '../wire/bfd.js';
import type { BfdDatagram, BfdListener, BfdSender, BfdTransport } from './transport.js';

/** RFC 5881 §4: the source port MUST be in 49152-65535. */
export const BFD_SOURCE_PORT_MIN = 49152;
export const BFD_SOURCE_PORT_MAX = 65535;

function open(family: 4 | 6): NativeSocket {
  const n = addon();
  return sys(() => new n.Socket(k(family === 4 ? 'AF_INET' : 'AF_INET6'), k('SOCK_DGRAM'), 0), { family });
}

export class UdpBfdTransport implements BfdTransport {
  constructor(private readonly port = BFD_PORT_SINGLE_HOP) {}

  listen(family: 4 | 6, onDatagram: (d: BfdDatagram) => void, onError: (e: unknown) => void): BfdListener {
    const sock = open(family);
    try {
      const set = (level: string, opt: string, v: number) => sys(() => sock.setsockopt(k(level), k(opt), v));
      if (family === 4) {
        set('IPPROTO_IP', 'IP_RECVTTL', 1);
        set('IPPROTO_IP', 'IP_PKTINFO', 1);
        sys(() => sock.bind(sockaddrIn('0.0.0.0', this.port)), { port: this.port });
      } else {
        set('IPPROTO_IPV6', 'IPV6_V6ONLY', 1);
        set('IPPROTO_IPV6', 'IPV6_RECVHOPLIMIT', 1);
        set('IPPROTO_IPV6', 'IPV6_RECVPKTINFO', 1);
        sys(() => sock.bind(sockaddrIn6('::', this.port)), { port: this.port });
      }
      const lvl = k(family === 4 ? 'IPPROTO_IP' : 'IPPROTO_IPV6');
      const ttlType = k(family === 4 ? 'IP_TTL' : 'IPV6_HOPLIMIT');
      const pktType = k(family === 4 ? 'IP_PKTINFO' : 'IPV6_PKTINFO');
      const truncFlag = k('MSG_TRUNC');
      const sizeT = k('SIZEOF_SIZE_T');
      sys(() =>
        sock.startReceiving((err, data, name, control, flags) => {
          if (err || !data || !name || !control) {
            onError(toSysError(err));
            return;
          }
          const from = decodeSockaddrInet(name);
          let ttl: number | undefined;
          let dst: string | undefined;
          for (const c of decodeCmsgs(control, sizeT)) {
            if (c.level !== lvl) continue;
            if (c.type === ttlType) ttl = decodeCmsgInt(c.data);
            else if (c.type === pktType)
              dst = (family === 4 ? decodeInPktinfo(c.data) : decodeIn6Pktinfo(c.data))?.dst;
          }
          onDatagram({
            data,
            src: from?.addr ?? '',
            srcPort: from?.port ?? 0,
            dst,
            ttl,
            truncated: ((flags ?? 0) & truncFlag) !== 0,
          });
        }, 512),
      );
    } catch (e) {
      sock.close();
      throw e;
    }
    return { close: () => sock.close() };
  }

  sender(o: { family: 4 | 6; source: string | undefined; ttl: number; random: () => number }): BfdSender {
    const sock = open(o.family);
    try {
      const set = (level: string, opt: string, v: number) => sys(() => sock.setsockopt(k(level), k(opt), v));
      if (o.family === 4) set('IPPROTO_IP', 'IP_TTL', o.ttl);
      else set('IPPROTO_IPV6', 'IPV6_UNICAST_HOPS', o.ttl);
      const any = o.family === 4 ? '0.0.0.0' : '::';
      const span = BFD_SOURCE_PORT_MAX - BFD_SOURCE_PORT_MIN + 1;
      const first = Math.floor(o.random() * span);
      // A random port of the range, then the next ones while taken (EADDRINUSE).
      for (let i = 0; ; i++) {
        const port = BFD_SOURCE_PORT_MIN + ((first + i) % span);
        const sa = o.family === 4 ? sockaddrIn(o.source ?? any, port) : sockaddrIn6(o.source ?? any, port);
        try {
          sys(() => sock.bind(sa), { source: o.source, port });
          break;
        } catch (e) {
          if (i + 1 >= span || (e as { errno?: string }).errno !== 'EADDRINUSE') throw e;
        }
      }
    } catch (e) {
      sock.close();
      throw e;
    }
    const port = this.port;
    return {
      send: (data, dst) =>
        sys(
          () => sock.sendmsg(data, o.family === 4 ? sockaddrIn(dst, port) : sockaddrIn6(dst, port), null, 0),
          {
            dst,
          },
        ),
      close: () => sock.close(),
    };
  }
}
