/**
 * Our own captures (not in the reference): Debian's keepalived 2.2.7 as MASTER in one network namespace,
 * joined by a veth pair to a second namespace where `tcpdump -U -w` ran on the peer end; dumped with
 * `tcpdump -xx`. Sender 02:00:00:00:02:01, 192.0.2.1 / fe80::ff:fe00:201; peer 192.0.2.2. Config:
 *
 *   global_defs { vrrp_version 2 }
 *   vrrp_instance V3U   { state MASTER  version 3  virtual_router_id 61  priority 255  advert_int 0.1
 *                         unicast_src_ip 192.0.2.1  unicast_peer { 192.0.2.2 }  virtual_ipaddress { 192.0.2.161/24 } }
 *   vrrp_instance V2AHU { state MASTER  virtual_router_id 62  priority 255  advert_int 1
 *                         authentication { auth_type AH  auth_pass uniah }
 *                         unicast_src_ip 192.0.2.1  unicast_peer { 192.0.2.2 }  virtual_ipaddress { 192.0.2.162/24 } }
 *   vrrp_instance V3V6  { state MASTER  version 3  virtual_router_id 63  priority 200  advert_int 0.5
 *                         virtual_ipaddress { fe80::63/64  fd00::63/64 } }
 *
 * then SIGTERM (priority-0 adverts). They cover what §3 does not: the v3 pseudo-header with a unicast
 * destination, a 10 cs interval, the AH ICV with the TTL zeroed (unicast), and an NA for a link-local VIP.
 */
import { hex } from '../../support/hex.js';

/** V3U: v3 IPv4 unicast, 10 cs, first advert (IP id 1). */
export const OWN_V3_UNICAST = hex(`
0000  02 00 00 00 02 02 02 00 00 00 02 01 08 00 45 c0
0010  00 20 00 01 00 00 ff 70 36 a9 c0 00 02 01 c0 00
0020  02 02 31 3d ff 01 00 0a 88 94 c0 00 02 a1`);
/** V3U: priority 0 on SIGTERM (IP id 0x33 after 50 adverts). */
export const OWN_V3_UNICAST_PRIO0 = hex(`
0000  02 00 00 00 02 02 02 00 00 00 02 01 08 00 45 c0
0010  00 20 00 33 00 00 ff 70 36 77 c0 00 02 01 c0 00
0020  02 02 31 3d 00 01 00 0a 87 95 c0 00 02 a1`);
/** V2AHU: v2 AH unicast, seq 1. */
export const OWN_AH_UNICAST = hex(`
0000  02 00 00 00 02 02 02 00 00 00 02 01 08 00 45 c0
0010  00 40 00 01 00 00 ff 33 36 c6 c0 00 02 01 c0 00
0020  02 02 70 04 00 00 c0 00 02 01 00 00 00 01 dc 36
0030  a8 49 53 a4 a0 6b 79 96 62 44 21 3e ff 01 02 01
0040  1b 1c c0 00 02 a2 00 00 00 00 00 00 00 00`);
/** V2AHU: priority 0 on SIGTERM, seq 7, IP id 7. */
export const OWN_AH_UNICAST_PRIO0 = hex(`
0000  02 00 00 00 02 02 02 00 00 00 02 01 08 00 45 c0
0010  00 40 00 07 00 00 ff 33 36 c0 c0 00 02 01 c0 00
0020  02 02 70 04 00 00 c0 00 02 01 00 00 00 07 3f d1
0030  80 70 ae 24 c1 06 1c e7 b5 9d 21 3e 00 01 02 01
0040  1a 1d c0 00 02 a2 00 00 00 00 00 00 00 00`);
/** V3V6: v3 IPv6 multicast, 50 cs. */
export const OWN_V3_IPV6 = hex(`
0000  33 33 00 00 00 12 02 00 00 00 02 01 86 dd 6c 04
0010  bd d0 00 28 70 ff fe 80 00 00 00 00 00 00 00 00
0020  00 ff fe 00 02 01 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 12 31 3f c8 02 00 32 0b 15 fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 63 fd 00
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 63`);
export const OWN_V3_IPV6_PRIO0 = hex(`
0000  33 33 00 00 00 12 02 00 00 00 02 01 86 dd 6c 04
0010  bd d0 00 28 70 ff fe 80 00 00 00 00 00 00 00 00
0020  00 ff fe 00 02 01 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 12 31 3f 00 02 00 32 d3 15 fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 63 fd 00
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 63`);
/** V3V6: unsolicited NA for the link-local VIP fe80::63 (source = the VIP). */
export const OWN_NA_LINK_LOCAL = hex(`
0000  33 33 00 00 00 01 02 00 00 00 02 01 86 dd 60 00
0010  00 00 00 20 3a ff fe 80 00 00 00 00 00 00 00 00
0020  00 00 00 00 00 63 ff 02 00 00 00 00 00 00 00 00
0030  00 00 00 00 00 01 88 00 54 d7 20 00 00 00 fe 80
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 63 02 01
0050  02 00 00 00 02 01`);
