/**
 * Malformed adverts at a running keepalived-ts: from a raw socket in a peer namespace we send adverts
 * with every field wrong in turn, truncations and random bytes, all claiming priority 200 (so one
 * wrongly accepted would push our MASTER, priority 100, to BACKUP). Each must be dropped and counted
 * under its code (read from /metrics inside the namespace); the daemon keeps running
 * and stays MASTER. A last, valid advert proves the injector reaches it.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { internetChecksum } from '../../../src/wire/checksum.js';
import { encodeVrrpIpv4Packet } from '../../../src/wire/vrrp.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VRID = 7;
/** /metrics inside the daemon's namespace (its loopback, nothing outside it). */
const METRICS_PORT = 9651;
const VIP = '192.0.2.70';
const GROUP = '224.0.0.18';
const INJECT = resolve(dirname(fileURLToPath(import.meta.url)), 'inject.mjs');

const CONFIG = `
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id ${VRID}
  priority 100
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

/** A valid v2 advert from `src`, priority 200, as a whole IPv4 packet. */
function valid(src: string, over: { vrid?: number; addresses?: string[]; ttl?: number } = {}): Buffer {
  return encodeVrrpIpv4Packet({
    advert: {
      version: 2,
      type: 1,
      vrid: over.vrid ?? VRID,
      priority: 200,
      addresses: over.addresses ?? [VIP],
      authType: 0,
      advertInterval: 1,
      authData: Buffer.alloc(8),
      family: 4,
    },
    id: 1,
    src,
    dst: GROUP,
    ipChecksum: 'compute',
    ...(over.ttl === undefined ? {} : { ttl: over.ttl }),
  });
}

/** Change VRRP bytes (offset from the VRRP header) and, unless told not to, fix the VRRPv2 checksum. */
function mutate(pkt: Buffer, edit: (v: Buffer) => void, fixChecksum = true): Buffer {
  const out = Buffer.from(pkt);
  const v = out.subarray(20);
  edit(v);
  if (fixChecksum) {
    v.writeUInt16BE(0, 6);
    v.writeUInt16BE(internetChecksum(v), 6);
  }
  return out;
}

interface Case {
  readonly name: string;
  readonly packet: Buffer;
  /** Counter (without the `vrrp.rx.` prefix) this case must raise on the instance; a regexp for "one of". */
  readonly code: string | RegExp;
}

describeIf('malformed adverts at a running keepalived-ts', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let x: LabNode;
  let proc: LabProcess;
  let tmp: string;

  /** The instance's receive-check counters (`vrrp.rx.CODE`) and adverts received, from /metrics inside the node. */
  const stats = async (): Promise<Record<string, number>> => {
    const text = await d.exec('curl', ['-sf', `http://127.0.0.1:${METRICS_PORT}/metrics`]);
    const out: Record<string, number> = {};
    for (const m of text.matchAll(
      /^keepalived_ts_vrrp_rx_dropped_total\{[^}]*code="([^"]+)"[^}]*\} (\d+)$/gm,
    ))
      out[`vrrp.rx.${m[1]}`] = Number(m[2]);
    const rcvd = /^keepalived_advert_rcvd_total\{[^}]*\} (\d+)$/m.exec(text);
    if (rcvd) out['vrrp.advert_rcvd'] = Number(rcvd[1]);
    return out;
  };

  /** SIGUSR1, then the instance state from the fresh keepalived.data (removed first, so never stale). */
  const state = async (): Promise<string> => {
    const path = join(tmp, 'keepalived.data');
    rmSync(path, { force: true });
    proc.signal('SIGUSR1');
    return await waitFor({
      what: 'the data dump',
      probe: () => {
        try {
          return /^ {3}State = (\w+)$/m.exec(readFileSync(path, 'utf8'))?.[1];
        } catch {
          return undefined;
        }
      },
      timeoutMs: 5_000,
    });
  };

  const inject = async (packets: readonly Buffer[]): Promise<number> => {
    const input = JSON.stringify(packets.map((p) => ({ hex: p.toString('hex'), dst: GROUP })));
    return Number(await x.exec(process.execPath, [INJECT, 'eth0'], input));
  };

  beforeAll(async () => {
    topo = await createTopology({
      nodes: [
        { name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] },
        { name: 'x', links: [{ addrs: ['192.0.2.2/24'] }] },
      ],
    });
    d = topo.node('d');
    x = topo.node('x');
    tmp = join(topo.dir, 'd-tmp');
    mkdirSync(tmp, { recursive: true });
    const dir = join(topo.dir, 'd-daemon');
    mkdirSync(dir, { recursive: true });
    const conf = join(dir, 'keepalived.conf');
    writeFileSync(conf, CONFIG);
    proc = d.spawn(
      [
        ...keepalivedTsCommand(),
        '-n',
        '-l',
        '-D',
        '-f',
        conf,
        '-p',
        join(dir, 'p'),
        '-r',
        join(dir, 'r'),
        '-c',
        join(dir, 'c'),
        '--metrics-address',
        `127.0.0.1:${METRICS_PORT}`,
      ],
      { name: 'keepalived-ts', env: { TMPDIR: tmp }, cwd: dir },
    );
    await waitForHolders([d, x], VIP, ['d'], 15_000);
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('drops and counts adverts with each field wrong in turn and truncated ones; stays MASTER', async () => {
    const src = x.primaryAddress();
    const base = valid(src);
    const cases: Case[] = [
      { name: 'TTL 64', packet: valid(src, { ttl: 64 }), code: 'KA_ERR_VRRP_RX_TTL' },
      // keepalived checks the length implied by the packet's own version and count before the version.
      {
        name: 'version 3',
        packet: mutate(base, (v) => (v[0] = 0x31)),
        code: 'KA_ERR_VRRP_RX_LENGTH',
      },
      {
        name: 'version 1',
        packet: mutate(base, (v) => (v[0] = 0x11)),
        code: 'KA_ERR_VRRP_RX_LENGTH',
      },
      {
        name: 'version 3 with a v3 length',
        packet: mutate(base.subarray(0, 32), (v) => (v[0] = 0x31)),
        code: 'KA_ERR_VRRP_RX_VERSION',
      },
      { name: 'type 2', packet: mutate(base, (v) => (v[0] = 0x22)), code: 'KA_ERR_VRRP_RX_TYPE' },
      {
        name: 'auth type PASS',
        packet: mutate(base, (v) => (v[4] = 1)),
        code: 'KA_ERR_VRRP_RX_AUTH_TYPE_MISMATCH',
      },
      {
        name: 'auth type 7',
        packet: mutate(base, (v) => (v[4] = 7)),
        code: 'KA_ERR_VRRP_RX_AUTH_TYPE_INVALID',
      },
      { name: 'interval 3', packet: mutate(base, (v) => (v[5] = 3)), code: 'KA_ERR_VRRP_RX_INTERVAL' },
      {
        name: 'address count 2',
        packet: mutate(base, (v) => (v[3] = 2)),
        code: 'KA_ERR_VRRP_RX_LENGTH',
      },
      {
        name: 'address count 0',
        packet: mutate(base, (v) => (v[3] = 0)),
        code: 'KA_ERR_VRRP_RX_LENGTH',
      },
      {
        name: 'checksum',
        packet: mutate(base, (v) => (v[7] = (v[7]! ^ 0xff) & 0xff), false),
        code: 'KA_ERR_VRRP_RX_CHECKSUM',
      },
      {
        name: 'other VIP',
        packet: valid(src, { addresses: ['192.0.2.99'] }),
        code: 'KA_ERR_VRRP_RX_VIP_MISSING',
      },
      { name: 'IP header only', packet: base.subarray(0, 20), code: 'KA_ERR_VRRP_RX_TRUNCATED' },
      { name: 'VRRP 4 bytes', packet: base.subarray(0, 24), code: 'KA_ERR_VRRP_RX_TRUNCATED' },
      { name: 'VRRP header only', packet: base.subarray(0, 28), code: 'KA_ERR_VRRP_RX_LENGTH' },
      { name: 'no auth data', packet: base.subarray(0, 32), code: 'KA_ERR_VRRP_RX_LENGTH' },
      {
        name: 'trailing bytes',
        packet: Buffer.concat([base, Buffer.alloc(5)]),
        code: 'KA_ERR_VRRP_RX_LENGTH',
      },
    ];
    const REPEAT = 3;
    const rx = (s: Record<string, number>, c: Case) =>
      Object.entries(s)
        .filter(([k]) => k.startsWith('vrrp.rx.'))
        .filter(([k]) => {
          const code = k.slice('vrrp.rx.'.length);
          return typeof c.code === 'string' ? code === c.code : c.code.test(code);
        });
    const first = await stats();
    const report: string[] = [];
    // One case at a time, so each counter increase is attributed to the case that caused it.
    for (const c of cases) {
      const before = await stats();
      expect(await inject(Array.from({ length: REPEAT }, () => c.packet))).toBe(REPEAT);
      const after = await waitFor({
        what: `${c.name}: ${REPEAT} rejections counted under ${String(c.code)}`,
        probe: stats,
        until: (s) => rx(s, c).reduce((n, [k, v]) => n + v - (before[k] ?? 0), 0) >= REPEAT,
        timeoutMs: 5_000,
      });
      const moved = rx(after, c)
        .filter(([k, v]) => v !== (before[k] ?? 0))
        .map(([k, v]) => `${k.slice('vrrp.rx.'.length)} +${v - (before[k] ?? 0)}`);
      report.push(`${c.name}: ${moved.join(', ')}`);
    }
    // Other VRID: not ours, dropped before validation (counted on the host, not the instance).
    await inject([valid(src, { vrid: VRID + 1 })]);
    const after = await stats();
    const delta = (k: string) => (after[k] ?? 0) - (first[k] ?? 0);
    console.log(`malformed: ${cases.length * REPEAT} packets sent; ${report.join('; ')}`);
    expect(delta('vrrp.advert_rcvd')).toBe(0);
    expect(proc.running).toBe(true);
    expect(await state()).toBe('MASTER');
    expect(await d.hasAddress(VIP)).toBe(true);
  });

  it('drops random bytes (VRID forced to ours half the time) and keeps running', async () => {
    const src = x.primaryAddress();
    const header = valid(src).subarray(0, 20);
    const payloads = fc.sample(
      fc.record({ body: fc.uint8Array({ minLength: 0, maxLength: 64 }), ours: fc.boolean() }),
      { numRuns: 300, seed: 0x5eed },
    );
    const packets = payloads.map(({ body, ours }) => {
      const b = Buffer.from(body);
      if (ours && b.length > 1) b[1] = VRID;
      return Buffer.concat([header, b]);
    });
    const ourCount = payloads.filter((p) => p.ours && p.body.length > 1).length;
    const before = await stats();
    const sum = (s: Record<string, number>) =>
      Object.entries(s)
        .filter(([k]) => k.startsWith('vrrp.rx.'))
        .reduce((n, [, v]) => n + v, 0);
    expect(await inject(packets)).toBe(packets.length);
    const after = await waitFor({
      what: 'the random packets counted',
      probe: stats,
      until: (s) => sum(s) - sum(before) >= ourCount,
      timeoutMs: 5_000,
    });
    console.log(
      `malformed: ${packets.length} random packets (${ourCount} naming VRID ${VRID}), instance rejections +${sum(after) - sum(before)}`,
    );
    expect((after['vrrp.advert_rcvd'] ?? 0) - (before['vrrp.advert_rcvd'] ?? 0)).toBe(0);
    expect(proc.running).toBe(true);
    expect(await state()).toBe('MASTER');
  });

  it('accepts a valid higher-priority advert from the same injector (the path works): goes BACKUP', async () => {
    const before = await stats();
    await inject([valid(x.primaryAddress())]);
    await waitForHolders([d, x], VIP, [], 5_000);
    const after = await stats();
    expect((after['vrrp.advert_rcvd'] ?? 0) - (before['vrrp.advert_rcvd'] ?? 0)).toBe(1);
    expect(await state()).toBe('BACKUP');
    // Nobody advertises any more: it takes the VIP back after Master_Down_Interval.
    await waitForHolders([d, x], VIP, ['d'], 10_000);
    expect(proc.running).toBe(true);
  });
});
