import { defineCodes, KaError } from '../core/errors.js';

/** Error codes of the pure codecs in src/wire/ (documented in docs/errors/wire.md). */
export const WireErrors = defineCodes('wire', {
  KA_ERR_NL_BAD_MSG: 'a netlink message or its fixed header is shorter than its length field says',
  KA_ERR_NL_BAD_ATTR: 'a netlink attribute length is below 4 or runs past its enclosing buffer',
});

/** Error codes of the packet codecs (VRRP, AH, IP, Ethernet, ARP, NDISC), documented in docs/errors/wire.md. */
export const PacketErrors = defineCodes('wire', {
  KA_ERR_VRRP_TRUNCATED: 'a VRRP message is shorter than its fixed header or than its address count needs',
  KA_ERR_VRRP_BAD_LENGTH: 'a VRRP message is longer than its address count allows (trailing bytes)',
  KA_ERR_VRRP_BAD_VERSION: 'the VRRP version nibble is neither 2 nor 3',
  KA_ERR_VRRP_BAD_FAMILY: 'a VRRPv2 message was given as IPv6 (v2 is IPv4 only)',
  KA_ERR_AH_TRUNCATED: 'an IPsec AH header is shorter than 24 bytes',
  KA_ERR_IP_TRUNCATED: 'an IPv4/IPv6 packet is shorter than its header or than its length field says',
  KA_ERR_IP_BAD_HEADER:
    'an IP header has the wrong version, an IHL below 5 or a total length below its header length',
  KA_ERR_ETH_TRUNCATED: 'an Ethernet frame is shorter than 14 bytes',
  KA_ERR_ARP_TRUNCATED: 'an ARP packet is shorter than 28 bytes',
  KA_ERR_ARP_UNSUPPORTED: 'an ARP packet is not Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4)',
  KA_ERR_NDISC_TRUNCATED: 'an ICMPv6 Neighbour Advertisement or one of its options is cut short',
  KA_ERR_NDISC_BAD_TYPE: 'an ICMPv6 message is not a Neighbour Advertisement (type 136, code 0)',
  KA_ERR_NDISC_BAD_OPTION: 'a Neighbour Discovery option has length 0',
  KA_ERR_NDISC_BAD_CHECKSUM: 'an ICMPv6 checksum does not verify against the given pseudo-header',
  KA_ERR_WIRE_BAD_ADDRESS: 'an address or MAC given to an encoder is not valid text for its family',
  KA_ERR_WIRE_BAD_FIELD: 'a field given to an encoder is out of range for the packet format',
});

/** Error codes of the rtnetlink and generic-netlink controller codecs, documented in docs/errors/wire.md. */
export const RtnlErrors = defineCodes('wire', {
  KA_ERR_RTNL_BAD_MSG:
    'an rtnetlink message has a short fixed header, an unknown family or an attribute of the wrong size',
  KA_ERR_GENL_BAD_REPLY:
    'a generic netlink controller reply is not CTRL_CMD_NEWFAMILY or lacks the family id or name',
});

/** Throws the typed error of the packet codecs (one code per cause, see PacketErrors). */
export function packetError(
  code: keyof typeof PacketErrors,
  message: string,
  details: Record<string, unknown> = {},
): never {
  throw new KaError(code, message, details);
}

/** Error codes of the IPVS generic netlink codec (src/wire/ipvs.ts), documented in docs/errors/wire.md. */
export const IpvsWireErrors = defineCodes('wire', {
  KA_ERR_IPVS_BAD_REPLY:
    'an IPVS generic netlink message lacks a required attribute or has one of the wrong size',
  KA_ERR_IPVS_BAD_VALUE: 'a value to encode is out of range (address, port, scheduler name, flags)',
});
