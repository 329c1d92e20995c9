/**
 * IpvsOps over the kernel's IPVS generic netlink family (wire-and-kernel.md §5), on the
 * NetlinkSocket transport of src/sys. Dumps are read to NLMSG_DONE by the transport; kernel errors
 * become KA_ERR_IPVS_KERNEL naming the operation, the service (and destination) and the errno.
 */
import { KaError } from '../core/errors.js';
import { isSysError, SysErrors } from '../sys/errors.js';
import { NETLINK_GENERIC, NetlinkSocket } from '../sys/netlink-socket.js';
import { decodeFamily, getFamilyRequest } from '../wire/genl-ctrl.js';
import {
  decodeConfigMsg,
  decodeDaemonMsg,
  decodeDestMsg,
  decodeInfoMsg,
  decodeServiceMsg,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  type IpvsDaemon,
  type IpvsInfo,
  type IpvsRequest,
  type IpvsTimeouts,
  ipvsRequest,
  serviceKeyString,
} from '../wire/ipvs.js';
import { genlHeader, type NlMsg } from '../wire/netlink.js';
import { IpvsErrors, IpvsWireErrors } from './errors.js';
import { type IpvsOp, type IpvsOps, type IpvsTable, ipvsKernelError } from './types.js';

/** Destination messages decoded between two event-loop turns when the table is read back. */
const DECODE_PER_TURN = 250;

/** Resolves a generic netlink family name to its (dynamic) id on `sock`. */
export type FamilyResolver = (sock: NetlinkSocket, name: string) => Promise<number>;

/** CTRL_CMD_GETFAMILY over `sock` (src/wire/genl-ctrl.ts). */
export const resolveGenlFamily: FamilyResolver = async (sock, name) => {
  const msgs = await sock.request(getFamilyRequest(name));
  const m = msgs[0];
  if (!m)
    throw new KaError(
      IpvsWireErrors.KA_ERR_IPVS_BAD_REPLY,
      `no reply resolving generic netlink family ${name}`,
      {},
    );
  return decodeFamily(m).id;
};

export interface NetlinkIpvsOptions {
  resolveFamily?: FamilyResolver;
  /** An open NETLINK_GENERIC socket to use (not closed by close()); default: a new one. */
  socket?: NetlinkSocket;
}

export class NetlinkIpvs implements IpvsOps {
  private constructor(
    private readonly sock: NetlinkSocket,
    readonly familyId: number,
    private readonly ownSocket: boolean,
  ) {}

  /** Opens a socket and resolves "IPVS"; a kernel without IPVS is KA_ERR_IPVS_NO_FAMILY. */
  static async open(o: NetlinkIpvsOptions = {}): Promise<NetlinkIpvs> {
    const sock = o.socket ?? NetlinkSocket.open(NETLINK_GENERIC);
    try {
      let id: number;
      try {
        id = await (o.resolveFamily ?? resolveGenlFamily)(sock, IPVS_GENL_NAME);
      } catch (e) {
        if (isSysError(e, 'ENOENT') || (e instanceof KaError && e.details.errno === 'ENOENT')) {
          throw new KaError(
            IpvsErrors.KA_ERR_IPVS_NO_FAMILY,
            'the kernel has no IPVS: generic netlink family "IPVS" not found (load it with `modprobe ip_vs`)',
            { family: IPVS_GENL_NAME },
            { cause: e },
          );
        }
        throw e;
      }
      return new NetlinkIpvs(sock, id, o.socket === undefined);
    } catch (e) {
      if (o.socket === undefined) sock.close();
      throw e;
    }
  }

  private async send(r: IpvsRequest, what: IpvsOp | string): Promise<NlMsg[]> {
    try {
      return await this.sock.request({
        type: this.familyId,
        flags: r.flags,
        header: genlHeader(r.cmd, IPVS_GENL_VERSION),
        attrs: r.attrs,
      });
    } catch (e) {
      if (isSysError(e) && e.errno !== '' && e.code === SysErrors.KA_ERR_SYS_NETLINK) {
        throw ipvsKernelError(what, e.errno, { extAck: e.details.extAck });
      }
      throw e;
    }
  }

  async readTable(): Promise<IpvsTable> {
    const t: IpvsTable = new Map();
    const svcs = (await this.send(ipvsRequest.dumpServices(), 'dump services')).map(decodeServiceMsg);
    // One dump at a time: issuing all at once (the transport queues them) showed no consistent gain
    // in the kernel VM bench and holds every reply in memory before decoding.
    for (const s of svcs) {
      const { stats, ...svc } = s;
      const key = serviceKeyString(svc);
      const msgs = await this.send(ipvsRequest.dumpDests(svc), `dump destinations of ${key}`);
      // decoded a few hundred per event-loop turn: a large service is not one long block of the thread
      const dests = [];
      for (let i = 0; i < msgs.length; i++) {
        dests.push(decodeDestMsg(msgs[i] as (typeof msgs)[number], svc.af));
        if ((i + 1) % DECODE_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      t.set(key, { svc, dests, stats });
    }
    return t;
  }

  /** Like readTable but keeps the kernel's per-dest counters (for tests and status output). */
  async readDests(svc: Parameters<typeof ipvsRequest.dumpDests>[0]) {
    const msgs = await this.send(ipvsRequest.dumpDests(svc), `dump destinations of ${serviceKeyString(svc)}`);
    return msgs.map((m) => decodeDestMsg(m, svc.af));
  }

  async apply(op: IpvsOp): Promise<void> {
    let r: IpvsRequest;
    switch (op.kind) {
      case 'add-service':
        r = ipvsRequest.newService(op.svc);
        break;
      case 'set-service':
        r = ipvsRequest.setService(op.svc);
        break;
      case 'del-service':
        r = ipvsRequest.delService(op.svc);
        break;
      case 'add-dest':
        r = ipvsRequest.newDest(op.svc, op.dest);
        break;
      case 'set-dest':
        r = ipvsRequest.setDest(op.svc, op.dest);
        break;
      case 'del-dest':
        r = ipvsRequest.delDest(op.svc, op.dest);
        break;
    }
    await this.send(r, op);
  }

  async info(): Promise<IpvsInfo> {
    const msgs = await this.send(ipvsRequest.getInfo(), 'get info');
    const m = msgs[0];
    if (!m) throw new KaError(IpvsWireErrors.KA_ERR_IPVS_BAD_REPLY, 'GET_INFO got no reply message', {});
    return decodeInfoMsg(m);
  }

  async listDaemons(): Promise<IpvsDaemon[]> {
    return (await this.send(ipvsRequest.dumpDaemons(), 'dump sync daemons')).map(decodeDaemonMsg);
  }

  async startDaemon(d: IpvsDaemon): Promise<void> {
    await this.send(ipvsRequest.newDaemon(d), `start sync daemon state ${d.state} on ${d.mcastIfn}`);
  }

  async stopDaemon(state: number): Promise<void> {
    await this.send(ipvsRequest.delDaemon(state), `stop sync daemon state ${state}`);
  }

  async timeouts(): Promise<IpvsTimeouts> {
    const m = (await this.send(ipvsRequest.getConfig(), 'get timeouts'))[0];
    if (!m) throw new KaError(IpvsWireErrors.KA_ERR_IPVS_BAD_REPLY, 'GET_CONFIG got no reply message', {});
    return decodeConfigMsg(m);
  }

  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<void> {
    await this.send(ipvsRequest.setConfig(t), 'set timeouts');
  }

  async flush(): Promise<void> {
    await this.send(ipvsRequest.flush(), 'flush');
  }

  close(): void {
    if (this.ownSocket) this.sock.close();
  }
}
