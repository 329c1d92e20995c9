/**
 * KEEPALIVED-MIB's check subtree (`enable_snmp_checker`, `…9586.100.5.3`): virtualServerGroupTable,
 * virtualServerGroupMemberTable, virtualServerTable and realServerTable, from the configuration and
 * the LVS host's state, and the realServerStateChange / virtualServerQuorumStateChange traps.
 * Pure: no sockets, no timers. Columns and encodings follow the MIB text and keepalived's
 * check_snmp.c (read, not run: keepalived's checker needs kernel IPVS, which the interop host lacks;
 * see docs/SNMP.md for what this slice serves and leaves out).
 */
import ipaddr from 'ipaddr.js';
import type { Command, KeepalivedConfig, LbKind, RealServer, VirtualServer } from '../config/model.js';
import { expandRange } from '../ipvs/desired.js';
import { compareOids, GLOBAL_OID, KEEPALIVED_OID, type Oid, type Varbind } from './keepalived-mib.js';

export const CHECK_OID: Oid = [...KEEPALIVED_OID, 3];
/** checkTraps: realServerStateChange (1), virtualServerQuorumStateChange (2). */
export const CHECK_TRAPS_OID: Oid = [...CHECK_OID, 5, 0];

/** A real server's state as LvsHost.snapshot() gives it. */
export interface CheckRsState {
  readonly addr: string;
  readonly port: number | null;
  readonly up: boolean;
  readonly weight: number;
  /** Checkers of the real server that currently fail (keepalived's failed_checkers); default 0 up, all down. */
  readonly failedChecks?: number;
  readonly checkers?: number;
}

/** A virtual server's state as LvsHost.snapshot() gives it (matched by name, protocol and family). */
export interface CheckVsState {
  readonly name: string;
  readonly protocol: string;
  readonly family: string;
  readonly quorumUp: boolean | null;
  readonly realServers: readonly CheckRsState[];
}

export interface CheckMibInput {
  readonly config: KeepalivedConfig;
  /** LvsHost.snapshot().virtualServers; without it every real server reads as configured, quorum met. */
  readonly virtualServers?: readonly CheckVsState[];
  /** argv of a script as keepalived prints it; default: as configured. */
  readonly commandArgv?: (c: Command) => readonly string[];
}

const truth = (b: boolean): number => (b ? 1 : 2);

const addrBytes = (text: string): Buffer | undefined =>
  ipaddr.isValid(text) ? Buffer.from(ipaddr.parse(text).toByteArray()) : undefined;

/** virtualServerLoadBalancingAlgo: rr(1) … nq(10), fo(11), ovf(12), mh(13), twos(14); others 99. */
const SCHEDS = [
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
];
const schedNumber = (s: string): number => {
  const i = SCHEDS.indexOf(s.toLowerCase());
  return i < 0 ? 99 : i + 1;
};

/** nat(1), dr(2), tun(3). */
const kindNumber = (k: LbKind): number => (k.method === 'NAT' ? 1 : k.method === 'DR' ? 2 : 3);

const protoNumber = (vs: VirtualServer): number =>
  vs.target.kind === 'fwmark' ? 4 : vs.protocol === 'TCP' ? 1 : vs.protocol === 'UDP' ? 2 : 3;

const familyOf = (vs: VirtualServer, config: KeepalivedConfig): string => {
  if (vs.target.kind === 'addr') return vs.target.family;
  if (vs.ipFamily) return vs.ipFamily;
  if (vs.target.kind === 'group') {
    const g = config.virtualServerGroups.find((x) => x.name === (vs.target as { name: string }).name);
    const first = g?.entries.find((e) => e.kind === 'addr');
    if (first?.kind === 'addr') return first.range.includes(':') ? 'inet6' : 'inet';
  }
  return 'inet';
};

/** The state of a configured virtual server, by keepalived's display name, protocol and family. */
function stateOf(input: CheckMibInput, vs: VirtualServer): CheckVsState | undefined {
  const proto = vs.protocol.toLowerCase();
  const fam = familyOf(vs, input.config);
  return input.virtualServers?.find((s) => s.name === vs.name && s.protocol === proto && s.family === fam);
}

interface RsRow {
  readonly sorry: boolean;
  readonly address: string;
  readonly port: number | undefined;
  readonly rs?: RealServer;
  readonly state?: CheckRsState;
}

/** A virtual server's realServerTable rows: its sorry server first, then its real servers. */
function rsRows(vs: VirtualServer, st: CheckVsState | undefined): RsRow[] {
  const out: RsRow[] = [];
  if (vs.sorryServer) out.push({ sorry: true, address: vs.sorryServer.address, port: vs.sorryServer.port });
  for (const rs of vs.realServers) {
    const state = st?.realServers.find(
      (r) => r.addr === rs.address && (r.port ?? undefined) === (rs.port ?? undefined),
    );
    out.push({ sorry: false, address: rs.address, port: rs.port, rs, ...(state ? { state } : {}) });
  }
  return out;
}

const rsUp = (r: RsRow): boolean => r.state?.up ?? true;

/** The varbinds of the check subtree, sorted by OID. */
export function checkVarbinds(input: CheckMibInput): Varbind[] {
  const out: Varbind[] = [];
  const add = (oid: Oid, type: Varbind['type'], value: number | Buffer | string | undefined): void => {
    if (value === undefined) return;
    out.push({ oid, type, value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value });
  };
  const at = (...sub: number[]): Oid => [...CHECK_OID, ...sub];
  const cmd = (c: Command | undefined): string | undefined =>
    c && (input.commandArgv?.(c) ?? c.argv).map((w) => `'${w}'`).join(' ');
  const { config } = input;

  // virtualServerGroupTable (1) and virtualServerGroupMemberTable (2): fwmarks, then addresses, then ranges
  config.virtualServerGroups.forEach((g, gi) => {
    add(at(1, 1, 2, gi + 1), 'octets', g.name);
    const ordered = [
      ...g.entries.filter((e) => e.kind === 'fwmark'),
      ...g.entries.filter((e) => e.kind === 'addr' && !e.range.includes('-')),
      ...g.entries.filter((e) => e.kind === 'addr' && e.range.includes('-')),
    ];
    ordered.forEach((e, mi) => {
      const col = (c: number) => at(2, 1, c, gi + 1, mi + 1);
      if (e.kind === 'fwmark') {
        add(col(2), 'integer', 1);
        add(col(3), 'gauge', e.fwmark);
        return;
      }
      const range = e.range.includes('-');
      let first: Buffer | undefined;
      let last: Buffer | undefined;
      try {
        const addrs = expandRange(g.name, e.range).addrs;
        first = addrBytes(addrs[0] ?? '');
        last = addrBytes(addrs.at(-1) ?? '');
      } catch {
        // a range the IPVS side refuses (logged there): its row shows what can be read
      }
      add(col(2), 'integer', range ? 3 : 2);
      add(col(4), 'integer', first?.length === 16 ? 2 : 1);
      if (range) {
        add(col(6), 'octets', first);
        add(col(7), 'octets', last);
      } else add(col(5), 'octets', first);
      add(col(8), 'gauge', e.port ?? 0);
    });
  });

  // virtualServerTable (3) and realServerTable (4)
  config.virtualServers.forEach((vs, vi) => {
    const ix = vi + 1;
    const col = (c: number) => at(3, 1, c, ix);
    const st = stateOf(input, vs);
    const rows = rsRows(vs, st);
    const regular = rows.filter((r) => !r.sorry);
    const t = vs.target;
    add(col(2), 'integer', t.kind === 'group' ? 3 : t.kind === 'fwmark' ? 1 : 2);
    if (t.kind === 'group') add(col(3), 'octets', t.name);
    if (t.kind === 'fwmark') add(col(4), 'gauge', t.fwmark);
    if (t.kind === 'addr') {
      const b = addrBytes(t.addr);
      add(col(5), 'integer', b?.length === 16 ? 2 : 1);
      add(col(6), 'octets', b);
      add(col(7), 'gauge', t.port ?? 0);
    }
    add(col(8), 'integer', protoNumber(vs));
    add(col(9), 'integer', schedNumber(vs.lvsSched));
    add(col(10), 'integer', kindNumber(vs.lvsMethod));
    // virtualServerStatus: alive while its quorum is met
    const quorumMet = st?.quorumUp ?? true;
    add(col(11), 'integer', truth(quorumMet));
    add(col(12), 'octets', vs.virtualhost);
    const persist = (vs.persistenceTimeout ?? 0) > 0;
    add(col(13), 'integer', truth(persist));
    if (persist) add(col(14), 'gauge', vs.persistenceTimeout);
    // an IPv4 netmask, persistence or not (keepalived 2.2.7: 255.255.255.255 by default)
    if (familyOf(vs, config) !== 'inet6') {
      const gran = vs.persistenceGranularity ? addrBytes(vs.persistenceGranularity) : undefined;
      add(col(15), 'octets', gran?.length === 4 ? gran : Buffer.from([255, 255, 255, 255]));
    }
    add(col(16), 'gauge', Math.trunc(vs.delayLoop));
    add(col(17), 'integer', truth(vs.haSuspend));
    add(col(18), 'integer', truth(vs.alpha));
    add(col(19), 'integer', truth(vs.omega));
    add(col(20), 'gauge', regular.length);
    add(col(21), 'gauge', regular.filter(rsUp).length);
    add(col(22), 'gauge', vs.quorum);
    add(col(23), 'integer', truth(quorumMet));
    add(col(24), 'octets', cmd(vs.quorumUp));
    add(col(25), 'octets', cmd(vs.quorumDown));
    add(col(26), 'gauge', vs.hysteresis);
    add(col(37), 'integer', truth(vs.ops));

    rows.forEach((r, ri) => {
      const rc = (c: number) => at(4, 1, c, ix, ri + 1);
      const b = addrBytes(r.address);
      add(rc(2), 'integer', r.sorry ? 2 : 1);
      add(rc(3), 'integer', b?.length === 16 ? 2 : 1);
      add(rc(4), 'octets', b);
      add(rc(5), 'gauge', r.port ?? 0);
      if (r.sorry || !r.rs) return;
      const rs = r.rs;
      add(rc(6), 'integer', truth(rsUp(r)));
      add(rc(7), 'integer', r.state?.weight ?? rs.weight);
      if (rs.uthreshold > 0) add(rc(8), 'gauge', rs.uthreshold);
      if (rs.lthreshold > 0) add(rc(9), 'gauge', rs.lthreshold);
      add(rc(10), 'integer', rs.inhibitOnFailure ? 2 : 1);
      add(rc(11), 'octets', cmd(rs.notifyUp));
      add(rc(12), 'octets', cmd(rs.notifyDown));
      const failed = r.state?.failedChecks ?? (rsUp(r) ? 0 : (r.state?.checkers ?? rs.checkers.length));
      add(rc(13), 'gauge', failed);
    });
  });
  return out.sort((a, b) => compareOids(a.oid, b.oid));
}

/** A trap: its OID and objects (routerId.0 last, as keepalived's VRRP traps). */
export interface CheckTrap {
  readonly trap: Oid;
  readonly objects: Varbind[];
}

const routerIdBind = (config: KeepalivedConfig): Varbind[] =>
  config.global.routerId
    ? [{ oid: [...GLOBAL_OID, 2, 0], type: 'octets', value: Buffer.from(config.global.routerId) }]
    : [];

/**
 * The objects of a check trap as keepalived's check_snmp_rs_trap sends them: named by column OID
 * without the row index, the virtual server's identity by its kind (group name, fwmark, or address
 * type, address and port), then its protocol, [quorum status and quorum], real servers up and total,
 * routerId.0.
 */
function trapObjects(input: CheckMibInput, vi: number, ri: number | undefined): Varbind[] {
  const binds = checkVarbinds(input);
  const col = (table: 3 | 4, c: number): Varbind[] => {
    const row = table === 3 ? [vi + 1] : [vi + 1, (ri ?? 0) + 1];
    const want = [...CHECK_OID, table, 1, c, ...row];
    const b = binds.find((v) => compareOids(v.oid, want) === 0);
    return b ? [{ ...b, oid: [...CHECK_OID, table, 1, c] }] : [];
  };
  const rs = ri === undefined ? [] : [3, 4, 5, 6].flatMap((c) => col(4, c));
  const id = [2, 3, 4, 5, 6, 7].flatMap((c) => col(3, c));
  const quorum = ri === undefined ? [23, 22].flatMap((c) => col(3, c)) : [];
  return [...rs, ...id, ...col(3, 8), ...quorum, ...col(3, 21), ...col(3, 20), ...routerIdBind(input.config)];
}

/**
 * realServerStateChange for the real server `addr`:`port` of the configuration's virtual server
 * number `vi` (0-based), with the state in `input`.
 */
export function realServerTrap(
  input: CheckMibInput,
  vi: number,
  addr: string,
  port: number | undefined,
): CheckTrap | undefined {
  const vs = input.config.virtualServers[vi];
  if (!vs) return undefined;
  const ri = rsRows(vs, stateOf(input, vs)).findIndex(
    (r) => !r.sorry && r.address === addr && r.port === port,
  );
  if (ri < 0) return undefined;
  return { trap: [...CHECK_TRAPS_OID, 1], objects: trapObjects(input, vi, ri) };
}

/** virtualServerQuorumStateChange for the configuration's virtual server number `vi` (0-based). */
export function quorumTrap(input: CheckMibInput, vi: number): CheckTrap | undefined {
  if (!input.config.virtualServers[vi]) return undefined;
  return { trap: [...CHECK_TRAPS_OID, 2], objects: trapObjects(input, vi, undefined) };
}
