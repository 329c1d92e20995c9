/**
 * Checker results reach the IPVS manager once per event-loop turn (LvsHost.flushHealth): 200 real
 * servers whose first results land together cost a couple of reconcile passes, not one per server
 * (each pass plans on the VRRP thread; bench/check found 2,000 passes
 * after start blocking VRRP for about a minute).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Runner } from '../../../src/check/index.js';
import { loadConfig } from '../../../src/config/load.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { LvsHost } from '../../../src/daemon/lvs-host.js';
import { ScriptResolver } from '../../../src/daemon/scripts.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import type { IpvsManager } from '../../../src/ipvs/manager.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-lvs-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const N = 200;

/** Reconcile passes the host's IPVS manager has run (full and incremental). */
const passesOf = (host: LvsHost): number => {
  const m = (host as unknown as { manager: IpvsManager }).manager;
  return m.stats.fullPasses + m.stats.incrementalPasses;
};

const settle = async () => {
  for (let i = 0; i < 12; i++) await new Promise<void>((r) => setImmediate(r));
};

it('a burst of results is one reconcile, not one per real server', async () => {
  const rs = Array.from(
    { length: N },
    (_, i) =>
      `  real_server 192.0.2.${1 + (i % 250)} ${1000 + i} {\n    TCP_CHECK {\n      connect_timeout 1\n    }\n  }`,
  ).join('\n');
  const path = join(dir, 'keepalived.conf');
  writeFileSync(
    path,
    `virtual_server 203.0.113.1 80 {\n  delay_loop 1\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n  alpha\n${rs}\n}\n`,
  );
  const config = loadConfig(path, {}).config;
  const clock = new FakeClock();
  const ipvs = new FakeIpvs();
  let down = false;
  // Each result in its own macrotask, as the worker's messages arrive (microtasks run between them).
  const runner: Runner = () =>
    new Promise((resolve) =>
      setImmediate(() =>
        resolve(down ? { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', 'refused') } : { ok: true }),
      ),
    );
  const host = new LvsHost(config, {
    clock,
    log: silentLogger,
    counters: new Counters(),
    scripts: await ScriptResolver.create(config, silentLogger),
    ipvs,
    checkRunner: runner,
    random: () => 0,
  });
  await host.start();
  await settle();
  const table = async () => (await ipvs.readTable()).get('tcp 203.0.113.1:80')?.dests.length ?? 0;
  // alpha: every real server starts down, so the table starts empty
  expect(await table()).toBe(0);
  const before = passesOf(host);
  clock.advance(100_000); // all first checks are due now (warmup 0): N results in one turn
  await settle();
  const passes = passesOf(host) - before;
  expect(await table()).toBe(N);
  expect(passes).toBeGreaterThan(0);
  expect(passes).toBeLessThanOrEqual(2);
  // and all of them going down again (retry 1 by default: two failed rounds)
  down = true;
  const before2 = passesOf(host);
  for (let i = 0; i < 40; i++) {
    clock.advance(100_000);
    await settle();
  }
  const passes2 = passesOf(host) - before2;
  expect(await table()).toBe(0);
  expect(passes2).toBeLessThanOrEqual(4);
  await host.stop();
});
