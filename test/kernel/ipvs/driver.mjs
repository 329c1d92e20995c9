// Runs inside the kernel VM with the compiled modules: node driver.mjs DIST COMMAND [ARGS...]
// Prints one result line starting with "@@" (JSON) per command.
import { readFileSync } from 'node:fs';

const [dist, cmd, ...args] = process.argv.slice(2);
const { NetlinkIpvs } = await import(`${dist}/ipvs/netlink-ops.js`);
const { buildDesired } = await import(`${dist}/ipvs/desired.js`);
const { planIpvs, ownedKeys } = await import(`${dist}/ipvs/reconcile.js`);
const { applyPlan } = await import(`${dist}/ipvs/apply.js`);
const { describeOp } = await import(`${dist}/ipvs/types.js`);
const { followVrrpState } = await import(`${dist}/ipvs/sync-daemon.js`);

const out = (o) =>
  console.log(`@@${JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
const specs = (f) => JSON.parse(readFileSync(f, 'utf8'));
const table = (f) => buildDesired(specs(f), new Map()).table;

let ipvs;
try {
  ipvs = await NetlinkIpvs.open();
} catch (e) {
  out({ cmd, error: e.code, message: e.message });
  process.exit(0);
}
try {
  if (cmd === 'apply' || cmd === 'stop') {
    // apply SPEC [PREVIOUS_SPEC]: owned = services of SPEC and of PREVIOUS_SPEC (what we created before).
    const desired = cmd === 'apply' ? table(args[0]) : new Map();
    const owned = ownedKeys(table(args[0]), ...(args[1] ? [table(args[1])] : []));
    const t0 = performance.now();
    const actual = await ipvs.readTable();
    const t1 = performance.now();
    const plan = planIpvs(desired, actual, owned);
    const t2 = performance.now();
    await applyPlan(ipvs, plan);
    const t3 = performance.now();
    out({
      cmd,
      plan: plan.map(describeOp),
      ops: plan.length,
      readMs: t1 - t0,
      planMs: t2 - t1,
      applyMs: t3 - t2,
    });
  } else if (cmd === 'dump') {
    const t = await ipvs.readTable();
    const services = [];
    for (const [key, s] of t)
      services.push({ key, svc: s.svc, stats: s.stats, dests: await ipvs.readDests(s.svc) });
    out({ cmd, services });
  } else if (cmd === 'add-service') {
    // add-service JSON_SERVICE: one raw operation, to show the kernel's error mapping
    await ipvs.apply({ kind: 'add-service', svc: JSON.parse(args[0]) });
    out({ cmd, ok: true });
  } else if (cmd === 'sync') {
    // sync IFNAME SYNCID VRRP_STATE: lvs_sync_daemon following the instance state
    const actions = await followVrrpState(ipvs, { interface: args[0], syncId: Number(args[1]) }, args[2]);
    out({ cmd, actions, daemons: await ipvs.listDaemons() });
  } else if (cmd === 'timeouts') {
    // timeouts TCP TCPFIN UDP: set, then read back
    await ipvs.setTimeouts({ tcp: Number(args[0]), tcpFin: Number(args[1]), udp: Number(args[2]) });
    out({ cmd, timeouts: await ipvs.timeouts() });
  } else if (cmd === 'flush') {
    await ipvs.flush();
    out({ cmd, services: (await ipvs.readTable()).size });
  } else if (cmd === 'group-reload') {
    // group-reload G1 G2 G3: IpvsManager start with G1, HTTP through it, reload to G2 (family only),
    // a SET_SERVICE that tries to change the protocol, reload to G3 (protocol), stop. Each reload
    // reports the operations it sent and the table (with counters) after it.
    const { IpvsManager } = await import(`${dist}/ipvs/manager.js`);
    const { execSync } = await import('node:child_process');
    const sent = [];
    const rec = {
      readTable: () => ipvs.readTable(),
      apply: (op) => {
        sent.push(describeOp(op));
        return ipvs.apply(op);
      },
      info: () => ipvs.info(),
      listDaemons: () => ipvs.listDaemons(),
      startDaemon: (d) => ipvs.startDaemon(d),
      stopDaemon: (st) => ipvs.stopDaemon(st),
      timeouts: () => ipvs.timeouts(),
      setTimeouts: (t) => ipvs.setTimeouts(t),
      flush: () => ipvs.flush(),
    };
    const dumpAll = async () => {
      const t = await ipvs.readTable();
      return [...t].map(([key, x]) => ({
        key,
        stats: x.stats,
        dests: x.dests.map((d) => `${d.addr}:${d.port}`),
      }));
    };
    const step = async (f) => {
      sent.length = 0;
      await f();
      return { plan: [...sent], table: await dumpAll() };
    };
    const m = new IpvsManager(rec, specs(args[0]));
    const start = await step(() => m.start());
    const http = execSync(
      'for i in 1 2 3 4; do ip netns exec cl curl -s -m 3 http://203.0.113.10/ || echo FAIL; done',
      { encoding: 'utf8' },
    );
    await new Promise((r) => setTimeout(r, 3000)); // the 2 s estimator tick folds the counters
    const before = await dumpAll();
    const family = await step(() => m.reload(specs(args[1])));
    const addr = (await ipvs.readTable()).get('tcp 203.0.113.10:80');
    let setService;
    try {
      await ipvs.apply({ kind: 'set-service', svc: { ...addr.svc, protocol: 17 } });
      setService = { ok: true };
    } catch (e) {
      setService = { error: e.code, errno: e.details?.errno };
    }
    const protocol = await step(() => m.reload(specs(args[2])));
    const stop = await step(() => m.stop());
    out({ cmd, start, http, before, family, setService, protocol, stop });
  } else if (cmd === 'info') {
    out({ cmd, info: await ipvs.info() });
  }
} catch (e) {
  out({ cmd, error: e.code, message: e.message, details: e.details });
} finally {
  ipvs.close();
}
