#!/usr/bin/env node
// VRRP failover benchmark: keepalived-ts and Debian's keepalived side by side in the same run, each a
// pair of nodes (network namespaces on one bridge) forming one virtual router with the same priority
// and nopreempt, so every trial kills the current master and the survivor takes over.
//  - crash gap: last advert of the SIGKILLed master -> first advert of the new one (tcpdump on the
//    bridge), 20 trials at advert_int 1 (v2) and 10 at advert_int 0.1 (v3); theory Master_Down_Interval;
//  - graceful takeover: SIGTERM'd master's priority-0 advert -> first advert of the new one; theory
//    the skew time.
// Prints median/p90 per implementation and the ratio to keepalived; writes bench/results/vrrp.json.
// Needs root, iproute2, tcpdump, keepalived and a built dist/. Usage: node bench/vrrp/failover.mjs
// [CRASH_V2 CRASH_V3 GRACEFUL] (trial counts; default 20 10 10). Env: BENCH_TS_BIN runs another
// keepalived-ts entry point (e.g. a build in another directory); BENCH_OUT writes the results
// elsewhere than bench/results/vrrp.json; BENCH_DEBUG prints progress.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const [CRASH_V2, CRASH_V3, GRACEFUL] = [20, 10, 10].map((d, i) => Number(process.argv[2 + i] ?? d));
const PRIO = 100;
const sh = promisify(execFile);
const run = async (cmd, args, input) => {
  if (input === undefined) return (await sh(cmd, args)).stdout;
  return await new Promise((res, rej) => {
    const c = execFile(cmd, args, (e, out) => (e ? rej(e) : res(out)));
    c.stdin.end(input);
  });
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const id = `kb${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), `${id}-`));
const brNs = `${id}-br`;
const IMPLS = {
  ts: {
    cmd: [process.execPath, process.env.BENCH_TS_BIN ?? join(root, 'bin', 'keepalived-ts.js')],
    vrid: 10,
    nodes: ['t1', 't2'],
  },
  ka: { cmd: ['/usr/sbin/keepalived'], vrid: 20, nodes: ['k1', 'k2'] },
};
const NODES = { t1: '192.0.2.1', t2: '192.0.2.2', k1: '192.0.2.3', k2: '192.0.2.4' };
const vipOf = (impl) => `192.0.2.${100 + IMPLS[impl].vrid}`;
const nsOf = (n) => `${id}-${n}`;
const procs = new Map(); // node -> ChildProcess
let tcpdump;

async function setup() {
  const all = [brNs, ...Object.keys(NODES).map(nsOf)];
  await run('ip', ['-batch', '-'], all.map((n) => `netns add ${n}\n`).join(''));
  const br = [
    'link set lo up',
    'link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0',
    'link set br0 up',
  ];
  const veth = [];
  for (const n of Object.keys(NODES)) {
    veth.push(`link add p-${n} netns ${brNs} type veth peer name eth0 netns ${nsOf(n)}`);
    br.push(`link set p-${n} master br0 up`);
  }
  await run('ip', ['-batch', '-'], `${veth.join('\n')}\n`);
  await run('ip', ['-n', brNs, '-batch', '-'], `${br.join('\n')}\n`);
  let i = 0;
  for (const [n, addr] of Object.entries(NODES)) {
    i++;
    const mac = `02:00:00:00:0${i}:01`;
    await run(
      'ip',
      ['-n', nsOf(n), '-batch', '-'],
      `link set lo up\nlink set eth0 address ${mac}\naddr add ${addr}/24 dev eth0\nlink set eth0 up\n`,
    );
  }
  // Wait for carrier and forwarding ports (linkwatch may lag).
  for (let t = 0; t < 200; t++) {
    const ports = JSON.parse(await run('bridge', ['-n', brNs, '-j', 'link', 'show']));
    if (ports.length === 4 && ports.every((p) => p.state === 'forwarding')) break;
    await sleep(20);
  }
  debug('links up');
  const pcap = join(dir, 'bench.pcap');
  tcpdump = spawn(
    'ip',
    ['netns', 'exec', brNs, 'tcpdump', '-i', 'br0', '-U', '-n', '-s', '128', '-w', pcap, 'ip proto 112'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  await new Promise((res, rej) => {
    let err = '';
    const t = setTimeout(() => rej(new Error(`tcpdump: ${err}`)), 10_000);
    tcpdump.stderr.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(t);
        res();
      }
    });
  });
  return pcap;
}

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  tcpdump?.kill('SIGKILL');
  for (const ns of [brNs, ...Object.keys(NODES).map(nsOf)]) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        .split(/\s+/)
        .filter(Boolean);
      for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
    } catch {}
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
for (const s of ['SIGINT', 'SIGTERM'])
  process.on(s, () => {
    cleanup();
    process.exit(130);
  });
const debug = process.env.BENCH_DEBUG
  ? (...a) => console.error('debug', (performance.now() / 1000).toFixed(2), ...a)
  : () => {};

async function nsPids(n) {
  const out = await run('ip', ['netns', 'pids', nsOf(n)]).catch(() => '');
  return out.split(/\s+/).filter(Boolean).map(Number);
}

/** SIGSTOP then SIGKILL every process of the node, until none is left. */
async function crash(n) {
  const p = procs.get(n);
  const exited = p && p.exitCode === null ? new Promise((r) => p.once('exit', r)) : Promise.resolve();
  for (let t = 0; t < 100; t++) {
    const pids = await nsPids(n);
    if (pids.length === 0) break;
    for (const sig of ['SIGSTOP', 'SIGKILL'])
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {}
      }
    await sleep(10);
  }
  await exited;
}

function config(impl, v3) {
  return `global_defs {\n  router_id ${impl}\n}\nvrrp_instance VI_1 {\n  state BACKUP\n  nopreempt\n  interface eth0\n  virtual_router_id ${IMPLS[impl].vrid}\n  priority ${PRIO}\n  advert_int ${v3 ? '0.1' : '1'}\n${v3 ? '  version 3\n' : ''}  virtual_ipaddress {\n    ${vipOf(impl)}/24\n  }\n}\n`;
}

let seq = 0;
function start(impl, n, v3) {
  const d = join(dir, `${n}-${seq++}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'keepalived.conf'), config(impl, v3));
  const out = openSync(join(d, 'log'), 'a');
  const args = [
    '-n',
    '-l',
    '-D',
    '-f',
    join(d, 'keepalived.conf'),
    '-p',
    join(d, 'p'),
    '-r',
    join(d, 'r'),
    '-c',
    join(d, 'c'),
  ];
  const p = spawn('ip', ['netns', 'exec', nsOf(n), ...IMPLS[impl].cmd, ...args], {
    stdio: ['ignore', out, out],
    cwd: d,
  });
  procs.set(n, p);
  return p;
}

async function holds(n, vip) {
  const j = JSON.parse(await run('ip', ['-n', nsOf(n), '-j', 'addr', 'show', 'dev', 'eth0']));
  return j.some((l) => (l.addr_info ?? []).some((a) => a.local === vip));
}
async function waitHolds(n, vip, want, timeoutMs = 20_000) {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if ((await holds(n, vip)) === want) return;
    await sleep(20);
  }
  throw new Error(`${n}: ${vip} ${want ? 'never added' : 'never removed'}`);
}

// ---- pcap (classic format, µs or ns) ----
function adverts(pcap, vrid) {
  let buf;
  try {
    buf = readFileSync(pcap);
  } catch {
    return [];
  }
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  const out = [];
  for (let o = 24; o + 16 <= buf.length; ) {
    const sec = buf.readUInt32LE(o);
    const frac = buf.readUInt32LE(o + 4);
    const incl = buf.readUInt32LE(o + 8);
    if (o + 16 + incl > buf.length) break;
    const f = buf.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    if (f.length < 14 + 20 + 8 || f.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (f[14] & 0x0f) * 4;
    if (f[14 + 9] !== 112) continue;
    const v = 14 + ihl;
    if (f[v + 1] !== vrid) continue;
    out.push({
      us: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
      src: [...f.subarray(26, 30)].join('.'),
      prio: f[v + 2],
    });
  }
  return out;
}

/** Gap in ms from the last advert of `from` (priority > 0, or the priority-0 one) to the next of `to`. */
function gap(pcap, vrid, from, to, zero) {
  const ads = adverts(pcap, vrid);
  const i = ads.findLastIndex((a) => a.src === from && (zero ? a.prio === 0 : a.prio > 0));
  if (i < 0) return undefined;
  const next = ads.slice(i + 1).find((a) => a.src === to);
  return next ? (next.us - ads[i].us) / 1000 : undefined;
}

async function waitGap(pcap, vrid, from, to, zero) {
  for (let t = 0; t < 100; t++) {
    const g = gap(pcap, vrid, from, to, zero);
    if (g !== undefined) return g;
    await sleep(20);
  }
  throw new Error(`no takeover ${from} -> ${to} in the capture`);
}

/** One implementation's trials; `master` is the node currently holding the VIP. */
async function trials(impl, pcap, v3, count, mode) {
  const [a, b] = IMPLS[impl].nodes;
  const vip = vipOf(impl);
  const vrid = IMPLS[impl].vrid;
  // a first: it becomes master, then b joins as backup (nopreempt, equal priority: no preemption).
  start(impl, a, v3);
  await waitHolds(a, vip, true);
  start(impl, b, v3);
  await sleep(v3 ? 1500 : 3000); // b settled in BACKUP
  debug(impl, 'pair up');
  let master = a;
  let backup = b;
  const out = [];
  for (let t = 0; t < count; t++) {
    debug(impl, 'killing', master);
    if (mode === 'crash') await crash(master);
    else {
      procs.get(master).kill('SIGTERM');
      await new Promise((r) => procs.get(master).once('exit', r));
    }
    debug(impl, 'killed');
    await waitHolds(backup, vip, true);
    debug(impl, 'trial', t, 'takeover');
    out.push(await waitGap(pcap, vrid, NODES[master], NODES[backup], mode === 'graceful'));
    // Bring the old master back as a backup (it removes its stale VIP at start).
    debug(impl, 'gap', out.at(-1));
    start(impl, master, v3);
    await waitHolds(master, vip, false);
    debug(impl, 'restarted');
    await sleep(v3 ? 1200 : 2500);
    [master, backup] = [backup, master];
  }
  await crash(a);
  await crash(b);
  for (const n of [a, b])
    if (await holds(n, vip)) await run('ip', ['-n', nsOf(n), 'addr', 'del', `${vip}/24`, 'dev', 'eth0']);
  return out;
}

const q = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
};
const summary = (xs, theory) => ({
  n: xs.length,
  median_ms: +q(xs, 0.5).toFixed(2),
  p90_ms: +q(xs, 0.9).toFixed(2),
  min_ms: +Math.min(...xs).toFixed(2),
  max_ms: +Math.max(...xs).toFixed(2),
  theory_ms: theory,
  median_minus_theory_ms: +(q(xs, 0.5) - theory).toFixed(2),
});

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const pcap = await setup();
  const results = { date: new Date().toISOString(), trials: { CRASH_V2, CRASH_V3, GRACEFUL } };
  const skew = ((256 - PRIO) / 256) * 1000;
  const plans = [
    ['crash_v2_advert_int_1', false, CRASH_V2, 'crash', 3000 + skew],
    ['crash_v3_advert_int_0.1', true, CRASH_V3, 'crash', 300 + skew / 10],
    ['graceful_v2_advert_int_1', false, GRACEFUL, 'graceful', skew],
  ];
  for (const [name, v3, count, mode, theory] of plans) {
    if (count <= 0) continue;
    const t0 = performance.now();
    const [ts, ka] = await Promise.all([
      trials('ts', pcap, v3, count, mode),
      trials('ka', pcap, v3, count, mode),
    ]);
    const r = { keepalived_ts: summary(ts, +theory.toFixed(2)), keepalived: summary(ka, +theory.toFixed(2)) };
    r.ratio_median_ts_to_keepalived = +(r.keepalived_ts.median_ms / r.keepalived.median_ms).toFixed(4);
    r.raw_ms = { keepalived_ts: ts.map((x) => +x.toFixed(2)), keepalived: ka.map((x) => +x.toFixed(2)) };
    results[name] = r;
    console.log(
      `${name}: keepalived-ts median ${r.keepalived_ts.median_ms} ms p90 ${r.keepalived_ts.p90_ms} | keepalived median ${r.keepalived.median_ms} ms p90 ${r.keepalived.p90_ms} | theory ${r.keepalived.theory_ms} ms | ratio ${r.ratio_median_ts_to_keepalived} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const outFile = process.env.BENCH_OUT ?? join(here, '..', 'results', 'vrrp.json');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
}

main()
  .catch((e) => {
    console.error(`bench vrrp: ${e.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
