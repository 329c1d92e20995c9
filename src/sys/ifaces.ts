/** Interface name ↔ index (in the calling thread's network namespace). */
import { SysError, SysErrors } from './errors.js';
import { addon, sys } from './native.js';

/** if_nametoindex(3); throws SysError with errno ENODEV for an unknown name. */
export function ifNameToIndex(name: string): number {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SysError(
      SysErrors.KA_ERR_SYS_BAD_ARG,
      `bad interface name ${JSON.stringify(name)}`,
      '',
      'if_nametoindex',
    );
  }
  return sys(() => addon().ifNameToIndex(name), { ifname: name });
}

/** if_indextoname(3); throws SysError with errno ENXIO for an unknown index. */
export function ifIndexToName(index: number): string {
  if (!Number.isInteger(index) || index <= 0 || index > 0xffffffff) {
    throw new SysError(
      SysErrors.KA_ERR_SYS_BAD_ARG,
      `bad interface index ${String(index)}`,
      '',
      'if_indextoname',
    );
  }
  return sys(() => addon().ifIndexToName(index), { ifindex: index });
}
