/**
 * Lab topologies: N nodes (network namespaces) plugged by veth links into bridges that live in a
 * namespace of their own. Nothing is created in the caller's namespace, names carry a per-run id,
 * and teardown runs on destroy(), on process exit and on SIGINT/SIGTERM.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import ipaddr from 'ipaddr.js';
import { LabNode, type LinkInfo, waitOperUp, waitPortsForwarding } from './node.js';
import {
  destroyNetnsSync,
  killQuiet,
  LabError,
  netnsPids,
  newRunId,
  pidAlive,
  registerCleanup,
  removeDirSync,
  run,
  runSync,
} from './resources.js';

export interface LinkSpec {
  /** Bridge segment to plug into (default `lan`). */
  readonly segment?: string;
  /** Interface name inside the node (default `eth0`, `eth1`, …). */
  readonly ifname?: string;
  /** Addresses with prefix, from 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 or fd00::/8. */
  readonly addrs?: readonly string[];
  /** MAC address (default: locally administered 02:00:00:00:NN:LL). */
  readonly mac?: string;
}

export interface NodeSpec {
  /** Short name, [a-z0-9]{1,8}. */
  readonly name: string;
  /** Links (default: one link `eth0` on segment `lan` with no address). */
  readonly links?: readonly LinkSpec[];
}

export interface TopologySpec {
  readonly nodes: readonly NodeSpec[];
}

export interface TeardownReport {
  readonly ms: number;
  /** Namespaces of the run still listed by `ip netns` after teardown (should be empty). */
  readonly leftNamespaces: string[];
  /** Pids started by the run still alive after teardown (should be empty). */
  readonly leftPids: number[];
}

const DOC_RANGES = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', 'fd00::/8'].map((r) =>
  ipaddr.parseCIDR(r),
);

/** Throws unless `cidr` lies in a documentation / unique-local range. */
export function checkLabAddress(cidr: string): void {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    throw new LabError(`lab address ${cidr} is not ADDR/PREFIX`);
  }
  const [addr] = parsed;
  const ok = DOC_RANGES.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
  if (!ok) throw new LabError(`lab address ${cidr} is outside the documentation ranges`);
}

export class Topology {
  readonly nodes = new Map<string, LabNode>();
  private release: (() => void) | undefined;
  private destroyed = false;

  constructor(
    /** Run id; every namespace name starts with it. */
    readonly id: string,
    /** Namespace holding the bridges. */
    readonly bridgeNs: string,
    /** Per-run scratch directory (removed on teardown). */
    readonly dir: string,
    readonly segments: readonly string[],
  ) {}

  /** Milliseconds createTopology took. */
  setupMs = 0;

  /** @internal */
  attachCleanup(release: () => void): void {
    this.release = release;
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new LabError(`no node ${name} in topology ${this.id}`);
    return n;
  }

  /** Bridge device of a segment (inside `bridgeNs`). */
  bridge(segment = 'lan'): string {
    if (!this.segments.includes(segment)) throw new LabError(`no segment ${segment}`);
    return `br-${segment}`;
  }

  /** Every namespace the run created. */
  namespaces(): string[] {
    return [this.bridgeNs, ...[...this.nodes.values()].map((n) => n.ns)];
  }

  /** `ip -n <bridgeNs> ARGS`. */
  bridgeIp(args: readonly string[]): Promise<string> {
    return run('ip', ['-n', this.bridgeNs, ...args]);
  }

  /** Take a node's bridge port down or up (the node sees carrier loss). */
  async portDown(node: string, ifname?: string): Promise<void> {
    await this.bridgeIp(['link', 'set', this.node(node).link(ifname).port, 'down']);
  }

  /** Port up again; waits until both the port and the node's link are operationally up. */
  async portUp(node: string, ifname?: string, timeoutMs = 5000): Promise<void> {
    const n = this.node(node);
    const l = n.link(ifname);
    await this.bridgeIp(['link', 'set', l.port, 'up']);
    await Promise.all([
      waitPortsForwarding(this.bridgeNs, [l.port], timeoutMs),
      waitOperUp(n.ns, [l.ifname], timeoutMs),
    ]);
  }

  /**
   * Partition the bridges: frames are forwarded only between nodes of the same group (nodes not
   * named are alone). Links stay up. `heal()` lifts it.
   */
  async partition(groups: readonly (readonly string[])[]): Promise<void> {
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const n of g) groupOf.set(this.node(n).name, i);
    });
    let solo = groups.length;
    const portsByGroup = new Map<number, string[]>();
    for (const n of this.nodes.values()) {
      const g = groupOf.get(n.name) ?? solo++;
      portsByGroup.set(g, [...(portsByGroup.get(g) ?? []), ...n.links.map((l) => l.port)]);
    }
    const set = (ports: string[]) => `{ ${ports.map((p) => `"${p}"`).join(', ')} }`;
    const rules: string[] = [];
    for (const [ga, pa] of portsByGroup)
      for (const [gb, pb] of portsByGroup)
        if (ga !== gb) rules.push(`iifname ${set(pa)} oifname ${set(pb)} drop`);
    await this.bridgeNft('lab_partition', 'forward', rules);
  }

  async heal(): Promise<void> {
    await this.bridgeNft('lab_partition', 'forward', []);
  }

  private async bridgeNft(table: string, hook: string, rules: readonly string[]): Promise<void> {
    const lines = [`add table bridge ${table}`, `delete table bridge ${table}`];
    if (rules.length > 0) {
      lines.push(`table bridge ${table} {`, `  chain c {`, `    type filter hook ${hook} priority 0;`);
      lines.push(...rules.map((r) => `    ${r}`), '  }', '}');
    }
    await run('ip', ['netns', 'exec', this.bridgeNs, 'nft', '-f', '-'], `${lines.join('\n')}\n`);
  }

  /**
   * Kill every process in the run's namespaces, delete the namespaces and the scratch directory,
   * and report what (if anything) is left. Safe to call twice.
   */
  async destroy(): Promise<TeardownReport> {
    const t0 = performance.now();
    const started = [...this.nodes.values()].flatMap((n) => n.processes().map((p) => p.pid));
    if (!this.destroyed) {
      this.destroyed = true;
      const spawned = [...this.nodes.values()].flatMap((n) => n.processes());
      for (const p of spawned) p.signal('SIGKILL');
      const deadline = performance.now() + 5000;
      for (;;) {
        const pids = (await Promise.all(this.namespaces().map((ns) => netnsPids(ns))))
          .flat()
          .filter(pidAlive);
        if (pids.length === 0 || performance.now() > deadline) break;
        for (const pid of pids) killQuiet(pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 10));
      }
      await Promise.all(spawned.map((p) => p.exited));
      // One `ip` for all deletions; -force keeps going past a namespace already gone.
      await execa('ip', ['-force', '-batch', '-'], {
        input: this.namespaces()
          .map((ns) => `netns del ${ns}\n`)
          .join(''),
        reject: false,
      });
      removeDirSync(this.dir);
      this.release?.();
    }
    const listed = runSync('ip', ['netns', 'list']);
    const leftNamespaces = this.namespaces().filter((ns) => new RegExp(`^${ns}(\\s|$)`, 'm').test(listed));
    return { ms: performance.now() - t0, leftNamespaces, leftPids: started.filter(pidAlive) };
  }
}

const NAME_RE = /^[a-z][a-z0-9]{0,7}$/;

/** Build a topology. On any failure everything already made is removed before the error propagates. */
export async function createTopology(spec: TopologySpec): Promise<Topology> {
  const t0 = performance.now();
  const id = newRunId();
  const bridgeNs = `${id}-br`;
  const dir = mkdtempSync(join(tmpdir(), `${id}-`));
  const names = new Set<string>();
  const plan = spec.nodes.map((n, ni) => {
    if (!NAME_RE.test(n.name) || names.has(n.name))
      throw new LabError(`bad or duplicate node name ${n.name}`);
    names.add(n.name);
    const links = (n.links ?? [{}]).map((l, li): LinkInfo => {
      const ifname = l.ifname ?? `eth${li}`;
      for (const a of l.addrs ?? []) checkLabAddress(a);
      const port = `${n.name}-${ifname}`.length <= 15 ? `${n.name}-${ifname}` : `p${ni}-${li}`;
      const hex = (x: number) => x.toString(16).padStart(2, '0');
      return {
        ifname,
        segment: l.segment ?? 'lan',
        port,
        bridgeNs,
        mac: l.mac ?? `02:00:00:00:${hex(ni + 1)}:${hex(li + 1)}`,
        addrs: [...(l.addrs ?? [])],
      };
    });
    return { name: n.name, ns: `${id}-${n.name}`, links };
  });
  const segments = [...new Set(plan.flatMap((n) => n.links.map((l) => l.segment)))];
  const topo = new Topology(id, bridgeNs, dir, segments);
  const allNs = [bridgeNs, ...plan.map((n) => n.ns)];
  const release = registerCleanup(`topology ${id}`, () => {
    for (const ns of allNs) destroyNetnsSync(ns);
    removeDirSync(dir);
  });
  try {
    await run('ip', ['-batch', '-'], allNs.map((ns) => `netns add ${ns}\n`).join(''));
    // Sysctls must precede link creation: no DAD on nodes (link-locals usable at once), no IPv6 on
    // the bridge namespace (its own RS/MLD would pollute captures).
    await Promise.all([
      run('ip', [
        'netns',
        'exec',
        bridgeNs,
        'sysctl',
        '-qw',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ]),
      ...plan.map((n) =>
        run('ip', [
          'netns',
          'exec',
          n.ns,
          'sysctl',
          '-qw',
          'net.ipv6.conf.all.accept_dad=0',
          'net.ipv6.conf.default.accept_dad=0',
        ]),
      ),
    ]);
    // Distinct ifindexes on the two ends: the kernel treats a carrier change as urgent only when a
    // device's ifindex differs from its peer's (iflink); otherwise linkwatch delays it up to 1 s.
    let k = 0;
    const veths = plan.flatMap((n) =>
      n.links.map((l) => {
        k++;
        return `link add ${l.port} index ${1000 + k} netns ${bridgeNs} type veth peer name ${l.ifname} index ${2000 + k} netns ${n.ns}\n`;
      }),
    );
    await run('ip', ['-batch', '-'], veths.join(''));
    const br: string[] = ['link set lo up'];
    for (const s of segments) {
      br.push(
        `link add br-${s} type bridge stp_state 0 forward_delay 0 mcast_snooping 0`,
        `link set br-${s} up`,
      );
    }
    for (const n of plan) for (const l of n.links) br.push(`link set ${l.port} master br-${l.segment} up`);
    const nodeBatches = plan.map((n) => {
      const b = ['link set lo up'];
      for (const l of n.links) {
        b.push(`link set ${l.ifname} address ${l.mac}`);
        for (const a of l.addrs) b.push(`addr add ${a} dev ${l.ifname}${a.includes(':') ? ' nodad' : ''}`);
        b.push(`link set ${l.ifname} up`);
      }
      return run('ip', ['-n', n.ns, '-batch', '-'], b.map((x) => `${x}\n`).join(''));
    });
    await Promise.all([
      run('ip', ['-n', bridgeNs, '-batch', '-'], br.map((x) => `${x}\n`).join('')),
      ...nodeBatches,
    ]);
    // Frames are dropped until the carrier events are processed (linkwatch, up to ~1 s later).
    const ports = plan.flatMap((n) => n.links.map((l) => l.port));
    await Promise.all([
      waitPortsForwarding(bridgeNs, ports, 10_000),
      ...plan.map((n) =>
        waitOperUp(
          n.ns,
          n.links.map((l) => l.ifname),
          10_000,
        ),
      ),
    ]);
  } catch (err) {
    for (const ns of allNs) destroyNetnsSync(ns);
    removeDirSync(dir);
    release();
    throw err;
  }
  for (const n of plan) {
    const nodeDir = join(dir, n.name);
    topo.nodes.set(n.name, new LabNode(n.name, n.ns, nodeDir, n.links));
  }
  topo.attachCleanup(release);
  topo.setupMs = performance.now() - t0;
  return topo;
}
