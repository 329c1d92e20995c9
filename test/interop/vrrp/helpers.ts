/**
 * Shared pieces of the VRRP interop tests: keepalived.conf text for one node, starting either
 * implementation on a lab node, and reading notify recordings back.
 */
import { isDeepStrictEqual } from 'node:util';
import type { DaemonHandle, LabNode } from '../../lab/node.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { type NotifyRecorder, notifyRecorder, waitFor, waitForHolders } from '../../lab/observe.js';

/** `ts`: keepalived-ts; `ka`: Debian's keepalived. */
export type Impl = 'ts' | 'ka';

export const implName = (i: Impl): string => (i === 'ts' ? 'keepalived-ts' : 'keepalived');

export interface InstanceSpec {
  readonly name?: string;
  readonly vrid: number;
  readonly priority: number;
  readonly iface?: string;
  readonly vips: readonly string[];
  /** Seconds (fractions allowed for version 3). */
  readonly advertInt?: number;
  readonly version?: 2 | 3;
  readonly state?: 'MASTER' | 'BACKUP';
  /** Extra lines inside the vrrp_instance block. */
  readonly extra?: readonly string[];
  /**
   * Notify recorder: named as the generic `notify` and, with a leading tag argument, as
   * notify_master/backup/fault/stop, so one log shows both streams.
   */
  readonly notify?: NotifyRecorder;
}

export interface NodeConfigSpec {
  readonly routerId: string;
  readonly global?: readonly string[];
  /** Raw blocks placed before the instances (vrrp_script, vrrp_sync_group, …). */
  readonly blocks?: readonly string[];
  readonly instances: readonly InstanceSpec[];
}

export function nodeConfig(spec: NodeConfigSpec): string {
  const out = [
    'global_defs {',
    `  router_id ${spec.routerId}`,
    ...(spec.global ?? []).map((l) => `  ${l}`),
    '}',
  ];
  out.push(...(spec.blocks ?? []));
  for (const i of spec.instances) {
    out.push(
      `vrrp_instance ${i.name ?? 'VI_1'} {`,
      `  state ${i.state ?? 'BACKUP'}`,
      `  interface ${i.iface ?? 'eth0'}`,
      `  virtual_router_id ${i.vrid}`,
      `  priority ${i.priority}`,
      `  advert_int ${i.advertInt ?? 1}`,
    );
    if (i.version) out.push(`  version ${i.version}`);
    out.push('  virtual_ipaddress {', ...i.vips.map((v) => `    ${v}`), '  }');
    if (i.notify) {
      const s = i.notify.script;
      out.push(
        `  notify_master "${s} SCRIPT_MASTER"`,
        `  notify_backup "${s} SCRIPT_BACKUP"`,
        `  notify_fault "${s} SCRIPT_FAULT"`,
        `  notify_stop "${s} SCRIPT_STOP"`,
        `  notify ${s}`,
      );
    }
    out.push(...(i.extra ?? []).map((l) => `  ${l}`), '}');
  }
  return `${out.join('\n')}\n`;
}

/** Start one implementation in the foreground with its files under `<node dir>/<name>`. */
export function startImpl(node: LabNode, impl: Impl, config: string, name = `${impl}-d`): DaemonHandle {
  return impl === 'ka'
    ? node.startKeepalived(config, name)
    : node.startDaemon({ command: keepalivedTsCommand(), config, name });
}

/** Generic `notify` calls (`INSTANCE VI_1 MASTER 150`, `GROUP G MASTER`), in call order. */
export const genericCalls = (r: NotifyRecorder): string[] =>
  r
    .entries()
    .filter((e) => e.args[0] === 'INSTANCE' || e.args[0] === 'GROUP')
    .map((e) => e.args.join(' '));

/** notify_master/backup/fault/stop calls, by the tag given in the config. */
export const scriptCalls = (r: NotifyRecorder): string[] =>
  r
    .entries()
    .filter((e) => e.args[0]?.startsWith('SCRIPT_'))
    .map((e) => e.args.join(' '));

/**
 * Wait until a node's last generic notify call for `inst` is `STATE priority` and its last
 * notify_<state> script call is for the same state: both run as separate processes and may lag
 * behind the transition that the VIPs already show.
 */
export async function waitLastNotify(
  r: NotifyRecorder,
  state: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP',
  priority: number,
  inst = 'VI_1',
): Promise<void> {
  await waitFor({
    what: `last notify calls ${state} in ${r.logPath}`,
    probe: () => ({
      generic: genericCalls(r)
        .filter((c) => c.split(' ')[1] === inst)
        .at(-1),
      script: scriptCalls(r).at(-1),
    }),
    until: (c) => c.generic === `INSTANCE ${inst} ${state} ${priority}` && c.script === `SCRIPT_${state}`,
    timeoutMs: 5_000,
  });
}

/**
 * After a failover and back: the low node is BACKUP again after having been MASTER, the high node
 * MASTER, and both nodes' last notify calls (generic and script) say so.
 */
export async function waitBackToStart(p: Pair): Promise<void> {
  await waitFor({
    what: 'the low node back to BACKUP after a MASTER',
    probe: () => genericCalls(p.loRec),
    until: (c) => c.includes(`INSTANCE VI_1 MASTER ${LO}`) && c.at(-1) === `INSTANCE VI_1 BACKUP ${LO}`,
    timeoutMs: 5_000,
  });
  await waitLastNotify(p.hiRec, 'MASTER', HI);
  await waitLastNotify(p.loRec, 'BACKUP', LO);
}

/** Logs of a daemon for a failure message (last `n` characters). */
export const tail = (d: DaemonHandle, n = 3000): string => d.proc.output().slice(-n);

/** Priorities of the two nodes of a pair. */
export const HI = 150;
export const LO = 100;

/** Two nodes of one virtual router: `hi` has the higher priority. */
export interface Pair {
  readonly label: string;
  readonly hiImpl: Impl;
  readonly loImpl: Impl;
  readonly vrid: number;
  readonly vip: string;
  hi: LabNode;
  lo: LabNode;
  hiRec: NotifyRecorder;
  loRec: NotifyRecorder;
  hiD?: DaemonHandle;
  loD?: DaemonHandle;
}

/** Implementations of a pair, high node first, and its VRID. */
export type PairSpec = readonly [Impl, Impl, number];
export type Role = 'hi' | 'lo';

/**
 * The pairings every scenario runs: keepalived-ts with keepalived in both roles, and with itself.
 * `ka/ka` is added where a scenario needs keepalived's own behaviour as the reference.
 */
export const PAIRINGS: readonly (readonly [Impl, Impl])[] = [
  ['ts', 'ka'],
  ['ka', 'ts'],
  ['ts', 'ts'],
];
export const KA_KA: readonly [Impl, Impl] = ['ka', 'ka'];

/**
 * Specs for named themes, each run by every pairing plus its `extra` ones. VRIDs are handed out in
 * steps of 2 from `first` (a pair's nodes sit at .VRID and .VRID+1; VRID+1 is free for a second
 * instance); VIPs at .100+VRID must stay below .255, so `first` + 2 × pairs stays under 155.
 */
export function themeSpecs<K extends string>(
  themes: Record<K, readonly (readonly [Impl, Impl])[]>,
  first = 11,
): Record<K, PairSpec[]> {
  let vrid = first;
  const out = {} as Record<K, PairSpec[]>;
  for (const k of Object.keys(themes) as K[])
    out[k] = [...PAIRINGS, ...themes[k]].map(([h, l]) => {
      const spec: PairSpec = [h, l, vrid];
      vrid += 2;
      return spec;
    });
  if (vrid > 155) throw new Error(`too many pairs for one /24: last VRID ${vrid - 2}`);
  return out;
}

/** Every VRID of a set of themes. */
export const themeVrids = (specs: Record<string, readonly PairSpec[]>): number[] =>
  Object.values(specs).flatMap((l) => l.map((s) => s[2]));

/** The pairs of every theme, labelled `<theme> <hi>/<lo>`. */
export function themePairs<K extends string>(
  topo: { node(n: string): LabNode; dir: string },
  specs: Record<K, readonly PairSpec[]>,
): Record<K, Pair[]> {
  const out = {} as Record<K, Pair[]>;
  for (const k of Object.keys(specs) as K[])
    out[k] = specs[k].map(([h, l, v]) => makePair(topo, `${k} ${h}/${l}`, h, l, v));
  return out;
}

/** Node specs for pairs: `h<vrid>` at 192.0.2.<vrid>, `l<vrid>` at 192.0.2.<vrid+1>. */
export const pairNodes = (vrids: readonly number[]) =>
  vrids.flatMap((v) => [
    { name: `h${v}`, links: [{ addrs: [`192.0.2.${v}/24`, `fd00::${v.toString(16)}/64`] }] },
    { name: `l${v}`, links: [{ addrs: [`192.0.2.${v + 1}/24`, `fd00::${(v + 1).toString(16)}/64`] }] },
  ]);

export function makePair(
  topo: { node(n: string): LabNode; dir: string },
  label: string,
  hiImpl: Impl,
  loImpl: Impl,
  vrid: number,
): Pair {
  return {
    label,
    hiImpl,
    loImpl,
    vrid,
    vip: `192.0.2.${100 + vrid}`,
    hi: topo.node(`h${vrid}`),
    lo: topo.node(`l${vrid}`),
    hiRec: notifyRecorder(topo.dir, `notify-h${vrid}`),
    loRec: notifyRecorder(topo.dir, `notify-l${vrid}`),
  };
}

/**
 * Run a step for every pair at once; all finish before a failure is reported, so the next step never
 * overlaps a pair still in this one. The error names the pair and carries its logs and notify calls.
 */
export async function eachPair<P extends Pair>(
  pairs: readonly P[],
  f: (p: P) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(pairs.map((p) => f(p)));
  const errors = results.flatMap((r, i) => {
    if (r.status === 'fulfilled') return [];
    const p = pairs[i]!;
    const logs = [p.hiD, p.loD].map((d) => (d ? `--- ${d.proc.name}\n${tail(d)}` : '')).join('\n');
    const rec = `notify hi: ${JSON.stringify(genericCalls(p.hiRec))} lo: ${JSON.stringify(genericCalls(p.loRec))}`;
    return [`pair ${p.label} (VRID ${p.vrid}): ${(r.reason as Error).message}\n${rec}\n${logs}`];
  });
  if (errors.length > 0) throw new Error(errors.join('\n\n'));
}

/**
 * The usual start of a pair: the high node first, until it alone holds the VIP, then the low node,
 * until its generic notify reports BACKUP with `loPriority`.
 */
export async function startHiThenLo(
  p: Pair,
  hiConfig: string,
  loConfig: string,
  loPriority: number,
  backupTimeoutMs = 10_000,
): Promise<void> {
  p.hiD = startImpl(p.hi, p.hiImpl, hiConfig, `${p.hiImpl}-hi`);
  await waitForHolders([p.hi, p.lo], p.vip, [p.hi.name], 15_000);
  p.loD = startImpl(p.lo, p.loImpl, loConfig, `${p.loImpl}-lo`);
  await waitFor({
    what: 'BACKUP notify of the low node',
    probe: () => genericCalls(p.loRec),
    until: (c) => c.includes(`INSTANCE VI_1 BACKUP ${loPriority}`),
    timeoutMs: backupTimeoutMs,
  });
}

export const priorityOf = (who: Role): number => (who === 'hi' ? HI : LO);

/**
 * One node's keepalived.conf for a pair: instance VI_1 with the pair's VRID, the role's priority, the
 * pair's VIP and the role's notify recorder; `inst` overrides or adds to that instance, `node` adds
 * global lines, blocks and further instances.
 */
export const pairConfig = (
  p: Pair,
  who: Role,
  inst: Partial<InstanceSpec> = {},
  node: Partial<NodeConfigSpec> = {},
): string =>
  nodeConfig({
    routerId: `${who}${p.vrid}`,
    ...node,
    instances: [
      { vrid: p.vrid, priority: priorityOf(who), vips: [`${p.vip}/24`], notify: recOf(p, who), ...inst },
      ...(node.instances ?? []),
    ],
  });

export const implOf = (p: Pair, who: Role): Impl => (who === 'hi' ? p.hiImpl : p.loImpl);
export const recOf = (p: Pair, who: Role): NotifyRecorder => (who === 'hi' ? p.hiRec : p.loRec);

/**
 * Compare what every keepalived-ts node did (`observe`, e.g. its notify calls) with what the keepalived
 * node in the same role did in the same scenario: the ka/ka pair when there is one, else the first pair
 * with keepalived in that role. Returns the differences, one line each (empty when all match).
 */
export function unlikeKeepalived<T>(
  pairs: readonly Pair[],
  observe: (p: Pair, who: Role) => T,
  what: string,
): string[] {
  const out: string[] = [];
  for (const who of ['hi', 'lo'] as const) {
    const ref =
      pairs.find((p) => p.hiImpl === 'ka' && p.loImpl === 'ka') ?? pairs.find((p) => implOf(p, who) === 'ka');
    if (!ref) throw new Error(`no pair with keepalived as ${who} to compare with`);
    const want = observe(ref, who);
    for (const p of pairs.filter((q) => implOf(q, who) === 'ts')) {
      const got = observe(p, who);
      console.log(`vrrp ${what} ${p.label} ${who}: ${JSON.stringify(got)}`);
      if (!isDeepStrictEqual(got, want))
        out.push(
          `${p.label} ${who} ${what}: ${JSON.stringify(got)}, keepalived (${ref.label}): ${JSON.stringify(want)}`,
        );
    }
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
