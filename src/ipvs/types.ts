/**
 * The IPVS model shared by the desired-state builder, the planner and the IpvsOps implementations:
 * a table of services with their destinations, the operations that change it, the I/O interface,
 * and the one error shape for a refused operation (same for the kernel and the in-memory fake).
 */
import { KaError } from '../core/errors.js';
import {
  destKeyString,
  type IpvsDaemon,
  type IpvsDest,
  type IpvsDestKey,
  type IpvsInfo,
  type IpvsService,
  type IpvsServiceKey,
  type IpvsStats,
  type IpvsTimeouts,
  serviceKeyString,
} from '../wire/ipvs.js';
import { IpvsErrors } from './errors.js';

export type { IpvsDaemon, IpvsDest, IpvsDestKey, IpvsService, IpvsServiceKey, IpvsStats, IpvsTimeouts };

/** Every scheduler a kernel can have (twos needs Linux >= 6.2). */
export const SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'mh',
  'twos',
] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

export interface TableService {
  svc: IpvsService;
  dests: IpvsDest[];
  /** Present in tables read from the kernel. */
  stats?: IpvsStats | undefined;
}

/** Services by serviceKeyString(). */
export type IpvsTable = Map<string, TableService>;

export type DestRef = IpvsDestKey & { af: IpvsDest['af'] };

export type IpvsOp =
  | { kind: 'add-service'; svc: IpvsService }
  | { kind: 'set-service'; svc: IpvsService }
  | { kind: 'del-service'; svc: IpvsServiceKey }
  | { kind: 'add-dest'; svc: IpvsServiceKey; dest: IpvsDest }
  | { kind: 'set-dest'; svc: IpvsServiceKey; dest: IpvsDest }
  | { kind: 'del-dest'; svc: IpvsServiceKey; dest: DestRef };

/** I/O boundary for IPVS (STYLE habit 6): the kernel over netlink, or an honest in-memory fake. */
export interface IpvsOps {
  readTable(): Promise<IpvsTable>;
  apply(op: IpvsOp): Promise<void>;
  info(): Promise<IpvsInfo>;
  listDaemons(): Promise<IpvsDaemon[]>;
  startDaemon(d: IpvsDaemon): Promise<void>;
  stopDaemon(state: number): Promise<void>;
  /** GET_CONFIG: connection timeouts (tcp, tcpfin, udp) in seconds. */
  timeouts(): Promise<IpvsTimeouts>;
  /** SET_CONFIG (lvs_timeouts); 0 or absent leaves a value unchanged. */
  setTimeouts(t: Partial<IpvsTimeouts>): Promise<void>;
  /** FLUSH: every service (lvs_flush, lvs_flush_on_stop). The reconciler itself never flushes. */
  flush(): Promise<void>;
}

export function tableOf(entries: Iterable<TableService>): IpvsTable {
  const t: IpvsTable = new Map();
  for (const e of entries) t.set(serviceKeyString(e.svc), e);
  return t;
}

export function describeOp(op: IpvsOp): string {
  const svc = serviceKeyString(op.svc);
  switch (op.kind) {
    case 'add-service':
    case 'set-service':
    case 'del-service':
      return `${op.kind} ${svc}`;
    default:
      return `${op.kind} ${destKeyString(op.dest)} in ${svc}`;
  }
}

const ERRNO_TEXT: Record<string, string> = {
  EEXIST: 'already exists',
  ESRCH: 'no such service',
  ENOENT: 'no such destination, scheduler or persistence engine',
  EINVAL: 'invalid argument (address not unicast, family mismatch or missing attribute)',
  EAFNOSUPPORT: 'address family not supported',
  EPERM: 'operation not permitted (needs CAP_NET_ADMIN)',
  EBUSY: 'busy',
  ENOMEM: 'out of memory',
};

/** What the errno means for this operation: the field at fault, in words. */
function hint(op: IpvsOp, errno: string): string | undefined {
  const svc = serviceKeyString(op.svc);
  const isSvc = op.kind === 'add-service' || op.kind === 'set-service' || op.kind === 'del-service';
  if (errno === 'ESRCH') return `service ${svc} does not exist`;
  if (isSvc) {
    if (errno === 'EEXIST') return `service ${svc} already exists`;
    if (errno === 'ENOENT' && op.kind !== 'del-service') {
      const pe = op.svc.pe ? ` or persistence engine "${op.svc.pe}"` : '';
      return `field scheduler: "${op.svc.sched}"${pe} is not available in this kernel`;
    }
    if (errno === 'EINVAL') return 'field netmask/flags/timeout rejected';
    return undefined;
  }
  const dest = destKeyString(op.dest);
  if (errno === 'EEXIST') return `destination ${dest} already exists`;
  if (errno === 'ENOENT') return `destination ${dest} does not exist`;
  if (errno === 'EINVAL') {
    return `field address: ${dest} not accepted (not unicast, family differs from the service without TUN, or lo is down)`;
  }
  return undefined;
}

/** The error for a refused operation: names the operation, the service (and dest) and the errno name. */
export function ipvsKernelError(
  op: IpvsOp | string,
  errno: string,
  extra: Record<string, unknown> = {},
): KaError {
  const what = typeof op === 'string' ? op : describeOp(op);
  const text = (typeof op === 'string' ? undefined : hint(op, errno)) ?? ERRNO_TEXT[errno] ?? 'refused';
  return new KaError(IpvsErrors.KA_ERR_IPVS_KERNEL, `IPVS ${what} failed: ${errno} (${text})`, {
    errno,
    op: what,
    ...extra,
  });
}
