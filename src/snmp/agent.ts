/**
 * keepalived's SNMP sub-agent: connects to the AgentX master (snmpd) on `snmp_socket`, registers the
 * subtrees it is given (KEEPALIVED-MIB global, vrrp, check; VRRP-MIB; VRRPv3-MIB), and answers Get, GetNext
 * and GetBulk from a view of the daemon taken when each request arrives. It reconnects when the
 * master goes away and never lets a broken master reach the daemon: failures are logged, counted
 * under their KA_ERR_SNMP_* code and retried.
 *
 * net-snmp's Subagent provides the AgentX transport and PDU codec (Open, Register, AddAgentCaps,
 * Notify, Response). Request handling is ours: the library's Mib store keeps one value per table
 * cell and cannot leave out a cell keepalived leaves out (an unset script) nor index a table by
 * another table's index (vrrpAddressTable), and its request path reads one PDU per socket read.
 */
import type { Socket } from 'node:net';
import snmp from 'net-snmp';
import { KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { SnmpErrors } from './errors.js';
import {
  findExact,
  findNext,
  GLOBAL_OID,
  type KeepalivedMibInput,
  keepalivedVarbinds,
  type Oid,
  oidText,
  parseOid,
  type Varbind,
  VRRP_OID,
} from './keepalived-mib.js';
import { VRRP_MIB_OID, VRRPV3_MIB_OID } from './vrrp-rfc-mib.js';

/** Where the master listens: a unix socket path or a TCP host and port. */
export type MasterAddress = { readonly path: string } | { readonly host: string; readonly port: number };

export const DEFAULT_SNMP_SOCKET = 'unix:/var/agentx/master';

/**
 * snmp_socket / -A as net-snmp reads an AgentX transport: `unix:PATH` or `/PATH`, `tcp:HOST[:PORT]`,
 * `tcp6:[ADDR][:PORT]` or `HOST:PORT` (port 705 when left out).
 */
export function parseSnmpSocket(spec: string): MasterAddress {
  const bad = () =>
    new KaError(
      SnmpErrors.KA_ERR_SNMP_SOCKET_SPEC,
      `snmp_socket ${spec}: not a unix or tcp AgentX transport`,
      {
        spec,
      },
    );
  const s = spec.trim();
  if (s.startsWith('/')) return { path: s };
  const m = /^([a-z0-9]+):(.*)$/i.exec(s);
  const proto = m?.[1]?.toLowerCase();
  if (proto === 'unix') {
    if (!m?.[2]) throw bad();
    return { path: m[2] };
  }
  const rest = proto === 'tcp' || proto === 'tcp6' ? (m?.[2] ?? '') : s;
  if (proto !== undefined && proto !== 'tcp' && proto !== 'tcp6' && !/^\d+$/.test(m?.[2] ?? '')) throw bad();
  const hp = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(rest);
  if (!hp?.[1]) throw bad();
  const port = hp[2] === undefined ? 705 : Number(hp[2]);
  if (port < 1 || port > 65535) throw bad();
  return { host: hp[1], port };
}

const T = snmp.ObjectType;
const P = snmp.AgentXPduType;
const AGENTX_HEADER = 20;
/** Larger than any request a master sends; a header claiming more is garbage. */
const MAX_PDU = 1 << 20;
const NETWORK_BYTE_ORDER = 0x10;
/** AgentX Response error values (RFC 2741 §6.2.16). */
const AGENTX_GEN_ERR = 5;
const AGENTX_NOT_WRITABLE = 17;

/**
 * net-snmp 3.29.2 writes an OCTET STRING with SmartBuffer.writeString: a Buffer throws and a
 * non-ASCII string gets a length that is not its byte count. KEEPALIVED-MIB's InetAddress objects are
 * binary, so the writer is replaced, once, by one that writes the bytes and their count.
 */
function fixOctetStringWriter(): void {
  const pdu = snmp.AgentXPdu as typeof snmp.AgentXPdu & { kaFixed?: true };
  if (pdu.kaFixed) return;
  pdu.writeOctetString = (buffer, value) => {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    buffer.writeUInt32BE(bytes.length);
    buffer.writeBuffer(bytes);
    buffer.writeBuffer(Buffer.alloc((4 - (bytes.length % 4)) % 4));
  };
  // its IpAddress case calls writeOctetString on the SmartBuffer (which has none): written here
  const writeVarBind = pdu.writeVarBind.bind(pdu);
  pdu.writeVarBind = (buffer, vb) => {
    if (vb.type !== T.IpAddress) return writeVarBind(buffer, vb);
    buffer.writeUInt16BE(vb.type);
    buffer.writeUInt16BE(0);
    pdu.writeOid(buffer, vb.oid);
    pdu.writeOctetString(buffer, Buffer.from(String(vb.value).split('.').map(Number)));
  };
  pdu.kaFixed = true;
}

/** One search range of a Get/GetNext/GetBulk with its include flag (which net-snmp's reader drops). */
interface Range {
  readonly start: Oid;
  readonly include: boolean;
  readonly end: Oid | undefined;
}

/**
 * The search ranges of a Get, GetNext or GetBulk PDU read from its bytes (RFC 2741 §5.2): the
 * library's decoder keeps start and end but not `include`. Written by hand for that one bit.
 */
export function readSearchRanges(frame: Buffer): Range[] {
  const le = (frame[2]! & NETWORK_BYTE_ORDER) === 0;
  const u32 = (o: number) => (le ? frame.readUInt32LE(o) : frame.readUInt32BE(o));
  const type = frame[1];
  const payloadEnd = AGENTX_HEADER + u32(16);
  if (payloadEnd > frame.length) throw new RangeError('payload beyond frame');
  let o = AGENTX_HEADER + (type === P.GetBulk ? 4 : 0);
  const readOid = (): { oid: Oid; include: boolean } => {
    if (o + 4 > payloadEnd) throw new RangeError('truncated OID');
    const n = frame[o]!;
    const prefix = frame[o + 1]!;
    const include = frame[o + 2] === 1;
    o += 4;
    if (o + 4 * n > payloadEnd) throw new RangeError('truncated OID');
    const sub: number[] = prefix ? [1, 3, 6, 1, prefix] : [];
    for (let i = 0; i < n; i++, o += 4) sub.push(u32(o));
    return { oid: sub, include };
  };
  const out: Range[] = [];
  while (o < payloadEnd) {
    const s = readOid();
    const e = readOid();
    out.push({ start: s.oid, include: s.include, end: e.oid.length > 0 ? e.oid : undefined });
  }
  return out;
}

const LIB_TYPE: Readonly<Record<Varbind['type'], number>> = {
  integer: T.Integer as number,
  gauge: T.Gauge as number,
  octets: T.OctetString as number,
  counter: T.Counter as number,
  counter64: T.Counter64 as number,
  timeticks: T.TimeTicks as number,
  ipaddress: T.IpAddress as number,
};

/** A varbind for net-snmp's encoder (an IpAddress as its dotted text, which the encoder splits). */
const libVarbind = (v: Varbind): snmp.AgentXVarbind => ({
  oid: oidText(v.oid),
  type: LIB_TYPE[v.type],
  value: v.type === 'ipaddress' && Buffer.isBuffer(v.value) ? [...v.value].join('.') : v.value,
});

const endOfMib = (oid: Oid): snmp.AgentXVarbind => ({
  oid: oidText(oid),
  type: T.EndOfMibView as number,
  value: null,
});

/**
 * The response varbinds of a Get, GetNext or GetBulk over `binds` (RFC 2741 §7.2.3): Get answers
 * noSuchObject where nothing is, GetNext and GetBulk endOfMibView.
 */
export function answer(
  type: number,
  ranges: readonly Range[],
  binds: readonly Varbind[],
  nonRepeaters = 0,
  maxRepetitions = 0,
): snmp.AgentXVarbind[] {
  const next = (r: Range): snmp.AgentXVarbind => {
    const b = findNext(binds, r.start, r.include, r.end);
    return b ? libVarbind(b) : endOfMib(r.start);
  };
  if (type === P.Get)
    return ranges.map((r) => {
      const b = findExact(binds, r.start);
      return b ? libVarbind(b) : { oid: oidText(r.start), type: T.NoSuchObject as number, value: null };
    });
  if (type === P.GetNext) return ranges.map(next);
  // GetBulk: the non-repeaters once, then the repeaters round by round from where each stopped.
  const out = ranges.slice(0, nonRepeaters).map(next);
  let cursor = ranges.slice(nonRepeaters);
  for (let rep = 0; rep < maxRepetitions && cursor.length > 0; rep++) {
    const row = cursor.map(next);
    out.push(...row);
    if (row.every((v) => v.type === T.EndOfMibView)) break;
    cursor = cursor.map((r, i) => ({ start: parseOid(row[i]!.oid), include: false, end: r.end }));
  }
  return out;
}

export interface SnmpAgentOptions {
  /** snmp_socket / -A (default unix:/var/agentx/master). */
  readonly socket?: string;
  /** First reconnect delay; doubles up to `retryMaxMs` (defaults 1 s and 30 s). */
  readonly retryMs?: number;
  readonly retryMaxMs?: number;
  /** How long the master may take to answer Open and Register (default 5 s). */
  readonly answerTimeoutMs?: number;
  /** AgentX Open description. */
  readonly description?: string;
  /** Subtrees to register (default: KEEPALIVED-MIB global and vrrp, as keepalived's VRRP process). */
  readonly regions?: readonly Oid[];
  /**
   * How long one view of the daemon answers requests (default 500 ms): a walk is one GetNext per
   * object, and building the view is linear in the instances, so each request must not rebuild it.
   */
  readonly viewTtlMs?: number;
  /** Monotonic milliseconds (default performance.now). */
  readonly nowMs?: () => number;
  /** The objects served, from one view (default: KEEPALIVED-MIB's global and vrrp groups). */
  readonly build?: (view: KeepalivedMibInput) => Varbind[];
}

/** Counter interface: src/core/counters.ts's Counters fits. */
interface CounterSink {
  inc(name: string, by?: number): void;
}

/** keepalived's sysORTable description of each subtree it registers. */
function regionDescr(oid: Oid): string {
  const t = oidText(oid);
  if (t === oidText(GLOBAL_OID)) return 'The MIB module for Keepalived';
  if (t === oidText(VRRP_OID)) return 'The MIB module for KEEPALIVED-VRRP';
  if (t === oidText(VRRP_MIB_OID)) return 'The MIB module for VRRP';
  if (t === oidText(VRRPV3_MIB_OID)) return 'The MIB module for VRRPV3';
  return `The MIB module for ${t}`;
}

/**
 * The sub-agent. `start()` connects in the background and keeps a session open until `stop()`;
 * `view()` is called once per request PDU from the master.
 */
export class SnmpAgent {
  private readonly master: MasterAddress;
  private view: (() => KeepalivedMibInput) | undefined;
  private log: Logger | undefined;
  private counters: CounterSink | undefined;
  private sa: snmp.Subagent | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private stopped = true;
  private open = false;
  /** Failures since the last session: only the first of a run is logged above debug. */
  private failures = 0;
  /** Sessions opened (the first connect and each reconnect). */
  sessions = 0;
  /** Callers of ready() waiting for the first attempt's outcome. */
  private waiters: ((open: boolean) => void)[] = [];

  constructor(private readonly opts: SnmpAgentOptions = {}) {
    this.master = parseSnmpSocket(opts.socket ?? DEFAULT_SNMP_SOCKET);
    this.retryDelay = opts.retryMs ?? 1000;
    fixOctetStringWriter();
  }

  /** True while a session with the master is open and the subtrees are registered. */
  get connected(): boolean {
    return this.open;
  }

  /**
   * Resolves true once a session is open, false when the first attempt failed or after `timeoutMs`
   * (keepalived connects before its VRRP instances start, so their first traps find the master).
   */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.open) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((res) => {
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (open: boolean) => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== done);
        res(open);
      };
      this.waiters.push(done);
    });
  }

  private settle(open: boolean): void {
    for (const w of [...this.waiters]) w(open);
  }

  start(view: () => KeepalivedMibInput, log: Logger, counters: CounterSink): void {
    this.view = view;
    this.log = log;
    this.counters = counters;
    this.stopped = false;
    log.info('Starting SNMP subagent');
    this.connect();
  }

  /** Close the session (an AgentX Close when one is open) and stop reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.settle(false);
    clearTimeout(this.retryTimer);
    const sa = this.sa;
    this.sa = undefined;
    if (!sa) return;
    if (this.open) {
      this.open = false;
      await new Promise<void>((res) => {
        const t = setTimeout(res, this.opts.answerTimeoutMs ?? 1000);
        try {
          sa.close(() => {
            clearTimeout(t);
            res();
          });
        } catch {
          clearTimeout(t);
          res();
        }
      });
    }
    sa.socket.destroy();
  }

  private fail(code: string, message: string, err?: unknown): void {
    if (!this.open) this.settle(false);
    this.counters?.inc(code);
    const detail = err instanceof Error ? `: ${err.message}` : '';
    if (this.failures++ === 0) this.log?.warn({ code }, `SNMP: ${message}${detail}`);
    else this.log?.debug({ code }, `SNMP: ${message}${detail}`);
  }

  private connect(): void {
    if (this.stopped) return;
    this.pending = Buffer.alloc(0);
    const m = this.master;
    const sa = snmp.createSubagent(
      'path' in m
        ? { masterPort: m.path, description: this.opts.description ?? 'keepalived-ts' }
        : { master: m.host, masterPort: m.port, description: this.opts.description ?? 'keepalived-ts' },
    );
    this.sa = sa;
    const sock: Socket = sa.socket;
    // our framing instead of the library's one-read-one-PDU handler
    sock.removeAllListeners('data');
    sock.on('data', (chunk: Buffer) => this.onData(sa, chunk));
    sa.on('error', (e: Error) => {
      if (this.sa === sa) this.fail(SnmpErrors.KA_ERR_SNMP_CONNECT, `AgentX master ${this.where()}`, e);
    });
    sa.on('close', () => this.lost(sa));
    sock.once('connect', () => {
      this.handshake(sa).catch((e: unknown) => {
        const code = e instanceof KaError ? e.code : SnmpErrors.KA_ERR_SNMP_CONNECT;
        this.fail(code, e instanceof Error ? e.message : String(e));
        sock.destroy();
      });
    });
  }

  private where(): string {
    return 'path' in this.master ? this.master.path : `${this.master.host}:${this.master.port}`;
  }

  /** Send a PDU and wait for its Response; a missing answer or an AgentX error rejects. */
  private request(what: string, send: (cb: snmp.Callback) => void): Promise<snmp.AgentXPdu> {
    return new Promise((res, rej) => {
      const t = setTimeout(
        () =>
          rej(new KaError(SnmpErrors.KA_ERR_SNMP_TIMEOUT, `AgentX master did not answer ${what}`, { what })),
        this.opts.answerTimeoutMs ?? 5000,
      );
      send((err, pdu) => {
        clearTimeout(t);
        if (err) rej(err);
        else if (pdu?.error)
          rej(
            new KaError(
              what.startsWith('Register') ? SnmpErrors.KA_ERR_SNMP_REGISTER : SnmpErrors.KA_ERR_SNMP_CONNECT,
              `AgentX master refused ${what} (error ${pdu.error})`,
              { what, error: pdu.error },
            ),
          );
        else if (pdu) res(pdu);
      });
    });
  }

  private async handshake(sa: snmp.Subagent): Promise<void> {
    await this.request('Open', (cb) => sa.open(cb));
    for (const region of this.opts.regions ?? [GLOBAL_OID, VRRP_OID]) {
      const oid = oidText(region);
      await this.request(`Register ${oid}`, (cb) =>
        sa.sendPdu(
          snmp.AgentXPdu.createFromVariables({
            pduType: P.Register,
            sessionID: sa.sessionID,
            oid,
            priority: 127,
            timeout: 5,
          }),
          cb,
        ),
      );
      await this.request(`AddAgentCaps ${oid}`, (cb) => sa.addAgentCaps(oid, regionDescr(region), cb));
    }
    if (this.sa !== sa) return;
    this.open = true;
    this.sessions++;
    this.failures = 0;
    this.retryDelay = this.opts.retryMs ?? 1000;
    this.log?.info(`AgentX subagent connected to ${this.where()}`);
    this.settle(true);
  }

  /**
   * Send a notification (AgentX Notify: the master adds sysUpTime and snmpTrapOID and forwards it
   * to its trap sinks). Without an open session it is dropped and counted, as keepalived drops it.
   */
  notify(trap: Oid, varbinds: readonly Varbind[]): void {
    const sa = this.sa;
    if (!sa || !this.open) {
      this.counters?.inc(SnmpErrors.KA_ERR_SNMP_NOTIFY);
      return;
    }
    try {
      sa.notify(oidText(trap), varbinds.map(libVarbind), (err, pdu) => {
        if (err || pdu?.error)
          this.fail(
            SnmpErrors.KA_ERR_SNMP_NOTIFY,
            `AgentX master refused a notification (error ${pdu?.error})`,
            err,
          );
      });
    } catch (e) {
      this.fail(SnmpErrors.KA_ERR_SNMP_NOTIFY, 'sending a notification failed', e);
    }
  }

  private lost(sa: snmp.Subagent): void {
    if (this.sa !== sa) return;
    const was = this.open;
    this.open = false;
    this.sa = undefined;
    if (this.stopped) return;
    if (was) this.fail(SnmpErrors.KA_ERR_SNMP_CONNECT, `AgentX master ${this.where()} closed the session`);
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.opts.retryMaxMs ?? 30_000);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref?.();
  }

  /** Frames AgentX PDUs out of the byte stream (a read may hold several or part of one). */
  private onData(sa: snmp.Subagent, chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= AGENTX_HEADER) {
      const p = this.pending;
      const len = (p[2]! & NETWORK_BYTE_ORDER) === 0 ? p.readUInt32LE(16) : p.readUInt32BE(16);
      if (p[0] !== 1 || len > MAX_PDU || len % 4 !== 0) {
        this.fail(
          SnmpErrors.KA_ERR_SNMP_BAD_PDU,
          `garbage from the AgentX master (version ${p[0]}, length ${len})`,
        );
        this.pending = Buffer.alloc(0);
        sa.socket.destroy();
        return;
      }
      if (p.length < AGENTX_HEADER + len) return;
      const frame = p.subarray(0, AGENTX_HEADER + len);
      this.pending = p.subarray(AGENTX_HEADER + len);
      this.dispatch(sa, frame);
    }
  }

  private dispatch(sa: snmp.Subagent, frame: Buffer): void {
    const type = frame[1];
    try {
      switch (type) {
        case P.Response:
          sa.response(snmp.AgentXPdu.createFromBuffer(frame));
          return;
        case P.Get:
        case P.GetNext:
        case P.GetBulk:
          this.serve(sa, snmp.AgentXPdu.createFromBuffer(frame), readSearchRanges(frame));
          return;
        case P.TestSet:
        case P.CommitSet:
        case P.UndoSet: {
          // read-only in this slice: every set fails its test (keepalived allows a few writes)
          const pdu = snmp.AgentXPdu.createFromBuffer(frame);
          const resp = pdu.getResponsePduForRequest();
          if (type === P.TestSet) {
            resp.error = AGENTX_NOT_WRITABLE;
            resp.index = 1;
          }
          sa.sendPdu(resp, null);
          return;
        }
        case P.CleanupSet:
          return;
        case P.Close:
          this.fail(SnmpErrors.KA_ERR_SNMP_CONNECT, 'AgentX master closed the session');
          sa.socket.destroy();
          return;
        default:
          throw new RangeError(`unexpected PDU type ${type}`);
      }
    } catch (e) {
      this.fail(SnmpErrors.KA_ERR_SNMP_BAD_PDU, `bad PDU (type ${type}) from the AgentX master`, e);
    }
  }

  private cached: { readonly at: number; readonly binds: Varbind[] } | undefined;

  /** The varbinds of the current view, rebuilt when older than viewTtlMs. */
  private binds(): Varbind[] {
    const now = (this.opts.nowMs ?? (() => performance.now()))();
    const c = this.cached;
    if (c && now - c.at < (this.opts.viewTtlMs ?? 500)) return c.binds;
    const binds = (this.opts.build ?? keepalivedVarbinds)((this.view as () => KeepalivedMibInput)());
    this.cached = { at: now, binds };
    return binds;
  }

  private serve(sa: snmp.Subagent, pdu: snmp.AgentXPdu, ranges: Range[]): void {
    const resp = pdu.getResponsePduForRequest();
    let binds: Varbind[];
    try {
      binds = this.binds();
    } catch (e) {
      this.fail(SnmpErrors.KA_ERR_SNMP_SNAPSHOT, 'reading the daemon state failed', e);
      resp.error = AGENTX_GEN_ERR;
      resp.index = 1;
      sa.sendPdu(resp, null);
      return;
    }
    resp.varbinds = answer(pdu.pduType, ranges, binds, pdu.nonRepeaters ?? 0, pdu.maxRepetitions ?? 0);
    sa.sendPdu(resp, null);
  }
}
