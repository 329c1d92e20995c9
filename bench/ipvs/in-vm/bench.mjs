// Runs inside the kernel VM: node bench.mjs DIST STEP SPECFILE [PREVSPEC]
// STEP apply: read table + plan + apply SPECFILE. STEP plan: read + plan only. STEP read: time
// readTable (services + dests) and the dest dumps alone, one at a time, 3 times each (median).
// Prints "@@" + JSON timings.
import { readFileSync } from 'node:fs';

const [dist, step, specFile, prevFile] = process.argv.slice(2);
const { NetlinkIpvs } = await import(`${dist}/src/ipvs/netlink-ops.js`);
const { buildDesired } = await import(`${dist}/src/ipvs/desired.js`);
const { planIpvs, ownedKeys } = await import(`${dist}/src/ipvs/reconcile.js`);
const { applyPlan } = await import(`${dist}/src/ipvs/apply.js`);

const table = (f) => buildDesired(JSON.parse(readFileSync(f, 'utf8')), new Map()).table;
const t0 = performance.now();
const ipvs = await NetlinkIpvs.open();
if (step === 'read') {
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const together = [];
  const oneByOne = [];
  for (let i = 0; i < 3; i++) {
    let t = performance.now();
    const tab = await ipvs.readTable();
    together.push(performance.now() - t);
    t = performance.now();
    for (const { svc } of tab.values()) await ipvs.readDests(svc);
    oneByOne.push(performance.now() - t);
  }
  ipvs.close();
  console.log(
    `@@${JSON.stringify({ step, readTogetherMs: median(together), destDumpsOneByOneMs: median(oneByOne) })}`,
  );
  process.exit(0);
}
const desired = table(specFile);
const owned = ownedKeys(desired, ...(prevFile ? [table(prevFile)] : []));
const t1 = performance.now();
const actual = await ipvs.readTable();
const t2 = performance.now();
const plan = planIpvs(desired, actual, owned);
const t3 = performance.now();
if (step === 'apply') await applyPlan(ipvs, plan);
const t4 = performance.now();
ipvs.close();
const kinds = {};
for (const op of plan) kinds[op.kind] = (kinds[op.kind] ?? 0) + 1;
console.log(
  `@@${JSON.stringify({ step, ops: plan.length, kinds, setupMs: t1 - t0, readMs: t2 - t1, planMs: t3 - t2, applyMs: t4 - t3, totalMs: t4 - t0 })}`,
);
