/**
 * An honest in-memory IPVS (STYLE habit 6): the same IpvsOps interface with the kernel's refusal
 * rules (§5.2): NEW_SERVICE on an existing one -> EEXIST; SET/DEL_SERVICE or any dest command on a
 * missing service -> ESRCH; NEW_DEST on an existing dest -> EEXIST; SET/DEL_DEST on a missing dest ->
 * ENOENT; unknown scheduler -> ENOENT; dest family != service family without TUNNEL -> EINVAL.
 * Each service carries counters that only a delete resets, so tests can prove a reload kept them.
 */
import { Fwd, type IpvsDaemon, type IpvsInfo, type IpvsTimeouts, serviceKeyString } from '../wire/ipvs.js';
import {
  type IpvsOp,
  type IpvsOps,
  type IpvsTable,
  ipvsKernelError,
  SCHEDULERS,
  type TableService,
} from './types.js';

interface FakeService extends TableService {
  /** Bumped when the service is created; lets tests see a delete+create. */
  generation: number;
}

export class FakeIpvs implements IpvsOps {
  readonly services = new Map<string, FakeService>();
  readonly daemons: IpvsDaemon[] = [];
  readonly log: IpvsOp[] = [];
  /** How many times the table was read back (tests count them). */
  reads = 0;
  /**
   * Test hook: an errno name for an operation makes it refused, the table unchanged, as the kernel
   * refuses (a failing allocation, a module that cannot load); undefined lets it through.
   */
  refuse: ((op: IpvsOp) => string | undefined) | undefined;
  private gen = 0;
  private readonly timeoutValues: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  constructor(private readonly schedulers: readonly string[] = SCHEDULERS.filter((s) => s !== 'twos')) {}

  async readTable(): Promise<IpvsTable> {
    this.reads++;
    const t: IpvsTable = new Map();
    for (const [k, s] of this.services) {
      t.set(k, {
        svc: { ...s.svc },
        dests: s.dests.map((d) => ({ ...d })),
        stats: s.stats ? { ...s.stats } : undefined,
      });
    }
    return t;
  }

  async info(): Promise<IpvsInfo> {
    return { version: 0x00010201, connTabSize: 4096 };
  }

  /** Simulates traffic on a service (conns counter). */
  touch(key: string, conns: bigint): void {
    const s = this.services.get(key);
    if (s?.stats) s.stats.conns += conns;
  }

  generationOf(key: string): number | undefined {
    return this.services.get(key)?.generation;
  }

  async apply(op: IpvsOp): Promise<void> {
    const key = serviceKeyString(op.svc);
    const s = this.services.get(key);
    const refused = this.refuse?.(op);
    if (refused) throw ipvsKernelError(op, refused);
    switch (op.kind) {
      case 'add-service':
        if (s) throw ipvsKernelError(op, 'EEXIST');
        if (!this.schedulers.includes(op.svc.sched))
          throw ipvsKernelError(op, 'ENOENT', { field: 'scheduler' });
        this.services.set(key, {
          svc: { ...op.svc },
          dests: [],
          stats: {
            conns: 0n,
            inpkts: 0n,
            outpkts: 0n,
            inbytes: 0n,
            outbytes: 0n,
            cps: 0n,
            inpps: 0n,
            outpps: 0n,
            inbps: 0n,
            outbps: 0n,
          },
          generation: ++this.gen,
        });
        break;
      case 'set-service':
        if (!s) throw ipvsKernelError(op, 'ESRCH');
        if (!this.schedulers.includes(op.svc.sched))
          throw ipvsKernelError(op, 'ENOENT', { field: 'scheduler' });
        s.svc = { ...op.svc };
        break;
      case 'del-service':
        if (!s) throw ipvsKernelError(op, 'ESRCH');
        this.services.delete(key);
        break;
      default: {
        if (!s) throw ipvsKernelError(op, 'ESRCH');
        const i = s.dests.findIndex((d) => d.addr === op.dest.addr && d.port === op.dest.port);
        if (op.kind === 'del-dest') {
          if (i < 0) throw ipvsKernelError(op, 'ENOENT');
          s.dests.splice(i, 1);
          break;
        }
        if (op.dest.af !== s.svc.af && op.dest.fwd !== Fwd.TUNNEL)
          throw ipvsKernelError(op, 'EINVAL', { field: 'af' });
        if (op.kind === 'add-dest') {
          if (i >= 0) throw ipvsKernelError(op, 'EEXIST');
          s.dests.unshift({ ...op.dest }); // the kernel lists dests newest first
        } else {
          if (i < 0) throw ipvsKernelError(op, 'ENOENT');
          s.dests[i] = { ...op.dest };
        }
      }
    }
    this.log.push(op);
  }

  async listDaemons(): Promise<IpvsDaemon[]> {
    return this.daemons.map((d) => ({ ...d }));
  }

  async startDaemon(d: IpvsDaemon): Promise<void> {
    if (this.daemons.some((x) => x.state === d.state))
      throw ipvsKernelError(`start sync daemon state ${d.state}`, 'EEXIST');
    this.daemons.push({ ...d });
  }

  async timeouts(): Promise<IpvsTimeouts> {
    return { ...this.timeoutValues };
  }

  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> {
    // The kernel ignores zero (keeps the current value).
    if (t.tcp) this.timeoutValues.tcp = t.tcp;
    if (t.tcpFin) this.timeoutValues.tcpFin = t.tcpFin;
    if (t.udp) this.timeoutValues.udp = t.udp;
  }

  async flush(): Promise<void> {
    this.services.clear();
  }

  async stopDaemon(state: number): Promise<void> {
    const i = this.daemons.findIndex((x) => x.state === state);
    if (i < 0) throw ipvsKernelError(`stop sync daemon state ${state}`, 'ESRCH');
    this.daemons.splice(i, 1);
  }
}
