/**
 * Shared by the IPVS kernel test and its helpers: the configurations applied in the VM, a private
 * build of the modules the VM runs, and a parser for `ipvsadm -Ln` output.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { RealServerSpec, VirtualServerSpec } from '../../../src/ipvs/desired.js';
import type { IpvsTable } from '../../../src/ipvs/types.js';
import { Fwd, SvcFlag } from '../../../src/wire/ipvs.js';

export const repoRoot = join(import.meta.dirname, '../../..');
const ADDON_DIR = 'native/build/Release';
const ADDON = 'keepalived_ts_native.node';

/**
 * Compiles src/ipvs (and what it imports) into a fresh directory the VM can see (the VM mounts a
 * private tmpfs on /tmp, so it lives under /var/tmp). Returns the directory; remove it with rmSync.
 */
export function buildForVm(): { dir: string; dist: string } {
  mkdirSync('/var/tmp', { recursive: true });
  const dir = mkdtempSync('/var/tmp/kt-ipvs-');
  const dist = join(dir, 'dist');
  execFileSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
      ...['--skipLibCheck', '--types', 'node', '--outDir', dist, '--rootDir', join(repoRoot, 'src')],
      ...['netlink-ops', 'apply', 'desired', 'reconcile', 'types', 'sync-daemon', 'manager'].map((f) =>
        join(repoRoot, 'src/ipvs', `${f}.ts`),
      ),
    ],
    { stdio: 'pipe' },
  );
  // dist/sys/native.js loads ../../native/build/Release/*.node: a copy, so a rebuild of the addon
  // during the run cannot change it under the VM. Bare imports resolve via node_modules.
  mkdirSync(join(dir, ADDON_DIR), { recursive: true });
  copyFileSync(join(repoRoot, ADDON_DIR, ADDON), join(dir, ADDON_DIR, ADDON));
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return { dir, dist };
}

export const removeBuild = (dir: string): void => rmSync(dir, { recursive: true, force: true });

const rs = (
  addr: string,
  port: number | undefined,
  weight = 1,
  extra: Partial<RealServerSpec> = {},
): RealServerSpec => ({
  addr,
  port,
  weight,
  hasCheckers: false,
  ...extra,
});

/** Config A: every lb_kind, nine schedulers, fwmark + persistence, TCP/UDP/SCTP, ops, IPv6, a group. */
export function configA(natWeight2 = 1): VirtualServerSpec[] {
  return [
    {
      name: 'nat-http',
      target: { kind: 'addr', addr: '203.0.113.10', port: 80 },
      protocol: 'TCP',
      lbAlgo: 'rr',
      lbKind: { method: 'NAT' },
      realServers: [rs('198.51.100.11', 80), rs('198.51.100.12', 80, natWeight2)],
    },
    {
      name: 'dr',
      target: { kind: 'addr', addr: '192.0.2.1', port: 80 },
      protocol: 'TCP',
      lbAlgo: 'wlc',
      lbKind: { method: 'DR' },
      realServers: [rs('192.0.2.101', 80, 3), rs('192.0.2.102', 80, 1, { uThreshold: 100, lThreshold: 10 })],
    },
    {
      name: 'tun',
      target: { kind: 'addr', addr: '192.0.2.2', port: 443 },
      protocol: 'TCP',
      lbAlgo: 'lc',
      lbKind: { method: 'TUN' },
      realServers: [
        rs('192.0.2.111', 443),
        rs('192.0.2.112', 443, 2, {
          lbKind: { method: 'TUN', tunnel: { type: 'gue', port: 6080, csum: 'csum' } },
        }),
      ],
    },
    {
      name: 'fwmark 5',
      target: { kind: 'fwmark', fwmark: 5 },
      protocol: 'TCP',
      lbAlgo: 'sh',
      schedFlags: { shPort: true },
      lbKind: { method: 'DR' },
      persistenceTimeout: 600,
      persistenceGranularity: '255.255.255.0',
      realServers: [rs('192.0.2.121', 0), rs('192.0.2.122', 0)],
    },
    {
      name: 'udp',
      target: { kind: 'addr', addr: '192.0.2.3', port: 53 },
      protocol: 'UDP',
      lbAlgo: 'mh',
      schedFlags: { mhFallback: true },
      ops: true,
      lbKind: { method: 'NAT' },
      realServers: [rs('198.51.100.21', 53), rs('198.51.100.22', 53)],
    },
    {
      name: 'sctp',
      target: { kind: 'addr', addr: '192.0.2.4', port: 5060 },
      protocol: 'SCTP',
      lbAlgo: 'dh',
      lbKind: { method: 'NAT' },
      realServers: [rs('198.51.100.31', 5060), rs('198.51.100.32', 5060)],
    },
    {
      name: 'ovf',
      target: { kind: 'addr', addr: '192.0.2.5', port: 80 },
      protocol: 'TCP',
      lbAlgo: 'ovf',
      lbKind: { method: 'DR' },
      realServers: [rs('192.0.2.141', 80, 5), rs('192.0.2.142', 80, 1)],
    },
    {
      name: 'v6',
      target: { kind: 'addr', addr: 'fd00::10', port: 80 },
      protocol: 'TCP',
      lbAlgo: 'sed',
      lbKind: { method: 'NAT' },
      persistenceTimeout: 120,
      persistenceGranularity: '64',
      realServers: [rs('fd00::1', 80), rs('fd00::2', 8080, 2)],
    },
    {
      name: 'group G',
      target: {
        kind: 'group',
        name: 'G',
        entries: [
          { kind: 'addr', range: '192.0.2.30-32', port: 8080 },
          { kind: 'fwmark', fwmark: 6 },
        ],
      },
      protocol: 'TCP',
      lbAlgo: 'nq',
      lbKind: { method: 'DR' },
      realServers: [rs('192.0.2.131', 8080), rs('192.0.2.132', 8080, 4)],
    },
  ];
}

/** A parsed `ipvsadm -Ln` service. */
export interface AdmService {
  /** "TCP 192.0.2.1:80", "UDP [fd00::10]:80", "FWM 5" */
  key: string;
  /** Scheduler and the rest of the service line, e.g. "sh (sh-port) persistent 600 mask 255.255.255.0". */
  line: string;
  /** "addr:port Forward Weight" per dest, sorted. */
  dests: string[];
}

/** Parses `ipvsadm -Ln` (ipvsadm 1.31 layout). */
export function parseIpvsadm(text: string): AdmService[] {
  const out: AdmService[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const svc = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(.*)$/.exec(line);
    if (svc) {
      out.push({ key: `${svc[1]} ${svc[2]}`, line: (svc[3] ?? '').replace(/\s+/g, ' ').trim(), dests: [] });
      continue;
    }
    const d = /^\s+->\s+(\S+)\s+(\S+)\s+(\d+)\s+\d+\s+\d+/.exec(line);
    const last = out.at(-1);
    if (d && last) last.dests.push(`${d[1]} ${d[2]} ${d[3]}`);
  }
  for (const s of out) s.dests.sort();
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

const FWD_NAME: Record<number, string> = {
  [Fwd.MASQ]: 'Masq',
  [Fwd.LOCALNODE]: 'Local',
  [Fwd.TUNNEL]: 'Tunnel',
  [Fwd.DROUTE]: 'Route',
};

function maskText(af: number, netmask: number): string {
  if (af === 10) return String(netmask);
  return [24, 16, 8, 0].map((s) => (netmask >>> s) & 0xff).join('.');
}

/**
 * What `ipvsadm -Ln` should print for a desired table, written from ipvsadm's documented output:
 * scheduler, scheduler flags in parentheses, "persistent T" and "mask M" when not all-ones/128, "ops".
 */
export function expectedIpvsadm(t: IpvsTable): AdmService[] {
  const out: AdmService[] = [];
  for (const { svc, dests } of t.values()) {
    const proto = svc.protocol === 6 ? 'TCP' : svc.protocol === 17 ? 'UDP' : 'SCTP';
    const hostport = (af: number, addr: string, port: number) =>
      af === 10 ? `[${addr}]:${port}` : `${addr}:${port}`;
    const key = svc.fwmark > 0 ? `FWM ${svc.fwmark}` : `${proto} ${hostport(svc.af, svc.addr, svc.port)}`;
    const parts = [svc.sched];
    const flagNames: string[] = [];
    const prefix = svc.sched === 'sh' || svc.sched === 'mh' ? svc.sched : undefined;
    if (svc.flags & SvcFlag.SCHED1) flagNames.push(prefix ? `${prefix}-fallback` : 'flag-1');
    if (svc.flags & SvcFlag.SCHED2) flagNames.push(prefix ? `${prefix}-port` : 'flag-2');
    if (svc.flags & SvcFlag.SCHED3) flagNames.push('flag-3');
    if (flagNames.length) parts.push(`(${flagNames.join(',')})`);
    if (svc.flags & SvcFlag.PERSISTENT) {
      parts.push(`persistent ${svc.timeout}`);
      const all = svc.af === 10 ? 128 : 0xffffffff;
      if (svc.netmask !== all) parts.push(`mask ${maskText(svc.af, svc.netmask)}`);
    }
    if (svc.pe) parts.push(`pe ${svc.pe}`);
    if (svc.flags & SvcFlag.ONEPACKET) parts.push('ops');
    out.push({
      key,
      line: parts.join(' '),
      dests: dests
        .map((d) => `${hostport(d.af, d.addr, d.port)} ${FWD_NAME[d.fwd] ?? '?'} ${d.weight}`)
        .sort(),
    });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * A `virtual_server group` on the NAT lab's VIP (an address entry) and an IPv4 fwmark entry: the
 * protocol and ip_family a reload may change.
 */
export function groupSpec(protocol: 'TCP' | 'UDP', ipFamily?: 'inet6'): VirtualServerSpec[] {
  return [
    {
      name: 'G',
      target: {
        kind: 'group',
        name: 'G',
        entries: [
          { kind: 'addr', range: '203.0.113.10', port: 80 },
          { kind: 'fwmark', fwmark: 9, family: 'inet' },
        ],
      },
      protocol,
      ipFamily,
      lbAlgo: 'rr',
      lbKind: { method: 'NAT' },
      realServers: [rs('198.51.100.11', 80), rs('198.51.100.12', 80)],
    },
  ];
}
