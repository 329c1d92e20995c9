/**
 * A socket carrying SO_MARK, handed over as a bare descriptor for node to adopt (`net.Socket({ fd })`,
 * dgram `bind({ fd })`): node opens its own sockets only at connect time and has no SO_MARK option.
 * The addon opens it (non-blocking, close-on-exec), sets the mark, binds it when asked (node cannot
 * bind an adopted UDP descriptor before connecting) and forgets it (`detach`). SO_MARK needs
 * CAP_NET_ADMIN (or CAP_NET_RAW, Linux 5.17+).
 */
import { sockaddrIn, sockaddrIn6 } from './abi.js';
import { SysError, SysErrors } from './errors.js';
import { addon, k, sys } from './native.js';

export interface MarkedBind {
  /** Local address (default: any). */
  addr?: string | undefined;
  /** Local port (default 0: the kernel picks). */
  port?: number | undefined;
}

/**
 * Opens a `type` socket of `family`, sets SO_MARK `mark` (0..2^32−1), binds it when `bind` is given,
 * and returns its descriptor, now owned by the caller. Throws SysError (errno EPERM without privilege,
 * EADDRINUSE, ...; KA_ERR_SYS_BAD_ARG for a bad argument); nothing stays open on failure.
 */
export function markedSocketFd(
  family: 4 | 6,
  type: 'stream' | 'dgram',
  mark: number,
  bind?: MarkedBind,
): number {
  const bad = (message: string): never => {
    throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, message, '', '', { family, type, mark });
  };
  if (family !== 4 && family !== 6) bad(`bad family ${String(family)}`);
  if (type !== 'stream' && type !== 'dgram') bad(`bad socket type ${String(type)}`);
  if (!(Number.isInteger(mark) && mark >= 0 && mark <= 0xffffffff)) bad(`bad mark ${String(mark)}`);
  const port = bind?.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) bad(`bad port ${String(port)}`);
  const sa =
    bind === undefined
      ? undefined
      : family === 4
        ? sockaddrIn(bind.addr ?? '0.0.0.0', port)
        : sockaddrIn6(bind.addr ?? '::', port);
  const n = addon();
  const ctx = { family, mark };
  const s = sys(
    () =>
      new n.Socket(
        k(family === 4 ? 'AF_INET' : 'AF_INET6'),
        k(type === 'stream' ? 'SOCK_STREAM' : 'SOCK_DGRAM'),
        0,
      ),
    ctx,
  );
  try {
    // the addon passes an int: marks above 2^31−1 go as their two's complement, the same 32 bits
    sys(() => s.setsockopt(k('SOL_SOCKET'), k('SO_MARK'), mark | 0), { ...ctx, option: 'SO_MARK' });
    if (sa) sys(() => s.bind(sa), { ...ctx, addr: bind?.addr, port });
    return sys(() => s.detach(), ctx);
  } finally {
    s.close(); // a no-op once detached
  }
}
