import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import {
  type QuorumEvent,
  type RealServerSpec,
  type RsHealth,
  realServerId,
  type VirtualServerSpec,
} from '../../../src/ipvs/desired.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { IpvsManager } from '../../../src/ipvs/manager.js';
import type { IpvsOp } from '../../../src/ipvs/types.js';

// ---- the kernel table, order-free (the kernel lists destinations newest first) ----

async function tableText(k: FakeIpvs): Promise<string> {
  const t = await k.readTable();
  return JSON.stringify(
    [...t]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, s]) => [
        key,
        { ...s.svc, pe: s.svc.pe ?? '' },
        s.dests
          .map((d) => `${d.af}/${d.addr}:${d.port} w${d.weight} f${d.fwd} t${d.uThresh}/${d.lThresh}`)
          .sort(),
      ]),
  );
}

// ---- random configurations: three virtual servers (address, group with a range and a fwmark, fwmark) ----

interface RsParams {
  weight: number;
  inhibit: boolean | undefined;
  alpha: boolean | undefined;
  checked: boolean;
}
interface VsParams {
  present: boolean;
  rsCount: number;
  rs: RsParams[];
  quorum: number | undefined;
  hysteresis: number | undefined;
  sorry: string | undefined;
  sorryInhibit: boolean;
  inhibit: boolean;
  alpha: boolean;
  lbAlgo: 'wrr' | 'rr';
}

const NAMES = ['A', 'B', 'C'] as const;
const RS_MAX = 5;
const rsAddr = (i: number) => `198.51.100.${i + 1}`;

const rsArb: fc.Arbitrary<RsParams> = fc.record({
  weight: fc.integer({ min: 0, max: 3 }),
  inhibit: fc.option(fc.boolean(), { nil: undefined }),
  alpha: fc.option(fc.boolean(), { nil: undefined }),
  checked: fc.oneof(
    { weight: 5, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
});

const vsArb: fc.Arbitrary<VsParams> = fc.record({
  present: fc.oneof(
    { weight: 4, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  rsCount: fc.integer({ min: 1, max: RS_MAX }),
  rs: fc.array(rsArb, { minLength: RS_MAX, maxLength: RS_MAX }),
  quorum: fc.option(fc.integer({ min: 1, max: 7 }), { nil: undefined }),
  hysteresis: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  // 198.51.100.1 is also a real server: the sorry server then replaces its destination.
  sorry: fc.constantFrom(undefined, '198.51.100.99', '198.51.100.1'),
  sorryInhibit: fc.boolean(),
  inhibit: fc.boolean(),
  alpha: fc.boolean(),
  lbAlgo: fc.constantFrom('wrr' as const, 'rr' as const),
});

function specOf(name: (typeof NAMES)[number], p: VsParams): VirtualServerSpec {
  const target: VirtualServerSpec['target'] =
    name === 'A'
      ? { kind: 'addr', addr: '192.0.2.1', port: 80 }
      : name === 'B'
        ? {
            kind: 'group',
            name: 'G',
            entries: [
              { kind: 'addr', range: '192.0.2.10-11', port: 80 },
              { kind: 'fwmark', fwmark: 9 },
            ],
          }
        : { kind: 'fwmark', fwmark: 5 };
  const realServers: RealServerSpec[] = p.rs.slice(0, p.rsCount).map((r, i) => ({
    addr: rsAddr(i),
    port: 80,
    weight: r.weight,
    hasCheckers: r.checked,
    inhibitOnFailure: r.inhibit,
    alpha: r.alpha,
  }));
  return {
    name,
    target,
    protocol: 'TCP',
    lbAlgo: p.lbAlgo,
    lbKind: { method: 'DR' },
    quorum: p.quorum,
    hysteresis: p.hysteresis,
    inhibitOnFailure: p.inhibit,
    alpha: p.alpha,
    omega: true,
    sorryServer: p.sorry ? { addr: p.sorry, port: 80 } : undefined,
    sorryServerInhibit: p.sorryInhibit,
    realServers,
  };
}

const configArb = fc
  .tuple(vsArb, vsArb, vsArb)
  .map((ps) => NAMES.flatMap((n, i) => (ps[i]?.present ? [specOf(n, ps[i] as VsParams)] : [])));

/** Kernel refusals by content, so that both managers meet the same ones whatever order they issue. */
const REFUSALS: Array<((op: IpvsOp) => string | undefined) | undefined> = [
  undefined,
  (op) => (op.kind === 'add-dest' && op.dest.addr === '198.51.100.2' ? 'EINVAL' : undefined),
  (op) => (op.kind === 'set-dest' ? 'ENOMEM' : undefined),
  (op) => (op.kind === 'add-service' && op.svc.addr === '192.0.2.11' ? 'ENOENT' : undefined),
  (op) => (op.kind === 'del-dest' && op.dest.addr === '198.51.100.3' ? 'EBUSY' : undefined),
  (op) => (op.kind === 'del-service' ? 'EBUSY' : undefined),
];

type Step =
  | { kind: 'health'; batch: Array<{ vs: number; rs: number; up: boolean; weight: number | undefined }> }
  | { kind: 'reload'; specs: VirtualServerSpec[] }
  | { kind: 'refuse'; which: number }
  | { kind: 'drift'; vs: number; rs: number; weight: number | undefined };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('health' as const),
      batch: fc.array(
        fc.record({
          vs: fc.integer({ min: 0, max: 2 }),
          rs: fc.integer({ min: 0, max: RS_MAX - 1 }),
          up: fc.boolean(),
          weight: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reload' as const), specs: configArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('refuse' as const),
      which: fc.integer({ min: 0, max: REFUSALS.length - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('drift' as const),
      vs: fc.integer({ min: 0, max: 2 }),
      rs: fc.integer({ min: 0, max: RS_MAX - 1 }),
      weight: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    }),
  },
);

/** A foreign change to one of our destinations: deleted (weight undefined) or re-weighted. */
async function drift(k: FakeIpvs, rs: string, weight: number | undefined): Promise<void> {
  const refuse = k.refuse; // refusals are aimed at the manager, not at the foreign change
  k.refuse = undefined;
  try {
    for (const s of (await k.readTable()).values()) {
      const d = s.dests.find((x) => x.addr === rs);
      if (!d) continue;
      if (weight === undefined) await k.apply({ kind: 'del-dest', svc: s.svc, dest: d });
      else await k.apply({ kind: 'set-dest', svc: s.svc, dest: { ...d, weight } });
      return;
    }
  } finally {
    k.refuse = refuse;
  }
}

interface Side {
  k: FakeIpvs;
  m: IpvsManager;
  events: QuorumEvent[];
  errors: number;
}

function side(specs: VirtualServerSpec[], incremental: boolean): Side {
  const k = new FakeIpvs();
  const s: Side = { k, m: undefined as unknown as IpvsManager, events: [], errors: 0 };
  s.m = new IpvsManager(k, specs, { incremental, onQuorum: (e) => s.events.push(e) });
  return s;
}

const settle = (s: Side, p: Promise<unknown>) =>
  p.catch((e: unknown) => {
    if (!isKaError(e, 'KA_ERR_IPVS_KERNEL')) throw e;
    s.errors++;
  });

describe('IpvsManager: incremental passes against full passes', () => {
  it('give the same kernel table and quorum events over random histories (500 runs)', async () => {
    let incrementalPasses = 0;
    let refusedRuns = 0;
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(stepArb, { minLength: 1, maxLength: 40 }),
        async (start, steps) => {
          const inc = side(start, true);
          const ref = side(start, false);
          const both = [inc, ref];
          let specs = start;
          // Whether the last step that ran passes ran them without a refusal.
          let clean = true;
          for (const s of both) await settle(s, s.m.start());
          for (const step of steps) {
            const errors = inc.errors;
            const passes = inc.m.stats.fullPasses + inc.m.stats.incrementalPasses;
            if (step.kind === 'health') {
              for (const s of both) {
                const ps = step.batch.flatMap((c) => {
                  const vs = specs.find((x) => x.name === NAMES[c.vs]);
                  const rs = vs?.realServers[c.rs];
                  if (!vs || !rs) return [];
                  const h: RsHealth = c.weight === undefined ? { up: c.up } : { up: c.up, weight: c.weight };
                  return [s.m.setHealth(realServerId(vs, rs), h)];
                });
                await settle(s, Promise.all(ps));
              }
            } else if (step.kind === 'reload') {
              specs = step.specs;
              for (const s of both) await settle(s, s.m.reload(specs));
            } else if (step.kind === 'refuse') {
              for (const s of both) s.k.refuse = REFUSALS[step.which];
            } else {
              // Drift is repaired by the daemon's periodic repair pass: chunked incremental passes
              // against the table read back (the reference, incremental: false, runs a full pass).
              for (const s of both) {
                await drift(s.k, rsAddr(step.rs), step.weight);
                await settle(s, s.m.repair());
              }
            }
            if (inc.m.stats.fullPasses + inc.m.stats.incrementalPasses !== passes)
              clean = inc.errors === errors;
            expect(await tableText(inc.k)).toEqual(await tableText(ref.k));
            expect(inc.events).toEqual(ref.events);
          }
          expect(inc.errors > 0).toBe(ref.errors > 0);
          if (inc.errors > 0) refusedRuns++;
          if (clean) {
            // Converged after the last refusal-free passes: a full pass finds nothing to do.
            inc.k.refuse = undefined;
            const before = inc.k.log.length;
            await inc.m.sync();
            expect(inc.k.log.length).toBe(before);
          }
          incrementalPasses += inc.m.stats.incrementalPasses;
          for (const s of both) {
            s.k.refuse = undefined;
            await s.m.stop();
          }
          expect(await tableText(inc.k)).toEqual(await tableText(ref.k));
          expect(inc.events).toEqual(ref.events);
        },
      ),
      { numRuns: 500 },
    );
    // The property exercised both kinds of pass and the refusals.
    expect(incrementalPasses).toBeGreaterThan(1000);
    expect(refusedRuns).toBeGreaterThan(0);
  }, 120_000);
});

// ---- cost of one real server's change ----

const bigVs = (n: number, count: number, extra: Partial<VirtualServerSpec> = {}): VirtualServerSpec => ({
  name: `vs${n}`,
  target: { kind: 'addr', addr: `192.0.2.${n}`, port: 80 },
  protocol: 'TCP',
  lbAlgo: 'rr',
  lbKind: { method: 'NAT' },
  realServers: Array.from({ length: count }, (_, i) => ({
    addr: `198.51.100.${10 + i}`,
    port: 8000 + n,
    weight: 1,
    hasCheckers: true,
  })),
  ...extra,
});

describe('IpvsManager: one real server changes', () => {
  it('issues only the operations of its service and reads nothing back', async () => {
    const k = new FakeIpvs();
    const a = bigVs(1, 50);
    const b = bigVs(2, 50, { inhibitOnFailure: true });
    const m = new IpvsManager(k, [a, b]);
    await m.start();
    expect(k.reads).toBe(1);
    const rsA = a.realServers[7] as RealServerSpec;
    const rsB = b.realServers[3] as RealServerSpec;
    let mark = k.log.length;
    await m.setHealth(realServerId(a, rsA), { up: false });
    expect(k.log.slice(mark)).toEqual([
      {
        kind: 'del-dest',
        svc: expect.objectContaining({ addr: '192.0.2.1', port: 80 }),
        dest: { af: 2, addr: rsA.addr, port: 8001 },
      },
    ]);
    // inhibit_on_failure: weight 0, not removal
    mark = k.log.length;
    await m.setHealth(realServerId(b, rsB), { up: false });
    expect(k.log.slice(mark)).toEqual([
      {
        kind: 'set-dest',
        svc: expect.objectContaining({ addr: '192.0.2.2' }),
        dest: expect.objectContaining({ addr: rsB.addr, weight: 0 }),
      },
    ]);
    mark = k.log.length;
    // A batch given in one synchronous run shares one pass.
    await Promise.all([
      m.setHealth(realServerId(a, rsA), { up: true }),
      m.setHealth(realServerId(b, rsB), { up: true, weight: 5 }),
    ]);
    expect(k.log.slice(mark).map((o) => `${o.kind} ${o.svc.addr}`)).toEqual([
      'add-dest 192.0.2.1',
      'set-dest 192.0.2.2',
    ]);
    expect(k.reads).toBe(1);
    expect(m.stats).toEqual({ fullPasses: 1, incrementalPasses: 3, repairPasses: 0 });
    // an unknown real server changes nothing
    mark = k.log.length;
    await m.setHealth('vs9|203.0.113.9:80', { up: false });
    expect(k.log.length).toBe(mark);
    expect(m.stats.incrementalPasses).toBe(3);
  });

  it('a virtual_server_group change touches every service of that group and no other', async () => {
    const k = new FakeIpvs();
    const g: VirtualServerSpec = {
      ...bigVs(3, 4),
      name: 'group G',
      target: { kind: 'group', name: 'G', entries: [{ kind: 'addr', range: '192.0.2.20-22', port: 80 }] },
    };
    const m = new IpvsManager(k, [bigVs(1, 4), g]);
    await m.start();
    const mark = k.log.length;
    await m.setHealth(realServerId(g, g.realServers[0] as RealServerSpec), { up: false });
    expect(
      k.log
        .slice(mark)
        .map((o) => `${o.kind} ${o.svc.addr}`)
        .sort(),
    ).toEqual(['del-dest 192.0.2.20', 'del-dest 192.0.2.21', 'del-dest 192.0.2.22']);
    expect(k.reads).toBe(1);
  });

  it('quorum loss swaps the pool for the sorry server in that virtual server only', async () => {
    const k = new FakeIpvs();
    const events: QuorumEvent[] = [];
    const a = bigVs(1, 3, { quorum: 3, sorryServer: { addr: '198.51.100.99', port: 80 } });
    const m = new IpvsManager(k, [a, bigVs(2, 3)], { onQuorum: (e) => events.push(e) });
    await m.start();
    const mark = k.log.length;
    await m.setHealth(realServerId(a, a.realServers[0] as RealServerSpec), { up: false });
    expect(
      k.log
        .slice(mark)
        .map((o) => `${o.kind} ${o.svc.addr} ${'dest' in o ? o.dest.addr : ''}`)
        .sort(),
    ).toEqual([
      'add-dest 192.0.2.1 198.51.100.99',
      'del-dest 192.0.2.1 198.51.100.10',
      'del-dest 192.0.2.1 198.51.100.11',
      'del-dest 192.0.2.1 198.51.100.12',
    ]);
    expect(events).toEqual([
      { vs: 'vs1 TCP', kind: 'quorum-up', weightSum: 3, threshold: 3, init: 'start' },
      { vs: 'vs2 TCP', kind: 'quorum-up', weightSum: 3, threshold: 1, init: 'start' },
      { vs: 'vs1 TCP', kind: 'quorum-down', weightSum: 2, threshold: 3 },
    ]);
    expect(k.reads).toBe(1);
  });
});

// ---- drift ----

describe('IpvsManager: a drifted kernel', () => {
  it('is repaired by the next full pass; incremental passes leave other services alone', async () => {
    const k = new FakeIpvs();
    const a = bigVs(1, 3);
    const b = bigVs(2, 3);
    const m = new IpvsManager(k, [a, b]);
    await m.start();
    const want = await tableText(k);
    // someone else deletes one of ours and re-weights another
    await drift(k, '198.51.100.10', undefined);
    await k.apply({
      kind: 'set-dest',
      svc: (await k.readTable()).get('tcp 192.0.2.2:80')?.svc as never,
      dest: {
        af: 2,
        addr: '198.51.100.11',
        port: 8002,
        fwd: 0,
        tunType: 0,
        tunPort: 0,
        tunFlags: 0,
        weight: 7,
        uThresh: 0,
        lThresh: 0,
      },
    });
    const reads = k.reads;
    // a change in vs2 for another real server: incremental, no read back, the drift stays
    await m.setHealth(realServerId(b, b.realServers[2] as RealServerSpec), { up: true, weight: 3 });
    expect(k.reads).toBe(reads);
    expect(await tableText(k)).not.toEqual(want);
    await m.sync();
    await m.setHealth(realServerId(b, b.realServers[2] as RealServerSpec), { up: true });
    expect(await tableText(k)).toEqual(want);
  });

  it('a refused incremental operation falls back to a full pass at once', async () => {
    const k = new FakeIpvs();
    const a = bigVs(1, 3, { inhibitOnFailure: true });
    const m = new IpvsManager(k, [a]);
    await m.start();
    const want = await tableText(k);
    const rs = a.realServers[1] as RealServerSpec;
    // someone else removed rs: the cached view still has it, so set-dest is refused (ENOENT)
    await drift(k, rs.addr, undefined);
    await expect(m.setHealth(realServerId(a, rs), { up: false })).rejects.toMatchObject({
      code: 'KA_ERR_IPVS_KERNEL',
      details: expect.objectContaining({ errno: 'ENOENT' }),
    });
    expect(m.stats).toEqual({ fullPasses: 2, incrementalPasses: 1, repairPasses: 0 });
    const now = (await k.readTable()).get('tcp 192.0.2.1:80')?.dests.find((d) => d.addr === rs.addr);
    expect(now?.weight).toBe(0);
    await m.setHealth(realServerId(a, rs), { up: true });
    expect(await tableText(k)).toEqual(want);
    expect(m.stats).toEqual({ fullPasses: 2, incrementalPasses: 2, repairPasses: 0 });
  });
});

describe('repair pass', () => {
  const turnCounter = () => {
    let turns = 0;
    let done = false;
    const tick = (): void => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    return {
      stop: () => {
        done = true;
        return turns;
      },
    };
  };

  it('reads the table once and re-plans only the virtual server whose service drifted', async () => {
    const specs = Array.from({ length: 20 }, (_, i) => bigVs(i + 1, 3));
    const k = new FakeIpvs();
    const m = new IpvsManager(k, specs);
    await m.start();
    const svc = (await k.readTable()).get('tcp 192.0.2.3:80')?.svc;
    if (!svc) throw new Error('service 192.0.2.3 missing');
    const [d] = (await k.readTable()).get('tcp 192.0.2.3:80')?.dests ?? [];
    if (!d) throw new Error('no destination');
    await k.apply({ kind: 'del-dest', svc, dest: d });
    const reads = k.reads;
    const logged = k.log.length;
    const passes = m.stats.incrementalPasses;
    await m.repair();
    expect(k.reads - reads).toBe(1);
    expect(m.stats.repairPasses).toBe(1);
    expect(m.stats.incrementalPasses - passes).toBe(1);
    expect(k.log.slice(logged)).toEqual([{ kind: 'add-dest', svc, dest: d }]);
    expect((await k.readTable()).get('tcp 192.0.2.3:80')?.dests).toContainEqual(d);
    await m.stop();
  });

  it('without drift it plans and applies nothing', async () => {
    const k = new FakeIpvs();
    const m = new IpvsManager(
      k,
      Array.from({ length: 5 }, (_, i) => bigVs(i + 1, 20)),
    );
    await m.start();
    const logged = k.log.length;
    const passes = m.stats.incrementalPasses;
    await m.repair();
    expect(m.stats.repairPasses).toBe(1);
    expect(m.stats.incrementalPasses).toBe(passes);
    expect(k.log.length).toBe(logged);
    await m.stop();
  });

  it('compares a few hundred destinations per event-loop turn (five services of 200 real servers)', async () => {
    const k = new FakeIpvs();
    const m = new IpvsManager(
      k,
      Array.from({ length: 5 }, (_, i) => bigVs(i + 1, 200)),
    );
    await m.start();
    const t = turnCounter();
    await m.repair();
    // 1,000 destinations indexed and compared (2,000 steps) at 100 per turn: the loop ran in between
    expect(t.stop()).toBeGreaterThanOrEqual(19);
    await m.stop();
  });

  it('a foreign weight change on one of many virtual servers is repaired between event-loop turns', async () => {
    const specs = Array.from({ length: 20 }, (_, i) => bigVs(i + 1, 30));
    const k = new FakeIpvs();
    const m = new IpvsManager(k, specs);
    await m.start();
    const entry = (await k.readTable()).get('tcp 192.0.2.7:80');
    const d = entry?.dests[4];
    if (!entry || !d) throw new Error('service 192.0.2.7 missing');
    await k.apply({ kind: 'set-dest', svc: entry.svc, dest: { ...d, weight: 9 } });
    const t = turnCounter();
    await m.repair();
    expect(t.stop()).toBeGreaterThanOrEqual(2);
    expect((await k.readTable()).get('tcp 192.0.2.7:80')?.dests[4]?.weight).toBe(d.weight);
    await m.stop();
  });
});
