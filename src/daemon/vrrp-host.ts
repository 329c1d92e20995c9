/**
 * The VRRP side of the daemon: binds every configured vrrp_instance (a pure state machine in
 * src/vrrp/) to the real world. Packet flow: a raw socket per (interface, family, protocol,
 * multicast|unicast) receives a datagram → `peekVrid` finds the instance → `validateAdvert` checks it
 * against that instance (a rejection is counted under its code) → `VrrpInstance.receive` → actions →
 * back out through the transport (codec in src/wire/, raw socket), rtnetlink (VIPs), AF_PACKET
 * (GARP/NA) and the notifier (scripts, FIFO).
 */

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type {
  AddressSpec,
  KeepalivedConfig,
  TrackFile as TrackFileCfg,
  TrackProcess as TrackProcessCfg,
  VrrpInstance as VrrpInstanceCfg,
  VrrpScript as VrrpScriptCfg,
} from '../config/model.js';
import { type Clock, systemClock, type TimerHandle } from '../core/clock.js';
import { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { NotifyFifo } from '../notify/fifo.js';
import {
  type GroupNotifyConfig,
  type InstanceNotifyConfig,
  Notifier,
  type NotifyState,
} from '../notify/notifier.js';
import { ScriptRunner } from '../notify/script.js';
import { isSysError } from '../sys/errors.js';
import { ETH_P_ARP, ETH_P_IPV6, PacketSocket } from '../sys/packet-socket.js';
import { IPPROTO_AH, IPPROTO_VRRP, type RawMessage, RawSocket } from '../sys/raw-socket.js';
import {
  type AnnounceKind,
  GarpPacer,
  type PaceDomain,
  pacingDomains,
  pacingIntervals,
} from '../vrrp/garp-pacer.js';
import { type IfBound, type IfFault, type IfView, planRelink } from '../vrrp/iface-binding.js';
import { type AdvertTemplate, VrrpInstance } from '../vrrp/instance.js';
import { machineConfig } from '../vrrp/machine.js';
import { SyncGroupCoordinator } from '../vrrp/sync-group.js';
import { TrackFile } from '../vrrp/track/file.js';
import { InstanceTracking, type TrackerRef } from '../vrrp/track/instance.js';
import type { PriorityResult, UpDown } from '../vrrp/track/priority.js';
import { PRIO_OWNER } from '../vrrp/track/priority.js';
import { processTableOf, TrackProcess } from '../vrrp/track/process.js';
import { type RunKind, TrackerRegistry } from '../vrrp/track/registry.js';
import { type ResolvedTrackers, resolveInstanceTrackers } from '../vrrp/track/resolve.js';
import { runnerExec, VrrpScriptTracker } from '../vrrp/track/script.js';
import { type MachineConfig, stateName, VrrpState } from '../vrrp/types.js';
import { peekVrid, type RxPacket, type ValidateInstance, validateAdvert } from '../vrrp/validate.js';
import { gratuitousArpFrame } from '../wire/arp.js';
import { nextIpId, VRRP_GROUP4, VRRP_GROUP6 } from '../wire/ip.js';
import { unsolicitedNaFrame } from '../wire/ndisc.js';
import type { NlMsg } from '../wire/netlink.js';
import { type AddrInfo, IFF_NOARP, type LinkInfo, type RtRequest } from '../wire/rtnetlink.js';
import {
  authDataFromPassword,
  encodeVrrp,
  encodeVrrpIpv4Packet,
  VRRP_AUTH_AH,
  VRRP_AUTH_NONE,
  VRRP_AUTH_PASS,
  type VrrpAdvert,
} from '../wire/vrrp.js';
import { liveDumpFields, type TrackerDumpState, type VrrpDumpInstance } from './dumps.js';
import {
  Firewall,
  type FirewallSettings,
  type FirewallVip,
  firewallSettings,
  firewallWanted,
  instanceVips,
  instanceVmac,
  nftRunner,
} from './firewall.js';
import { linkIsUp, type NetState } from './netstate.js';
import { mainRtPacer, type RtPacer } from './priorities.js';
import { planReload, type ReloadPlan } from './reload.js';
import type { ScriptResolver } from './scripts.js';
import { addressMessage } from './static-config.js';
import './vrrp-errors.js';
import { VmacManager, vmacAutoName, vrrpMac } from './vmac.js';
import { routeMessages, ruleMessages } from './vroutes.js';

interface Bound {
  cfg: VrrpInstanceCfg;
  /** Wall-clock time of the last state change (epoch s) and that state, for the dumps. */
  lastTransition?: { at: number; state: string };
  readonly inst: VrrpInstance;
  readonly ifname: string;
  /**
   * The interface fields below are those of the current binding (iface-binding.ts): 0 while the
   * instance waits unbound in FAULT (`ifFault`), new ones after the interface is re-created.
   */
  ifindex: number;
  /** Where VIPs go by default and GARP/NA leave: the VMAC with use_vmac, else the interface. */
  vipIfindex: number;
  /**
   * Where adverts are received: the VMAC with use_vmac (keepalived joins the group there; a peer's
   * advert from the same VRRP MAC is handed to our macvlan, never to the parent).
   */
  rxIfname: string;
  rxIfindex: number;
  /** Where adverts leave: the VMAC unless vmac_xmit_base. */
  txIfname: string;
  txIfindex: number;
  /** Why the instance waits unbound (interface missing, no source address); undefined while bound. */
  ifFault: IfFault | undefined;
  /** Binding changes of this instance, one after the other (link and address events queue here). */
  linkOps: Promise<void>;
  /** A failed binding is tried again after `delayUs` (doubling up to BIND_RETRY_MAX_US). */
  bindRetry: { handle: TimerHandle | undefined; delayUs: number };
  readonly family: 4 | 6;
  readonly protocol: number;
  /** Source address of the adverts (mcast_src_ip / unicast_src_ip, else the interface's). */
  src: string;
  dsts: readonly string[];
  /** TTL / hop limit of the adverts: unicast_ttl with unicast peers, else 255. */
  ttl: number;
  readonly unicast: boolean;
  validate: Omit<ValidateInstance, 'inBackup' | 'masterAddress' | 'ahSeq'>;
  vips: readonly AddressSpec[];
  notify: InstanceNotifyConfig;
  /** The advert template handed to the instance (its address list is updated in place on reload). */
  template: AdvertTemplate;
  /** use_vmac: the VMAC's name (made while bound; a reload may rename it). */
  vmacName: string | undefined;
  /** Removed by a reload: its STOP notify is reported as DELETED (FAULT without notify_deleted). */
  deleting: boolean;
  tracking: InstanceTracking | undefined;
  /** Sync group state captured for each pending notify action, in order. */
  readonly groupStateAtNotify: (NotifyState | undefined)[];
  ahSeq: number;
  ipId: number;
  /**
   * Adverts encoded ahead of need, by priority, one per destination (IPv4 without AH, IPv6): a send
   * then only stamps the IP id. Cleared whenever the template or the configuration changes.
   */
  readonly encoded: Map<number, Buffer[]>;
  /**
   * garp_extra_if: time of the advert step that last sent (or of the step entering MASTER); undefined
   * while not MASTER. The next round is due at the first advert S seconds after it.
   */
  extraIfFrom: number | undefined;
  /** promote_secondaries was taken on this interface (released when the instance goes). */
  promoteIf: string | undefined;
}

/** Seed form of a tracker's state (InstanceTracking.seed). */
type TrackerSeed = { state?: UpDown; value?: number };

/** A running tracker as the host keeps it. */
interface TrackerHandle {
  /** Current state; undefined while a script has not returned yet. */
  current(): TrackerSeed | undefined;
  stop(): void;
  /** Resolves when what the tracker started has ended (a script's run in flight, killed by stop). */
  closed(): Promise<void>;
}

type Wanted =
  | { kind: 'script'; name: string; def: VrrpScriptCfg }
  | { kind: 'file'; name: string; def: TrackFileCfg }
  | { kind: 'process'; name: string; def: TrackProcessCfg };

const trackerLabel = (kind: RunKind, name: string) =>
  kind === 'script'
    ? `VRRP_Script(${name})`
    : kind === 'file'
      ? `track_file ${name}`
      : `track_process ${name}`;

export interface VrrpHostDeps {
  clock: Clock;
  log: Logger;
  counters?: Counters;
  net: NetState;
  scripts: ScriptResolver;
  /** Paces the work while the thread is real-time (default: the main thread's, set by Priorities). */
  pacer?: RtPacer;
  /** Wall-clock time in epoch seconds, for the dumps' last transition (default: Date.now). */
  wallSeconds?: () => number;
}

/**
 * rtnetlink requests in flight at once. The kernel queues each ack on the command socket at once;
 * 1,000 instances entering BACKUP or MASTER together (one request per VIP) overflowed its receive
 * buffer (ENOBUFS), and every pending request failed with it. FIFO, so each instance's order holds.
 */
const NETLINK_WINDOW = 64;

/** First wait before a failed interface binding is tried again, and the longest (retryBind). */
const BIND_RETRY_FIRST_US = 1_000_000;
const BIND_RETRY_MAX_US = 60_000_000;

/** Longest wait for the start-up burst to settle (VrrpHost.settled), before advert intervals. */
const STARTUP_SETTLE_CAP_US = 30_000_000;
/** The quiet window that ends the start-up burst (VrrpHost.quiet). */
const QUIET_WINDOW_US = 200_000;
const QUIET_UTILIZATION = 0.2;

/**
 * Writes `id` into an encoded IPv4 advert; returns the packet. Its header checksum stays 0: the kernel
 * computes it for every IP_HDRINCL packet (and the VRRP / AH parts do not cover the IP id).
 */
/** At stop, how long queued SMTP alerts (the STOP mails) may take before they are dropped. */
const SMTP_STOP_WAIT_MS = 2_000;
/** Longest one nft run may take (the firewall's drop rule waits in an instance's action queue). */
const NFT_TIMEOUT_MS = 1_000;

function stampIpId(pkt: Buffer, id: number): Buffer {
  pkt.writeUInt16BE(id, 4);
  return pkt;
}

/** An instance's or a sync group's track_* blocks as refs, weights as configured. */
function trackRefs(config: KeepalivedConfig, t: VrrpInstanceCfg['tracking']): TrackerRef[] {
  const refs: TrackerRef[] = [];
  const ref = (
    kind: TrackerRef['kind'],
    r: { name: string; weight: number | undefined; reverse: boolean },
    d: { weight: number; weightReverse: boolean },
  ) =>
    refs.push({
      kind,
      name: r.name,
      weight: r.weight ?? d.weight,
      reverse: r.weight !== undefined ? r.reverse : d.weightReverse,
    });
  for (const r of t.interfaces) ref('interface', r, { weight: 0, weightReverse: r.reverse });
  for (const r of t.scripts) {
    const s = config.vrrpScripts.find((x) => x.name === r.name);
    if (s) ref('script', r, s);
  }
  for (const r of t.files) {
    const f = config.trackFiles.find((x) => x.name === r.name);
    if (f) ref('file', r, f);
  }
  for (const r of t.processes) {
    const p = config.trackProcesses.find((x) => x.name === r.name);
    if (p) ref('process', r, p);
  }
  for (const r of t.bfds) {
    const f = config.bfdInstances.find((x) => x.name === r.name);
    if (f && f.deliverTo !== 'checker') ref('bfd', r, f);
  }
  return refs;
}

/**
 * The trackers an instance runs with (primary interface not included): keepalived 2.2.7 drops a
 * sync-group member's own weighted trackers unless the group has sync_group_tracking_weight, and
 * applies the group's track_* to every member with their weights (see vrrp/track/resolve.ts).
 */
export function instanceTrackers(config: KeepalivedConfig, cfg: VrrpInstanceCfg): ResolvedTrackers {
  const group = cfg.syncGroup ? config.syncGroups.find((g) => g.name === cfg.syncGroup) : undefined;
  const own = trackRefs(config, cfg.tracking);
  const r = resolveInstanceTrackers(
    cfg.name,
    cfg.priority,
    own,
    group && {
      name: group.name,
      trackers: trackRefs(config, group.tracking),
      trackingWeight: group.syncGroupTrackingWeight,
      hasOwnerMember: config.vrrpInstances.some(
        (i) => i.syncGroup === group.name && i.priority === PRIO_OWNER,
      ),
    },
  );
  // An interface whose weight the group cleared runs without `reverse` (keepalived 2.2.7 keeps the
  // flag in its dump but does not fault the member while the interface is up).
  const cleared = (t: TrackerRef) =>
    t.kind === 'interface' &&
    t.weight === 0 &&
    own.some((o) => o.kind === 'interface' && o.name === t.name && o.weight !== 0);
  return { ...r, trackers: r.trackers.map((t) => (cleared(t) ? { ...t, reverse: false } : t)) };
}

/** The state machine's view of an instance's configuration (checked; throws KA_ERR_VRRP_MACHINE_CONFIG). */
export function machineConfigOf(cfg: VrrpInstanceCfg, family: 4 | 6, src: string): MachineConfig {
  // vrrp_min_garp and the global vrrp_garp_* defaults are folded into cfg.garp by the configuration
  const garp = cfg.garp;
  return machineConfig({
    name: cfg.name,
    version: cfg.version,
    family,
    vrid: cfg.vrid,
    priority: cfg.priority,
    advertIntervalUs: Math.round(cfg.advertIntCs * 10_000),
    initialState: cfg.state,
    nopreempt: cfg.nopreempt,
    preemptDelayUs: Math.round(cfg.preemptDelay * 1e6),
    downTimerAdverts: cfg.downTimerAdverts,
    primaryIp: src,
    garp: {
      masterDelayUs: Math.round(garp.masterDelay * 1e6),
      masterRepeat: garp.masterRepeat,
      masterRefreshUs: Math.round(garp.masterRefresh * 1e6),
      masterRefreshRepeat: garp.masterRefreshRepeat,
      lowerPrioDelayUs: Math.round(garp.lowerPrioDelay * 1e6),
      lowerPrioRepeat: garp.lowerPrioRepeat,
    },
    lowerPrioNoAdvert: cfg.lowerPrioNoAdvert,
    higherPrioSendAdvert: cfg.higherPrioSendAdvert,
    syncGroup: cfg.syncGroup !== undefined,
  });
}

/** Advert authentication: type (none for v3) and the 8 auth-data bytes (PASS data / AH key). */
function authOf(cfg: VrrpInstanceCfg): { authType: number; authData: Buffer } {
  const authType =
    cfg.version === 3 || !cfg.authentication
      ? VRRP_AUTH_NONE
      : cfg.authentication.type === 'PASS'
        ? VRRP_AUTH_PASS
        : VRRP_AUTH_AH;
  const authData = cfg.authentication ? authDataFromPassword(cfg.authentication.pass) : Buffer.alloc(8);
  return { authType, authData };
}

/** The VIPs an advert lists: the instance's own family only. */
function advertAddrsOf(cfg: VrrpInstanceCfg, family: 4 | 6): string[] {
  return cfg.virtualIpaddress.filter((v) => (v.family === 'inet6' ? 6 : 4) === family).map((v) => v.address);
}

/** Receive-validation settings that follow the configuration (reload re-applies them). */
function validateOf(cfg: VrrpInstanceCfg, authType: number, authData: Buffer) {
  return {
    version: cfg.version,
    authType,
    authData,
    advertInterval: cfg.version === 2 ? cfg.advertInt : cfg.advertIntCs,
    unicastPeers: cfg.unicastPeers.map((p) => ({
      address: p.address,
      ...(p.minTtl !== undefined ? { minTtl: p.minTtl } : {}),
      ...(p.maxTtl !== undefined ? { maxTtl: p.maxTtl } : {}),
    })),
    checkUnicastSrc: cfg.checkUnicastSrc,
    skipCheckAdvAddr: cfg.skipCheckAdvAddr,
  };
}

const sockKey = (ifindex: number, family: number, protocol: number, unicast: boolean) =>
  `${ifindex}/${family}/${protocol}/${unicast ? 'u' : 'm'}`;

/** Receive socket of an instance: interface, family, protocol, and the multicast group it joins. */
const rxKey = (b: Bound) =>
  `${sockKey(b.rxIfindex, b.family, b.protocol, b.unicast)}/${b.unicast ? '' : (b.dsts[0] ?? '')}`;

/**
 * Send socket of an instance. IPv4 adverts carry their TTL in the IP header we write; IPv6 ones get
 * the socket's hop limit, so IPv6 send sockets are per hop limit.
 */
const txKey = (b: Bound) =>
  `${sockKey(b.txIfindex, b.family, b.protocol, false)}/${b.family === 6 ? b.ttl : ''}`;

/** Take `b` off a receive socket's list for its VRID (the VRID never changes: it is part of the reload match). */
function leaveRx(byVrid: Map<number, Bound[]>, b: Bound): void {
  const list = byVrid.get(b.cfg.vrid);
  if (!list?.includes(b)) return;
  const rest = list.filter((x) => x !== b);
  if (rest.length > 0) byVrid.set(b.cfg.vrid, rest);
  else byVrid.delete(b.cfg.vrid);
}

/** Where adverts go: the unicast peers, or the instance's multicast group (mcast_dst_ip, else the global one). */
function destinationsOf(cfg: VrrpInstanceCfg, family: 4 | 6, global: KeepalivedConfig['global']): string[] {
  if (cfg.unicastPeers.length > 0) return cfg.unicastPeers.map((p) => p.address);
  const group = cfg.mcastDstIp ?? (family === 4 ? global.vrrpMcastGroup4 : global.vrrpMcastGroup6);
  return [group || (family === 4 ? VRRP_GROUP4 : VRRP_GROUP6)];
}

/** TTL / hop limit of an instance's adverts (keepalived: unicast_ttl for unicast, 255 for multicast). */
const ttlOf = (cfg: VrrpInstanceCfg) => (cfg.unicastPeers.length > 0 ? cfg.unicastTtl : 255);

export class VrrpHost {
  readonly counters: Counters;
  private readonly bound: Bound[] = [];
  private readonly rx = new Map<string, { sock: RawSocket; byVrid: Map<number, Bound[]> }>();
  private readonly tx = new Map<string, RawSocket>();
  private readonly arp = new Map<number, PacketSocket>();
  private readonly groups: SyncGroupCoordinator[] = [];
  private readonly trackers = new TrackerRegistry<TrackerHandle>();
  /** Last Up/Down of each BFD session (src/daemon/bfd-host.ts); sessions start Down. */
  private readonly bfdUp = new Map<string, boolean>();
  private readonly fifos: NotifyFifo[] = [];
  private readonly runner: ScriptRunner;
  private readonly notifier: Notifier;
  /** nftables drop rules of instances with accept off, VMAC IGMP/MLD filters (firewall.ts). */
  private fw: Firewall | undefined;
  private readonly log: Logger;
  /** Set by stop({ keepAddresses }): removals of VIPs, routes and rules are skipped (-V). */
  private keepAddresses = false;
  /** Set by stop(): queued binding changes (relink) do nothing any more. */
  private stopping = false;
  private readonly vmacs: VmacManager;
  private readonly pacer: RtPacer;
  private readonly wallSeconds: () => number;
  /** The instances' clock: each timer callback is paced first (see RtPacer). */
  private readonly instClock: Clock;
  private nlInFlight = 0;
  private readonly nlWaiting: (() => void)[] = [];
  /** vrrp_garp_interval / vrrp_gna_interval / garp_group pacing of GARPs and NAs. */
  private readonly garpPacer: GarpPacer;
  private paceDomain: (ifname: string) => PaceDomain;
  /** vrrp_startup_delay: end of the delay on the clock (first start only), if one runs. */
  private startHoldUntil: number | undefined;

  constructor(
    private config: KeepalivedConfig,
    private readonly deps: VrrpHostDeps,
  ) {
    this.log = deps.log;
    this.counters = deps.counters ?? new Counters();
    const pacer = deps.pacer ?? mainRtPacer;
    this.wallSeconds = deps.wallSeconds ?? (() => Date.now() / 1000);
    this.pacer = pacer;
    const clock = deps.clock;
    this.instClock = {
      now: () => clock.now(),
      at: (at, fn): TimerHandle =>
        clock.at(at, () => {
          pacer.pace();
          fn();
        }),
    };
    // The notify runner reads its clock once as each script starts and once as it ends: pacing
    // there splits a storm of exits (1,000 notify scripts ending together took 52 ms without a
    // sleep) as the timers split the transitions.
    const runnerClock: Clock = {
      now: () => {
        pacer.pace();
        return clock.now();
      },
      at: this.instClock.at,
    };
    this.runner = new ScriptRunner({ clock: runnerClock, log: deps.log, counters: this.counters });
    this.notifier = new Notifier({ runner: this.runner, log: deps.log, counters: this.counters });
    this.vmacs = new VmacManager(deps.net, deps.log);
    this.garpPacer = new GarpPacer({ clock: this.instClock, counters: this.counters });
    this.paceDomain = pacingDomains({ ...config.global, garpGroups: config.garpGroups });
  }

  /**
   * One rtnetlink request, at most NETLINK_WINDOW in flight (a finished one hands its slot to the
   * next in line); the caller's continuation is paced like a timer.
   */
  private async nlRequest(req: RtRequest): Promise<NlMsg[]> {
    if (this.nlInFlight < NETLINK_WINDOW) this.nlInFlight++;
    else await new Promise<void>((r) => this.nlWaiting.push(r));
    try {
      return await this.deps.net.request(req);
    } finally {
      const next = this.nlWaiting.shift();
      if (next) next();
      else this.nlInFlight--;
      this.pacer.pace();
    }
  }

  get instances(): readonly VrrpInstance[] {
    return this.bound.map((b) => b.inst);
  }

  /**
   * DBus SendGarp (keepalived's vrrp_send_link_update(vrrp, 1)): one round of GARPs / unsolicited
   * NAs for the instance's VIPs, only while they are set (MASTER). False: no instance of that name.
   */
  sendGarp(name: string): boolean {
    const b = this.bound.find((x) => x.inst.name === name);
    if (!b) return false;
    if (b.inst.state === VrrpState.MASTER) this.announce(b, 1);
    return true;
  }

  async start(): Promise<void> {
    const delay = this.config.global.vrrpStartupDelay;
    if (delay > 0) {
      // keepalived: the delay runs from start-up (not from a reload); instances enter BACKUP at once
      // and none leaves it before the delay's end.
      this.startHoldUntil = this.deps.clock.now() + Math.round(delay * 1e6);
      this.log.info(`Delaying startup for ${delay} seconds`);
    }
    this.notifier.configureSmtp(this.config);
    this.refuseMissingInterfaces(this.config);
    await this.ensureFirewall(this.config);
    await this.openFifos();
    for (const cfg of this.config.vrrpInstances) {
      try {
        this.bound.push(await this.bind(cfg));
      } catch (e) {
        this.counters.inc('vrrp.instance_errors');
        this.log.error(
          { err: e, instance: cfg.name, code: (e as { code?: string }).code },
          `(${cfg.name}) cannot start: ${(e as Error).message}`,
        );
      }
    }
    this.groups.push(...(await this.bindSyncGroups()));
    await this.syncTrackers();
    this.deps.net.on('link', (l, before) => {
      for (const b of this.bound) {
        if (b.tracking?.tracks('interface', l.name))
          b.tracking.setState('interface', l.name, linkIsUp(l) ? 'up' : 'down');
      }
      this.onLink(l, before);
    });
    this.deps.net.on('addr', (a) => this.onAddr(a));
    // Every instance that starts in FAULT is faulted before any starts: a sync group then goes to
    // FAULT before its first member leaves INIT, as keepalived 2.2.7 does (observed: GROUP FAULT
    // and the members' FAULT only, whatever the members' order in the file).
    for (const b of this.bound) if (startsFaulted(b) && !b.inst.machine.faulted) b.inst.fault();
    for (const b of this.bound) {
      await this.removeStaleVips(b);
      this.startInstance(b);
    }
    this.pacer.holdStartup(this.settled());
  }

  /**
   * Resolves once the start-up burst is over: every instance has made its first decision (MASTER,
   * FAULT, or BACKUP under a master it hears), its actions have run and the notify scripts started
   * meanwhile have ended; at the latest STARTUP_SETTLE_CAP_US plus four advert intervals after start.
   */
  settled(): Promise<void> {
    const clock = this.deps.clock;
    const maxAdvertUs = Math.max(0, ...this.bound.map((b) => Math.round(b.cfg.advertIntCs * 10_000)));
    const holdUs = Math.max(0, (this.startHoldUntil ?? 0) - clock.now());
    const capUs = STARTUP_SETTLE_CAP_US + holdUs + 4 * maxAdvertUs;
    const deadline = clock.now() + capUs;
    let timer: TimerHandle | undefined;
    const cap = new Promise<void>((r) => {
      timer = clock.at(deadline, r);
    });
    const decided = (b: Bound) => {
      const st = b.inst.state;
      return (
        st === VrrpState.MASTER ||
        st === VrrpState.FAULT ||
        st === VrrpState.INIT ||
        (st === VrrpState.BACKUP && b.inst.machine.masterAddr !== null)
      );
    };
    const first = Promise.all(
      this.bound.map(
        (b) =>
          new Promise<void>((resolve) => {
            if (decided(b)) return resolve();
            b.inst.onChange(() => {
              if (decided(b)) resolve();
            });
          }),
      ),
    )
      .then(() => Promise.all(this.bound.map((b) => b.inst.idle())))
      .then(() => this.runner.drain(Math.max(0, deadline - clock.now())))
      .then(() => this.quiet(deadline));
    return Promise.race([first.then(() => undefined), cap]).finally(() => timer?.cancel());
  }

  /**
   * Waits (until `deadline`) for a QUIET_WINDOW_US window in which the event loop was busy less
   * than QUIET_UTILIZATION of the time: the tail of the burst (exits of notify scripts, garbage
   * collection) then runs before the thread becomes real-time. In 5 runs without it, 2 got SIGXCPU
   * within 50 ms of SCHED_RR.
   */
  private async quiet(deadline: number): Promise<void> {
    const clock = this.deps.clock;
    for (;;) {
      const start = performance.eventLoopUtilization();
      const now = clock.now();
      if (now >= deadline) return;
      await new Promise<void>((r) => clock.at(Math.min(deadline, now + QUIET_WINDOW_US), r));
      if (performance.eventLoopUtilization(start).utilization < QUIET_UTILIZATION) return;
    }
  }

  /**
   * SIGTERM: every instance stops (priority 0 from a master, STOP notifies), then I/O closes.
   * `keepAddresses` (-V): VIPs, virtual routes and rules stay, as keepalived leaves them.
   */
  async stop(opts: { keepAddresses?: boolean } = {}): Promise<void> {
    this.keepAddresses = opts.keepAddresses === true;
    this.stopping = true;
    for (const b of this.bound) b.bindRetry.handle?.cancel();
    await Promise.all(this.bound.map((b) => b.linkOps));
    const trackers = this.trackers.handles();
    this.trackers.stopAll();
    for (const b of this.bound) {
      this.pacer.pace();
      b.inst.stop();
    }
    await Promise.all(this.bound.map((b) => b.inst.idle()));
    // the groups' STOP follows their members' (keepalived 2.2.7 order)
    for (const g of this.groups) g.stop();
    await this.fw?.stop();
    // keepalived lets the STOP notifies run, killing what is left after 1 s.
    await this.runner.drain(1_000_000);
    await this.notifier.closeSmtp(SMTP_STOP_WAIT_MS);
    await Promise.all([this.runner.close('SIGTERM', 1_000_000), ...trackers.map((t) => t.closed())]);
    for (const f of this.fifos) await f.close();
    for (const { sock } of this.rx.values()) sock.close();
    for (const s of this.tx.values()) s.close();
    this.garpPacer.stop();
    for (const s of this.arp.values()) s.close();
    this.rx.clear();
    this.tx.clear();
    this.arp.clear();
    await this.vmacs.stop();
  }

  /**
   * SIGHUP: apply `next` (see reload.ts). Kept instances keep their state (no transition); their VIP
   * set and notify scripts follow the new configuration. Removed instances stop (priority 0 from a
   * master, VIPs removed, FAULT/DELETED notify); new ones start in BACKUP. Sync groups are rebuilt
   * from the new configuration and placed over the running instances (SyncGroupCoordinator.adopt).
   * Returns the plan applied.
   */
  async reload(next: KeepalivedConfig): Promise<ReloadPlan> {
    this.refuseMissingInterfaces(next);
    const plan = planReload(this.config, next);
    // Every sync group is rebuilt from the new configuration: the old ones stop following their
    // members now, their states kept to place the new ones.
    const priorGroups = new Map(this.groups.map((g) => [g.name, g.state]));
    for (const g of this.groups.splice(0)) g.retire();
    const wired = { done: false };
    try {
      await this.applyReload(next, plan, priorGroups, wired);
    } catch (e) {
      // a reload failing half-way must not leave the instances without their groups
      if (!wired.done) {
        const groups = await this.bindSyncGroups();
        this.groups.push(...groups);
        for (const g of groups) g.adopt(priorGroups.get(g.name));
      }
      throw e;
    }
    return plan;
  }

  private async applyReload(
    next: KeepalivedConfig,
    plan: ReloadPlan,
    priorGroups: ReadonlyMap<string, VrrpState>,
    wired: { done: boolean },
  ): Promise<void> {
    await this.ensureFirewall(next);
    // before the removed instances' notifies: those go to the new FIFOs, as keepalived's do
    await this.reopenFifos(next);
    for (const cfg of plan.removed) {
      const b = this.bound.find((x) => x.cfg === cfg);
      if (!b) continue;
      this.log.info(`(${cfg.name}) removed by reload`);
      b.deleting = true;
      b.inst.stop();
      await b.inst.idle();
      b.inst.kill();
      b.tracking = undefined;
      await this.unbind(b);
    }
    // Kept instances follow the new configuration: tracking is rebuilt against it.
    this.config = next;
    this.paceDomain = pacingDomains({ ...next.global, garpGroups: next.garpGroups });
    // queued announcements are paced with the new intervals from now on
    this.garpPacer.reconfigure(pacingIntervals({ ...next.global, garpGroups: next.garpGroups }));
    this.notifier.configureSmtp(next);
    const reconfigured: { b: Bound; mc: MachineConfig; template: AdvertTemplate }[] = [];
    const retracked: Bound[] = [];
    // A held VIP is never up without its drop rule: the rules of every kept MASTER's new VIPs go in
    // (one nft batch for all of them) before any address changes, and those of removed VIPs come
    // out (one batch again) only after the addresses are gone.
    const fwPlans = new Map<Bound, readonly FirewallVip[]>();
    if (this.fw) {
      const adds: Promise<unknown>[] = [];
      for (const k of plan.kept) {
        const b = this.bound.find((x) => x.cfg === k.old);
        if (!b?.inst.machine.vipsSet) continue;
        const vmac = k.vmacChanged ? (k.next.useVmac?.ifname ?? b.vmacName) : b.vmacName;
        const v = instanceVips(k.next, vmac ?? b.ifname, this.fw.settings);
        fwPlans.set(b, v);
        if (v.length > 0) adds.push(this.fw.addVips(k.next.name, v));
      }
      await Promise.all(adds);
    }
    for (const k of plan.kept) {
      this.pacer.pace();
      const b = this.bound.find((x) => x.cfg === k.old);
      if (!b) continue;
      const c = k.next;
      const family = b.family;
      const advertAddrs = advertAddrsOf(c, family);
      const applies = !k.unapplied.includes('authentication (AH)');
      const src = k.changed.includes('mcastSrcIp') ? this.reloadedSource(b, c) : b.src;
      let mc: MachineConfig | undefined;
      if (applies && k.changed.length > 0) {
        try {
          mc = machineConfigOf(c, family, src);
        } catch (e) {
          this.counters.inc('vrrp.instance_errors');
          this.log.error(
            { err: e, instance: c.name },
            `(${c.name}) reload: ${(e as Error).message}; settings kept`,
          );
        }
      }
      // The new settings apply unless they are refused (AH switch) or invalid (kept as they were).
      const settingsApply = applies && (k.changed.length === 0 || mc !== undefined);
      const routesHeld = k.routesChanged && b.inst.machine.vipsSet;
      if (routesHeld) await Promise.all([this.setRoutes(b, false), this.setRules(b, false)]);
      b.cfg = c;
      if (routesHeld) await Promise.all([this.setRoutes(b, true), this.setRules(b, true)]);
      b.vips = [...c.virtualIpaddress, ...c.virtualIpaddressExcluded];
      b.template.addresses.splice(0, b.template.addresses.length, ...advertAddrs);
      b.encoded.clear();
      b.validate = { ...b.validate, vips: advertAddrs };
      b.notify = await this.notifyConfig(c);
      if (k.vmacChanged) {
        // after the binding changes queued before it; the link events of its own deletion queue
        // after it and find the instance bound to the new VMAC
        const op = b.linkOps.then(() => this.revmac(b, c));
        b.linkOps = op.catch(() => undefined);
        await op;
      }
      if (settingsApply) {
        // keepalived reopens every socket on reload: a new multicast group (mcast_dst_ip,
        // vrrp_mcast_group4/6), unicast peers or unicast_ttl take effect at once.
        b.dsts = destinationsOf(c, family, next.global);
        b.ttl = ttlOf(c);
        b.src = src;
        b.encoded.clear(); // a send during the awaits above may have encoded for the old ones
        if (b.ifFault === undefined) this.attachSockets(b);
        // Weights of vrrp_script / track_file / track_process blocks and sync-group tracking may
        // have changed without the instance's own settings: tracking is always rebuilt, states carried.
        const old = b.tracking;
        b.tracking = this.tracking(c, b.ifname);
        const carried = old?.snapshot().filter((u) => b.tracking?.tracks(u.kind, u.name)) ?? [];
        b.tracking?.seed(carried);
        retracked.push(b);
        if (k.changed.includes('promoteSecondaries')) await this.reloadPromote(b, c.promoteSecondaries);
      }
      if (mc) {
        const { authType, authData } = authOf(c);
        const template = {
          addresses: b.template.addresses,
          authType,
          authData: authType === VRRP_AUTH_PASS ? authData : Buffer.alloc(8),
        };
        b.template = template;
        b.validate = { ...b.validate, ...validateOf(c, authType, authData) };
        reconfigured.push({ b, mc, template });
        this.log.info(`(${c.name}) reload: applying changed ${k.changed.join(', ')}`);
      } else if (b.inst.config.syncGroup !== (c.syncGroup !== undefined)) {
        // settings not applied (an AH switch waits for a restart) but the groups are rebuilt: the
        // machine must know whether a group now decides its MASTER transitions
        const kept = { ...b.inst.config, syncGroup: c.syncGroup !== undefined };
        reconfigured.push({ b, mc: kept, template: b.template });
      }
      if (b.inst.machine.vipsSet) {
        await Promise.all([
          ...k.vipsAdded.map((v) => this.setVip(b, v, true)),
          ...k.vipsRemoved.map((v) => this.setVip(b, v, false)),
        ]);
        if (k.vipsAdded.length > 0) this.announce(b, c.garp.masterRepeat);
      }
      const unapplied = applies ? k.unapplied : [...k.changed, ...k.unapplied];
      if (unapplied.length > 0)
        this.log.warn(
          `(${c.name}) reload: changed ${unapplied.join(', ')} not applied to the running instance (restart to apply)`,
        );
    }
    // not for an instance that left MASTER during the awaits above (its removeVips took the rules out)
    const fw = this.fw;
    if (fw)
      await Promise.all(
        [...fwPlans].filter(([b]) => b.inst.machine.vipsSet).map(([b, v]) => fw.setVips(b.cfg.name, v)),
      );
    this.closeUnusedSockets();
    const fresh: Bound[] = [];
    for (const cfg of plan.added) {
      try {
        const b = await this.bind(cfg);
        this.bound.push(b);
        fresh.push(b);
      } catch (e) {
        this.counters.inc('vrrp.instance_errors');
        this.log.error(
          { err: e, instance: cfg.name, code: (e as { code?: string }).code },
          `(${cfg.name}) cannot start: ${(e as Error).message}`,
        );
      }
    }
    const groups = await this.bindSyncGroups();
    // Trackers follow the new configuration (stopped, replaced, started) and seed their users.
    await this.syncTrackers();
    for (const { b, mc, template } of reconfigured) {
      const t = b.tracking?.result;
      b.inst.reconfigure(mc, template, t ? t.effectivePriority : mc.priority);
      // adverts encoded while the reload awaited (old template, old settings) must not be reused
      b.encoded.clear();
      const down = t !== undefined && (t.fault || t.initPending);
      if (down && !b.inst.machine.faulted) b.inst.fault();
      else if (!down && b.inst.machine.faulted && b.ifFault === undefined) b.inst.unfault();
      // only forced into FAULT by a group it no longer belongs to: leaves FAULT (keepalived)
      else if (!down && !mc.syncGroup && b.ifFault === undefined && b.inst.machine.state === VrrpState.FAULT)
        b.inst.unfault();
      this.warmSendPath(b);
    }
    for (const b of retracked) {
      if (reconfigured.some((r) => r.b === b)) continue;
      b.encoded.clear();
      this.applyTracking(b, b.tracking?.result);
      this.warmSendPath(b);
    }
    // the groups take their place over the running members before the new instances start
    // fresh members that start faulted count as faulted when the groups are placed
    for (const b of fresh) if (startsFaulted(b) && !b.inst.machine.faulted) b.inst.fault();
    this.groups.push(...groups);
    wired.done = true;
    for (const g of groups) g.adopt(priorGroups.get(g.name));
    for (const b of fresh) {
      await this.removeStaleVips(b);
      this.startInstance(b);
    }
  }

  /** An instance leaves INIT; while vrrp_startup_delay runs it is held in BACKUP until the delay's end. */
  private startInstance(b: Bound): void {
    // unbound, or a tracked interface down (keepalived 2.2.7, observed: "(VI_3): entering FAULT
    // state (interface t0 down)", FAULT notify only): straight to FAULT (init)
    if (startsFaulted(b) && !b.inst.machine.faulted) b.inst.fault();
    // keepalived 2.2.7 (observed): a sync-group member whose group has one waiting for its
    // interface, or with a tracked interface down, starts in FAULT itself, notifying FAULT only
    const g = b.cfg.syncGroup ? this.config.syncGroups.find((x) => x.name === b.cfg.syncGroup) : undefined;
    const groupFault =
      g !== undefined &&
      this.bound.some(
        (o) =>
          o !== b &&
          g.members.includes(o.cfg.name) &&
          (o.ifFault !== undefined || o.tracking?.result.fault === true),
      );
    const hold = this.startHoldUntil;
    b.inst.start(hold !== undefined && this.deps.clock.now() < hold ? hold : undefined, { groupFault });
    const t = b.tracking?.result;
    if (t && (t.fault || t.initPending)) b.inst.fault();
    else if (t && t.effectivePriority !== b.cfg.priority) b.inst.setEffectivePriority(t.effectivePriority);
  }

  /**
   * The source address after a reload changed mcast_src_ip (multicast: unicast instances with
   * another source are other instances). Kept as it was, with a warning, when the new one cannot be
   * found or an IPv6 VMAC was made with the old one as its link-local address.
   */
  private reloadedSource(b: Bound, c: VrrpInstanceCfg): string {
    // unbound: the source is chosen when it binds
    if (b.ifFault !== undefined) return c.mcastSrcIp ?? b.src;
    const src =
      c.mcastSrcIp ??
      (b.family === 4 ? this.deps.net.primaryIpv4(b.ifindex) : this.deps.net.linkLocalIpv6(b.ifindex));
    const why =
      src === undefined
        ? `interface ${b.ifname} has no ${b.family === 4 ? 'IPv4' : 'IPv6 link-local'} address`
        : b.vmacName && b.family === 6
          ? `the VMAC ${b.vmacName} carries ${b.src} as its link-local address`
          : undefined;
    if (src === undefined || why !== undefined) {
      this.log.warn(
        `(${c.name}) reload: changed mcastSrcIp not applied to the running instance (${why}; restart to apply)`,
      );
      return b.src;
    }
    return src;
  }

  /**
   * A running instance takes a tracking result (order as machineEvents: into FAULT first, out of
   * FAULT last, so priority changes never show in a state they do not belong to).
   */
  private applyTracking(b: Bound, t: PriorityResult | undefined): void {
    const down = t !== undefined && (t.fault || t.initPending);
    const eff = t ? t.effectivePriority : b.cfg.priority;
    if (down && !b.inst.machine.faulted) b.inst.fault();
    if (eff !== b.inst.machine.effectivePriority) b.inst.setEffectivePriority(eff);
    if (!down && b.inst.machine.faulted && b.ifFault === undefined) b.inst.unfault();
  }

  /**
   * A VMAC name that use_vmac leaves to us (vmacAutoName): taken by another instance's VMAC, a name
   * another instance configures, or an interface that is not a VMAC of this instance (a VMAC with its
   * MAC on its interface, left by a crash, is made again under its name).
   */
  private autoVmacName(cfg: VrrpInstanceCfg, family: 4 | 6, ifname: string): string {
    const mac = cfg.useVmac?.mac ?? vrrpMac(family, cfg.vrid);
    const parent = this.deps.net.link(ifname)?.ifindex;
    const taken = (name: string) => {
      if (this.bound.some((o) => o.vmacName === name)) return true;
      if (this.config.vrrpInstances.some((i) => i !== cfg && i.useVmac?.ifname === name)) return true;
      const l = this.deps.net.link(name);
      return l !== undefined && !(l.kind === 'macvlan' && l.mac === mac && l.parentIndex === parent);
    };
    return vmacAutoName(this.config.global.vmacPrefix, cfg.vrid, family, taken);
  }

  /**
   * A reload renamed a kept instance's VMAC (or changed its MAC): keepalived 2.2.7 deletes the old
   * one ("Deleting old VMAC interface vrrp.51") and makes the new one, the instance keeping its state
   * without a notify (observed). Its VIPs went with the old link: a MASTER sets them on the new one
   * and announces them (keepalived 2.2.7 logs "setting VIPs." but leaves them off, a VIP lost
   * silently; not copied). An unbound instance makes the new one when it binds. Runs in the
   * instance's binding queue (linkOps). Never throws: a failure leaves it unbound, retried.
   */
  private async revmac(b: Bound, c: VrrpInstanceCfg): Promise<void> {
    const old = b.vmacName;
    const name = c.useVmac?.ifname ?? old;
    b.vmacName = name;
    if (b.ifFault !== undefined || this.stopping) return;
    const held = b.inst.machine.vipsSet;
    for (const e of this.rx.values()) leaveRx(e.byVrid, b);
    b.encoded.clear();
    const promoted = b.promoteIf;
    b.promoteIf = undefined;
    if (promoted) await this.vmacs.releasePromoteSecondaries(promoted);
    if (old) {
      this.log.info(`(${c.name}) Deleting old VMAC interface ${old}`);
      if (this.fw) await this.fw.removeVmac(old);
      await this.vmacs.remove(old);
    }
    const link = this.deps.net.link(b.ifindex);
    try {
      if (!link) throw new KaError('KA_ERR_VRRP_VMAC', `interface ${b.ifname} gone`, { name: name ?? '' });
      await this.attach(b, link, b.src);
    } catch (e) {
      this.counters.inc('vrrp.interface_bind_errors');
      this.log.error(
        { err: e, instance: c.name, code: (e as { code?: string }).code ?? 'KA_ERR_VRRP_VMAC' },
        `(${c.name}) cannot make VMAC ${name}: ${(e as Error).message}`,
      );
      await this.detach(b, 'missing', true);
      this.retryBind(b);
      return;
    } finally {
      this.closeUnusedSockets();
    }
    if (held && b.inst.machine.vipsSet) {
      await this.setVips(b, true);
      // routes through the VMAC, or with a VIP as source, went with the old link
      await Promise.all([this.setRoutes(b, true), this.setRules(b, true)]);
      this.announce(b, c.garp.masterRepeat);
    }
  }

  /**
   * promote_secondaries turned on or off by a reload: taken on the interface bind() would use (the
   * VMAC with use_vmac) or released (0 again when this was its last user), as at start and stop.
   */
  private async reloadPromote(b: Bound, on: boolean): Promise<void> {
    if (!on) {
      const held = b.promoteIf;
      b.promoteIf = undefined;
      if (held) await this.vmacs.releasePromoteSecondaries(held);
      return;
    }
    if (b.promoteIf || b.ifFault !== undefined) return; // unbound: taken when it binds
    const link = this.deps.net.link(b.rxIfindex);
    if (!link) {
      this.log.warn(`(${b.cfg.name}) reload: interface ${b.rxIfname} gone; promote_secondaries not set`);
      return;
    }
    await this.vmacs.holdPromoteSecondaries(link);
    b.promoteIf = link.name;
  }

  /** Take a removed instance off its sockets (closing those nobody else uses) and drop its VMAC. */
  private async unbind(b: Bound): Promise<void> {
    b.bindRetry.handle?.cancel();
    await b.linkOps;
    const i = this.bound.indexOf(b);
    if (i >= 0) this.bound.splice(i, 1);
    this.garpPacer.dropOwner(b.cfg.name);
    if (b.promoteIf) await this.vmacs.releasePromoteSecondaries(b.promoteIf);
    for (const e of this.rx.values()) leaveRx(e.byVrid, b);
    this.closeUnusedSockets();
    if (this.fw) {
      await this.fw.removeVips(b.cfg.name);
      if (b.vmacName) await this.fw.removeVmac(b.vmacName);
    }
    if (b.vmacName) await this.vmacs.remove(b.vmacName);
  }

  /**
   * The firewall is set up once an instance needs it (accept off, or a VMAC), as keepalived does;
   * its table name and priority stay those of the first configuration (keepalived refuses to change
   * them on reload).
   */
  private async ensureFirewall(config: KeepalivedConfig): Promise<void> {
    const settings: FirewallSettings = firewallSettings(config.global.settings);
    if (this.fw) {
      const was = this.fw.settings;
      if (was.table !== settings.table || was.priority !== settings.priority)
        this.log.warn(
          `nftables table or priority changed (${was.table} ${was.priority} -> ${settings.table} ${settings.priority}): kept until a restart, as keepalived does`,
        );
      return;
    }
    if (!firewallWanted(config.vrrpInstances, settings)) return;
    // The drop rule is awaited before an accept-off instance's VIPs (keepalived's order), so a hung
    // nft must not hold the instance's actions, adverts included, for long.
    this.fw = new Firewall({
      settings,
      logger: this.log,
      counters: this.counters,
      run: nftRunner({ timeoutMs: NFT_TIMEOUT_MS }),
    });
    await this.fw.start();
  }

  /** Close the receive sockets no instance listens on and the send sockets no instance sends on. */
  private closeUnusedSockets(): void {
    for (const [k, e] of this.rx) {
      if (e.byVrid.size > 0) continue;
      e.sock.close();
      this.rx.delete(k);
    }
    const txUsed = new Set(this.bound.filter((b) => b.ifFault === undefined).map(txKey));
    for (const [k, s] of this.tx) {
      if (txUsed.has(k)) continue;
      s.close();
      this.tx.delete(k);
    }
  }

  /** State for JSON output / data dumps. */
  snapshot(): VrrpDumpInstance[] {
    return this.bound.map((b) => {
      this.pacer.pace();
      const m = b.inst.machine;
      return {
        iname: b.cfg.name,
        ifp_ifname: b.ifname,
        vrid: b.cfg.vrid,
        version: b.cfg.version,
        state: m.state,
        state_name: stateName(m.state),
        base_priority: m.basePriority,
        effective_priority: m.effectivePriority,
        master_addr: m.masterAddr,
        ...(b.lastTransition ? { last_transition: b.lastTransition.at } : {}),
        vipset: m.vipsSet,
        vips: b.vips.map((v) => `${v.address}/${v.prefix}`),
        stats: b.inst.counters.snapshot(),
        src_ip: b.src,
        ifindex: b.ifindex,
        master_adver_int_us: m.masterAdverIntUs,
        ...(b.vmacName !== undefined ? { vmac_ifname: b.vmacName } : {}),
        ...liveDumpFields({
          machine: m,
          monoNowUs: this.deps.clock.now(),
          wallNowS: Date.now() / 1e3,
          interfaces: [b.ifname, ...b.cfg.tracking.interfaces.map((r) => r.name)],
          isUp: (n) => linkIsUp(this.deps.net.link(n)),
        }),
      };
    });
  }

  /** The running trackers' states (vrrp_script, track_file, track_process), for the data dump. */
  trackerStates(): TrackerDumpState[] {
    return this.trackers.entries().map(({ kind, name, handle }) => {
      const cur = handle.current();
      const up = cur?.state === 'up' ? true : cur?.state === 'down' ? false : undefined;
      return { kind, name, up, ...(cur?.value !== undefined ? { value: cur.value } : {}) };
    });
  }

  // ---- binding one instance ----

  /**
   * One instance: its machine, tracking and notify settings, then its binding to the interface
   * (attach). An interface missing or without a source address leaves it unbound, waiting in FAULT
   * for the link and address events (relink).
   */
  private async bind(cfg: VrrpInstanceCfg): Promise<Bound> {
    const net = this.deps.net;
    const ifname = cfg.interface ?? this.config.global.defaultInterface;
    const family: 4 | 6 = cfg.family === 'inet6' ? 6 : 4;
    const ah = cfg.version === 2 && cfg.authentication?.type === 'AH';
    const protocol = ah ? IPPROTO_AH : IPPROTO_VRRP;
    const unicast = cfg.unicastPeers.length > 0;
    const link = net.link(ifname);
    // until bound, the machine compares peers with the unspecified address (it ignores adverts in FAULT)
    const src = this.sourceOf(cfg, family, link) ?? (family === 4 ? '0.0.0.0' : '::');
    const dsts = destinationsOf(cfg, family, this.config.global);
    const { authType, authData } = authOf(cfg);
    const vips = [...cfg.virtualIpaddress, ...cfg.virtualIpaddressExcluded];
    const advertAddrs = advertAddrsOf(cfg, family);
    const notify = await this.notifyConfig(cfg);
    const mc = machineConfigOf(cfg, family, src);
    // `b` is filled in below; the instance's I/O callbacks only run after start().
    const b = {} as Bound;
    const template = {
      addresses: advertAddrs,
      authType,
      authData: authType === VRRP_AUTH_PASS ? authData : Buffer.alloc(8),
    };
    const inst = new VrrpInstance(mc, template, {
      clock: this.instClock,
      logger: this.log,
      transport: { send: (a) => this.send(b, a) },
      addresses: {
        addVips: () => this.setVips(b, true),
        removeVips: () => (this.keepAddresses ? Promise.resolve() : this.setVips(b, false)),
        addRoutes: () => this.setRoutes(b, true),
        removeRoutes: () => (this.keepAddresses ? Promise.resolve() : this.setRoutes(b, false)),
        addRules: () => this.setRules(b, true),
        removeRules: () => (this.keepAddresses ? Promise.resolve() : this.setRules(b, false)),
      },
      announcer: { announce: (rounds) => this.announce(b, rounds) },
      // The sync group's state when the transition was decided (notify actions run later, after
      // the VIPs): keepalived compares it with the instance's new state to suppress follow-up notifies.
      onAction: (a) => {
        if (a.type !== 'notify') return;
        if (b.lastTransition?.state !== a.state)
          b.lastTransition = { at: this.wallSeconds(), state: a.state };
        const group = b.cfg.syncGroup;
        const g = group ? this.groups.find((x) => x.name === group) : undefined;
        b.groupStateAtNotify.push(g ? (stateName(g.state) as NotifyState) : undefined);
      },
      notifier: {
        notify: (state, prio) => {
          this.pacer.pace();
          const reported = b.deleting && state === 'STOP' ? 'DELETED' : state;
          this.notifier.instance(b.notify, reported, prio, b.groupStateAtNotify.shift());
        },
        masterRxLowerPri: (prio) => this.notifier.masterRxLowerPri(b.notify, prio),
      },
    });
    Object.assign(b, {
      cfg,
      inst,
      ifname,
      ifindex: 0,
      vipIfindex: 0,
      rxIfname: ifname,
      rxIfindex: 0,
      txIfname: ifname,
      txIfindex: 0,
      ifFault: 'missing',
      linkOps: Promise.resolve(),
      bindRetry: { handle: undefined, delayUs: BIND_RETRY_FIRST_US },
      family,
      protocol,
      src,
      dsts,
      ttl: ttlOf(cfg),
      unicast,
      vips,
      notify,
      tracking: undefined,
      groupStateAtNotify: [],
      template,
      vmacName: cfg.useVmac ? (cfg.useVmac.ifname ?? this.autoVmacName(cfg, family, ifname)) : undefined,
      deleting: false,
      ahSeq: 0,
      ipId: 0,
      encoded: new Map(),
      extraIfFrom: undefined,
      promoteIf: undefined,
      validate: {
        vrid: cfg.vrid,
        family,
        vips: advertAddrs,
        ...validateOf(cfg, authType, authData),
      },
    } satisfies Bound);
    inst.onChange((from) => {
      const m = inst.machine;
      if (m.state !== VrrpState.MASTER) b.extraIfFrom = undefined;
      else if (from !== VrrpState.MASTER) b.extraIfFrom = advertStepAt(inst);
    });
    b.tracking = this.tracking(cfg, ifname);
    if (!link)
      this.log.info(
        `Configuration specifies interface ${ifname} which doesn't currently exist - will use if created`,
      );
    await this.relink(b);
    // keepalived gives the reasons at start only (at run time just "Entering FAULT STATE")
    if (b.ifFault === 'missing') {
      this.logFault(b, 'missing');
      if (b.vmacName) this.log.info(`(${cfg.name}): entering FAULT state (interface ${b.vmacName} down)`);
      if (!cfg.mcastSrcIp) this.logFault(b, 'no-address');
    } else if (b.ifFault === 'no-address') this.logFault(b, 'no-address');
    return b;
  }

  /**
   * Without dynamic_interfaces, keepalived 2.2.7's VRRP process stops at an instance whose interface
   * (or track_interface, or VIP `dev`) does not exist, at start and at a reload alike, and the whole
   * daemon with it (exit 2, "exited with permanent error CONFIG"): logged as keepalived does, then
   * thrown with `exitCode: 2` before anything is applied. start() and reload() call it first;
   * public so that the daemon can check a new configuration before it applies anything else.
   */
  refuseMissingInterfaces(config: KeepalivedConfig): void {
    if (config.global.dynamicInterfaces !== false) return;
    const missing: string[] = [];
    const check = (ifname: string, line: string) => {
      if (this.deps.net.link(ifname)) return;
      missing.push(ifname);
      this.log.error(line);
    };
    for (const c of config.vrrpInstances) {
      const ifname = c.interface ?? config.global.defaultInterface;
      check(ifname, `WARNING - interface ${ifname} for vrrp_instance ${c.name} doesn't exist`);
      for (const t of c.tracking.interfaces)
        check(t.name, `(${c.name}) tracked interface ${t.name} doesn't exist`);
      for (const v of [...c.virtualIpaddress, ...c.virtualIpaddressExcluded])
        if (v.dev)
          check(v.dev, `WARNING - interface ${v.dev} for ip address ${v.address}/${v.prefix} doesn't exist`);
    }
    if (missing.length === 0) return;
    this.counters.inc('vrrp.nonexistent_interface');
    this.log.error('Non-existent interface specified in configuration');
    throw new KaError('KA_ERR_VRRP_BIND', 'Non-existent interface specified in configuration', {
      interfaces: missing,
      exitCode: 2,
    });
  }

  /**
   * A link appeared, went, or was renamed: the instances on it (by name, or bound to its ifindex or
   * VMAC) look at their binding again. Up/down alone changes no binding (tracking handles it).
   */
  private onLink(l: LinkInfo, before: LinkInfo | undefined): void {
    const structural = l.deleted || !before || before.name !== l.name;
    let used = false;
    for (const b of this.bound) {
      const mine =
        l.name === b.ifname ||
        before?.name === b.ifname ||
        (b.ifFault === undefined && (l.ifindex === b.ifindex || l.ifindex === b.vipIfindex));
      if (!mine) continue;
      used = true;
      if (structural) this.queueRelink(b);
    }
    if (!used) return;
    // keepalived's lines for the interfaces it uses
    const up = linkIsUp(l);
    if (before && up !== linkIsUp(before)) this.log.info(`Netlink reports ${l.name} ${up ? 'up' : 'down'}`);
    if (l.deleted) this.log.info(`Interface ${l.name} deleted`);
    else if (!before) {
      this.log.info(`Interface ${l.name} added`);
      if (up) this.log.info(`Netlink reports ${l.name} up`);
    }
  }

  /**
   * An address event matters to an instance waiting for an address on its interface, and to a bound
   * one whose source address was removed; anything else (VIPs going up and down) changes nothing.
   */
  private onAddr(a: AddrInfo): void {
    for (const b of this.bound) {
      if (b.cfg.mcastSrcIp || b.family !== a.family) continue;
      if (b.ifFault === undefined) {
        if (a.deleted && a.ifindex === b.ifindex && a.address === b.src) this.queueRelink(b);
      } else if (
        b.ifFault === 'no-address' &&
        !a.deleted &&
        this.deps.net.link(b.ifname)?.ifindex === a.ifindex
      )
        this.queueRelink(b);
    }
  }

  /** The source address of `cfg`'s adverts on `link`: mcast_src_ip / unicast_src_ip, else the interface's. */
  private sourceOf(cfg: VrrpInstanceCfg, family: 4 | 6, link: LinkInfo | undefined): string | undefined {
    if (cfg.mcastSrcIp) return cfg.mcastSrcIp;
    if (!link) return undefined;
    return family === 4 ? this.deps.net.primaryIpv4(link.ifindex) : this.deps.net.linkLocalIpv6(link.ifindex);
  }

  /** The kernel's view of `b`'s interface now (iface-binding.ts). */
  private ifView(b: Bound): IfView {
    const link = this.deps.net.link(b.ifname);
    const view: IfView = { link, src: this.sourceOf(b.cfg, b.family, link) };
    if (b.vmacName && b.ifFault === undefined)
      return { ...view, vmacAlive: this.deps.net.link(b.vipIfindex)?.name === b.vmacName };
    return view;
  }

  /** Queue a look at `b`'s binding after a link or address event (one at a time per instance). */
  private queueRelink(b: Bound): void {
    b.linkOps = b.linkOps
      .then(() => this.relink(b))
      .catch((e) => {
        // relink handles its own failures; anything else must not break the chain (nor the process)
        this.counters.inc('vrrp.interface_bind_errors');
        this.log.error(
          { err: e, instance: b.cfg.name },
          `(${b.cfg.name}) interface change: ${(e as Error).message}`,
        );
      });
  }

  /**
   * Bring `b`'s binding in line with the kernel (planRelink): bind to an interface that appeared or
   * was re-created (new ifindex, VMAC made again), release one that went, and put the instance in or
   * out of FAULT accordingly. Never throws: a failed binding leaves the instance unbound, counted.
   */
  private async relink(b: Bound): Promise<void> {
    if (this.stopping || b.deleting) return;
    const cur: IfBound | undefined =
      b.ifFault === undefined
        ? { ifindex: b.ifindex, src: b.src, vmac: b.vmacName !== undefined }
        : undefined;
    const view = this.ifView(b);
    const plan = planRelink(cur, view, b.ifFault);
    const name = b.cfg.name;
    switch (plan.action) {
      case 'keep':
        return;
      case 'source':
        this.log.info(`(${name}) source address ${b.src} gone from ${b.ifname}; using ${view.src}`);
        this.counters.inc('vrrp.interface_source_changed');
        if (view.src) this.setSource(b, view.src);
        return;
      case 'detach':
      case 'rebind':
        this.counters.inc(plan.action === 'detach' ? 'vrrp.interface_lost' : 'vrrp.interface_rebound');
        await this.detach(b, plan.fault ?? 'missing');
        if (plan.action === 'detach') return;
        break;
      case 'wait':
        b.ifFault = plan.fault;
        this.syncIfFault(b);
        return;
      case 'attach':
        break;
    }
    const link = view.link ? this.deps.net.link(view.link.ifindex) : undefined;
    if (!link || view.src === undefined) return;
    try {
      await this.attach(b, link, view.src);
    } catch (e) {
      this.counters.inc('vrrp.interface_bind_errors');
      this.log.error(
        { err: e, instance: name, code: (e as { code?: string }).code ?? 'KA_ERR_VRRP_BIND' },
        `(${name}) cannot bind to interface ${b.ifname}: ${(e as Error).message}`,
      );
      // whatever the attempt took (VMAC, promote_secondaries, a receive socket) is let go
      await this.detach(b, 'missing', true);
      this.retryBind(b);
      return;
    }
    b.bindRetry.delayUs = BIND_RETRY_FIRST_US;
    this.syncIfFault(b);
  }

  /**
   * A binding failed with its interface there (VMAC or socket refused, the link going as it was
   * bound): look again later, as no event may come. 1 s, doubling to 60 s; reset once bound.
   */
  private retryBind(b: Bound): void {
    if (this.stopping || b.deleting) return;
    b.bindRetry.handle?.cancel();
    const delay = b.bindRetry.delayUs;
    b.bindRetry.delayUs = Math.min(delay * 2, BIND_RETRY_MAX_US);
    b.bindRetry.handle = this.deps.clock.at(this.deps.clock.now() + delay, () => {
      b.bindRetry.handle = undefined;
      this.queueRelink(b);
    });
  }

  private logFault(b: Bound, fault: IfFault | undefined): void {
    if (fault === 'missing')
      this.log.info(`(${b.cfg.name}): entering FAULT state (interface ${b.ifname} down)`);
    else if (fault === 'no-address')
      this.log.info(
        `(${b.cfg.name}) entering FAULT state (no ${b.family === 4 ? 'IPv4' : 'IPv6'} address for interface)`,
      );
  }

  /** The adverts' source changed (bound instance): the machine compares peers with the new one. */
  private setSource(b: Bound, src: string): void {
    if (src === b.src) return;
    b.src = src;
    b.encoded.clear();
    try {
      b.inst.reconfigure({ ...b.inst.config, primaryIp: src }, b.template, b.inst.machine.effectivePriority);
    } catch (e) {
      this.counters.inc('vrrp.instance_errors');
      this.log.error(
        { err: e, instance: b.cfg.name },
        `(${b.cfg.name}) source ${src}: ${(e as Error).message}`,
      );
    }
  }

  /** Bind `b` to `link` with source `src`: VMAC, promote_secondaries, sockets. Throws on failure. */
  private async attach(b: Bound, link: LinkInfo, src: string): Promise<void> {
    const cfg = b.cfg;
    const family = b.family;
    const vmac =
      cfg.useVmac && b.vmacName
        ? await this.vmacs.create({
            name: b.vmacName,
            mac: cfg.useVmac.mac ?? vrrpMac(family, cfg.vrid),
            parent: link,
            family,
            ...(family === 6 ? { linkLocal: src } : {}),
          })
        : undefined;
    if (vmac && this.fw) {
      const e = instanceVmac(cfg, vmac.name, link.name, this.fw.settings);
      if (e) await this.fw.addVmac(e);
    }
    const tx = vmac && !cfg.vmacXmitBase ? vmac : link;
    b.ifindex = link.ifindex;
    b.vipIfindex = (vmac ?? link).ifindex;
    b.rxIfname = (vmac ?? link).name;
    b.rxIfindex = (vmac ?? link).ifindex;
    b.txIfname = tx.name;
    b.txIfindex = tx.ifindex;
    this.setSource(b, src);
    if (cfg.promoteSecondaries) {
      // keepalived sets net.ipv4.conf.<if>.promote_secondaries=1 on the instance's interface (the
      // VMAC with use_vmac) unless already 1, and puts 0 back when its last user stops.
      const on = vmac ?? link;
      await this.vmacs.holdPromoteSecondaries(on);
      b.promoteIf = on.name;
    }
    b.encoded.clear();
    this.attachSockets(b);
    b.ifFault = undefined;
    this.warmSendPath(b);
  }

  /**
   * Release `b`'s binding (its interface went, or is re-created): off its sockets (closing those
   * nobody uses), its AF_PACKET sockets of dead links closed, promote_secondaries let go, the VMAC
   * forgotten (the kernel deleted it with its parent) or deleted; the instance goes to FAULT.
   * `partial`: a binding that failed half-way is released too.
   */
  private async detach(b: Bound, fault: IfFault, partial = false): Promise<void> {
    const wasBound = b.ifFault === undefined;
    b.ifFault = fault;
    this.syncIfFault(b);
    if (!wasBound && !partial) return;
    for (const e of this.rx.values()) leaveRx(e.byVrid, b);
    this.closeUnusedSockets();
    for (const [key, s] of this.arp) {
      if (this.deps.net.link(Math.floor(key / 0x10000))) continue;
      s.close();
      this.arp.delete(key);
    }
    const held = b.promoteIf;
    b.promoteIf = undefined;
    b.ifindex = 0;
    b.vipIfindex = 0;
    b.rxIfindex = 0;
    b.txIfindex = 0;
    b.encoded.clear();
    if (held) await this.vmacs.releasePromoteSecondaries(held);
    if (b.vmacName) await this.vmacs.remove(b.vmacName);
  }

  /** The instance follows its binding: FAULT while unbound; out of it once bound unless tracking holds it. */
  private syncIfFault(b: Bound): void {
    if (b.ifFault !== undefined) {
      if (!b.inst.machine.faulted) b.inst.fault();
      return;
    }
    if (b.inst.machine.faulted && !trackingDown(b)) b.inst.unfault();
  }

  private async notifyConfig(cfg: VrrpInstanceCfg): Promise<InstanceNotifyConfig> {
    const r = this.deps.scripts;
    const n = cfg.notify;
    const c: InstanceNotifyConfig = { name: cfg.name, notifyPriorityChanges: cfg.notifyPriorityChanges };
    const set = async (k: keyof InstanceNotifyConfig, label: string, cmd: typeof n.master) => {
      const d = await r.resolve(`${label}(${cfg.name})`, cmd);
      if (d) (c as unknown as Record<string, unknown>)[k] = d;
    };
    await set('master', 'notify_master', n.master);
    await set('backup', 'notify_backup', n.backup);
    await set('fault', 'notify_fault', n.fault);
    await set('stop', 'notify_stop', n.stop);
    await set('generic', 'notify', n.generic);
    await set('masterRxLowerPri', 'notify_master_rx_lower_pri', n.masterRxLowerPri);
    if (typeof n.deleted === 'object') await set('deleted', 'notify_deleted', n.deleted);
    c.notifyDeleted = n.deleted !== false;
    return c;
  }

  private tracking(cfg: VrrpInstanceCfg, ifname: string): InstanceTracking | undefined {
    const resolved = instanceTrackers(this.config, cfg);
    for (const w of resolved.warnings) this.log.warn(w);
    const refs: TrackerRef[] = [];
    const seen = new Set<string>();
    const add = (r: TrackerRef) => {
      const k = `${r.kind}/${r.name}`;
      if (seen.has(k)) return;
      seen.add(k);
      refs.push(r);
    };
    for (const r of resolved.trackers) add(r);
    if (!cfg.dontTrackPrimary) add({ kind: 'interface', name: ifname, weight: 0, reverse: false });
    if (refs.length === 0) return undefined;
    const b = () => this.bound.find((x) => x.tracking === tracking);
    const tracking = new InstanceTracking({
      instance: cfg.name,
      basePriority: cfg.priority,
      trackers: refs,
      log: this.log,
      onChange: (next, prev) => {
        const inst = b()?.inst;
        if (!inst) return;
        // one tracker (a link, a script) may move hundreds of instances in one callback
        this.pacer.pace();
        const wasDown = prev.fault || prev.initPending;
        const down = next.fault || next.initPending;
        if (next.effectivePriority !== prev.effectivePriority)
          inst.setEffectivePriority(next.effectivePriority);
        if (down && !wasDown) inst.fault();
        // an instance waiting for its interface stays in FAULT (relink takes it out)
        if (!down && wasDown && b()?.ifFault === undefined) inst.unfault();
      },
    });
    tracking.seed(
      refs
        .filter((r) => r.kind === 'interface')
        .map((r) => ({
          kind: 'interface' as const,
          name: r.name,
          state: linkIsUp(this.deps.net.link(r.name)) ? ('up' as const) : ('down' as const),
        })),
    );
    tracking.seed(
      refs
        .filter((r) => r.kind === 'bfd')
        .map((r) => ({
          kind: 'bfd' as const,
          name: r.name,
          state: this.bfdUp.get(r.name) ? ('up' as const) : ('down' as const),
        })),
    );
    return tracking;
  }

  /**
   * A BFD session's state, sent at start, after each reload and on each change: on a change every
   * instance tracking it (track_bfd) recomputes. Unknown sessions count as Down (they start Down);
   * names a reload removed are forgotten.
   */
  setBfdState(name: string, up: boolean): void {
    const configured = new Set(this.config.bfdInstances.map((x) => x.name));
    for (const n of [...this.bfdUp.keys()]) if (!configured.has(n)) this.bfdUp.delete(n);
    if (!configured.has(name) || (this.bfdUp.get(name) ?? false) === up) return;
    this.bfdUp.set(name, up);
    for (const b of this.bound) {
      if (!b.tracking?.tracks('bfd', name)) continue;
      this.log.info(`VRRP_Instance(${b.cfg.name}) Tracked BFD instance ${name} is ${up ? 'UP' : 'DOWN'}`);
      b.tracking.setState('bfd', name, up ? 'up' : 'down');
    }
  }

  /**
   * Runs exactly the vrrp_script / track_file / track_process trackers some instance (or its sync
   * group) uses, with the current definitions (see src/vrrp/track/registry.ts): unused ones stop,
   * changed ones are replaced, new ones start and make their first check at once; every user is
   * seeded with the state of the tracker it tracks.
   */
  private async syncTrackers(): Promise<void> {
    const used = (kind: RunKind, name: string) => this.bound.some((b) => b.tracking?.tracks(kind, name));
    const wanted: Wanted[] = [
      ...this.config.vrrpScripts.map((def) => ({ kind: 'script' as const, name: def.name, def })),
      ...this.config.trackFiles.map((def) => ({ kind: 'file' as const, name: def.name, def })),
      ...this.config.trackProcesses.map((def) => ({ kind: 'process' as const, name: def.name, def })),
    ];
    for (const a of this.trackers.plan(wanted, used)) {
      const label = trackerLabel(a.kind, a.name);
      if (a.action === 'stop') {
        this.trackers.stop(a.kind, a.name, a.old);
        this.log.info(`${label} no longer used - stopped`);
        continue;
      }
      if (a.action === 'keep') {
        this.seedUsers(a.kind, a.name, a.handle.current());
        continue;
      }
      let initGood = false;
      if (a.action === 'replace') {
        initGood = a.old.current()?.state === 'up';
        this.trackers.stop(a.kind, a.name, a.old);
        this.log.info(`${label} changed by reload - restarting it`);
      }
      const h = await this.startTracker(a.want, initGood);
      if (h) this.seedUsers(a.kind, a.name, h.current());
    }
  }

  /** Seed every instance tracking (kind, name) with a tracker's current state (nothing while unknown). */
  private seedUsers(kind: RunKind, name: string, cur: TrackerSeed | undefined): void {
    if (!cur) return;
    for (const b of this.bound) if (b.tracking?.tracks(kind, name)) b.tracking.seed([{ kind, name, ...cur }]);
  }

  /** Start one tracker and record it; resolves after its first file read / process scan. */
  private async startTracker(w: Wanted, initGood: boolean): Promise<TrackerHandle | undefined> {
    const users = (kind: RunKind, name: string) => this.bound.filter((b) => b.tracking?.tracks(kind, name));
    const { clock, log } = this.deps;
    if (w.kind === 'script') {
      const s = w.def;
      const def = await this.deps.scripts.resolve(`VRRP_Script(${s.name})`, s.script);
      if (!def) return undefined;
      if (initGood) this.log.info(`VRRP_Script(${s.name}) considered successful on reload`);
      // Its own runner: stopping the tracker (reload, shutdown) kills the run in flight, as
      // keepalived's script_killall does, without touching notify scripts.
      const runner = new ScriptRunner({ clock, log, counters: this.counters });
      const t = new VrrpScriptTracker(
        {
          name: s.name,
          script: def,
          intervalUs: Math.round(s.interval * 1e6),
          timeoutUs: Math.round(s.timeout * 1e6),
          rise: s.rise,
          fall: s.fall,
          initFail: s.initFail,
          initGood,
        },
        {
          clock,
          exec: runnerExec(runner),
          log,
          onChange: (state) => {
            for (const b of users('script', s.name))
              b.tracking?.setState('script', s.name, state === 'up' ? 'up' : 'down');
          },
        },
      );
      let closing: Promise<void> | undefined;
      const h: TrackerHandle = {
        current: () => (t.state === 'unknown' ? undefined : { state: t.state }),
        stop: () => {
          t.stop();
          closing ??= runner.close('SIGTERM', 2_000_000);
        },
        closed: () => closing ?? Promise.resolve(),
      };
      this.trackers.add('script', s.name, s, h);
      t.start();
      return h;
    }
    if (w.kind === 'file') {
      const f = w.def;
      const t = new TrackFile({
        name: f.name,
        path: f.file,
        ...(f.initFile ? { initFile: f.initFile } : {}),
        clock,
        log,
        counters: this.counters,
        onChange: (v) => {
          for (const b of users('file', f.name)) b.tracking?.setFileValue(f.name, v);
        },
      });
      const h: TrackerHandle = {
        current: () => ({ value: t.value }),
        stop: () => t.stop(),
        closed: () => Promise.resolve(),
      };
      this.trackers.add('file', f.name, f, h);
      try {
        await t.start();
      } catch (e) {
        this.log.warn({ err: e }, `track_file ${f.name}: ${(e as Error).message}`);
      }
      return h;
    }
    const p = w.def;
    const t = new TrackProcess({
      name: p.name,
      match: {
        process: p.process,
        ...(p.args ? { params: p.args } : {}),
        paramMatch: p.paramMatch,
        fullCommand: p.fullCommand,
      },
      quorum: p.quorum,
      ...(p.quorumMax !== undefined ? { quorumMax: p.quorumMax } : {}),
      forkDelayUs: Math.round(p.forkDelay * 1e6),
      terminateDelayUs: Math.round(p.terminateDelay * 1e6),
      // one process table (connector subscription, /proc reads) for every track_process of this host
      table: processTableOf(this.trackers),
      clock,
      log,
      counters: this.counters,
      onChange: (have) => {
        for (const b of users('process', p.name))
          b.tracking?.setState('process', p.name, have ? 'up' : 'down');
      },
    });
    const h: TrackerHandle = {
      current: () => ({ state: t.haveQuorum ? 'up' : 'down' }),
      stop: () => t.stop(),
      closed: () => Promise.resolve(),
    };
    this.trackers.add('process', p.name, p, h);
    await t.start();
    return h;
  }

  /** A coordinator for each vrrp_sync_group of the configuration with a bound member. */
  private async bindSyncGroups(): Promise<SyncGroupCoordinator[]> {
    const made: SyncGroupCoordinator[] = [];
    for (const g of this.config.syncGroups) {
      const members = this.bound.filter((b) => g.members.includes(b.cfg.name)).map((b) => b.inst);
      if (members.length === 0) continue;
      const notify: GroupNotifyConfig = { name: g.name };
      // resolved before any member starts: a group entering FAULT at start (a member's interface
      // missing) notifies at once
      const r = this.deps.scripts;
      const set = async (k: keyof GroupNotifyConfig, label: string, cmd: typeof g.notify.master) => {
        const d = await r.resolve(`${label}(${g.name})`, cmd);
        if (d) (notify as unknown as Record<string, unknown>)[k] = d;
      };
      await set('master', 'notify_master', g.notify.master);
      await set('backup', 'notify_backup', g.notify.backup);
      await set('fault', 'notify_fault', g.notify.fault);
      await set('stop', 'notify_stop', g.notify.stop);
      await set('generic', 'notify', g.notify.generic);
      made.push(
        new SyncGroupCoordinator(g.name, members, {
          log: (m) => this.log.info({ group: g.name }, m),
          notify: (s) => {
            if (s !== 'INIT') this.notifier.group(notify, s);
          },
        }),
      );
    }
    return made;
  }

  /**
   * Reload: keepalived 2.2.7 closes notify_fifo / vrrp_notify_fifo at every reload, whatever changed
   * ("we don't know if it will be the same after a reload": their scripts get SIGTERM, a FIFO it
   * made is removed) and opens those of the new configuration before any instance notifies.
   */
  private async reopenFifos(next: KeepalivedConfig): Promise<void> {
    const old = this.fifos.splice(0);
    this.notifier.setFifos(this.fifos);
    for (const f of old) await f.close();
    await this.openFifos(next);
  }

  private async openFifos(config: KeepalivedConfig = this.config): Promise<void> {
    for (const [spec, type] of [
      [config.global.notifyFifo, ''],
      [config.global.vrrpNotifyFifo, 'vrrp_'],
    ] as const) {
      if (!spec) continue;
      try {
        const script = await this.deps.scripts.resolve(`${type}notify_fifo_script`, spec.script);
        this.fifos.push(
          await NotifyFifo.open({
            path: spec.path,
            type,
            log: this.log,
            counters: this.counters,
            ...(script ? { script } : {}),
          }),
        );
      } catch (e) {
        this.log.error({ err: e }, (e as Error).message);
      }
    }
    this.notifier.setFifos(this.fifos);
  }

  // ---- sockets ----

  /**
   * Put `b` on the receive socket of its interface, protocol and multicast group (leaving any other
   * it was on: a reload may change the group) and make sure its send socket exists.
   */
  private attachSockets(b: Bound): void {
    const k = rxKey(b);
    for (const [key, e] of this.rx) if (key !== k) leaveRx(e.byVrid, b);
    let rx = this.rx.get(k);
    if (!rx) {
      const group = b.unicast ? undefined : b.dsts[0];
      const sock = RawSocket.open({
        family: b.family,
        protocol: b.protocol,
        ifname: b.rxIfname,
        ifindex: b.rxIfindex,
        ...(group ? { bindAddress: group } : {}),
        timestamps: true,
      });
      try {
        if (group) sock.join(group, b.rxIfindex);
      } catch (e) {
        // the interface went meanwhile: a socket kept nowhere would never be closed
        sock.close();
        throw e;
      }
      const entry = { sock, byVrid: new Map<number, Bound[]>() };
      sock.on('message', (m) => this.onPacket(entry.byVrid, b.family, m));
      sock.on('error', (e) => {
        this.counters.inc('vrrp.socket_errors');
        this.log.warn({ err: e }, `VRRP socket error on ${b.ifname}: ${e.message}`);
      });
      this.rx.set(k, entry);
      rx = entry;
    }
    const list = rx.byVrid.get(b.cfg.vrid) ?? [];
    if (!list.includes(b)) list.push(b);
    rx.byVrid.set(b.cfg.vrid, list);
    const tk = txKey(b);
    if (!this.tx.has(tk)) {
      this.tx.set(
        tk,
        RawSocket.open({
          family: b.family,
          protocol: b.protocol,
          ifname: b.txIfname,
          ifindex: b.txIfindex,
          hdrincl: b.family === 4,
          receive: false,
          ttl: b.ttl,
        }),
      );
    }
  }

  private onPacket(byVrid: Map<number, Bound[]>, family: 4 | 6, m: RawMessage): void {
    this.pacer.pace();
    this.counters.inc('vrrp.packets_received');
    const rx: RxPacket =
      family === 4
        ? { family: 4, packet: m.data, ...(m.ifindex !== undefined ? { ifindex: m.ifindex } : {}) }
        : {
            family: 6,
            packet: m.data,
            src: m.src,
            dst: m.dst ?? '',
            hopLimit: m.ttl ?? null,
            ...(m.ifindex !== undefined ? { ifindex: m.ifindex } : {}),
          };
    let vrid: number | undefined;
    try {
      vrid = peekVrid(rx);
    } catch {
      vrid = undefined;
    }
    if (vrid === undefined) {
      // Too short (or not IP) to name a VRID: every instance on this socket counts the rejection.
      const all = [...byVrid.values()].flat();
      const first = all[0];
      const res = first ? validateAdvert(rx, { ...first.validate, inBackup: false, ahSeq: 0 }) : undefined;
      const code = res && !res.ok ? res.code : 'KA_ERR_VRRP_RX_TRUNCATED';
      this.counters.inc(`vrrp.rx.${code}`);
      for (const b of all) b.inst.counters.inc(`vrrp.rx.${code}`);
      return;
    }
    const targets = byVrid.get(vrid);
    if (!targets) {
      this.counters.inc('vrrp.unknown_vrid');
      if (this.config.global.logUnknownVrids)
        this.log.info(`Unknown VRID ${vrid} received on ${m.ifindex ?? '?'} from ${m.src} - ignoring`);
      return;
    }
    const receivedAt = this.receivedAt(m);
    for (const b of targets) {
      const st = b.inst.state;
      if (st === VrrpState.FAULT || st === VrrpState.INIT) continue; // keepalived ignores packets then
      const mach = b.inst.machine;
      const res = validateAdvert(rx, {
        ...b.validate,
        inBackup: st === VrrpState.BACKUP,
        ...(mach.masterAddr ? { masterAddress: mach.masterAddr } : {}),
        ahSeq: b.ahSeq,
      });
      if (res.ahSeq !== undefined) b.ahSeq = res.ahSeq;
      if (!res.ok) {
        b.inst.counters.inc(`vrrp.rx.${res.code}`);
        this.counters.inc(`vrrp.rx.${res.code}`);
        this.log.debug({ instance: b.cfg.name, code: res.code }, `(${b.cfg.name}) ${res.reason}`);
        continue;
      }
      b.inst.receive(res.received, receivedAt);
    }
  }

  /**
   * The kernel's receive time of `m` on our clock (timers restarted by the advert are anchored there).
   * The age is measured on the real monotonic clock (systemClock), which the kernel stamp is on.
   */
  private receivedAt(m: RawMessage): number | undefined {
    if (m.rxMonotonicUs === undefined) return undefined;
    const age = systemClock.now() - m.rxMonotonicUs;
    return this.deps.clock.now() - Math.max(0, age);
  }

  private send(b: Bound, advert: VrrpAdvert): void {
    if (b.ifFault !== undefined) {
      // keepalived: "send advert error 19 (No such device)" (the priority-0 advert of a master
      // whose interface was deleted)
      this.counters.inc('vrrp.send_no_interface');
      return;
    }
    const sock = this.tx.get(txKey(b));
    if (!sock) return;
    try {
      const cached = b.protocol === IPPROTO_AH ? undefined : this.encodedAdverts(b, advert);
      for (const [i, dst] of b.dsts.entries()) {
        if (b.family === 4) {
          b.ipId = nextIpId(b.ipId);
          if (b.protocol === IPPROTO_AH) b.ahSeq = Math.min(b.ahSeq + 1, 0xfffffffd);
          const pkt = cached?.[i] ? stampIpId(cached[i], b.ipId) : this.packet(b, advert, dst);
          sock.send(pkt, dst);
        } else {
          const pkt = cached?.[i] ?? this.packet(b, advert, dst);
          sock.send(pkt, dst, { src: b.src, ifindex: b.txIfindex });
        }
      }
      b.inst.counters.inc('vrrp.advert_sent');
      if (advert.priority === 0) b.inst.counters.inc('vrrp.pri_zero_sent');
      else this.extraIf(b);
    } catch (e) {
      this.counters.inc('vrrp.send_errors');
      this.log.warn(
        { err: e, instance: b.cfg.name },
        isSysError(e, 'ENODEV')
          ? `(${b.cfg.name}): send advert error 19 (No such device)` // keepalived's wording
          : `(${b.cfg.name}) advert send failed: ${(e as Error).message}`,
      );
    }
  }

  /** The adverts at `advert.priority`, one per destination, encoded once (see Bound.encoded). */
  private encodedAdverts(b: Bound, advert: VrrpAdvert): Buffer[] {
    let list = b.encoded.get(advert.priority);
    if (!list) {
      list = b.dsts.map((dst) => this.packet(b, advert, dst));
      b.encoded.set(advert.priority, list);
    }
    return list;
  }

  /** The datagram for `dst`: IPv4 with our IP header (and AH) at the current IP id / AH sequence; IPv6 the VRRP message. */
  private packet(b: Bound, advert: VrrpAdvert, dst: string): Buffer {
    if (b.family === 6) return encodeVrrp(advert, { src: b.src, dst });
    const ah =
      b.protocol === IPPROTO_AH ? { key: b.validate.authData ?? Buffer.alloc(8), seq: b.ahSeq } : undefined;
    return encodeVrrpIpv4Packet({
      advert,
      id: b.ipId,
      src: b.src,
      dst,
      ttl: b.ttl,
      ...(ah ? { ah, unicast: b.unicast } : {}),
    });
  }

  /**
   * Runs the takeover path once without effect (a discarded machine step, the advert encoded but not
   * sent), so that the first advert after becoming MASTER does not wait for V8 to compile that code:
   * in a process that has only been BACKUP this cost ~1 ms between the Master_Down timer and the advert.
   */
  private warmSendPath(b: Bound): void {
    try {
      b.inst.warmUp();
      const sock = this.tx.get(txKey(b));
      const advert = b.inst.buildAdvert(b.inst.machine.effectivePriority);
      if (b.protocol === IPPROTO_AH) for (const dst of b.dsts) this.packet(b, advert, dst);
      else this.encodedAdverts(b, advert);
      for (const dst of b.dsts)
        sock?.prepare(dst, b.family === 6 ? { src: b.src, ifindex: b.txIfindex } : {});
    } catch (e) {
      // Only a cost is at stake: the real send reports its own errors.
      this.log.debug({ err: e, instance: b.cfg.name }, `(${b.cfg.name}) send path warm-up failed`);
    }
  }

  // ---- addresses and announcements ----

  private vipIfindex(b: Bound, v: AddressSpec): number | undefined {
    if (v.dev) return this.deps.net.link(v.dev)?.ifindex;
    return b.ifFault === undefined ? b.vipIfindex : undefined;
  }

  private async setVips(b: Bound, add: boolean): Promise<void> {
    const fw = this.fw;
    // keepalived: the drop rule first ("setting firewall drop rule", then "Setting VIPs."), so a
    // VIP of an instance with accept off is never up unfiltered; removed after the VIPs.
    const drop = add && fw ? instanceVips(b.cfg, b.vmacName ?? b.ifname, fw.settings) : [];
    if (fw && drop.length > 0) await fw.addVips(b.cfg.name, drop);
    if (add) this.log.info(`(${b.cfg.name}) Setting VIPs.`);
    else if (b.inst.machine.vipsSet) this.log.info(`(${b.cfg.name}) removing VIPs.`);
    await Promise.all(b.vips.map((v) => this.setVip(b, v, add)));
    if (!add && fw) await fw.removeVips(b.cfg.name);
  }

  private async setVip(b: Bound, v: AddressSpec, add: boolean): Promise<void> {
    const ifindex = this.vipIfindex(b, v);
    if (ifindex === undefined && !v.dev) {
      // the instance's interface is gone: its addresses went with it
      if (!add) return;
      this.counters.inc('vrrp.vip_errors');
      this.log.error(`(${b.cfg.name}) VIP ${v.address}: interface ${b.ifname} does not exist`);
      return;
    }
    if (ifindex === undefined) {
      this.counters.inc('vrrp.vip_errors');
      this.log.error(`(${b.cfg.name}) VIP ${v.address}: interface ${v.dev} does not exist`);
      return;
    }
    try {
      // the same request as a static address (brd +/-, flags, numeric scopes), as keepalived
      await this.nlRequest(addressMessage(v, ifindex, add));
    } catch (e) {
      if (add && isSysError(e, 'EEXIST')) return;
      if (!add && (isSysError(e, 'EADDRNOTAVAIL') || isSysError(e, 'ENODEV'))) return;
      this.counters.inc('vrrp.vip_errors');
      this.log.error(
        { err: e },
        `(${b.cfg.name}) cannot ${add ? 'add' : 'remove'} VIP ${v.address}: ${(e as Error).message}`,
      );
    }
  }

  /** virtual_routes: installed with the VIPs, removed with them (existing / missing ones are fine). */
  private async setRoutes(b: Bound, add: boolean): Promise<void> {
    for (const r of b.cfg.virtualRoutes) {
      try {
        const m = routeMessages(r, (dev) => this.deps.net.link(dev)?.ifindex);
        await this.nlRequest(add ? m.add : m.del);
      } catch (e) {
        if (add && isSysError(e, 'EEXIST')) continue;
        if (!add && (isSysError(e, 'ESRCH') || isSysError(e, 'ENOENT'))) continue;
        this.counters.inc('vrrp.route_errors');
        this.log.error(
          { err: e, code: 'KA_ERR_VRRP_ROUTE' },
          `(${b.cfg.name}) cannot ${add ? 'add' : 'remove'} route ${r.to}: ${(e as Error).message}`,
        );
      }
    }
  }

  /** virtual_rules, as setRoutes. */
  private async setRules(b: Bound, add: boolean): Promise<void> {
    for (const r of b.cfg.virtualRules) {
      try {
        const m = ruleMessages(r);
        await this.nlRequest(add ? m.add : m.del);
      } catch (e) {
        if (add && isSysError(e, 'EEXIST')) continue;
        if (!add && (isSysError(e, 'ESRCH') || isSysError(e, 'ENOENT'))) continue;
        this.counters.inc('vrrp.rule_errors');
        this.log.error(
          { err: e, code: 'KA_ERR_VRRP_ROUTE' },
          `(${b.cfg.name}) cannot ${add ? 'add' : 'remove'} rule ${r.from ?? r.to ?? ''}: ${(e as Error).message}`,
        );
      }
    }
  }

  /** keepalived removes configured VIPs it finds at start ("removing VIPs"), so a crash leaves no duplicate. */
  private async removeStaleVips(b: Bound): Promise<void> {
    const stale = b.vips.filter((v) => {
      const ifindex = this.vipIfindex(b, v);
      return ifindex !== undefined && this.deps.net.hasAddress(ifindex, v.address);
    });
    if (stale.length === 0) return;
    this.log.info(`(${b.cfg.name}) removing VIPs.`);
    await Promise.all(stale.map((v) => this.setVip(b, v, false)));
  }

  private packetSocket(ifindex: number, protocol: number): PacketSocket {
    const key = ifindex * 0x10000 + protocol;
    let s = this.arp.get(key);
    if (!s) {
      s = PacketSocket.open({ protocol, ifindex });
      this.arp.set(key, s);
    }
    return s;
  }

  /**
   * GARP / unsolicited NA for every VIP and eVIP, `rounds` times, each through the pacer: with
   * vrrp_garp_interval / vrrp_gna_interval / garp_group the frames on one interface (or group) are
   * spaced by the interval and repeats of a queued address collapse into one, as in keepalived.
   */
  private announce(b: Bound, rounds: number): void {
    this.pacer.pace();
    const items: AnnounceItem[] = [];
    const at = this.bound.indexOf(b);
    for (const [i, v] of b.vips.entries()) {
      const item = this.announceItem(b, v, at, i);
      if (item) items.push(item);
    }
    for (let r = 0; r < rounds; r++) for (const item of items) this.requestAnnounce(b, item);
  }

  /** The frame announcing `v` and where it leaves (undefined: no interface, no MAC, or NOARP). */
  private announceItem(b: Bound, v: AddressSpec, at: number, index: number): AnnounceItem | undefined {
    const ifindex = this.vipIfindex(b, v);
    const link = ifindex === undefined ? undefined : this.deps.net.link(ifindex);
    if (!link?.mac || link.flags & IFF_NOARP) return undefined;
    const kind: AnnounceKind = v.family === 'inet' ? 'arp' : 'na';
    const frame =
      kind === 'arp'
        ? gratuitousArpFrame(link.mac, v.address)
        : unsolicitedNaFrame({ mac: link.mac, vip: v.address, router: forwarding6(link.name) });
    // a VMAC shares its parent's budget (keepalived paces on the base interface)
    const base =
      link.name === b.vmacName
        ? b.ifname
        : link.name === b.ifname
          ? b.ifname
          : (this.bound.find((x) => x.vmacName === link.name)?.ifname ?? link.name);
    // configuration order: instance, then its VIPs and eVIPs
    const rank = Math.max(0, at) * 0x10000 + index;
    return { v, rank, ifindex: link.ifindex, ifname: link.name, domain: this.paceDomain(base), kind, frame };
  }

  private requestAnnounce(b: Bound, item: AnnounceItem): void {
    const protocol = item.kind === 'arp' ? ETH_P_ARP : ETH_P_IPV6;
    if ((item.kind === 'arp' ? item.domain.garpUs : item.domain.gnaUs) <= 0) {
      // not paced (the default): straight out, as a burst
      this.sendAnnounce(b, item, protocol);
      return;
    }
    const how = this.garpPacer.request({
      owner: b.cfg.name,
      id: `${item.ifindex}/${item.v.address}`,
      rank: item.rank,
      domain: item.domain,
      kind: item.kind,
      wanted: () =>
        this.bound.includes(b) &&
        b.inst.state === VrrpState.MASTER &&
        b.inst.machine.vipsSet &&
        b.vips.includes(item.v),
      send: () => this.sendAnnounce(b, item, protocol),
    });
    if (how !== 'sent') b.inst.counters.inc('vrrp.garp_queued');
  }

  private sendAnnounce(b: Bound, item: AnnounceItem, protocol: number): void {
    try {
      this.packetSocket(item.ifindex, protocol).send(item.frame);
      b.inst.counters.inc('vrrp.garp_sent');
    } catch (e) {
      this.counters.inc('vrrp.garp_errors');
      this.log.warn({ err: e }, `(${b.cfg.name}) gratuitous ARP/NA send failed: ${(e as Error).message}`);
    }
  }

  /**
   * garp_extra_if [all] S (keepalived vrrp_send_vmac_update): while MASTER with VIPs set, at the
   * first advert after each S seconds, one GARP/NA per other interface carrying a VIP or eVIP: the
   * VMACs made here, or every interface with `all`; the instance's own interface only with
   * vmac_xmit_base (its adverts leave elsewhere then).
   */
  private extraIf(b: Bound): void {
    const x = b.cfg.garpExtraIf;
    // undefined: the advert entering MASTER (its state listener runs after it), or not MASTER
    if (!x || x.interval <= 0 || b.extraIfFrom === undefined) return;
    if (b.inst.state !== VrrpState.MASTER || !b.inst.machine.vipsSet) return;
    const at = advertStepAt(b.inst);
    if (at < b.extraIfFrom + x.interval * 1_000_000) return;
    b.extraIfFrom = at;
    const ours = new Set(this.bound.map((o) => o.vmacName).filter((n) => n !== undefined));
    const done = new Set<number>();
    const pos = this.bound.indexOf(b);
    for (const [i, v] of b.vips.entries()) {
      const item = this.announceItem(b, v, pos, i);
      if (!item || done.has(item.ifindex)) continue;
      if (!ours.has(item.ifname) && !x.all) continue;
      if (item.ifindex === b.vipIfindex && !b.cfg.vmacXmitBase) continue;
      done.add(item.ifindex);
      this.counters.inc('vrrp.garp_extra_if');
      this.requestAnnounce(b, item);
    }
  }
}

/** Unbound, or a tracker (a tracked interface down) says FAULT: the instance starts in FAULT. */
function startsFaulted(b: Bound): boolean {
  return b.ifFault !== undefined || b.tracking?.result.fault === true;
}

/** The instance's tracking holds it in FAULT (a tracker down with weight 0, or a script not run yet). */
function trackingDown(b: Bound): boolean {
  const t = b.tracking?.result;
  return t !== undefined && (t.fault || t.initPending);
}

/**
 * When the step that sent the current advert ran: a MASTER's next advert is due one interval after
 * it (keepalived's time_now in vrrp_state_master_tx, free of how late the send itself ran).
 */
function advertStepAt(inst: VrrpInstance): number {
  const m = inst.machine;
  return (m.timers.advert ?? 0) - m.config.advertIntervalUs;
}

/** One VIP's announcement: the frame and the interface it leaves on. */
interface AnnounceItem {
  readonly v: AddressSpec;
  /** Pacing order: the instance's position, then the address's among its VIPs + eVIPs. */
  readonly rank: number;
  readonly ifindex: number;
  readonly ifname: string;
  /** The pacing budget it uses (its interface's, a VMAC's parent's, or its garp_group's). */
  readonly domain: PaceDomain;
  readonly kind: AnnounceKind;
  readonly frame: Buffer;
}

/** R flag of unsolicited NAs: set only when the interface forwards IPv6 (keepalived). */
function forwarding6(ifname: string): boolean {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
