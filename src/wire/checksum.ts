/**
 * Internet checksum (RFC 1071) with IPv4/IPv6 pseudo-headers, and the RFC 1624 incremental update.
 * Facts: shared/reference/wire-and-kernel.md §1.5. Hand-written: it is a dozen lines, and the npm
 * packages that offer it (e.g. raw-socket) bring a native addon with them.
 */

/** Adds the big-endian 16-bit words of `buf` to `acc` (an odd last byte is padded with zero). Unfolded. */
export function sum16(buf: Uint8Array, acc = 0): number {
  let sum = acc;
  const even = buf.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  return sum;
}

/** Folds an accumulated sum to 16 bits (end-around carry). */
export function fold16(acc: number): number {
  let sum = acc;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** RFC 1071 checksum of `buf` plus a partial sum `acc` (e.g. a pseudo-header). 0 means "verifies". */
export function internetChecksum(buf: Uint8Array, acc = 0): number {
  return ~fold16(sum16(buf, acc)) & 0xffff;
}

/**
 * Partial sum of the pseudo-header: IPv4 (RFC 768 style: src, dst, 0, proto, be16 length) when the
 * addresses are 4 bytes, IPv6 (RFC 8200 §8.1: src, dst, be32 length, 0, 0, 0, next header) when 16.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  // The word sums of both layouts reduce to the same expression (length and protocol in separate words).
  return sum16(src, sum16(dst)) + protocol + (length >>> 16) + (length & 0xffff);
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word changing from `oldWord` to `newWord`. */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  return ~fold16((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}
