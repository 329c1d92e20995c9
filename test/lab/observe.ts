/**
 * Observation: who holds an address, captures of VRRP/ARP/NA traffic on a lab bridge (tcpdump writes a
 * pcap; we parse it), notify-script recorders and deadline-bound waits that say what they last saw.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNode } from './node.js';
import { killQuiet, LabError, registerCleanup } from './resources.js';
import type { Topology } from './topology.js';

// ---------------------------------------------------------------------------------------------
// Waiting

export interface WaitOptions<T> {
  /** What is awaited, for the timeout message. */
  readonly what: string;
  /** Observe once; the result is what `until` judges and what a timeout reports. */
  readonly probe: () => Promise<T> | T;
  /** Done when true (default: the probe result is truthy). */
  readonly until?: (seen: T) => boolean;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
}

/** Poll until `until(probe())` holds; on timeout throw with the last observation. */
export async function waitFor<T>(opts: WaitOptions<T>): Promise<NonNullable<T>> {
  const until = opts.until ?? ((v: T) => Boolean(v));
  // A result is never undefined/null: a probe returning nothing is "not yet".
  const deadline = performance.now() + opts.timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await opts.probe();
      lastErr = undefined;
      if (last !== undefined && last !== null && until(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (performance.now() >= deadline) {
      const seen = lastErr !== undefined ? `error ${String(lastErr)}` : JSON.stringify(last);
      throw new LabError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}; last seen: ${seen}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** Names of the nodes that currently have `addr` on any interface. */
export async function vipHolders(nodes: Iterable<LabNode>, addr: string): Promise<string[]> {
  const list = [...nodes];
  const has = await Promise.all(list.map((n) => n.hasAddress(addr)));
  return list.filter((_, i) => has[i]).map((n) => n.name);
}

/** Wait until exactly the given nodes hold `addr`; returns the elapsed ms. */
export async function waitForHolders(
  nodes: Iterable<LabNode>,
  addr: string,
  expected: readonly string[],
  timeoutMs: number,
): Promise<number> {
  const t0 = performance.now();
  const want = [...expected].sort().join(',');
  await waitFor({
    what: `${addr} held by [${want}]`,
    probe: () => vipHolders(nodes, addr),
    until: (h) => [...h].sort().join(',') === want,
    timeoutMs,
  });
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// pcap

export interface PcapRecord {
  /** Capture time, µs since the epoch. */
  readonly tsUs: number;
  readonly data: Buffer;
}

/**
 * Parse a classic pcap file (either byte order, µs or ns stamps). A truncated last record (file read
 * while tcpdump writes) is ignored. Written by hand: the format is a 24-byte header plus 16-byte
 * record headers, and the pcap libraries on npm are native or unmaintained.
 */
export function parsePcap(buf: Buffer): PcapRecord[] {
  if (buf.length < 24) return [];
  const magicLe = buf.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) {
    le = true;
    nano = magicLe === 0xa1b23c4d;
  } else {
    const magicBe = buf.readUInt32BE(0);
    if (magicBe !== 0xa1b2c3d4 && magicBe !== 0xa1b23c4d) throw new LabError('not a pcap file');
    le = false;
    nano = magicBe === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    if (off + 16 + incl > buf.length) break;
    out.push({
      tsUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac),
      data: Buffer.from(buf.subarray(off + 16, off + 16 + incl)),
    });
    off += 16 + incl;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Frame decoding (independent of src/wire on purpose: the lab cross-checks our codecs)

export interface VrrpSeen {
  readonly version: number;
  readonly vrid: number;
  readonly priority: number;
  /** v2: seconds; v3: centiseconds. */
  readonly interval: number;
  readonly count: number;
  readonly ah: boolean;
}

export interface Frame {
  readonly tsUs: number;
  readonly srcMac: string;
  readonly dstMac: string;
  readonly kind: 'vrrp' | 'arp' | 'na' | 'other';
  /** IP source (VRRP, NA) or ARP sender address. */
  readonly srcIp?: string;
  readonly vrrp?: VrrpSeen;
  readonly arp?: { readonly op: number; readonly senderIp: string; readonly targetIp: string };
  readonly na?: { readonly target: string };
  readonly raw: Buffer;
}

const mac = (b: Buffer, o: number) =>
  [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ip4 = (b: Buffer, o: number) => [...b.subarray(o, o + 4)].join('.');
function ip6(b: Buffer, o: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(o + 2 * i).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function vrrpAt(b: Buffer, o: number, ah: boolean): VrrpSeen | undefined {
  if (b.length < o + 8) return undefined;
  const version = b[o]! >> 4;
  return {
    version,
    vrid: b[o + 1]!,
    priority: b[o + 2]!,
    count: b[o + 3]!,
    interval: version === 3 ? b.readUInt16BE(o + 4) & 0x0fff : b[o + 5]!,
    ah,
  };
}

/** Decode what the lab cares about in an Ethernet frame; anything else is `kind: 'other'`. */
export function decodeFrame(tsUs: number, raw: Buffer): Frame {
  const base = {
    tsUs,
    raw,
    dstMac: raw.length >= 6 ? mac(raw, 0) : '',
    srcMac: raw.length >= 12 ? mac(raw, 6) : '',
  };
  if (raw.length < 14) return { ...base, kind: 'other' };
  let type = raw.readUInt16BE(12);
  let l3 = 14;
  if (type === 0x8100 && raw.length >= 18) {
    type = raw.readUInt16BE(16);
    l3 = 18;
  }
  if (type === 0x0806 && raw.length >= l3 + 28) {
    return {
      ...base,
      kind: 'arp',
      srcIp: ip4(raw, l3 + 14),
      arp: { op: raw.readUInt16BE(l3 + 6), senderIp: ip4(raw, l3 + 14), targetIp: ip4(raw, l3 + 24) },
    };
  }
  if (type === 0x0800 && raw.length >= l3 + 20) {
    const ihl = (raw[l3]! & 0x0f) * 4;
    const proto = raw[l3 + 9]!;
    const srcIp = ip4(raw, l3 + 12);
    let o = l3 + ihl;
    let ah = false;
    let p = proto;
    if (p === 51 && raw.length >= o + 2) {
      p = raw[o]!;
      o += (raw[o + 1]! + 2) * 4;
      ah = true;
    }
    const vrrp = p === 112 ? vrrpAt(raw, o, ah) : undefined;
    if (vrrp) return { ...base, kind: 'vrrp', srcIp, vrrp };
    return { ...base, kind: 'other', srcIp };
  }
  if (type === 0x86dd && raw.length >= l3 + 40) {
    const next = raw[l3 + 6]!;
    const srcIp = ip6(raw, l3 + 8);
    const o = l3 + 40;
    if (next === 112) {
      const vrrp = vrrpAt(raw, o, false);
      if (vrrp) return { ...base, kind: 'vrrp', srcIp, vrrp };
    }
    if (next === 58 && raw.length >= o + 24 && raw[o] === 136) {
      return { ...base, kind: 'na', srcIp, na: { target: ip6(raw, o + 8) } };
    }
    return { ...base, kind: 'other', srcIp };
  }
  return { ...base, kind: 'other' };
}

/** VRRP adverts of one VRID, optionally from one source, in capture order. */
export const adverts = (frames: readonly Frame[], vrid: number, srcIp?: string): Frame[] =>
  frames.filter((f) => f.vrrp?.vrid === vrid && (srcIp === undefined || f.srcIp === srcIp));

/** Gratuitous ARPs (sender = target) announcing `ip`. */
export const garps = (frames: readonly Frame[], ip: string): Frame[] =>
  frames.filter((f) => f.arp !== undefined && f.arp.senderIp === ip && f.arp.targetIp === ip);

/**
 * Failover gap in ms: last advert from `oldSrc` (with priority > 0) before the first advert from
 * `newSrc` that follows it. Undefined when either is missing.
 */
export function failoverGapMs(frames: readonly Frame[], vrid: number, oldSrc: string, newSrc: string) {
  const ads = adverts(frames, vrid);
  const lastOldIdx = ads.findLastIndex((f) => f.srcIp === oldSrc && (f.vrrp?.priority ?? 0) > 0);
  if (lastOldIdx < 0) return undefined;
  const firstNew = ads.slice(lastOldIdx + 1).find((f) => f.srcIp === newSrc);
  if (!firstNew) return undefined;
  return (firstNew.tsUs - ads[lastOldIdx]!.tsUs) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Capture

export const DEFAULT_CAPTURE_FILTER = '(ip proto 112) or (ip6 proto 112) or (ip proto 51) or arp or icmp6';

export interface Capture {
  readonly path: string;
  /** Frames captured so far (the file is written packet by packet). */
  frames(): Frame[];
  /** Stop tcpdump and return every frame. */
  stop(): Promise<Frame[]>;
}

/**
 * Capture on a segment's bridge (in the bridge namespace). The bridge is promiscuous, so it sees every
 * frame a node sends onto the segment, each once, whatever the destination port.
 */
export async function startCapture(
  topo: Topology,
  opts: { segment?: string; filter?: string; name?: string } = {},
): Promise<Capture> {
  const dev = topo.bridge(opts.segment);
  const path = join(topo.dir, `${opts.name ?? `capture-${dev}`}.pcap`);
  const filter = opts.filter ?? DEFAULT_CAPTURE_FILTER;
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      topo.bridgeNs,
      'tcpdump',
      '-i',
      dev,
      '-U',
      // Deliver each packet as it arrives: without it libpcap hands packets over in blocks
      // (timestamps are the kernel's either way, so measured gaps do not change).
      '--immediate-mode',
      '-n',
      '-Z',
      'root',
      '-s',
      '512',
      '-w',
      path,
      filter,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new LabError('could not start tcpdump');
  const release = registerCleanup(`tcpdump ${pid}`, () => killQuiet(pid, 'SIGKILL'));
  // Released on exit whoever ends tcpdump (stop(), or a topology teardown killing the bridge namespace's
  // pids), so the exit handler never signals a recycled pid.
  const exited = new Promise<void>((res) =>
    child.once('exit', () => {
      release();
      res();
    }),
  );
  let stderr = '';
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new LabError(`tcpdump did not start: ${stderr}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new LabError(`tcpdump exited (${code}): ${stderr}`));
    });
  });
  const frames = () =>
    existsSync(path) ? parsePcap(readFileSync(path)).map((r) => decodeFrame(r.tsUs, r.data)) : [];
  return {
    path,
    frames,
    async stop() {
      killQuiet(pid, 'SIGINT');
      const timer = setTimeout(() => killQuiet(pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      release();
      return frames();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Notify recorders

export interface NotifyEntry {
  /** Wall-clock time of the call, µs since the epoch. */
  readonly tsUs: number;
  readonly args: string[];
}

export interface NotifyRecorder {
  /** Executable to name as a notify script. */
  readonly script: string;
  readonly logPath: string;
  entries(): NotifyEntry[];
}

/**
 * A shell script that appends one line per call: the time, then each argument, tab-separated.
 * Lives in `dir` (root-owned, not world-writable, as keepalived's script security requires).
 */
export function notifyRecorder(dir: string, name: string): NotifyRecorder {
  const script = join(dir, `${name}.sh`);
  const logPath = join(dir, `${name}.log`);
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      `log='${logPath}'`,
      'line=$(date +%s%N)',
      'for a in "$@"; do line="$line$(printf \'\\t%s\' "$a")"; done',
      'printf \'%s\\n\' "$line" >> "$log"',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return {
    script,
    logPath,
    entries: () =>
      existsSync(logPath)
        ? readFileSync(logPath, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => {
              const [ts, ...args] = l.split('\t');
              return { tsUs: Math.floor(Number(ts) / 1000), args };
            })
        : [],
  };
}
