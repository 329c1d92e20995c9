/**
 * AF_PACKET SOCK_RAW sockets: send a complete Ethernet frame (gratuitous ARP, unsolicited NA) to an
 * interface, and optionally receive frames of one ethertype (tests, diagnostics).
 * Facts: shared/reference/wire-and-kernel.md §6.
 */
import { decodeSockaddrLl, sockaddrLl } from './abi.js';
import { SysError, SysErrors } from './errors.js';
import { addon, k, type NativeSocket, sys, toSysError } from './native.js';
import { SysSocket } from './socket-base.js';

export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ARPHRD_ETHER = 1;

export interface PacketSocketOptions {
  /** Ethertype the socket is opened (and bound) for, e.g. ETH_P_ARP. */
  protocol: number;
  /** Interface to bind to (receive only this interface's frames; default interface for send). */
  ifindex?: number;
  /** Emit 'message' for received frames. Default false (send-only). */
  receive?: boolean;
}

export interface PacketMessage {
  /** The whole frame, starting with the Ethernet header. */
  data: Buffer;
  ifindex: number;
  /** Ethertype from sockaddr_ll. */
  protocol: number;
  /** PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4. */
  pkttype: number;
  /** Source link-layer address. */
  addr: Buffer;
}

type PacketEvents = { message: [PacketMessage]; error: [SysError] };

export class PacketSocket extends SysSocket<PacketEvents> {
  readonly protocol: number;
  readonly ifindex: number;

  private constructor(sock: NativeSocket, protocol: number, ifindex: number) {
    super(sock);
    this.protocol = protocol;
    this.ifindex = ifindex;
  }

  static open(o: PacketSocketOptions): PacketSocket {
    if (!Number.isInteger(o.protocol) || o.protocol < 0 || o.protocol > 0xffff) {
      throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, `bad ethertype ${String(o.protocol)}`, '', 'socket');
    }
    const n = addon();
    const ctx = { protocol: o.protocol, ifindex: o.ifindex };
    // Opened with protocol 0 (receives nothing) and bound below, so no frame of another interface is
    // queued between socket() and bind().
    const sock = sys(() => new n.Socket(k('AF_PACKET'), k('SOCK_RAW'), 0), ctx);
    try {
      const ifindex = o.ifindex ?? 0;
      if (o.receive) {
        sys(() => sock.bind(sockaddrLl({ protocol: o.protocol, ifindex })), ctx);
      } else {
        sys(() => sock.setsockopt(k('SOL_SOCKET'), k('SO_RCVBUF'), 0), ctx);
      }
      const ps = new PacketSocket(sock, o.protocol, ifindex);
      if (o.receive) ps.startReceiving();
      return ps;
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  private startReceiving(): void {
    sys(() =>
      this.sock.startReceiving((err, data, name) => {
        if (err || !data || !name) {
          if (this.listenerCount('error') > 0) this.emit('error', toSysError(err) as SysError);
          return;
        }
        const ll = decodeSockaddrLl(name);
        this.emit('message', {
          data,
          ifindex: ll?.ifindex ?? 0,
          protocol: ll?.protocol ?? 0,
          pkttype: ll?.pkttype ?? 0,
          addr: ll?.addr ?? Buffer.alloc(0),
        });
      }),
    );
  }

  /**
   * Sends a full Ethernet frame on `ifindex` (default: the bound interface). `dstMac` fills
   * sockaddr_ll's address (informational for Ethernet; the frame's own header is what goes out).
   */
  send(frame: Buffer, o: { ifindex?: number; dstMac?: Buffer } = {}): number {
    const ifindex = o.ifindex ?? this.ifindex;
    const name = sockaddrLl({
      protocol: this.protocol,
      ifindex,
      hatype: ARPHRD_ETHER,
      addr: o.dstMac ?? frame.subarray(0, Math.min(6, frame.length)),
    });
    return sys(() => this.sock.sendmsg(frame, name, null, 0), { ifindex });
  }
}
