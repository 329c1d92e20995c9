import { defineCodes, KaError } from '../core/errors.js';

/** Error codes of src/sys/ (the addon wrapper, sockets, netlink transport); documented in docs/errors/sys.md. */
export const SysErrors = defineCodes('sys', {
  KA_ERR_SYS_ADDON: 'the native addon could not be loaded (not built, or built for another Node ABI)',
  KA_ERR_SYS_CALL:
    'a system call failed; `errno` names the error (ENODEV, EPERM, ...) and `syscall` the call',
  KA_ERR_SYS_BAD_ARG:
    'an argument cannot be turned into a system call argument (bad address, interface name, ...)',
  KA_ERR_SYS_CLOSED: 'the socket was closed (before or while an operation was pending)',
  KA_ERR_SYS_NETLINK:
    'the kernel answered a netlink request with an error; `errno` and the ext-ack message say why',
  KA_ERR_SYS_NETLINK_OVERRUN:
    'the netlink socket overran (ENOBUFS) while a request was pending; its reply may be lost',
  KA_ERR_SYS_NETLINK_DUMP_INTR:
    'a netlink dump was interrupted by a concurrent change (NLM_F_DUMP_INTR); repeat it',
});

/** A KaError that also carries the errno name and the failing system call. */
export class SysError extends KaError {
  /** errno name, e.g. 'ENODEV' ('' when the failure is not an errno). */
  readonly errno: string;
  readonly syscall: string;
  constructor(
    code: string,
    message: string,
    errno: string,
    syscall: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(code, message, { ...details, errno, syscall }, options);
    this.name = 'SysError';
    this.errno = errno;
    this.syscall = syscall;
  }
}

export function isSysError(e: unknown, errno?: string): e is SysError {
  return e instanceof SysError && (errno === undefined || e.errno === errno);
}
