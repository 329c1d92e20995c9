/** AF_UNIX datagrams: systemd's NOTIFY_SOCKET (a path, or an abstract name starting with '@'). */
import { sockaddrUn } from './abi.js';
import type { SysError } from './errors.js';
import { addon, k, type NativeSocket, sys, toSysError } from './native.js';
import { SysSocket } from './socket-base.js';

/** Sends one datagram to the socket at `path` and closes; throws SysError (ENOENT, ECONNREFUSED, ...). */
export function sendUnixDatagram(path: string, data: Buffer): number {
  const name = sockaddrUn(path);
  const n = addon();
  const sock = sys(() => new n.Socket(k('AF_UNIX'), k('SOCK_DGRAM'), 0));
  try {
    return sys(() => sock.sendmsg(data, name, null, 0), { path });
  } finally {
    sock.close();
  }
}

type UnixEvents = { message: [Buffer]; error: [SysError] };

/** A bound datagram receiver (tests stand in for systemd with it). */
export class UnixDatagramReceiver extends SysSocket<UnixEvents> {
  private constructor(sock: NativeSocket) {
    super(sock);
  }

  static listen(path: string): UnixDatagramReceiver {
    const name = sockaddrUn(path);
    const n = addon();
    const sock = sys(() => new n.Socket(k('AF_UNIX'), k('SOCK_DGRAM'), 0));
    try {
      sys(() => sock.bind(name), { path });
      const r = new UnixDatagramReceiver(sock);
      sys(() =>
        sock.startReceiving((err, data) => {
          if (err || !data) {
            if (r.listenerCount('error') > 0) r.emit('error', toSysError(err) as SysError);
            return;
          }
          r.emit('message', data);
        }),
      );
      return r;
    } catch (e) {
      sock.close();
      throw e;
    }
  }
}
