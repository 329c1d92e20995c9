#!/usr/bin/env node
// Checker load vs VRRP timing, with the real daemons: 2,000 real servers (1,000 HTTP_GET with digest +
// 1,000 TCP_CHECK, delay_loop 1, on 50 addresses × 20+20 ports served by fixtures/backends.mjs in a
// namespace) and one vrrp_instance MASTER at advert_int 1, in one keepalived.conf; run once with no
// scheduling keyword ("default") and once with BENCH_CHECK_GLOBALS ("tuned", default vrrp_rt_priority 50).
//   vm:   in one boot of the kernel VM (test/lab/vm.ts, qemu TCG: emulated, slow), Debian's keepalived
//         for BENCH_CHECK_SECONDS, then keepalived-ts for as long, same config, same backends.
//   host: keepalived-ts alone for BENCH_CHECK_HOST_SECONDS on the real CPU (the jitter target). The
//         host kernel may lack IPVS: keepalived-ts then checks against an in-memory table.
// Measures advert jitter on the wire (tcpdump --immediate-mode timestamps in the backends' namespace:
// |interval − 1 s| of consecutive adverts, p50/p99/max), CPU seconds per minute (utime+stime of the
// daemon and every descendant process, from /proc/<pid>/stat) and RSS (sum of VmRSS), over a window
// that starts BENCH_CHECK_WARMUP s after the daemon's first advert (start-up done, MASTER). Writes bench/results/check.json.
// Env: BENCH_CHECK_MODES=vm,host  BENCH_CHECK_SECONDS=60  BENCH_CHECK_HOST_SECONDS=120
//      BENCH_CHECK_WARMUP (s after the first advert; vm 10, host 5)  BENCH_CHECK_GLOBALS (tuned global_defs lines, `;`-separated)
//      BENCH_CHECK_VARIANTS=default,tuned (also: auto, max_auto_priority 50; tuned-flap, 50 real servers down/up every 3 s)
//      BENCH_CHECK_KEEP=1 (keep the host job directory: logs, adverts)  BENCH_CHECK_VERBOSE=1 (log heads)
// Needs root, keepalived, tcpdump, qemu and a Debian kernel for `vm` (the lab installs them).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const env = process.env;
const MODES = (env.BENCH_CHECK_MODES ?? 'vm,host').split(',').filter(Boolean);
const VM_SECONDS = Number(env.BENCH_CHECK_SECONDS ?? 60);
const HOST_SECONDS = Number(env.BENCH_CHECK_HOST_SECONDS ?? 120);
const VM_WARMUP = Number(env.BENCH_CHECK_WARMUP ?? 10);
const HOST_WARMUP = Number(env.BENCH_CHECK_WARMUP ?? 5);
/** Each daemon runs once per variant: keepalived's defaults, then the tuned global_defs lines. */
const TUNED = (env.BENCH_CHECK_GLOBALS ?? 'vrrp_rt_priority 50')
  .split(';')
  .map((s) => s.trim())
  .filter(Boolean);
const VARIANTS = [
  { name: 'default', globals: [] },
  { name: 'tuned', globals: TUNED },
  // keepalived's own start-up advice: a real-time boost only once timers run late
  { name: 'auto', globals: ['max_auto_priority 50'] },
  // 50 real servers (one port on every address) going down and up every 3 s
  { name: 'tuned-flap', globals: TUNED, flap: true },
].filter((v) => (env.BENCH_CHECK_VARIANTS ?? 'default,tuned').split(',').includes(v.name));
const VM_CPUS = 2;
const VM_MEMORY_MB = 2048;
const ADDRS = 50;
const PORTS = 20;
const HTTP_BASE = 8000;
const TCP_BASE = 9000;
const ADVERT_INT_MS = 1000;
const TARGET_P99_MS = 5;

const body = 'ok\n'.repeat(100); // what fixtures/backends.mjs serves
const digest = createHash('md5').update(body).digest('hex');

function config(globals) {
  const rs = (kind) => {
    const out = [];
    for (let a = 0; a < ADDRS; a++)
      for (let p = 0; p < PORTS; p++) {
        const addr = `198.51.100.${10 + a}`;
        const check =
          kind === 'http'
            ? `    HTTP_GET {\n      url {\n        path /\n        digest ${digest}\n      }\n      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }`
            : '    TCP_CHECK {\n      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }';
        out.push(
          `  real_server ${addr} ${(kind === 'http' ? HTTP_BASE : TCP_BASE) + p} {\n    weight 1\n${check}\n  }`,
        );
      }
    return out.join('\n');
  };
  const vs = (port, kind) =>
    `virtual_server 203.0.113.1 ${port} {\n  delay_loop 1\n  lvs_sched rr\n  lvs_method NAT\n  protocol TCP\n${rs(kind)}\n}\n`;
  return `global_defs {
  router_id bench
${globals.map((g) => `  ${g}`).join('\n')}
}
vrrp_instance VI_1 {
  state MASTER
  interface d0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    203.0.113.1/32 dev d0
  }
}
${vs(80, 'http')}${vs(81, 'tcp')}`;
}

/**
 * The job (POSIX sh, run as root on the host or in the VM): namespaces, backends, tcpdump, then each
 * daemon in turn. Prints `=== section` blocks with timestamps, /proc stat lines and VmRSS.
 */
function script({ node, entry, ns, daemons, warmup, seconds }) {
  const launch = (d, v) =>
    d === 'keepalived'
      ? `keepalived -n -l -f ./${v}.conf -p ./k.pid -r ./kv.pid -c ./kc.pid`
      : `${node} ${entry} -n -l -f ./${v}.conf -p ./t.pid -r ./tv.pid -c ./tc.pid`;
  const flap = 'kill -USR2 $(cat backends.pid)';
  const runs = VARIANTS.flatMap((v) =>
    daemons.flatMap((d) => [
      ...(v.flap ? [flap] : []),
      `run ${d}.${v.name} ${launch(d, v.name)}`,
      ...(v.flap ? [flap] : []),
    ]),
  );
  return `set -u
B=${ns}b; D=${ns}d
now() { date +%s.%N; }
tree() { echo $1; for c in $(cat /proc/$1/task/*/children 2>/dev/null); do tree $c; done; }
snap() {
  echo "=== $1"; echo "at $(now)"; echo "clk_tck $(getconf CLK_TCK)"
  for p in $(tree $2); do
    echo "stat $(cat /proc/$p/stat 2>/dev/null)"
    echo "rss $p $(sed -n 's/^VmRSS:[[:space:]]*//p' /proc/$p/status 2>/dev/null)"
  done
  echo "loadavg $(cat /proc/loadavg)"
}
cleanup() {
  for f in daemon.pid tcpdump.pid backends.pid; do [ -s $f ] && kill -KILL $(cat $f) 2>/dev/null; done
  ip netns del $B 2>/dev/null; ip netns del $D 2>/dev/null
}
trap cleanup EXIT
ip netns add $B; ip netns add $D
ip -n $D link add d0 type veth peer name e0 netns $B
ip -n $D addr add 198.51.100.1/24 dev d0; ip -n $D link set d0 up; ip -n $D link set lo up
ip -n $B link set e0 up; ip -n $B link set lo up
for i in $(seq 10 ${9 + ADDRS}); do ip -n $B addr add 198.51.100.$i/24 dev e0; done
ip netns exec $B ${node} ./backends.mjs ${HTTP_BASE} ${TCP_BASE} ${PORTS} > backends.log 2>&1 &
echo $! > backends.pid
ok=0; for t in $(seq 1 1200); do grep -q '^ready' backends.log && { ok=1; break; }; sleep 0.1; done
echo "=== backends"; echo "ready=$ok at $(now)"
[ $ok = 1 ] || { cat backends.log; exit 1; }
ip netns exec $B tcpdump -i e0 -n -tt --immediate-mode -l 'ip proto 112' > adverts.txt 2> tcpdump.err &
echo $! > tcpdump.pid
sleep 2
run() {
  name=$1; shift
  echo "=== launch-$name"; echo "at $(now)"
  n0=$(grep -c 'prio [1-9]' adverts.txt)
  ip netns exec $D "$@" > $name.log 2>&1 &
  DP=$!; echo $DP > daemon.pid
  # the window starts once the daemon sends adverts (MASTER, start-up done), plus the warmup
  for t in $(seq 1 1800); do [ $(grep -c 'prio [1-9]' adverts.txt) -gt $n0 ] && break; sleep 0.1; done
  echo "=== master-$name"; echo "at $(now)"
  sleep ${warmup}
  snap t0-$name $DP
  sleep ${seconds}
  snap t1-$name $DP
  kill -TERM $DP
  for t in $(seq 1 300); do kill -0 $DP 2>/dev/null || break; sleep 0.1; done
  kill -KILL $DP 2>/dev/null; wait $DP 2>/dev/null
  echo "=== log-$name"
  echo "lines $(wc -l < $name.log)"
  echo "removed $(grep -c 'Removing service' $name.log)"
  echo "added $(grep -c 'Adding service' $name.log)"
  grep -v -e "add-dest" -e "Activating healthchecker" -e "Adding service" $name.log | head -c 6000; echo
  : > daemon.pid
  sleep 3
}
${runs.join('\n')}
kill -INT $(cat tcpdump.pid); sleep 1
echo "=== counts"; grep '^count' backends.log
echo "=== adverts"; cat adverts.txt
echo "=== tcpdump"; cat tcpdump.err
echo "=== end"
`;
}

/** `=== NAME` blocks of a job's output (same convention as test/lab/vm.ts `sections`). */
function sections(output) {
  const m = new Map();
  let name = '';
  for (const line of output.split('\n')) {
    const h = /^=== (\S+)/.exec(line);
    if (h) {
      name = h[1];
      m.set(name, '');
    } else if (name) m.set(name, `${m.get(name)}${line}\n`);
  }
  return m;
}

const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);
const pct = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null;

/** `snap` block → { at, cpuTicks (utime+stime summed), rssKiB (summed), pids, tck }. */
function parseSnap(text) {
  if (!text) throw new Error('missing snapshot');
  const at = Number(/^at (\S+)/m.exec(text)?.[1]);
  const tck = Number(/^clk_tck (\d+)/m.exec(text)?.[1] ?? 100);
  let cpuTicks = 0;
  let rssKiB = 0;
  const pids = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('stat ') && line.length > 5) {
      const close = line.lastIndexOf(')');
      const f = line.slice(close + 2).split(' '); // f[0] is field 3 (state)
      pids.push(Number(line.slice(5, line.indexOf(' ', 5))));
      cpuTicks += Number(f[11]) + Number(f[12]); // fields 14 utime, 15 stime
    }
    const r = /^rss \d+ (\d+) kB/.exec(line);
    if (r) rssKiB += Number(r[1]);
  }
  return { at, tck, cpuTicks, rssKiB, pids };
}

/** One daemon's figures from the job output. */
function figures(sec, name) {
  const t0 = parseSnap(sec.get(`t0-${name}`));
  const t1 = parseSnap(sec.get(`t1-${name}`));
  const stamps = [];
  for (const line of (sec.get('adverts') ?? '').split('\n')) {
    const m = /^(\d+\.\d+) IP .*VRRPv\d, Advertisement, vrid 51, prio (\d+)/.exec(line);
    if (m && Number(m[2]) > 0) {
      const t = Number(m[1]);
      if (t >= t0.at && t <= t1.at) stamps.push(t);
    }
  }
  const devs = [];
  let worstAtS = null;
  let worst = -1;
  for (let i = 1; i < stamps.length; i++) {
    const dev = Math.abs((stamps[i] - stamps[i - 1]) * 1000 - ADVERT_INT_MS);
    devs.push(dev);
    if (dev > worst) {
      worst = dev;
      worstAtS = stamps[i] - t0.at; // when the worst interval ended, in s after the window start
    }
  }
  devs.sort((a, b) => a - b);
  const window = t1.at - t0.at;
  // Checks that reached the backends: the backends' 2 s totals nearest inside the window.
  const counts = (sec.get('counts') ?? '')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[0] === 'count')
    .map((f) => ({ t: Number(f[1]) / 1000, http: Number(f[2]), tcp: Number(f[3]) }))
    .filter((c) => c.t >= t0.at && c.t <= t1.at);
  const first = counts[0];
  const last = counts.at(-1);
  const span = first && last ? last.t - first.t : 0;
  const log = sec.get(`log-${name}`) ?? '';
  const p99 = pct(devs, 99);
  const at = (k) => Number(/^at (\S+)/m.exec(sec.get(`${k}-${name}`) ?? '')?.[1]);
  return {
    launchToFirstAdvertS: r3(at('master') - at('launch')),
    windowS: r3(window),
    adverts: stamps.length,
    intervals: devs.length,
    jitterMs: { p50: r3(pct(devs, 50)), p99: r3(p99), max: r3(devs.at(-1) ?? null) },
    worstIntervalEndsAtS: worstAtS === null ? null : r3(worstAtS),
    targetP99Ms: TARGET_P99_MS,
    target: p99 !== null && devs.length >= 10 && p99 < TARGET_P99_MS ? 'MET' : 'NOT MET',
    cpuSecondsPerMinute: r3(((t1.cpuTicks - t0.cpuTicks) / t1.tck / window) * 60),
    rssMiB: r3(t1.rssKiB / 1024),
    processes: t1.pids.length,
    checksPerSecondAtBackends:
      span > 0 ? { http: r3((last.http - first.http) / span), tcp: r3((last.tcp - first.tcp) / span) } : null,
    removedRealServerLogLines: Number(/^removed (\d+)/m.exec(log)?.[1] ?? 0),
    addedRealServerLogLines: Number(/^added (\d+)/m.exec(log)?.[1] ?? 0),
    loadavgAtEnd: /^loadavg (.*)$/m.exec(sec.get(`t1-${name}`) ?? '')?.[1] ?? null,
  };
}

/** Compiles the daemon and the VM runner into a private directory the VM can read (not /tmp). */
function build() {
  mkdirSync('/var/tmp', { recursive: true });
  const dir = mkdtempSync('/var/tmp/kt-check-bench-');
  const dist = join(dir, 'dist');
  // Files others are editing may not type-check at this moment; tsc still emits, so check the output.
  spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
      ...['--skipLibCheck', '--types', 'node', '--outDir', dist, '--rootDir', root],
      ...['src/main.ts', 'src/check/worker-entry.ts', 'test/lab/vm.ts'].map((f) => join(root, f)),
    ],
    { stdio: 'pipe' },
  );
  for (const f of ['src/main.js', 'src/check/worker-entry.js', 'test/lab/vm.js']) readFileSync(join(dist, f)); // throws when the build did not produce it
  symlinkSync(join(root, 'native'), join(dist, 'native')); // dist/src/sys/native.js loads ../../native
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const entry = join(dir, 'entry.mjs');
  writeFileSync(
    entry,
    `import { main } from ${JSON.stringify(pathToFileURL(join(dist, 'src/main.js')).href)};\n` +
      'main(process.argv.slice(2)).then((c) => { if (typeof c === "number") process.exitCode = c; },\n' +
      '  (e) => { process.stderr.write(String(e?.stack ?? e)); process.exitCode = 1; });\n',
  );
  return { dir, dist, entry };
}

const files = () => ({
  ...Object.fromEntries(VARIANTS.map((v) => [`${v.name}.conf`, config(v.globals)])),
  'backends.mjs': readFileSync(join(here, 'fixtures/backends.mjs'), 'utf8'),
});
const ratio = (a, b) => (a !== null && b ? r3(a / b) : null);

async function runVm(b) {
  const { runInVm } = await import(pathToFileURL(join(b.dist, 'test/lab/vm.js')).href);
  const daemons = ['keepalived', 'keepalived-ts'];
  const job = {
    name: 'check-bench',
    script: script({
      node: process.execPath,
      entry: b.entry,
      ns: 'kb',
      daemons,
      warmup: VM_WARMUP,
      seconds: VM_SECONDS,
    }),
    files: files(),
  };
  const budget = (VM_WARMUP + VM_SECONDS + 220) * daemons.length * VARIANTS.length * 1000 + 300_000;
  const run = await runInVm([job], { cpus: VM_CPUS, memoryMb: VM_MEMORY_MB, timeoutMs: budget });
  const out = run.jobs[0];
  const sec = sections(out.output);
  if (!sec.has('end')) throw new Error(`VM job did not finish (exit ${out.exitCode}):\n${out.output}`);
  const variants = {};
  for (const v of VARIANTS) {
    const k = figures(sec, `keepalived.${v.name}`);
    const t = figures(sec, `keepalived-ts.${v.name}`);
    variants[v.name] = {
      globals: v.globals,
      keepalived: k,
      keepalivedTs: t,
      ratiosTsOverKeepalived: {
        jitterP50: ratio(t.jitterMs.p50, k.jitterMs.p50),
        jitterP99: ratio(t.jitterMs.p99, k.jitterMs.p99),
        jitterMax: ratio(t.jitterMs.max, k.jitterMs.max),
        cpuSecondsPerMinute: ratio(t.cpuSecondsPerMinute, k.cpuSecondsPerMinute),
        rss: ratio(t.rssMiB, k.rssMiB),
      },
    };
  }
  return {
    env:
      `EMULATED: Debian kernel under qemu TCG (no KVM), ${VM_CPUS} vCPUs, ${VM_MEMORY_MB} MiB; ` +
      'absolute CPU and jitter are inflated by emulation, the side-by-side ratios are the point',
    cpus: VM_CPUS,
    memoryMb: VM_MEMORY_MB,
    secondsPerDaemon: VM_SECONDS,
    warmupS: VM_WARMUP,
    bootMs: Math.round(run.bootMs),
    wallMs: Math.round(run.wallMs),
    variants,
    logHeads: Object.fromEntries([...sec].filter(([k]) => k.startsWith('log-'))),
  };
}

async function runHost(b) {
  const dir = mkdtempSync(join(os.tmpdir(), 'kt-check-host-'));
  const ns = `ktc${randomBytes(3).toString('hex')}`;
  for (const [n, text] of Object.entries(files())) writeFileSync(join(dir, n), text);
  writeFileSync(
    join(dir, 'job.sh'),
    script({
      node: process.execPath,
      entry: b.entry,
      ns,
      daemons: ['keepalived-ts'],
      warmup: HOST_WARMUP,
      seconds: HOST_SECONDS,
    }),
  );
  const loadavgAtStart = os.loadavg().map(r3);
  const child = spawn('sh', ['./job.sh'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const killJob = () => {
    try {
      process.kill(child.pid, 'SIGTERM'); // the job's EXIT trap kills its processes, deletes its namespaces
    } catch {}
  };
  process.on('exit', killJob);
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  await new Promise((r) => child.once('exit', r));
  process.off('exit', killJob);
  if (env.BENCH_CHECK_KEEP) console.log(`host job directory kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  const sec = sections(output);
  if (!sec.has('end')) throw new Error(`host job did not finish:\n${output}`);
  const variants = {};
  for (const v of VARIANTS)
    variants[v.name] = { globals: v.globals, keepalivedTs: figures(sec, `keepalived-ts.${v.name}`) };
  const ipvs = /Can't initialize ipvs/.test(sec.get(`log-keepalived-ts.${VARIANTS[0]?.name}`) ?? '')
    ? 'absent: checks ran against an in-memory table'
    : 'present';
  return {
    env: `host, real CPU: ${os.cpus().length} CPUs, kernel ${os.release()}, IPVS ${ipvs}`,
    loadavgAtStart,
    secondsPerDaemon: HOST_SECONDS,
    warmupS: HOST_WARMUP,
    variants,
    logHeads: Object.fromEntries([...sec].filter(([k]) => k.startsWith('log-'))),
  };
}

const b = build();
const result = {
  bench: 'check',
  date: new Date().toISOString(),
  node: process.version,
  realServers: 2 * ADDRS * PORTS,
  kinds: { HTTP_GET: ADDRS * PORTS, TCP_CHECK: ADDRS * PORTS },
  delayLoopS: 1,
  advertIntS: 1,
  variants: Object.fromEntries(VARIANTS.map((v) => [v.name, v.globals])),
  jitter: 'on the wire: |interval − advert_int| of consecutive adverts, tcpdump --immediate-mode',
};
const t0 = performance.now();
try {
  if (MODES.includes('vm')) result.vm = await runVm(b);
  if (MODES.includes('host')) result.host = await runHost(b);
} finally {
  rmSync(b.dir, { recursive: true, force: true });
}
result.durationS = r3((performance.now() - t0) / 1000);
mkdirSync(join(root, 'bench/results'), { recursive: true });
const forFile = structuredClone(result);
// A run of one mode keeps the other mode's last figures, marked with the date they were measured.
try {
  const prev = JSON.parse(readFileSync(join(root, 'bench/results/check.json'), 'utf8'));
  for (const m of ['vm', 'host'])
    if (!forFile[m] && prev[m]) forFile[m] = { measuredAt: prev[m].measuredAt ?? prev.date, ...prev[m] };
} catch {
  // no previous results
}
for (const m of ['vm', 'host']) if (result[m]) forFile[m].measuredAt = result.date;
delete forFile.vm?.logHeads;
delete forFile.host?.logHeads;
writeFileSync(join(root, 'bench/results/check.json'), `${JSON.stringify(forFile, null, 2)}\n`);

const line = (who, f) =>
  `  ${who.padEnd(14)} jitter p50 ${f.jitterMs.p50} ms  p99 ${f.jitterMs.p99} ms  max ${f.jitterMs.max} ms (at +${f.worstIntervalEndsAtS} s) ` +
  `(${f.intervals} intervals)  CPU ${f.cpuSecondsPerMinute} s/min  RSS ${f.rssMiB} MiB  ` +
  `checks/s at backends ${JSON.stringify(f.checksPerSecondAtBackends)}  RS removed ${f.removedRealServerLogLines}  ` +
  `start-up ${f.launchToFirstAdvertS} s  ` +
  `p99 < ${TARGET_P99_MS} ms: ${f.target}`;
console.log(`\n== check bench: ${result.realServers} real servers, delay_loop 1, advert_int 1`);
const said = (v) => (v.globals.length ? v.globals.join('; ') : 'no scheduling keywords');
if (result.vm) {
  console.log(`VM (${result.vm.env}), ${VM_SECONDS} s per daemon and variant:`);
  for (const [name, v] of Object.entries(result.vm.variants)) {
    console.log(` ${name} (${said(v)}):`);
    console.log(line('keepalived', v.keepalived));
    console.log(line('keepalived-ts', v.keepalivedTs));
    console.log(`  ratios ts/keepalived: ${JSON.stringify(v.ratiosTsOverKeepalived)}`);
  }
}
if (result.host) {
  console.log(`host (${result.host.env}), ${HOST_SECONDS} s per variant:`);
  for (const [name, v] of Object.entries(result.host.variants)) {
    console.log(` ${name} (${said(v)}):`);
    console.log(line('keepalived-ts', v.keepalivedTs));
  }
}
if (env.BENCH_CHECK_VERBOSE) {
  for (const [k, text] of Object.entries({ ...result.vm?.logHeads, ...result.host?.logHeads }))
    console.log(`--- ${k}\n${text}`);
}
console.log(`duration ${result.durationS} s; written bench/results/check.json`);
