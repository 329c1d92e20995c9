import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError, type KaError } from '../../../src/core/errors.js';
import { applyPlan, reconcile } from '../../../src/ipvs/apply.js';
import { buildDesired, type VirtualServerSpec } from '../../../src/ipvs/desired.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { ownedKeys, planIpvs, planStop, serviceKeyString } from '../../../src/ipvs/reconcile.js';
import type { IpvsTable } from '../../../src/ipvs/types.js';

const spec = (n: number, weights: number[], extra: Partial<VirtualServerSpec> = {}): VirtualServerSpec => ({
  name: `vs${n}`,
  target: { kind: 'addr', addr: `192.0.2.${n}`, port: 80 },
  protocol: 'TCP',
  lbAlgo: 'wrr',
  lbKind: { method: 'NAT' },
  realServers: weights.map((w, i) => ({
    addr: `198.51.100.${i + 1}`,
    port: 8080,
    weight: w,
    hasCheckers: false,
  })),
  ...extra,
});

const desired = (specs: VirtualServerSpec[]): IpvsTable => buildDesired(specs, new Map()).table;

/** Tables compared without kernel-only fields and with dests sorted (the kernel lists newest first). */
const norm = (t: IpvsTable) =>
  [...t.entries()]
    .map(([k, s]) => [k, s.svc, [...s.dests].sort((a, b) => (a.addr < b.addr ? -1 : 1))])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

describe('planIpvs with the in-memory IPVS', () => {
  it('applies a fresh table, converges, and re-plans to nothing', async () => {
    const k = new FakeIpvs();
    const d = desired([spec(1, [1, 2, 3]), spec(2, [5], { lbAlgo: 'rr', persistenceTimeout: 60 })]);
    const plan = await reconcile(k, d, ownedKeys(d));
    expect(plan.map((o) => o.kind)).toEqual([
      'add-service',
      'add-dest',
      'add-dest',
      'add-dest',
      'add-service',
      'add-dest',
    ]);
    expect(norm(await k.readTable())).toEqual(norm(d));
    expect(planIpvs(d, await k.readTable(), ownedKeys(d))).toEqual([]);
  });

  it('a reload changing one weight is exactly one SET_DEST and keeps the service (counters, identity)', async () => {
    const k = new FakeIpvs();
    const d1 = desired([spec(1, [1, 2, 3]), spec(2, [1])]);
    await reconcile(k, d1, ownedKeys(d1));
    k.touch('tcp 192.0.2.1:80', 42n);
    const gen = k.generationOf('tcp 192.0.2.1:80');
    const d2 = desired([spec(1, [1, 7, 3]), spec(2, [1])]);
    const plan = await reconcile(k, d2, ownedKeys(d1, d2));
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ kind: 'set-dest', dest: { addr: '198.51.100.2', weight: 7 } });
    const t = await k.readTable();
    expect(t.get('tcp 192.0.2.1:80')?.stats?.conns).toBe(42n);
    expect(k.generationOf('tcp 192.0.2.1:80')).toBe(gen);
  });

  it('scheduler/persistence change is one SET_SERVICE', () => {
    const d1 = desired([spec(1, [1])]);
    const d2 = desired([spec(1, [1], { lbAlgo: 'lc', persistenceTimeout: 30 })]);
    const plan = planIpvs(d2, d1, ownedKeys(d1));
    expect(plan.map((o) => o.kind)).toEqual(['set-service']);
  });

  it('converges a stale table: drifted weight, unconfigured dest, removed owned service; leaves foreign services alone', async () => {
    const k = new FakeIpvs();
    const d = desired([spec(1, [1, 2]), spec(3, [1])]);
    const foreign = desired([spec(9, [4])]);
    // what a crashed run left: vs1 with .2 drifted to weight 9 and an extra .5; vs2 (no longer configured, was ours)
    const stale = desired([spec(1, [1, 9, 0, 0, 4]), spec(2, [1])]);
    const staleTable = stale.get('tcp 192.0.2.1:80');
    if (staleTable) staleTable.dests.splice(2, 2); // keep .1, .2(drifted), .5
    await applyPlan(k, planIpvs(stale, new Map(), ownedKeys(stale)));
    await applyPlan(k, planIpvs(foreign, new Map(), new Set()));
    const plan = await reconcile(k, d, ownedKeys(d, stale));
    expect(plan.map((o) => o.kind).sort()).toEqual([
      'add-dest',
      'add-service',
      'del-dest',
      'del-service',
      'set-dest',
    ]);
    const after = await k.readTable();
    expect(norm(new Map([...after].filter(([key]) => key !== 'tcp 192.0.2.9:80')))).toEqual(norm(d));
    expect(after.has('tcp 192.0.2.9:80')).toBe(true);
    // stop removes what the configuration created and nothing else
    await applyPlan(k, planStop(await k.readTable(), ownedKeys(d)));
    expect([...(await k.readTable()).keys()]).toEqual(['tcp 192.0.2.9:80']);
  });

  it('the fake refuses like the kernel: EEXIST, ESRCH, ENOENT, EINVAL, with op and service in the message', async () => {
    const k = new FakeIpvs();
    const d = desired([spec(1, [1])]);
    const t = [...d.values()][0];
    if (!t) throw new Error('no service');
    const dest = t.dests[0];
    if (!dest) throw new Error('no dest');
    const expectErrno = async (p: Promise<void>, errno: string, re: RegExp) => {
      const e = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isKaError(e, 'KA_ERR_IPVS_KERNEL')).toBe(true);
      expect((e as { details: { errno: string } }).details.errno).toBe(errno);
      expect(String((e as Error).message)).toMatch(re);
    };
    await expectErrno(
      k.apply({ kind: 'set-service', svc: t.svc }),
      'ESRCH',
      /set-service tcp 192\.0\.2\.1:80.*ESRCH/,
    );
    await expectErrno(
      k.apply({ kind: 'add-dest', svc: t.svc, dest }),
      'ESRCH',
      /add-dest 198\.51\.100\.1:8080 in tcp/,
    );
    await k.apply({ kind: 'add-service', svc: t.svc });
    await expectErrno(k.apply({ kind: 'add-service', svc: t.svc }), 'EEXIST', /EEXIST/);
    await expectErrno(k.apply({ kind: 'set-dest', svc: t.svc, dest }), 'ENOENT', /ENOENT/);
    await expectErrno(k.apply({ kind: 'del-dest', svc: t.svc, dest }), 'ENOENT', /ENOENT/);
    await expectErrno(
      k.apply({ kind: 'add-service', svc: { ...t.svc, port: 81, sched: 'twos' } }),
      'ENOENT',
      /ENOENT/,
    );
    await expectErrno(
      k.apply({ kind: 'add-dest', svc: t.svc, dest: { ...dest, af: 10, addr: 'fd00::1' } }),
      'EINVAL',
      /EINVAL/,
    );
  });

  it('property: from any stale table, one reconcile converges and a second plan is empty', async () => {
    const w = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 5 });
    const cfg = fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), w, fc.constantFrom('rr', 'wlc', 'sh')), {
      maxLength: 5,
    });
    await fc.assert(
      fc.asyncProperty(cfg, cfg, async (before, after) => {
        const mk = (c: typeof before) => {
          const seen = new Set<number>();
          return desired(
            c
              .filter(([n]) => !seen.has(n) && seen.add(n))
              .map(([n, ws, s]) =>
                spec(
                  n,
                  ws.map((x) => x + 1),
                  { lbAlgo: s },
                ),
              ),
          );
        };
        const k = new FakeIpvs();
        const a = mk(before);
        const b = mk(after);
        await reconcile(k, a, ownedKeys(a));
        await reconcile(k, b, ownedKeys(a, b));
        expect(norm(await k.readTable())).toEqual(norm(b));
        expect(planIpvs(b, await k.readTable(), ownedKeys(a, b))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('applyPlan', () => {
  it("a refusal skips only the refused service's destinations; the rest is applied in order and the earliest error is thrown", async () => {
    for (const window of [1, 2, 32]) {
      const k = new FakeIpvs();
      const d = desired([spec(1, [1, 2]), spec(2, [1]), spec(3, [1])]);
      const plan = planIpvs(d, new Map(), new Set());
      // make the 2nd service's creation fail: an existing service with the same key
      const second = plan.filter((o) => o.kind === 'add-service')[1];
      if (second?.kind !== 'add-service') throw new Error('fixture');
      await k.apply({ kind: 'add-service', svc: second.svc });
      const e = await applyPlan(k, plan, { window }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(isKaError(e, 'KA_ERR_IPVS_KERNEL')).toBe(true);
      expect((e as Error).message).toMatch(/add-service tcp 192\.0\.2\.2:80 failed: EEXIST/);
      const secondKey = serviceKeyString(second.svc);
      const dependent = plan.filter((o) => o.kind !== 'add-service' && serviceKeyString(o.svc) === secondKey);
      expect(dependent.length).toBeGreaterThan(0);
      expect((e as KaError).details).toMatchObject({ failures: 1, skipped: dependent.length });
      // everything else was applied, in plan order
      const applied = k.log.slice(1);
      expect(applied).toEqual(plan.filter((o) => o !== second && !dependent.includes(o)));
    }
  });
});
