// Sends raw IPv4 packets (IP_HDRINCL) read as JSON from stdin: [{ "hex": "...", "dst": "a.b.c.d" }].
// Run inside a lab node (`ip netns exec NS node inject.mjs IFNAME`); uses the compiled raw-socket
// wrapper so the packets leave exactly as given (the kernel fills in the IP checksum and total length).
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { RawSocket } from '../../../dist/sys/raw-socket.js';

const ifname = process.argv[2] ?? 'eth0';
const packets = JSON.parse(readFileSync(0, 'utf8'));
const ifindex = Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
if (!networkInterfaces()[ifname]) throw new Error(`no interface ${ifname}`);
const sock = RawSocket.open({
  family: 4,
  protocol: 112,
  ifname,
  ifindex,
  hdrincl: true,
  receive: false,
  ttl: 255,
});
let sent = 0;
for (const p of packets) {
  sock.send(Buffer.from(p.hex, 'hex'), p.dst);
  sent++;
  // Spread them a little: the receiver's socket buffer is not what is under test.
  if (sent % 20 === 0) await new Promise((r) => setTimeout(r, 5));
}
sock.close();
process.stdout.write(`${sent}\n`);
