import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import snmp from 'net-snmp';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { answer, parseSnmpSocket, readSearchRanges, SnmpAgent } from '../../../src/snmp/agent.js';
import { DaemonSnmp, snmpSettings } from '../../../src/snmp/daemon.js';
import { type KeepalivedMibInput, parseOid, type Varbind } from '../../../src/snmp/keepalived-mib.js';

const FIX = join(import.meta.dirname, '../../interop/fixtures/snmp');
const P = snmp.AgentXPduType;

/** An AgentX PDU header (network byte order) followed by `payload`. */
function pdu(type: number, payload: Buffer, packetID = 7, sessionID = 1): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt8(1, 0);
  h.writeUInt8(type, 1);
  h.writeUInt8(0x10, 2);
  h.writeUInt32BE(sessionID, 4);
  h.writeUInt32BE(0, 8);
  h.writeUInt32BE(packetID, 12);
  h.writeUInt32BE(payload.length, 16);
  return Buffer.concat([h, payload]);
}

/** An AgentX OID (RFC 2741 §5.1), with the 1.3.6.1.X prefix compressed. */
function oidBytes(text: string, include = false): Buffer {
  if (text === '') return Buffer.alloc(4);
  const sub = parseOid(text);
  const prefixed = sub.length > 4 && sub[0] === 1 && sub[1] === 3 && sub[2] === 6 && sub[3] === 1;
  const rest = prefixed ? sub.slice(5) : sub;
  const b = Buffer.alloc(4 + 4 * rest.length);
  b.writeUInt8(rest.length, 0);
  b.writeUInt8(prefixed ? (sub[4] as number) : 0, 1);
  b.writeUInt8(include ? 1 : 0, 2);
  for (const [i, n] of rest.entries()) b.writeUInt32BE(n, 4 + 4 * i);
  return b;
}

const getNext = (start: string, end = '', include = false, packetID = 7) =>
  pdu(P.GetNext as number, Buffer.concat([oidBytes(start, include), oidBytes(end)]), packetID);

/** Reads the varbinds of a Response PDU (RFC 2741 §5.4) back into OID, type and value. */
function responseVarbinds(frame: Buffer): { oid: string; type: number; value: number | Buffer | null }[] {
  const end = 20 + frame.readUInt32BE(16);
  let o = 28;
  const out: { oid: string; type: number; value: number | Buffer | null }[] = [];
  while (o < end) {
    const type = frame.readUInt16BE(o);
    o += 4;
    const n = frame[o] as number;
    const prefix = frame[o + 1] as number;
    o += 4;
    const sub = prefix ? [1, 3, 6, 1, prefix] : [];
    for (let i = 0; i < n; i++, o += 4) sub.push(frame.readUInt32BE(o));
    let value: number | Buffer | null = null;
    if (type === 2) value = frame.readInt32BE(o);
    if (type === 66 || type === 67) value = frame.readUInt32BE(o);
    if (type === 2 || type === 66 || type === 67) o += 4;
    if (type === 6) o += 4 + 4 * (frame[o] as number);
    if (type === 4) {
      const len = frame.readUInt32BE(o);
      value = frame.subarray(o + 4, o + 4 + len);
      o += 4 + len + ((4 - (len % 4)) % 4);
    }
    out.push({ oid: sub.join('.'), type, value });
  }
  return out;
}

/**
 * A scripted AgentX master on a unix socket: answers Open, Register and AddAgentCaps (or not, or
 * with an error, as told) and records every PDU the sub-agent sends.
 */
class FakeMaster {
  readonly dir = mkdtempSync(join(tmpdir(), 'kts-agentx-'));
  readonly path = join(this.dir, 'master');
  readonly received: Buffer[] = [];
  conns: Socket[] = [];
  private server: Server | undefined;
  constructor(private readonly mode: { silent?: boolean; refuse?: number } = {}) {}

  listen(): Promise<void> {
    this.server = createServer((c) => {
      this.conns.push(c);
      let pending = Buffer.alloc(0);
      c.on('error', () => {});
      c.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 20 && pending.length >= 20 + pending.readUInt32BE(16)) {
          const f = pending.subarray(0, 20 + pending.readUInt32BE(16));
          pending = pending.subarray(f.length);
          this.received.push(f);
          const type = f[1] as number;
          if (this.mode.silent || type === P.Response) continue;
          const r = snmp.AgentXPdu.createFromVariables({
            pduType: P.Response,
            sessionID: type === P.Open ? 42 : f.readUInt32BE(4),
            packetID: f.readUInt32BE(12),
            error: type === P.Open ? (this.mode.refuse ?? 0) : 0,
          });
          c.write(r.toBuffer());
        }
      });
    });
    return new Promise((res) => this.server?.listen(this.path, res));
  }

  /** The next Response PDU the sub-agent sends after `send`. */
  async ask(frame: Buffer): Promise<Buffer> {
    const before = this.received.length;
    this.conns.at(-1)?.write(frame);
    for (let i = 0; i < 200; i++) {
      const r = this.received.slice(before).find((f) => f[1] === P.Response);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error('no response');
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise((res) => this.server?.close(res));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const waitUntil = async (what: string, f: () => boolean, ms = 3000) => {
  for (let t = 0; t < ms; t += 10) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
};

function nodeAView(): KeepalivedMibInput {
  const { config } = loadConfig(join(FIX, 'node-a.conf'), { configId: 'nodeA' });
  const inst = (iname: string, state: number, prio: number) => ({
    iname,
    state,
    base_priority: prio,
    effective_priority: prio,
    vipset: state === 2,
    ifp_ifname: 'eth0',
    ifindex: 2,
  });
  return {
    config,
    version: 'Keepalived v2.2.7 (test)',
    instances: [inst('VI_1', 2, 150), inst('VI_2', 1, 100)],
  };
}

describe('snmp_socket', () => {
  it("reads net-snmp's AgentX transports", () => {
    expect(parseSnmpSocket('unix:/var/agentx/master')).toEqual({ path: '/var/agentx/master' });
    expect(parseSnmpSocket('/run/agentx')).toEqual({ path: '/run/agentx' });
    expect(parseSnmpSocket('tcp:localhost:705')).toEqual({ host: 'localhost', port: 705 });
    expect(parseSnmpSocket('tcp:192.0.2.1')).toEqual({ host: '192.0.2.1', port: 705 });
    expect(parseSnmpSocket('tcp6:[fd00::1]:1705')).toEqual({ host: 'fd00::1', port: 1705 });
    expect(parseSnmpSocket('localhost:705')).toEqual({ host: 'localhost', port: 705 });
  });
  it('refuses other transports with a typed error', () => {
    for (const bad of ['udp:localhost:161', 'unix:', 'tcp:host:0', 'tcp:host:99999', 'ipx:00000000/0'])
      expect(() => parseSnmpSocket(bad), bad).toThrow(
        expect.objectContaining({ code: 'KA_ERR_SNMP_SOCKET_SPEC' }) as Error,
      );
  });
});

describe('settings', () => {
  const conf = (globals: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'kts-snmpconf-'));
    const p = join(dir, 'k.conf');
    writeFileSync(p, `global_defs {\n${globals.join('\n')}\n}\n`);
    try {
      return loadConfig(p, { configId: 'x' }).config;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  it('follows enable_snmp_*, enable_traps and snmp_socket, and -x / -A', () => {
    expect(snmpSettings(conf([]))).toBeUndefined();
    expect(snmpSettings(conf(['enable_snmp_vrrp', 'enable_traps', 'snmp_socket tcp:localhost:705']))).toEqual(
      {
        socket: 'tcp:localhost:705',
        vrrp: true,
        checker: false,
        rfcv2: false,
        rfcv3: false,
        traps: true,
      },
    );
    expect(snmpSettings(conf(['enable_snmp_keepalived']))?.vrrp).toBe(true);
    expect(snmpSettings(conf(['enable_snmp_rfc']))).toMatchObject({ vrrp: false, rfcv2: true, rfcv3: true });
    expect(snmpSettings(conf([]), { snmp: true, snmpAgentSocket: '/run/ax' })).toMatchObject({
      socket: '/run/ax',
      vrrp: true,
      checker: true,
      traps: false,
    });
    expect(snmpSettings(conf(['enable_snmp_vrrp']))?.socket).toBe('unix:/var/agentx/master');
  });
  it('a bad snmp_socket disables SNMP with a counted error instead of failing the daemon', () => {
    const counters = new Counters();
    const d = DaemonSnmp.create(
      conf(['enable_snmp_vrrp', 'snmp_socket udp:localhost:161']),
      {},
      {
        log: silentLogger,
        counters,
      },
    );
    expect(d).toBeUndefined();
    expect(counters.get('KA_ERR_SNMP_SOCKET_SPEC')).toBe(1);
  });
});

describe('request handling', () => {
  const binds: Varbind[] = [
    { oid: parseOid('1.3.6.1.4.1.9586.100.5.1.1.0'), type: 'octets', value: Buffer.from([0xc0, 0, 2, 0xfa]) },
    { oid: parseOid('1.3.6.1.4.1.9586.100.5.1.2.0'), type: 'integer', value: -1 },
    { oid: parseOid('1.3.6.1.4.1.9586.100.5.2.3.1.3.1'), type: 'gauge', value: 51 },
  ];
  it('reads the include flag and end of each search range from the PDU bytes', () => {
    const f = pdu(
      P.GetNext as number,
      Buffer.concat([
        oidBytes('1.3.6.1.4.1.9586.100.5.1', true),
        oidBytes('1.3.6.1.4.1.9586.100.5.2'),
        oidBytes('1.3.6.1.4.1.9586.100.5.2.3'),
        oidBytes(''),
      ]),
    );
    expect(readSearchRanges(f)).toEqual([
      {
        start: parseOid('1.3.6.1.4.1.9586.100.5.1'),
        include: true,
        end: parseOid('1.3.6.1.4.1.9586.100.5.2'),
      },
      { start: parseOid('1.3.6.1.4.1.9586.100.5.2.3'), include: false, end: undefined },
    ]);
    expect(() => readSearchRanges(f.subarray(0, 30))).toThrow(RangeError);
  });
  it('answers Get, GetNext (within the range) and GetBulk (non-repeaters, then rounds)', () => {
    const r = (start: string, end?: string, include = false) => ({
      start: parseOid(start),
      include,
      end: end ? parseOid(end) : undefined,
    });
    const oids = (v: { oid: string; type: number }[]) => v.map((x) => `${x.oid}/${x.type}`);
    expect(
      oids(
        answer(
          P.Get as number,
          [r('1.3.6.1.4.1.9586.100.5.1.2.0'), r('1.3.6.1.4.1.9586.100.5.1.3.0')],
          binds,
        ),
      ),
    ).toEqual(['1.3.6.1.4.1.9586.100.5.1.2.0/2', '1.3.6.1.4.1.9586.100.5.1.3.0/128']);
    expect(
      oids(
        answer(P.GetNext as number, [r('1.3.6.1.4.1.9586.100.5.1.2.0', '1.3.6.1.4.1.9586.100.5.2')], binds),
      ),
    ).toEqual(['1.3.6.1.4.1.9586.100.5.1.2.0/130']);
    expect(
      oids(
        answer(
          P.GetBulk as number,
          [r('1.3.6.1.4.1.9586.100.5'), r('1.3.6.1.4.1.9586.100.5.1.1.0')],
          binds,
          1,
          5,
        ),
      ),
    ).toEqual([
      '1.3.6.1.4.1.9586.100.5.1.1.0/4',
      '1.3.6.1.4.1.9586.100.5.1.2.0/2',
      '1.3.6.1.4.1.9586.100.5.2.3.1.3.1/66',
      '1.3.6.1.4.1.9586.100.5.2.3.1.3.1/130',
    ]);
  });
});

describe('SnmpAgent with a scripted AgentX master', () => {
  let master: FakeMaster | undefined;
  let agent: SnmpAgent | undefined;
  afterEach(async () => {
    await agent?.stop();
    await master?.close();
    agent = undefined;
    master = undefined;
  });

  const start = async (mode: ConstructorParameters<typeof FakeMaster>[0] = {}, view = nodeAView) => {
    master = new FakeMaster(mode);
    await master.listen();
    const counters = new Counters();
    agent = new SnmpAgent({
      socket: `unix:${master.path}`,
      retryMs: 20,
      retryMaxMs: 40,
      answerTimeoutMs: 200,
    });
    agent.start(view, silentLogger, counters);
    return counters;
  };

  it('opens a session, registers global and vrrp, adds the sysORTable rows, and answers with binary strings intact', async () => {
    await start();
    const a = agent as SnmpAgent;
    await waitUntil('the session', () => a.connected);
    const m = master as FakeMaster;
    const types = m.received.map((f) => f[1]);
    expect(types).toEqual([P.Open, P.Register, P.AddAgentCaps, P.Register, P.AddAgentCaps]);
    const resp = await m.ask(
      getNext('1.3.6.1.4.1.9586.100.5.1.3.1.0', '1.3.6.1.4.1.9586.100.5.2', false, 99),
    );
    expect(resp.readUInt32BE(12)).toBe(99);
    expect(responseVarbinds(resp)).toEqual([
      { oid: '1.3.6.1.4.1.9586.100.5.1.3.2.0', type: 4, value: Buffer.from([0xc0, 0, 2, 0xfa]) },
    ]);
    // two PDUs in one write, the second split over two writes
    const two = Buffer.concat([
      getNext('1.3.6.1.4.1.9586.100.5.1.1', '', false, 1),
      getNext('1.3.6.1.4.1.9586.100.5.1.2', '', false, 2),
    ]);
    const before = m.received.length;
    m.conns.at(-1)?.write(two.subarray(0, 50));
    await new Promise((r) => setTimeout(r, 20));
    m.conns.at(-1)?.write(two.subarray(50));
    await waitUntil('two responses', () => m.received.length >= before + 2);
    expect(m.received.slice(before).map((f) => f.readUInt32BE(12))).toEqual([1, 2]);
  });

  it('counts a refused Open and a silent master, and keeps retrying', async () => {
    const refused = await start({ refuse: 256 });
    await waitUntil('two refusals', () => refused.get('KA_ERR_SNMP_CONNECT') >= 2);
    expect(agent?.connected).toBe(false);
    await agent?.stop();
    await master?.close();
    const silent = await start({ silent: true });
    await waitUntil('a timeout', () => silent.get('KA_ERR_SNMP_TIMEOUT') >= 1);
    expect(agent?.connected).toBe(false);
  });

  it('reconnects when the master drops the connection', async () => {
    await start();
    const a = agent as SnmpAgent;
    await waitUntil('the session', () => a.connected);
    for (const c of (master as FakeMaster).conns) c.destroy();
    await waitUntil('a second session', () => a.sessions === 2);
    expect(a.connected).toBe(true);
  });

  it('reads the daemon state once per viewTtlMs, not once per request', async () => {
    master = new FakeMaster();
    await master.listen();
    let now = 0;
    let reads = 0;
    agent = new SnmpAgent({ socket: `unix:${master.path}`, viewTtlMs: 500, nowMs: () => now });
    agent.start(
      () => {
        reads++;
        return nodeAView();
      },
      silentLogger,
      new Counters(),
    );
    await waitUntil('the session', () => agent?.connected === true);
    await master.ask(getNext('1.3.6.1.4.1.9586.100.5', '', false, 1));
    now = 499;
    await master.ask(getNext('1.3.6.1.4.1.9586.100.5.1.1.0', '', false, 2));
    expect(reads).toBe(1);
    now = 500;
    await master.ask(getNext('1.3.6.1.4.1.9586.100.5.1.2.0', '', false, 3));
    expect(reads).toBe(2);
  });

  it('answers genErr when the daemon state cannot be read', async () => {
    const counters = await start({}, () => {
      throw new Error('no state');
    });
    await waitUntil('the session', () => agent?.connected === true);
    const resp = await (master as FakeMaster).ask(getNext('1.3.6.1.4.1.9586.100.5'));
    expect(resp.readUInt16BE(24)).toBe(5);
    expect(counters.get('KA_ERR_SNMP_SNAPSHOT')).toBe(1);
  });

  it('refuses sets (notWritable) and survives garbage: only typed, counted drops', async () => {
    const counters = await start();
    const a = agent as SnmpAgent;
    const m = master as FakeMaster;
    await waitUntil('the session', () => a.connected);
    const set = await m.ask(pdu(P.TestSet as number, Buffer.alloc(0)));
    expect(set.readUInt16BE(24)).toBe(17);
    const sessions = a.sessions;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 80 }), async (bytes) => {
        await waitUntil('a session', () => a.connected, 2000);
        m.conns.at(-1)?.write(Buffer.from(bytes));
        await new Promise((r) => setTimeout(r, 2));
      }),
      { numRuns: 60 },
    );
    const dropped = counters.get('KA_ERR_SNMP_BAD_PDU') + counters.get('KA_ERR_SNMP_CONNECT');
    expect(dropped).toBeGreaterThan(0);
    // garbage that starts like a header leaves the stream out of step (as with a real master, whose
    // request then times out): a new connection starts clean
    const before = a.sessions;
    for (const c of m.conns) c.destroy();
    await waitUntil('a session after the garbage', () => a.connected && a.sessions > before, 3000);
    expect(a.sessions).toBeGreaterThan(sessions);
    const resp = await m.ask(getNext('1.3.6.1.4.1.9586.100.5.1.1'));
    expect(responseVarbinds(resp)[0]?.oid).toBe('1.3.6.1.4.1.9586.100.5.1.1.0');
  });
});

describe('traps', () => {
  it("sends keepalived's vrrpInstanceStateChange and vrrpSyncGroupStateChange: first states, changes, shutdown", async () => {
    const master = new FakeMaster();
    await master.listen();
    const { config } = loadConfig(join(FIX, 'node-a.conf'), { configId: 'nodeA' });
    const settings = { ...config.global.settings, enable_traps: true, snmp_socket: `unix:${master.path}` };
    const traps = { ...config, global: { ...config.global, settings } };
    const listeners: (() => void)[] = [];
    const vi1 = { name: 'VI_1', state: 1, onChange: (l: () => void) => void listeners.push(l) };
    const vi2 = { name: 'VI_2', state: 1, onChange: () => {} };
    const d = DaemonSnmp.create(traps, {}, { log: silentLogger, counters: new Counters() }, { retryMs: 20 });
    const notes = () => master.received.filter((f) => f[1] === P.Notify).map(notifyVarbinds);
    try {
      expect(d).toBeDefined();
      d?.start(() => ({ ...nodeAView(), config: traps }));
      expect(await d?.ready(2000)).toBe(true);
      d?.watch([vi1, vi2]);
      const fire = async (state: number, count: number) => {
        vi1.state = state;
        for (const l of listeners) l();
        await waitUntil(`${count} notifications`, () => notes().length === count);
      };
      await waitUntil('the first states', () => notes().length === 3);
      await fire(2, 5);
      await fire(2, 5); // no change: no trap
      await fire(0, 7);
      const inst = '1.3.6.1.4.1.9586.100.5.2.3.1';
      const grp = '1.3.6.1.4.1.9586.100.5.2.1.1';
      const rid = `1.3.6.1.4.1.9586.100.5.1.2.0=${Buffer.from('nodeA').toString('hex')}`;
      const name = (n: string) => Buffer.from(n).toString('hex');
      const i = (n: string, s: number, init: number) => [
        '1.3.6.1.4.1.9586.100.5.2.10.0.2',
        `${inst}.2=${name(n)}`,
        `${inst}.4=${s}`,
        `${inst}.5=${init}`,
        rid,
      ];
      const g = (s: number) => [
        '1.3.6.1.4.1.9586.100.5.2.10.0.1',
        `${grp}.2=${name('G1')}`,
        `${grp}.3=${s}`,
        rid,
      ];
      expect(notes()).toEqual([
        i('VI_1', 1, 2),
        g(1),
        i('VI_2', 1, 1),
        i('VI_1', 2, 2),
        g(2),
        i('VI_1', 5, 2),
        g(5),
      ]);
    } finally {
      await d?.stop();
      await master.close();
    }
  });
});

describe('traps after a reload', () => {
  it('follows instances a second watch() adds, once each; one not started yet waits for its first state', async () => {
    const master = new FakeMaster();
    await master.listen();
    const { config } = loadConfig(join(FIX, 'node-a.conf'), { configId: 'nodeA' });
    const settings = { ...config.global.settings, enable_traps: true, snmp_socket: `unix:${master.path}` };
    const traps = { ...config, global: { ...config.global, settings } };
    const listeners = new Map<string, (() => void)[]>();
    const mk = (name: string, state: number) => ({
      name,
      state,
      onChange: (l: () => void) => void listeners.set(name, [...(listeners.get(name) ?? []), l]),
    });
    const vi1 = mk('VI_1', 1);
    const vi2 = mk('VI_2', 0);
    const d = DaemonSnmp.create(traps, {}, { log: silentLogger, counters: new Counters() }, { retryMs: 20 });
    const notes = () => master.received.filter((f) => f[1] === P.Notify).map((f) => notifyVarbinds(f)[0]);
    try {
      d?.start(() => ({ ...nodeAView(), config: traps }));
      expect(await d?.ready(2000)).toBe(true);
      d?.watch([vi1]);
      await waitUntil('VI_1 and G1', () => notes().length === 2);
      // the reload: VI_1 kept, VI_2 added before it starts
      d?.watch([vi1, vi2]);
      expect(listeners.get('VI_1')).toHaveLength(1);
      expect(listeners.get('VI_2')).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 50));
      expect(notes()).toHaveLength(2);
      vi2.state = 1;
      for (const l of listeners.get('VI_2') ?? []) l();
      await waitUntil('VI_2 entering BACKUP', () => notes().length === 3);
      expect(notes()[2]).toBe('1.3.6.1.4.1.9586.100.5.2.10.0.2');
    } finally {
      await d?.stop();
      await master.close();
    }
  });
});

describe('VRRP-MIB and VRRPv3-MIB traps', () => {
  it('sends vrrpTrapNewMaster and vrrpv3NewMaster as instances enter MASTER, once per entry', async () => {
    const master = new FakeMaster();
    await master.listen();
    const { config: raw } = loadConfig(join(FIX, 'node-a-rfc.conf'), { configId: 'nodeA' });
    const settings = { ...raw.global.settings, snmp_socket: `unix:${master.path}` };
    const config = { ...raw, global: { ...raw.global, settings } };
    const listeners = new Map<string, () => void>();
    const mk = (name: string) => ({
      name,
      state: 1,
      onChange: (l: () => void) => void listeners.set(name, l),
    });
    const watched = ['VI_1', 'VI_3', 'VI_5'].map(mk);
    const view = () => ({
      config,
      version: 'test',
      instances: watched.map((w) => {
        const c = config.vrrpInstances.find((x) => x.name === w.name);
        return {
          iname: w.name,
          state: w.state,
          base_priority: c?.priority ?? 100,
          effective_priority: c?.priority ?? 100,
          vipset: w.state === 2,
          ifp_ifname: 'eth0',
          src_ip: c?.family === 'inet6' ? 'fe80::1' : '192.0.2.1',
        };
      }),
      link: (n: string) =>
        n === 'eth0'
          ? { ifindex: 7, mac: '02:00:00:00:01:01', ipv4: '192.0.2.1', ipv6: 'fe80::1' }
          : undefined,
    });
    const d = DaemonSnmp.create(config, {}, { log: silentLogger, counters: new Counters() }, { retryMs: 20 });
    const notes = () => master.received.filter((f) => f[1] === P.Notify).map(notifyVarbinds);
    try {
      d?.start(view);
      expect(await d?.ready(2000)).toBe(true);
      d?.watch(watched);
      const enter = async (name: string, state: number, count: number) => {
        const w = watched.find((x) => x.name === name);
        if (w) w.state = state;
        listeners.get(name)?.();
        await waitUntil(`${count} notifications`, () => notes().length === count);
      };
      await enter('VI_1', 2, 2);
      await enter('VI_1', 2, 2); // still MASTER: nothing new
      await enter('VI_3', 2, 3);
      await enter('VI_5', 2, 4);
      await enter('VI_1', 1, 4);
      await enter('VI_1', 2, 6);
      const v2 = ['1.3.6.1.2.1.68.0.1', '1.3.6.1.2.1.68.1.3.1.7.7.51=c0000201'];
      const v3 = (vrid: number, fam: number, addr: string) => [
        '1.3.6.1.2.1.207.0.1',
        `1.3.6.1.2.1.207.1.1.1.1.3.7.${vrid}.${fam}=${addr}`,
        `1.3.6.1.2.1.207.1.2.5.1.2.7.${vrid}.${fam}=3`,
      ];
      const ll = 'fe800000000000000000000000000001';
      expect(notes()).toEqual([
        v2,
        v3(51, 1, 'c0000201'),
        v3(61, 1, 'c0000201'),
        v3(53, 2, ll),
        v2,
        v3(51, 1, 'c0000201'),
      ]);
    } finally {
      await d?.stop();
      await master.close();
    }
  });
});

/**
 * A Notify PDU's snmpTrapOID, then its other varbinds as `OID=value` (octets in hex), sysUpTime
 * left out (same layout as a Response's varbinds, without the 8-byte response header).
 */
function notifyVarbinds(frame: Buffer): string[] {
  const body = frame.subarray(20);
  const out: string[] = [];
  let o = 0;
  while (o < body.length) {
    const type = body.readUInt16BE(o);
    const n = body[o + 4] as number;
    const prefix = body[o + 5] as number;
    const sub = prefix ? [1, 3, 6, 1, prefix] : [];
    o += 8;
    for (let k = 0; k < n; k++, o += 4) sub.push(body.readUInt32BE(o));
    const oid = sub.join('.');
    if (type === 2 || type === 66 || type === 67) {
      if (type !== 67) out.push(`${oid}=${body.readInt32BE(o)}`);
      o += 4;
    } else if (type === 4 || type === 64) {
      const len = body.readUInt32BE(o);
      out.push(`${oid}=${body.subarray(o + 4, o + 4 + len).toString('hex')}`);
      o += 4 + len + ((4 - (len % 4)) % 4);
    } else if (type === 6) {
      const m = body[o] as number;
      const p = body[o + 1] as number;
      const v = p ? [1, 3, 6, 1, p] : [];
      for (let k = 0; k < m; k++) v.push(body.readUInt32BE(o + 4 + 4 * k));
      out.push(v.join('.'));
      o += 4 + 4 * m;
    } else throw new Error(`unexpected varbind type ${type}`);
  }
  return out;
}
