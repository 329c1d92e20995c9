#!/usr/bin/env node
// IPVS bench: apply 100 services x 100 destinations and reconcile a 1% change (100 weights) with
// keepalived-ts's IpvsOps, side by side with `ipvsadm -R` of the same table, in one boot of the kernel
// VM (test/lab/vm.ts). Needs root, qemu and a Debian kernel (the lab installs them). Writes
// bench/results/ipvs.json. Times are inside the VM (qemu TCG, so absolute numbers are slow; the
// ratios are the point). "process" times include starting node or ipvsadm.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const N_SVC = 100;
const N_DEST = 100;

// Private build of what the VM runs (the VM sees the host read-only, minus /tmp).
mkdirSync('/var/tmp', { recursive: true });
const dir = mkdtempSync('/var/tmp/kt-ipvs-bench-');
try {
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--skipLibCheck'],
      ...['--types', 'node', '--outDir', join(dir, 'dist'), '--rootDir', root],
      ...['netlink-ops', 'apply', 'desired', 'reconcile'].map((f) => join(root, 'src/ipvs', `${f}.ts`)),
      join(root, 'test/lab/vm.ts'),
    ],
    { stdio: 'inherit' },
  );
  // A copy of the addon, so a rebuild during the run cannot change it under the VM.
  const addonDir = 'native/build/Release';
  mkdirSync(join(dir, 'dist', addonDir), { recursive: true });
  copyFileSync(
    join(root, addonDir, 'keepalived_ts_native.node'),
    join(dir, 'dist', addonDir, 'keepalived_ts_native.node'),
  );
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const { runInVm } = await import(pathToFileURL(join(dir, 'dist/test/lab/vm.js')).href);

  // The table: services 203.0.113.1:(1001..1100) wrr NAT, dests 198.51.100.(1..100):8080 weight 1..5.
  const spec = (bump) =>
    Array.from({ length: N_SVC }, (_, s) => ({
      name: `bench ${s}`,
      target: { kind: 'addr', addr: '203.0.113.1', port: 1001 + s },
      protocol: 'TCP',
      lbAlgo: 'wrr',
      lbKind: { method: 'NAT' },
      realServers: Array.from({ length: N_DEST }, (_, d) => ({
        addr: `198.51.100.${d + 1}`,
        port: 8080,
        // 1% change: dest 7 of every service gets a new weight (100 of 10,000)
        weight: bump && d === 7 ? 50 : 1 + ((s + d) % 5),
        hasCheckers: false,
      })),
    }));
  const rules = (bump) => {
    const out = [];
    for (const vs of spec(bump)) {
      const v = `203.0.113.1:${vs.target.port}`;
      out.push(`-A -t ${v} -s wrr`);
      for (const r of vs.realServers) out.push(`-a -t ${v} -r ${r.addr}:8080 -m -w ${r.weight}`);
    }
    return `${out.join('\n')}\n`;
  };
  const edits = () =>
    `${spec(true)
      .map((vs) => `-e -t 203.0.113.1:${vs.target.port} -r 198.51.100.8:8080 -m -w 50`)
      .join('\n')}\n`;
  const ms = 'ms() { echo $(( $(date +%s%N) / 1000000 )); }';
  const drv = `${process.execPath} ./bench.mjs ${join(dir, 'dist')}`;
  const script = `set -e
${ms}
cmp_tables() { ipvsadm -Sn | sort > "$1"; }
t=$(ms); ${drv} apply a.json > ours-apply.out; echo "ours_apply_process $(( $(ms) - t ))"
cat ours-apply.out; cmp_tables ours.tab
t=$(ms); ${drv} apply b.json a.json > ours-1pct.out; echo "ours_1pct_process $(( $(ms) - t ))"
cat ours-1pct.out; cmp_tables ours-b.tab
t=$(ms); ${drv} plan b.json > ours-noop.out; echo "ours_noop_process $(( $(ms) - t ))"
cat ours-noop.out
${drv} read b.json
ipvsadm -C
t=$(ms); ipvsadm -R < a.rules; echo "ipvsadm_restore_process $(( $(ms) - t ))"
cmp_tables adm.tab
t=$(ms); ipvsadm -R < b.edits; echo "ipvsadm_1pct_process $(( $(ms) - t ))"
cmp_tables adm-b.tab
cmp ours.tab adm.tab && echo "same_table_after_apply yes"
cmp ours-b.tab adm-b.tab && echo "same_table_after_1pct yes"
echo "dests $(grep -c '^-a' adm-b.tab)"
ipvsadm -C
`;
  const run = await runInVm(
    [
      {
        name: 'ipvs-bench',
        script,
        files: {
          'bench.mjs': readFileSync(join(here, 'in-vm/bench.mjs'), 'utf8'),
          'a.json': JSON.stringify(spec(false)),
          'b.json': JSON.stringify(spec(true)),
          'a.rules': rules(false),
          'b.edits': edits(),
        },
      },
    ],
    { timeoutMs: 900_000 },
  );
  const job = run.jobs[0];
  if (job?.exitCode !== 0) throw new Error(`bench job failed (exit ${job?.exitCode}):\n${job?.output}`);
  const out = job.output;
  const num = (k) => {
    const m = new RegExp(`^${k} (\\d+)`, 'm').exec(out);
    if (!m) throw new Error(`no ${k} in:\n${out}`);
    return Number(m[1]);
  };
  const at = out
    .split('\n')
    .filter((l) => l.startsWith('@@'))
    .map((l) => JSON.parse(l.slice(2)));
  const [apply, pct, noop, read] = at;
  if (!/same_table_after_apply yes/.test(out) || !/same_table_after_1pct yes/.test(out)) {
    throw new Error(`tables differ between keepalived-ts and ipvsadm:\n${out}`);
  }
  const r2 = (x) => Math.round(x * 100) / 100;
  const result = {
    table: { services: N_SVC, destsPerService: N_DEST, dests: num('dests'), change: '100 weights (1%)' },
    env: 'Debian 6.1 kernel under qemu TCG (no KVM); times in ms inside the VM',
    keepalivedTs: {
      applyOps: apply.ops,
      applyInProcessMs: r2(apply.readMs + apply.planMs + apply.applyMs),
      applyProcessMs: num('ours_apply_process'),
      change1pctOps: pct.ops,
      change1pctKinds: pct.kinds,
      change1pctReadMs: r2(pct.readMs),
      change1pctPlanMs: r2(pct.planMs),
      change1pctApplyMs: r2(pct.applyMs),
      change1pctInProcessMs: r2(pct.readMs + pct.planMs + pct.applyMs),
      change1pctProcessMs: num('ours_1pct_process'),
      noopOps: noop.ops,
      noopReadAndPlanMs: r2(noop.readMs + noop.planMs),
      readTableMedianMs: r2(read.readTogetherMs),
      destDumpsOneByOneMedianMs: r2(read.destDumpsOneByOneMs),
    },
    ipvsadm: {
      restoreProcessMs: num('ipvsadm_restore_process'),
      edit1pctProcessMs: num('ipvsadm_1pct_process'),
    },
    ratios: {
      applyInProcessVsIpvsadmRestore: r2(
        (apply.readMs + apply.planMs + apply.applyMs) / num('ipvsadm_restore_process'),
      ),
      applyProcessVsIpvsadmRestore: r2(num('ours_apply_process') / num('ipvsadm_restore_process')),
      change1pctInProcessVsIpvsadmEdits: r2(
        (pct.readMs + pct.planMs + pct.applyMs) / num('ipvsadm_1pct_process'),
      ),
      change1pctProcessVsIpvsadmEdits: r2(num('ours_1pct_process') / num('ipvsadm_1pct_process')),
    },
    vm: { bootMs: Math.round(run.bootMs), wallMs: Math.round(run.wallMs) },
  };
  mkdirSync(join(here, '../results'), { recursive: true });
  writeFileSync(join(here, '../results/ipvs.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
