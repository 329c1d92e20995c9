/**
 * VRRP-MIB (RFC 2787, mib-2 68) and VRRPv3-MIB (RFC 6527, mib-2 207) as keepalived 2.2.7 serves
 * them (`enable_snmp_rfcv2` / `enable_snmp_rfcv3`), computed from the configuration and the VRRP
 * snapshot. Pure: no sockets, no timers. Where keepalived departs from the MIB we follow keepalived
 * (each departure is noted where it is made); docs/SNMP.md lists them.
 */
import ipaddr from 'ipaddr.js';
import type { KeepalivedConfig, VrrpInstance } from '../config/model.js';
import { keepalivedStats } from '../daemon/metrics.js';
import {
  compareOids,
  type KeepalivedMibInput,
  type Oid,
  type SnmpInstanceState,
  type Varbind,
} from './keepalived-mib.js';

/** VRRP-MIB::vrrpMIB and VRRPv3-MIB::vrrpv3MIB. */
export const VRRP_MIB_OID: Oid = [1, 3, 6, 1, 2, 1, 68];
export const VRRPV3_MIB_OID: Oid = [1, 3, 6, 1, 2, 1, 207];
/** vrrpTrapNewMaster (vrrpNotifications 1) and vrrpv3NewMaster (vrrpv3Notifications 1). */
export const VRRP_TRAP_NEW_MASTER: Oid = [...VRRP_MIB_OID, 0, 1];
export const VRRPV3_NOTIFY_NEW_MASTER: Oid = [...VRRPV3_MIB_OID, 0, 1];

/** An interface as these MIBs read it (src/daemon/netstate.ts has each part). */
export interface RfcLinkView {
  readonly ifindex: number;
  /** Link-layer address, colon-separated hex. */
  readonly mac?: string | undefined;
  /** Primary IPv4 address. */
  readonly ipv4?: string | undefined;
  /** IPv6 link-local address. */
  readonly ipv6?: string | undefined;
}

export interface VrrpRfcMibInput extends KeepalivedMibInput {
  /** An interface by name; unknown: its instances are left out (keepalived lists bound ones only). */
  readonly link?: (ifname: string) => RfcLinkView | undefined;
  /** Epoch seconds the VRRP side started (keepalived's vrrp_start_time), for the up-time columns. */
  readonly startedAt?: number;
}

/** One instance with what every row of both MIBs reads. */
interface Row {
  readonly cfg: VrrpInstance;
  readonly s: SnmpInstanceState;
  /** ifIndex of the configured (base) interface: keepalived's IF_BASE_INDEX. */
  readonly ifindex: number;
  /** The interface adverts leave by (a VMAC's own address for vrrpOperVirtualMacAddr). */
  readonly ifp: RfcLinkView | undefined;
  readonly base: RfcLinkView;
  readonly v4: boolean;
  readonly stats: Record<string, number>;
}

/** keepalived's RFC state: initialize(1), backup(2), master(3); FAULT and others read initialize. */
const rfcState = (state: number): number => (state >= 0 && state <= 2 ? state + 1 : 1);

const bytesOf = (text: string | null | undefined, v4: boolean): Buffer => {
  if (text && ipaddr.isValid(text)) {
    const a = ipaddr.parse(text);
    if ((a.kind() === 'ipv4') === v4) return Buffer.from(a.toByteArray());
  }
  return Buffer.alloc(v4 ? 4 : 16);
};

const macBytes = (mac: string | undefined): Buffer =>
  mac ? Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16))) : Buffer.alloc(0);

/** Instances both MIBs could list, in configuration order, with their interfaces resolved. */
function rows(input: VrrpRfcMibInput): Row[] {
  const byName = new Map(input.instances.map((i) => [i.iname, i]));
  const out: Row[] = [];
  for (const cfg of input.config.vrrpInstances) {
    const s = byName.get(cfg.name);
    if (!s) continue;
    const baseName = cfg.interface ?? input.config.global.defaultInterface;
    const base = baseName === undefined ? undefined : input.link?.(baseName);
    if (!base) continue;
    const ifp = input.link?.(s.ifp_ifname ?? baseName) ?? base;
    out.push({
      cfg,
      s,
      ifindex: base.ifindex,
      ifp,
      base,
      v4: cfg.family !== 'inet6',
      stats: keepalivedStats(s.stats ?? {}),
    });
  }
  return out;
}

/** vrrpOperVirtualRouterUpTime: centiseconds from the VRRP start to the last transition, 0 unless BACKUP or MASTER. */
function upTime(input: VrrpRfcMibInput, r: Row): number {
  if (r.s.state !== 1 && r.s.state !== 2) return 0;
  const at = r.s.last_transition;
  if (at === undefined || input.startedAt === undefined) return 0;
  return Math.max(0, Math.round((at - input.startedAt) * 100)) >>> 0;
}

/** The instance's own advert source, as keepalived's saddr (new-master traps carry it). */
const ownAddress = (r: Row): Buffer => bytesOf(r.s.src_ip ?? (r.v4 ? r.base.ipv4 : r.base.ipv6), r.v4);

/** The rx counters keepalived keeps per instance but the stats file does not print. */
const rxCount = (s: SnmpInstanceState, code: string): number =>
  s.stats?.[`vrrp.rx.KA_ERR_VRRP_RX_${code}`] ?? 0;

type Add = (oid: Oid, type: Varbind['type'], value: number | bigint | Buffer) => void;

function collector(): { add: Add; out: Varbind[] } {
  const out: Varbind[] = [];
  return { out, add: (oid, type, value) => out.push({ oid, type, value }) };
}

const sorted = (v: Varbind[]): Varbind[] => v.sort((a, b) => compareOids(a.oid, b.oid));

/**
 * RFC 2787: version 2 IPv4 instances with at least one VIP (keepalived's suitable_for_rfc2787),
 * indexed by (ifIndex, VRID).
 */
export function vrrpMibVarbinds(input: VrrpRfcMibInput): Varbind[] {
  const { out, add } = collector();
  const at = (...sub: number[]): Oid => [...VRRP_MIB_OID, ...sub];
  const list = rows(input)
    .filter((r) => r.cfg.version === 2 && r.v4 && r.cfg.virtualIpaddress.length > 0)
    .sort((x, y) => x.ifindex - y.ifindex || x.cfg.vrid - y.cfg.vrid);
  add(at(1, 1, 0), 'integer', 2);
  add(at(1, 2, 0), 'integer', setting(input.config, 'enable_traps') ? 1 : 2);
  for (const [n, r] of list.entries()) {
    const ix = [r.ifindex, r.cfg.vrid];
    // vrrpAssoIpAddrRowStatus lists every instance's VIPs; vrrpAssoIpAddr (1) never answers
    for (const v of r.cfg.virtualIpaddress) {
      if (!ipaddr.IPv4.isValid(v.address)) continue;
      add(at(1, 4, 1, 2, ...ix, ...bytesOf(v.address, true)), 'integer', 1);
    }
    // keepalived 2.2.7 answers vrrpOperTable and vrrpRouterStatsTable for the lowest index only (a
    // GetNext from it finds no next row: walks with 2 to 4 RFC 2787 instances), and never the
    // vrrpOperVrId column
    if (n > 0) continue;
    const col = (n: number) => at(1, 3, 1, n, ...ix);
    // keepalived reads the interface's own address (the VMAC's on a VMAC), not 00-00-5E-00-01-{VRID}
    add(col(2), 'octets', macBytes(r.ifp?.mac));
    add(col(3), 'integer', rfcState(r.s.state));
    add(col(4), 'integer', 1);
    add(col(5), 'integer', r.s.base_priority);
    add(col(6), 'integer', r.cfg.virtualIpaddress.length);
    add(col(7), 'ipaddress', masterAddress(r));
    add(col(8), 'ipaddress', bytesOf(r.base.ipv4, true));
    // auth_type + 1: none(1), simpleTextPassword(2), ipAuthenticationHeader(3)
    const auth = r.cfg.authentication?.type;
    add(col(9), 'integer', auth === 'PASS' ? 2 : auth === 'AH' ? 3 : 1);
    // vrrpOperAuthKey (10): keepalived never answers it
    add(col(11), 'integer', Math.trunc(r.cfg.advertInt));
    add(col(12), 'integer', r.cfg.nopreempt ? 2 : 1);
    add(col(13), 'timeticks', upTime(input, r));
    add(col(14), 'integer', 1);
    add(col(15), 'integer', 1);
    const st = (n: number) => at(2, 4, 1, n, ...ix);
    const k = r.stats;
    add(st(1), 'counter', k.become_master ?? 0);
    add(st(2), 'counter', k.advert_rcvd ?? 0);
    add(st(3), 'counter', k.advert_interval_err ?? 0);
    add(st(4), 'counter', k.auth_failure ?? 0);
    add(st(5), 'counter', k.ip_ttl_err ?? 0);
    add(st(6), 'counter', k.pri_zero_rcvd ?? 0);
    add(st(7), 'counter', k.pri_zero_sent ?? 0);
    add(st(8), 'counter', k.invalid_type_rcvd ?? 0);
    add(st(9), 'counter', k.addr_list_err ?? 0);
    add(st(10), 'counter', k.invalid_authtype ?? 0);
    add(st(11), 'counter', k.authtype_mismatch ?? 0);
    add(st(12), 'counter', k.packet_len_err ?? 0);
  }
  const sum = (code: string) => list.reduce((n, r) => n + rxCount(r.s, code), 0);
  add(at(2, 1, 0), 'counter', sum('CHECKSUM'));
  add(at(2, 2, 0), 'counter', sum('VERSION'));
  add(at(2, 3, 0), 'counter', sum('VRID'));
  return sorted(out);
}

/**
 * vrrpOperMasterIpAddr: the master's address as last seen while BACKUP; 0.0.0.0 for a MASTER that
 * never saw another (keepalived's master_saddr; we do not keep the one seen before becoming MASTER).
 */
function masterAddress(r: Row): Buffer {
  if (r.s.state === 2) return Buffer.alloc(4);
  return bytesOf(r.s.master_addr, r.v4);
}

/**
 * vrrpv3StatisticsNewMasterReason while MASTER: priority(1) after a priority-0 advert, preempted(2)
 * for an address owner that starts as MASTER, masterNoResponse(3) otherwise (keepalived's
 * vrrp_state_backup / vrrp_init_state).
 */
function masterReason(r: Row): number {
  if (r.s.state !== 2) return 0;
  if (r.s.base_priority === 255 && r.cfg.state === 'MASTER') return 2;
  return (r.stats.pri_zero_rcvd ?? 0) > 0 ? 1 : 3;
}

/**
 * RFC 6527: every instance with at least one VIP, VRRPv2 ones too (Debian's keepalived 2.2.7 lists
 * them: built with _SNMP_REPLY_V3_FOR_V2_), indexed by (ifIndex, VRID, InetAddressType).
 */
export function vrrpv3MibVarbinds(input: VrrpRfcMibInput): Varbind[] {
  const { out, add } = collector();
  const at = (...sub: number[]): Oid => [...VRRPV3_MIB_OID, ...sub];
  const list = rows(input).filter((r) => r.cfg.virtualIpaddress.length > 0);
  for (const r of list) {
    const ix = [r.ifindex, r.cfg.vrid, r.v4 ? 1 : 2];
    const col = (n: number) => at(1, 1, 1, 1, n, ...ix);
    const primary = bytesOf(r.v4 ? r.base.ipv4 : r.base.ipv6, r.v4);
    // keepalived 2.2.7 never answers vrrpv3OperationsVrId (1) nor vrrpv3OperationsInetAddrType (2)
    add(col(3), 'octets', r.s.state === 2 ? primary : bytesOf(r.s.master_addr, r.v4));
    add(col(4), 'octets', primary);
    add(col(5), 'octets', macBytes(r.ifp?.mac));
    add(col(6), 'integer', rfcState(r.s.state));
    add(col(7), 'gauge', r.s.base_priority);
    add(col(8), 'integer', r.cfg.virtualIpaddress.length);
    add(col(9), 'integer', r.cfg.advertIntCs);
    add(col(10), 'integer', r.cfg.nopreempt ? 2 : 1);
    // keepalived 2.2.7 answers true(1) for every instance, accept or not (walks)
    add(col(11), 'integer', 1);
    add(col(12), 'timeticks', upTime(input, r));
    add(col(13), 'integer', 1);
    // the address in the index without its length (keepalived 2.2.7, against the MIB's InetAddress
    // index); vrrpv3AssociatedIpAddrAddress (1) never answers
    for (const v of r.cfg.virtualIpaddress) {
      if (!ipaddr.isValid(v.address) || (ipaddr.parse(v.address).kind() === 'ipv4') !== r.v4) continue;
      add(at(1, 1, 2, 1, 2, ...ix, ...bytesOf(v.address, r.v4)), 'integer', 1);
    }
    const st = (n: number) => at(1, 2, 5, 1, n, ...ix);
    const k = r.stats;
    const c64 = (n: number | undefined) => BigInt(n ?? 0);
    add(st(1), 'counter', k.become_master ?? 0);
    add(st(2), 'integer', masterReason(r));
    add(st(3), 'counter64', c64(k.advert_rcvd));
    add(st(4), 'counter64', c64(k.advert_interval_err));
    add(st(5), 'counter64', c64(k.ip_ttl_err));
    add(st(6), 'integer', protoErrReason(r.s));
    add(st(7), 'counter64', c64(k.pri_zero_rcvd));
    add(st(8), 'counter64', c64(k.pri_zero_sent));
    add(st(9), 'counter64', c64(k.invalid_type_rcvd));
    add(st(10), 'counter64', c64(k.addr_list_err));
    add(st(11), 'counter64', c64(k.packet_len_err));
    add(st(12), 'timeticks', 0);
    // refresh rate in milliseconds
    add(st(13), 'gauge', r.cfg.advertIntCs * 10);
  }
  const sum = (code: string) => BigInt(list.reduce((n, r) => n + rxCount(r.s, code), 0));
  add(at(1, 2, 1, 0), 'counter64', sum('CHECKSUM'));
  add(at(1, 2, 2, 0), 'counter64', sum('VERSION'));
  add(at(1, 2, 3, 0), 'counter64', sum('VRID'));
  add(at(1, 2, 4, 0), 'timeticks', 0);
  return sorted(out);
}

/**
 * vrrpv3StatisticsProtoErrReason: the last protocol error, which we do not record; the most
 * specific one counted stands in (ipTtlError(1), versionError(2), checksumError(3), vrIdError(4)).
 */
function protoErrReason(s: SnmpInstanceState): number {
  if (rxCount(s, 'VRID') > 0) return 4;
  if (rxCount(s, 'CHECKSUM') > 0) return 3;
  if (rxCount(s, 'VERSION') > 0) return 2;
  if (rxCount(s, 'TTL') + rxCount(s, 'UNICAST_TTL') > 0) return 1;
  return 0;
}

/**
 * The new-master notifications keepalived sends as an instance becomes MASTER: vrrpTrapNewMaster
 * for an RFC 2787 instance, vrrpv3NewMaster (with the reason) for an RFC 6527 one. Each is the trap
 * OID and its objects; empty when the instance is not one these MIBs list.
 */
export function newMasterTraps(
  input: VrrpRfcMibInput,
  name: string,
  which: { readonly v2: boolean; readonly v3: boolean },
): { trap: Oid; objects: Varbind[] }[] {
  const r = rows(input).find((x) => x.cfg.name === name);
  if (!r || r.cfg.virtualIpaddress.length === 0) return [];
  const out: { trap: Oid; objects: Varbind[] }[] = [];
  if (which.v2 && r.cfg.version === 2 && r.v4)
    out.push({
      trap: VRRP_TRAP_NEW_MASTER,
      objects: [
        {
          oid: [...VRRP_MIB_OID, 1, 3, 1, 7, r.ifindex, r.cfg.vrid],
          type: 'ipaddress',
          value: ownAddress(r),
        },
      ],
    });
  // VRRPv2 instances too, as vrrpv3OperationsTable lists them
  if (which.v3) {
    const ix = [r.ifindex, r.cfg.vrid, r.v4 ? 1 : 2];
    out.push({
      trap: VRRPV3_NOTIFY_NEW_MASTER,
      objects: [
        { oid: [...VRRPV3_MIB_OID, 1, 1, 1, 1, 3, ...ix], type: 'octets', value: ownAddress(r) },
        { oid: [...VRRPV3_MIB_OID, 1, 2, 5, 1, 2, ...ix], type: 'integer', value: masterReason(r) },
      ],
    });
  }
  return out;
}

const setting = (c: KeepalivedConfig, k: string): boolean => {
  const v = c.global.settings[k];
  return v !== undefined && v !== false;
};
