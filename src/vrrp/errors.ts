import { defineCodes } from '../core/errors.js';

/**
 * Receive-validation rejections of `validateAdvert` (src/vrrp/validate.ts), one per cause, in the
 * order keepalived 2.2.7 `vrrp_check_packet` checks them. Documented in docs/errors/vrrp.md.
 * They are returned (and counted by the runtime), not thrown.
 */
export const VrrpRxErrors = defineCodes('vrrp', {
  KA_ERR_VRRP_RX_TRUNCATED:
    'received packet too short for the IP header, the AH header or the VRRP fixed header',
  KA_ERR_VRRP_RX_BAD_IP_HEADER: 'received IPv4 header has a wrong version, IHL or protocol',
  KA_ERR_VRRP_RX_FAMILY: 'received packet family differs from the instance family',
  KA_ERR_VRRP_RX_VRID: 'advert for another VRID',
  KA_ERR_VRRP_RX_AUTH_PROTO: 'IP protocol AH (51) received without auth_type AH configured, or the reverse',
  KA_ERR_VRRP_RX_LENGTH: 'received length differs from IP header + [AH] + the VRRP length its naddr implies',
  KA_ERR_VRRP_RX_TTL: 'TTL / hop limit is not 255 (multicast instances)',
  KA_ERR_VRRP_RX_VERSION: 'VRRP version differs from the configured version',
  KA_ERR_VRRP_RX_AUTH_TYPE_INVALID: 'VRRPv2 auth type is not 0, 1 or 2',
  KA_ERR_VRRP_RX_AUTH_TYPE_MISMATCH: 'VRRPv2 auth type differs from the configured one',
  KA_ERR_VRRP_RX_AUTH_PASS: 'VRRPv2 simple password differs',
  KA_ERR_VRRP_RX_AH_NEXT_HEADER: 'AH header protects another protocol than VRRP',
  KA_ERR_VRRP_RX_AH_ICV: 'AH HMAC-MD5-96 ICV does not verify (bad password or mutated fields)',
  KA_ERR_VRRP_RX_AH_SPI: 'AH SPI differs from the IPv4 source address',
  KA_ERR_VRRP_RX_AH_SEQ: 'AH sequence number not greater than the last one seen (replay)',
  KA_ERR_VRRP_RX_INTERVAL: 'VRRPv2 advert interval differs from the configured one',
  KA_ERR_VRRP_RX_TYPE: 'VRRP type is not ADVERTISEMENT (1)',
  KA_ERR_VRRP_RX_NADDR: 'address count differs from the configured VIP count',
  KA_ERR_VRRP_RX_IP_TOTAL_LENGTH: 'IPv4 total length differs from the received length',
  KA_ERR_VRRP_RX_CHECKSUM: 'VRRP checksum does not verify',
  KA_ERR_VRRP_RX_CAST: 'multicast advert for a unicast instance, or unicast advert for a multicast one',
  KA_ERR_VRRP_RX_VIP_MISSING: 'a configured VIP is missing from the advert',
  KA_ERR_VRRP_RX_UNICAST_SRC: 'unicast advert from an address that is not a unicast_peer',
  KA_ERR_VRRP_RX_UNICAST_TTL: 'unicast advert TTL / hop limit outside the peer min_ttl..max_ttl range',
});

export type VrrpRxCode = keyof typeof VrrpRxErrors;

// The other code tables of src/vrrp/ live next to their code; re-exported here so that importing
// src/vrrp/errors.ts (as test/unit/core/error-codes.test.ts does for every module) registers them all.
export { MachineErrors } from './machine-errors.js';
export { TrackErrors } from './track/errors.js';
