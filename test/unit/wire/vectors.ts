/**
 * Golden frames captured from keepalived 2.2.7 (two instances in network namespaces on a bridge,
 * `tcpdump -xx` on the bridge port), copied from shared/reference/wire-and-kernel.md §3. Sender wr1:
 * MAC 02:00:00:00:55:01, 10.55.0.1, link-local fe80::ff:fe00:5501. Complete Ethernet frames, no FCS.
 */
import { hex } from '../../support/hex.js';

/** §3.2 VRRPv2, PASS "secret1", VRID 51, prio 150, VIP 10.55.0.100. */
export const V2_PASS = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 28 00 01 00 00 ff 70 d0 5a 0a 37 00 01 e0 00
0020  00 12 21 33 96 01 01 01 cf e2 0a 37 00 64 73 65
0030  63 72 65 74 31 00`);

/** §3.3 VRRPv2, no auth, VRID 52, 3 VIPs. */
export const V2_3VIP = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 30 00 01 00 00 ff 70 d0 52 0a 37 00 01 e0 00
0020  00 12 21 34 96 03 00 01 28 f0 0a 37 00 65 0a 37
0030  00 66 0a 37 00 67 00 00 00 00 00 00 00 00`);

/** §3.4 VRRPv3 IPv4, VRID 53, 100 cs, VIP 10.55.0.110. */
export const V3_IPV4 = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 20 00 01 00 00 ff 70 d0 62 0a 37 00 01 e0 00
0020  00 12 31 35 96 01 00 64 42 f9 0a 37 00 6e`);

/** §3.5 VRRPv3 IPv6, VRID 54, VIPs fe80::54, fd55::54. */
export const V3_IPV6 = hex(`
0000  33 33 00 00 00 12 02 00 00 00 55 01 86 dd 6c 04
0010  ba 7a 00 28 70 ff fe 80 00 00 00 00 00 00 00 00
0020  00 ff fe 00 55 01 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 12 31 36 96 02 00 64 e9 b4 fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 54 fd 55
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 54`);

/** §3.6 priority-0 adverts on SIGTERM (IP id 7). */
export const V2_PASS_PRIO0 = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 28 00 07 00 00 ff 70 d0 54 0a 37 00 01 e0 00
0020  00 12 21 33 00 01 01 01 65 e3 0a 37 00 64 73 65
0030  63 72 65 74 31 00`);
export const V3_IPV4_PRIO0 = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 20 00 07 00 00 ff 70 d0 5c 0a 37 00 01 e0 00
0020  00 12 31 35 00 01 00 64 d8 f9 0a 37 00 6e`);
export const V3_IPV6_PRIO0 = hex(`
0000  33 33 00 00 00 12 02 00 00 00 55 01 86 dd 6c 04
0010  ba 7a 00 28 70 ff fe 80 00 00 00 00 00 00 00 00
0020  00 ff fe 00 55 01 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 12 31 36 00 02 00 64 7f b5 fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 54 fd 55
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 54`);

/** §3.7 gratuitous ARP for 10.55.0.100. */
export const GARP = hex(`
0000  ff ff ff ff ff ff 02 00 00 00 55 01 08 06 00 01
0010  08 00 06 04 00 01 02 00 00 00 55 01 0a 37 00 64
0020  ff ff ff ff ff ff 0a 37 00 64`);

/** §3.8 VRRPv2 with IPsec-AH, pass "ahpass1", VRID 56, seq 7. */
export const V2_AH = hex(`
0000  01 00 5e 00 00 12 02 00 00 00 55 01 08 00 45 c0
0010  00 40 00 01 00 00 ff 33 d0 7f 0a 37 00 01 e0 00
0020  00 12 70 04 00 00 0a 37 00 01 00 00 00 07 37 1f
0030  fe c8 fe 89 4a 65 54 57 36 aa 21 38 96 01 02 01
0040  3c 16 0a 37 00 78 00 00 00 00 00 00 00 00`);

/** §1.6 worked ICV input for §3.8 (64 bytes) and its HMAC-MD5. */
export const V2_AH_ICV_INPUT = hex(`
0000  45 00 00 40 00 01 00 00 ff 33 00 00 0a 37 00 01
0010  e0 00 00 12 70 04 00 00 0a 37 00 01 00 00 00 07
0020  00 00 00 00 00 00 00 00 00 00 00 00 21 38 96 01
0030  02 01 3c 16 0a 37 00 78 00 00 00 00 00 00 00 00`);
export const V2_AH_HMAC = '371ffec8fe894a65545736aadcf3999e';

/** §3.9 unsolicited NA for fd55::54. */
export const NA = hex(`
0000  33 33 00 00 00 01 02 00 00 00 55 01 86 dd 60 00
0010  00 00 00 20 3a ff fd 55 00 00 00 00 00 00 00 00
0020  00 00 00 00 00 54 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 01 88 00 04 4b 20 00 00 00 fd 55
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 54 02 01
0050  02 00 00 00 55 01`);

/** §3.10 use_vmac: VRID 55 advert (prio 255) and GARP from 00:00:5e:00:01:37; VRID 57 IPv6 advert. */
export const VMAC_ADVERT = hex(`
0000  01 00 5e 00 00 12 00 00 5e 00 01 37 08 00 45 c0
0010  00 28 00 01 00 00 ff 70 d0 5a 0a 37 00 01 e0 00
0020  00 12 21 37 ff 01 00 01 d4 f3 0a 37 00 9b 00 00
0030  00 00 00 00 00 00`);
export const VMAC_GARP = hex(`
0000  ff ff ff ff ff ff 00 00 5e 00 01 37 08 06 00 01
0010  08 00 06 04 00 01 00 00 5e 00 01 37 0a 37 00 9b
0020  ff ff ff ff ff ff 0a 37 00 9b`);
export const VMAC_ADVERT6 = hex(`
0000  33 33 00 00 00 12 00 00 5e 00 02 39 86 dd 6c 04
0010  ba 7a 00 28 70 ff fe 80 00 00 00 00 00 00 00 00
0020  00 ff fe 00 55 01 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 12 31 39 ff 02 00 64 80 ab fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 57 fd 55
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 57`);

/** A buffer of `n` bytes of 0xa5 junk, so an unwritten byte shows. */
export const junk = (n: number): Buffer => Buffer.alloc(n, 0xa5);
