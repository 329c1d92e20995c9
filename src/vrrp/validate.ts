/**
 * Receive validation of VRRP adverts, as keepalived 2.2.7 `vrrp_check_packet` (and the header
 * checks of its dispatcher) does it, in its order, and RFC 5798 §7.1 / RFC 3768 §7.1.
 * Facts: shared/reference/wire-and-kernel.md §1.7. Pure: the instance's AH sequence state goes in as
 * `ahSeq` and the new value comes back in the result; nothing else is remembered.
 *
 * Not here (the caller's job): ignoring packets while the instance is in FAULT or INIT, dispatching by
 * (interface, family, VRID) - `peekVrid` helps - and counting the returned codes.
 */
import { timingSafeEqual } from 'node:crypto';
import { AH_LENGTH, decodeAh, verifyAhIcv } from '../wire/ah.js';
import { addrToBytes, bytesToAddr, IPPROTO_AH, IPPROTO_VRRP, isMulticast } from '../wire/ip.js';
import {
  decodeVrrp,
  type ReceivedAdvert,
  VRRP_AUTH_AH,
  VRRP_AUTH_LENGTH,
  VRRP_AUTH_NONE,
  VRRP_AUTH_PASS,
  VRRP_HEADER_LENGTH,
  VRRP_TYPE_ADVERT,
  type VrrpAdvert,
  verifyVrrpChecksum,
} from '../wire/vrrp.js';
import { type VrrpRxCode, VrrpRxErrors } from './errors.js';

/** Every code `validateAdvert` can return, for the runtime's counters. */
export const VRRP_RX_CODES: readonly VrrpRxCode[] = Object.keys(VrrpRxErrors) as VrrpRxCode[];

export interface UnicastPeer {
  address: string;
  /** keepalived `unicast_peer { ADDR min_ttl N max_ttl M }`; defaults 0 and 255. */
  minTtl?: number;
  maxTtl?: number;
}

/** What validation needs to know about the receiving instance. */
export interface ValidateInstance {
  vrid: number;
  version: 2 | 3;
  family: 4 | 6;
  /** v2: 0 none, 1 PASS, 2 AH. Ignored for v3 (keepalived ignores `authentication` there). */
  authType: number;
  /** v2 PASS data / AH key: `authDataFromPassword(auth_pass)`, 8 bytes. */
  authData?: Buffer;
  /** Configured VIPs (plain addresses, no prefix length). */
  vips: readonly string[];
  /** v2: seconds, must equal the advert's. v3: unused (the master's interval is learned). */
  advertInterval: number;
  /** Empty: multicast instance. */
  unicastPeers: readonly UnicastPeer[];
  /** `check_unicast_src` (instance or global). */
  checkUnicastSrc: boolean;
  /** `skip_check_adv_addr`: in BACKUP, adverts from `masterAddress` skip the naddr/VIP/peer checks. */
  skipCheckAdvAddr: boolean;
  inBackup: boolean;
  masterAddress?: string;
  /** AH: keepalived's per-instance sequence counter (last seen, or last sent). */
  ahSeq?: number;
}

/**
 * A received packet. IPv4: the whole packet as a raw IPv4 socket reads it (header included).
 * IPv6: the VRRP payload, with source, destination (IPV6_PKTINFO) and hop limit (IPV6_HOPLIMIT,
 * null when not received) from the ancillary data.
 */
export type RxPacket =
  | { family: 4; packet: Buffer; ifindex?: number }
  | {
      family: 6;
      packet: Buffer;
      src: string;
      dst: string;
      hopLimit: number | null;
      ifindex?: number;
      /** The kernel verifies IPv6 checksums (IPV6_CHECKSUM=6); set true to verify again (captures). */
      verifyChecksum?: boolean;
    };

export type ValidateResult =
  | {
      ok: true;
      advert: VrrpAdvert;
      received: ReceivedAdvert;
      /** AH: store as the instance's new sequence counter. */
      ahSeq?: number;
    }
  | {
      ok: false;
      code: VrrpRxCode;
      /** keepalived's log wording, without the `(VI_x)` prefix. */
      reason: string;
      /** Both mean "ignore": KO counts as an error, DROP is "not for us" (interval mismatch, other VRID). */
      drop: 'KO' | 'DROP';
      /** AH: set when ICV and SPI passed, even if a later check failed (keepalived stores it then). */
      ahSeq?: number;
    };

interface Located {
  family: 4 | 6;
  /** Offset of the VRRP header in `packet`. */
  vrrpAt: number;
  ihl: number;
  protocol: number;
  src: string;
  dst: string;
  ttl: number | null;
}

type Fail = Extract<ValidateResult, { ok: false }>;
const ko = (code: VrrpRxCode, reason: string, ahSeq?: number): Fail => ({
  ok: false,
  code,
  reason,
  drop: 'KO',
  ...(ahSeq === undefined ? {} : { ahSeq }),
});
const dropped = (code: VrrpRxCode, reason: string, ahSeq?: number): Fail => ({
  ...ko(code, reason, ahSeq),
  drop: 'DROP',
});

function isAddr6(a: string): boolean {
  try {
    addrToBytes(a, 6);
    return true;
  } catch {
    return false;
  }
}

/** Header checks of keepalived's dispatcher: enough bytes for IP [+ AH] + the 8-byte VRRP header. */
function locate(rx: RxPacket): Located | Fail {
  const p = rx.packet;
  if (rx.family === 6) {
    if (p.length < VRRP_HEADER_LENGTH)
      return ko('KA_ERR_VRRP_RX_TRUNCATED', `IPv6 VRRP packet too short - ${p.length} bytes`);
    if (!isAddr6(rx.src) || !isAddr6(rx.dst))
      return ko('KA_ERR_VRRP_RX_BAD_IP_HEADER', 'IPv6 source/destination not IPv6');
    return {
      family: 6,
      vrrpAt: 0,
      ihl: 0,
      protocol: IPPROTO_VRRP,
      src: rx.src,
      dst: rx.dst,
      ttl: rx.hopLimit,
    };
  }
  if (p.length < 20) return ko('KA_ERR_VRRP_RX_TRUNCATED', `IPv4 VRRP packet too short - ${p.length} bytes`);
  const ihl = (p[0]! & 0x0f) * 4;
  if (p[0]! >> 4 !== 4 || ihl < 20)
    return ko('KA_ERR_VRRP_RX_BAD_IP_HEADER', `IPv4 header byte 0x${p[0]!.toString(16)}`);
  const protocol = p[9]!;
  if (protocol !== IPPROTO_VRRP && protocol !== IPPROTO_AH) {
    return ko('KA_ERR_VRRP_RX_BAD_IP_HEADER', `IPv4 protocol ${protocol}`);
  }
  const vrrpAt = ihl + (protocol === IPPROTO_AH ? AH_LENGTH : 0);
  if (p.length < vrrpAt + VRRP_HEADER_LENGTH) {
    const what = protocol === IPPROTO_AH ? 'IPv4 VRRP packet with AH' : 'IPv4 VRRP packet';
    return ko('KA_ERR_VRRP_RX_TRUNCATED', `${what} too short - ${p.length} bytes`);
  }
  return {
    family: 4,
    vrrpAt,
    ihl,
    protocol,
    src: bytesToAddr(p.subarray(12, 16)),
    dst: bytesToAddr(p.subarray(16, 20)),
    ttl: p[8]!,
  };
}

/** The VRID of a received packet (for dispatching to an instance), or undefined if it is too short. */
export function peekVrid(rx: RxPacket): number | undefined {
  const loc = locate(rx);
  return 'ok' in loc ? undefined : rx.packet[loc.vrrpAt + 1];
}

const sameAddr = (a: string, b: Uint8Array): boolean => addrToBytes(a).equals(b);

/** Validates a received advert against `instance`; see the module comment and reference §1.7. */
export function validateAdvert(rx: RxPacket, instance: ValidateInstance): ValidateResult {
  const loc = locate(rx);
  if ('ok' in loc) return loc;
  const p = rx.packet;
  const hd = p.subarray(loc.vrrpAt);
  if (rx.family !== instance.family) {
    return ko('KA_ERR_VRRP_RX_FAMILY', `IPv${rx.family} packet for an IPv${instance.family} instance`);
  }
  if (hd[1] !== instance.vrid) return dropped('KA_ERR_VRRP_RX_VRID', `advert for VRID ${hd[1]}`);

  const authType = instance.version === 2 ? instance.authType : VRRP_AUTH_NONE;
  const unicast = instance.unicastPeers.length > 0;
  const rxVersion = hd[0]! >> 4;
  const naddr = hd[3]!;

  // 1. AH framing <=> auth_type AH.
  if (loc.family === 4 && (loc.protocol === IPPROTO_AH) !== (authType === VRRP_AUTH_AH)) {
    return ko(
      'KA_ERR_VRRP_RX_AUTH_PROTO',
      loc.protocol === IPPROTO_AH
        ? 'Received AH header but auth type not AH'
        : 'No AH header but auth type is AH',
    );
  }
  // 2. Exact length for the advert's own naddr and version.
  const addrSize = loc.family === 4 ? 4 : 16;
  const expected =
    loc.vrrpAt +
    VRRP_HEADER_LENGTH +
    naddr * addrSize +
    (loc.family === 4 && rxVersion === 2 ? VRRP_AUTH_LENGTH : 0);
  if (p.length !== expected) {
    return ko(
      'KA_ERR_VRRP_RX_LENGTH',
      `vrrp packet too ${p.length > expected ? 'long' : 'short'}, length ${p.length} and expect ${expected}`,
    );
  }
  // 3. TTL / hop limit 255, multicast only.
  if (!unicast && loc.ttl !== null && loc.ttl !== 255) {
    return ko('KA_ERR_VRRP_RX_TTL', `invalid TTL/HL. Received ${loc.ttl} and expect 255`);
  }
  // 4. Version.
  if (rxVersion !== instance.version) {
    return ko(
      'KA_ERR_VRRP_RX_VERSION',
      `wrong version. Received ${rxVersion} and expect ${instance.version}`,
    );
  }
  // The message is now known to be complete and of our version: decode it (cannot fail after 2 and 4,
  // but a typed failure is still mapped rather than thrown).
  let advert: VrrpAdvert;
  try {
    advert = decodeVrrp(hd, loc.family);
  } catch {
    return ko('KA_ERR_VRRP_RX_LENGTH', 'VRRP message does not decode');
  }

  let ahSeq: number | undefined;
  if (instance.version === 2) {
    // 5. Authentication.
    if (
      advert.authType !== VRRP_AUTH_NONE &&
      advert.authType !== VRRP_AUTH_PASS &&
      advert.authType !== VRRP_AUTH_AH
    ) {
      return ko('KA_ERR_VRRP_RX_AUTH_TYPE_INVALID', `Invalid auth type: ${advert.authType}`);
    }
    if (advert.authType !== authType) {
      return ko(
        'KA_ERR_VRRP_RX_AUTH_TYPE_MISMATCH',
        `received a ${advert.authType} auth, expecting ${authType}!`,
      );
    }
    const key = Buffer.alloc(VRRP_AUTH_LENGTH);
    instance.authData?.copy(key, 0, 0, VRRP_AUTH_LENGTH);
    if (authType === VRRP_AUTH_PASS && !timingSafeEqual(advert.authData, key)) {
      return ko('KA_ERR_VRRP_RX_AUTH_PASS', 'received an invalid passwd!');
    }
    if (authType === VRRP_AUTH_AH) {
      const ah = decodeAh(p.subarray(loc.ihl));
      if (ah.nextHeader !== IPPROTO_VRRP) {
        return dropped('KA_ERR_VRRP_RX_AH_NEXT_HEADER', `AH next header ${ah.nextHeader}`);
      }
      if (!verifyAhIcv(p, key, { unicast })) {
        return ko(
          'KA_ERR_VRRP_RX_AH_ICV',
          'IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !',
        );
      }
      if (ah.spi !== p.readUInt32BE(12)) {
        return ko(
          'KA_ERR_VRRP_RX_AH_SPI',
          `IPSEC AH : invalid IPSEC SPI value. ${ah.spi} and expect ${p.readUInt32BE(12)}`,
        );
      }
      const last = instance.ahSeq ?? 0;
      if (ah.seq <= last) {
        return ko(
          'KA_ERR_VRRP_RX_AH_SEQ',
          `IPSEC-AH : sequence number ${ah.seq} already processed. Packet dropped. Local(${last})`,
        );
      }
      ahSeq = ah.seq;
    }
    // 6. v2 interval (DROP, not KO).
    if (advert.advertInterval !== instance.advertInterval) {
      return dropped(
        'KA_ERR_VRRP_RX_INTERVAL',
        `advertisement interval mismatch mine=${instance.advertInterval} sec rcv'd=${advert.advertInterval} sec`,
        ahSeq,
      );
    }
  }
  // 7. Type.
  if (advert.type !== VRRP_TYPE_ADVERT) {
    return ko(
      'KA_ERR_VRRP_RX_TYPE',
      `Invalid packet type. ${advert.type} and expect ${VRRP_TYPE_ADVERT}`,
      ahSeq,
    );
  }
  const checkVipAddr = !(
    instance.skipCheckAdvAddr &&
    instance.inBackup &&
    instance.masterAddress !== undefined &&
    sameAddr(instance.masterAddress, addrToBytes(loc.src))
  );
  // 8. Address count.
  if (checkVipAddr && naddr !== instance.vips.length) {
    return ko(
      'KA_ERR_VRRP_RX_NADDR',
      `received an unexpected ip number count ${naddr}, expected ${instance.vips.length}!`,
      ahSeq,
    );
  }
  // 9. IPv4 total length.
  if (loc.family === 4 && p.readUInt16BE(2) !== p.length) {
    return ko(
      'KA_ERR_VRRP_RX_IP_TOTAL_LENGTH',
      `ip_tot_len mismatch against received length. ${p.readUInt16BE(2)} and received ${p.length}`,
      ahSeq,
    );
  }
  // 10. Checksum (IPv6: the kernel did it, unless asked).
  if ((loc.family === 4 || (rx.family === 6 && rx.verifyChecksum)) && !verifyVrrpChecksum(hd, loc)) {
    return ko('KA_ERR_VRRP_RX_CHECKSUM', `Invalid VRRPv${instance.version} checksum`, ahSeq);
  }
  // 11. Multicast destination <=> multicast instance.
  if (isMulticast(loc.dst) === unicast) {
    return ko(
      'KA_ERR_VRRP_RX_CAST',
      `Expected ${unicast ? 'un' : 'mult'}icast packet but received ${unicast ? 'mult' : 'un'}icast packet`,
      ahSeq,
    );
  }
  if (checkVipAddr) {
    // 12. Every configured VIP present (order irrelevant).
    const got = advert.addresses.map((a) => addrToBytes(a));
    for (const vip of instance.vips) {
      const want = addrToBytes(vip);
      if (!got.some((g) => g.equals(want))) {
        return ko(
          'KA_ERR_VRRP_RX_VIP_MISSING',
          `ip address associated with VRID ${instance.vrid} not present in MASTER advert : ${vip}`,
          ahSeq,
        );
      }
    }
    // 13. Unicast source among the peers, and its TTL range.
    if (unicast && instance.checkUnicastSrc) {
      const src = addrToBytes(loc.src);
      const peer = instance.unicastPeers.find((u) => sameAddr(u.address, src));
      if (!peer)
        return ko(
          'KA_ERR_VRRP_RX_UNICAST_SRC',
          `unicast source address ${loc.src} not a unicast peer`,
          ahSeq,
        );
      const min = peer.minTtl ?? 0;
      const max = peer.maxTtl ?? 255;
      if (loc.ttl !== null && (loc.ttl < min || loc.ttl > max)) {
        return ko('KA_ERR_VRRP_RX_UNICAST_TTL', `TTL/HL ${loc.ttl} not in range ${min} - ${max}`, ahSeq);
      }
    }
  }
  return {
    ok: true,
    advert,
    received: { advert, src: loc.src, dst: loc.dst, ttl: loc.ttl ?? -1, ifindex: rx.ifindex ?? 0 },
    ...(ahSeq === undefined ? {} : { ahSeq }),
  };
}
