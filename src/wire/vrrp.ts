/**
 * VRRP v2 (RFC 3768) and v3 (RFC 5798) advertisement codec: pure functions between Buffers and
 * `VrrpAdvert`. The codec checks lengths and the packet's own rules only; policy (my VRID? my
 * interval? my peer?) belongs to src/vrrp/ (STYLE.md habit 2).
 */

/** A decoded (or to-be-encoded) advertisement, without the IP header. */
export interface VrrpAdvert {
  version: 2 | 3;
  /** Type nibble; 1 = ADVERTISEMENT (anything else is rejected by receive validation). */
  type: number;
  vrid: number;
  priority: number;
  /** v2: seconds (8 bits). v3: centiseconds (12 bits). */
  advertInterval: number;
  /** v2 only: 0 none, 1 PASS, 2 AH. Always 0 for v3. */
  authType: number;
  /** v2 only: the 8 auth-data bytes (zeros unless PASS). Empty for v3. */
  authData: Buffer;
  /** Textual addresses (IPv4 dotted quad or IPv6), in packet order. */
  addresses: string[];
  family: 4 | 6;
  /** Checksum as found on the wire (decode) - encode computes it. */
  checksum: number;
}

/** What the receive path hands to the state machine: the advert plus what the IP layer told us. */
export interface ReceivedAdvert {
  advert: VrrpAdvert;
  /** Source address of the IP packet (textual). */
  src: string;
  /** Destination address of the IP packet (textual). */
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6). */
  ttl: number;
  ifindex: number;
}
