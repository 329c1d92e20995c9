/**
 * The IPVS planner (STYLE habit 11): (desired, actual, owned) -> minimal ordered list of operations.
 * Pure. It never flushes. Unchanged services and destinations produce no operation (so their
 * counters and connections survive a reload); a changed scheduler/flags/timeout/netmask/pe is one
 * SET_SERVICE, a changed weight/threshold/forwarding is one SET_DEST. Services absent from `desired`
 * are deleted only when `owned` names them (what our configuration created, keepalived's rule on stop
 * and reload); anything else in the kernel is left alone. Inside a desired service every destination
 * is ours: undesired ones (stale after a crash) are removed.
 */
import { destKeyString, Fwd, type IpvsDest, type IpvsService, serviceKeyString } from '../wire/ipvs.js';
import type { DestRef, IpvsOp, IpvsTable } from './types.js';

export function sameService(a: IpvsService, b: IpvsService): boolean {
  return (
    a.sched === b.sched &&
    a.flags === b.flags &&
    a.timeout === b.timeout &&
    a.netmask === b.netmask &&
    (a.pe ?? '') === (b.pe ?? '')
  );
}

export function sameDest(a: IpvsDest, b: IpvsDest): boolean {
  if (
    a.af !== b.af ||
    a.fwd !== b.fwd ||
    a.weight !== b.weight ||
    a.uThresh !== b.uThresh ||
    a.lThresh !== b.lThresh
  ) {
    return false;
  }
  if (a.fwd !== Fwd.TUNNEL) return true;
  return a.tunType === b.tunType && a.tunPort === b.tunPort && a.tunFlags === b.tunFlags;
}

/** A destination's identity inside its service (family, address, port). */
export const destKey = (d: DestRef): string => `${d.af}/${destKeyString(d)}`;
const ref = (d: IpvsDest) => ({ af: d.af, addr: d.addr, port: d.port });

/**
 * Order: deletions of owned services first (frees addresses), then for each kept service
 * SET_SERVICE, DEL_DEST, SET_DEST, NEW_DEST, then new services each followed by its destinations.
 */
export function planIpvs(desired: IpvsTable, actual: IpvsTable, owned: ReadonlySet<string>): IpvsOp[] {
  const ops: IpvsOp[] = [];
  for (const [key, a] of actual) {
    if (!desired.has(key) && owned.has(key)) ops.push({ kind: 'del-service', svc: a.svc });
  }
  const added: IpvsOp[] = [];
  for (const [key, d] of desired) {
    const a = actual.get(key);
    if (!a) {
      added.push({ kind: 'add-service', svc: d.svc });
      for (const dest of d.dests) added.push({ kind: 'add-dest', svc: d.svc, dest });
      continue;
    }
    if (!sameService(d.svc, a.svc)) ops.push({ kind: 'set-service', svc: d.svc });
    const want = new Map(d.dests.map((x) => [destKey(x), x]));
    const have = new Map(a.dests.map((x) => [destKey(x), x]));
    for (const [k, x] of have) if (!want.has(k)) ops.push({ kind: 'del-dest', svc: d.svc, dest: ref(x) });
    for (const [k, x] of want) {
      const h = have.get(k);
      if (h && !sameDest(x, h)) ops.push({ kind: 'set-dest', svc: d.svc, dest: x });
    }
    for (const [k, x] of want) if (!have.has(k)) ops.push({ kind: 'add-dest', svc: d.svc, dest: x });
  }
  return [...ops, ...added];
}

/** The services a configuration owns: every key of its desired table (plus, on reload, the old one's). */
export function ownedKeys(...tables: IpvsTable[]): Set<string> {
  const s = new Set<string>();
  for (const t of tables) for (const k of t.keys()) s.add(k);
  return s;
}

/** Plan for stop: remove what the configuration created, nothing else. */
export function planStop(actual: IpvsTable, owned: ReadonlySet<string>): IpvsOp[] {
  return planIpvs(new Map(), actual, owned);
}

export { serviceKeyString };

/**
 * The effect of an operation the kernel accepted on a copy of its table (the manager's cached view
 * of the services it owns). Accepted means the kernel's preconditions held, so none is checked here.
 */
export function applyToTable(table: IpvsTable, op: IpvsOp): void {
  const key = serviceKeyString(op.svc);
  switch (op.kind) {
    case 'add-service':
      table.set(key, { svc: { ...op.svc }, dests: [] });
      return;
    case 'set-service': {
      const s = table.get(key);
      if (s) s.svc = { ...op.svc };
      return;
    }
    case 'del-service':
      table.delete(key);
      return;
    default: {
      const s = table.get(key);
      if (!s) return;
      const x = op.dest;
      const i = s.dests.findIndex((d) => d.port === x.port && d.addr === x.addr && d.af === x.af);
      if (i >= 0) s.dests.splice(i, 1);
      if (op.kind !== 'del-dest') s.dests.push({ ...op.dest });
    }
  }
}

/** A deep copy of the entries of `table` named by `keys` (stats dropped). */
export function copyEntries(table: IpvsTable, keys: Iterable<string>): IpvsTable {
  const out: IpvsTable = new Map();
  for (const k of keys) {
    const s = table.get(k);
    if (s) out.set(k, { svc: { ...s.svc }, dests: s.dests.map((d) => ({ ...d })) });
  }
  return out;
}
