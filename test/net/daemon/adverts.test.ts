/**
 * Adverts of a running keepalived-ts MASTER as a peer receives them: the daemon encodes each advert
 * once and only stamps the IP id per send (src/daemon/vrrp-host.ts), so this checks on the wire that
 * every advert is a whole valid packet (IP header checksum, VRRP checksum, TTL 255), that the IP id
 * advances by one per advert as keepalived's does, and that nothing else changes between adverts.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inNetns } from '../../../src/sys/netns.js';
import { type RawMessage, RawSocket } from '../../../src/sys/raw-socket.js';
import { decodeIpv4, ipv4HeaderChecksumOk, nextIpId } from '../../../src/wire/ip.js';
import { decodeVrrp, verifyVrrpChecksum } from '../../../src/wire/vrrp.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VRID = 9;
const VIP = '192.0.2.90';

const CONFIG = `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id ${VRID}
  priority 150
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

describeIf('adverts of a running keepalived-ts on the wire', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let x: LabNode;
  let sock: RawSocket | undefined;

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    d = topo.node('d');
    x = topo.node('x');
    d.startDaemon({ command: keepalivedTsCommand(), config: CONFIG, name: 'keepalived-ts' });
    await waitForHolders([d, x], VIP, ['d'], 15_000);
  });

  afterAll(async () => {
    sock?.close();
    await topo?.destroy();
  });

  it('each advert is a valid packet; the IP id advances by one; nothing else changes', async () => {
    const s = inNetns(x.ns, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'eth0' }));
    sock = s;
    s.join('224.0.0.18');
    const got: RawMessage[] = [];
    await new Promise<void>((resolve) => {
      s.on('message', (m) => {
        if (m.data[20 + 1] === VRID && got.push(m) === 10) resolve();
      });
    });
    const ids: number[] = [];
    for (const m of got) {
      expect(ipv4HeaderChecksumOk(m.data)).toBe(true);
      const { header, payload } = decodeIpv4(m.data);
      expect([header.ttl, header.protocol, m.src, m.dst]).toEqual([255, 112, '192.0.2.1', '224.0.0.18']);
      expect(verifyVrrpChecksum(payload, { src: m.src, dst: '224.0.0.18' })).toBe(true);
      const a = decodeVrrp(payload, 4);
      expect([a.version, a.vrid, a.priority, a.advertInterval, a.addresses]).toEqual([
        3,
        VRID,
        150,
        10,
        [VIP],
      ]);
      ids.push(header.id);
      expect(payload).toEqual(decodeIpv4(got[0]!.data).payload);
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(nextIpId(ids[i - 1]!));
  });
});
