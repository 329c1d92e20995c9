/**
 * A simulated LAN (STYLE.md habit 6): hosts running VrrpInstances on one FakeClock, exchanging adverts
 * through a medium that can drop, delay, partition and corrupt. The fakes are honest implementations
 * of the runtime interfaces: addresses really come and go per host, GARPs and notifies are recorded
 * with their time, a crashed host stops mid-air.
 *
 * Corruption: with a `wire` (SimWire) the frame is encoded, one random bit is flipped and every receiving
 * instance decodes and validates it, counting the typed rejection. Without one the frame is counted as
 * rejected under `checksum`: a single flipped bit always breaks the VRRP checksum (RFC 1071 sum).
 */
import { FakeClock, type Micros } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ReceivedAdvert, VrrpAdvert } from '../wire/vrrp.js';
import { VrrpInstance } from './instance.js';
import { machineConfig } from './machine.js';
import { SyncGroupCoordinator } from './sync-group.js';
import type { GarpConfig, MachineConfig, NotifyState, StateName, VrrpAction } from './types.js';

/**
 * Optional real wire path: the sender's frame is encoded, corrupted frames get one bit flipped at or
 * after `corruptFrom` (bytes the kernel checks itself, like the IPv4 header, are left alone), and each
 * receiving instance decodes and validates the frame (validate.ts in the daemon).
 */
export interface SimWire {
  encode(advert: VrrpAdvert, src: string, dst: string): Buffer;
  corruptFrom?: number;
  /** `drop: 'DROP'` is "not for this instance" (other VRID) and is not counted as a rejection. */
  accept(
    frame: Buffer,
    inst: VrrpInstance,
    meta: { src: string; dst: string },
  ): { ok: true; rx: ReceivedAdvert } | { ok: false; code: string; drop?: 'KO' | 'DROP' };
}

export interface Impairment {
  /** Probability 0..1 that a frame is lost (per receiver). */
  lossRate?: number;
  /** Probability 0..1 that a frame is corrupted (per receiver). */
  corruptRate?: number;
  /** Fixed one-way delay, µs. */
  delayUs?: Micros;
  /** Extra uniformly random delay 0..jitterUs, µs. */
  jitterUs?: Micros;
}

export interface SimLanOptions extends Impairment {
  clock?: FakeClock;
  /** Seed of the medium's PRNG (xorshift32); the same seed replays the same losses. */
  seed?: number;
  wire?: SimWire;
  logger?: Logger;
}

export interface TimelineEntry {
  t: Micros;
  host: string;
  instance: string;
  action: VrrpAction;
}

export interface SimStats {
  sent: number;
  delivered: number;
  lost: number;
  corrupted: number;
  /** Frames refused at the receiver, by reason / error code. */
  rejected: Record<string, number>;
}

type InstanceOptions = Pick<MachineConfig, 'name' | 'vrid'> &
  Partial<Omit<MachineConfig, 'garp'>> & { garp?: Partial<GarpConfig>; vips?: string[] };

export class SimLan {
  readonly clock: FakeClock;
  readonly hosts = new Map<string, SimHost>();
  readonly timeline: TimelineEntry[] = [];
  readonly stats: SimStats = { sent: 0, delivered: 0, lost: 0, corrupted: 0, rejected: {} };
  /** Every frame the medium lost: when, from which host to which host, for which VRID. */
  readonly losses: { t: Micros; from: string; to: string; vrid: number }[] = [];
  /** Every frame the medium corrupted. */
  readonly corruptions: { t: Micros; from: string; to: string; vrid: number }[] = [];
  private impairment: Required<Impairment>;
  private rng: number;
  private readonly blocked = new Set<string>();
  private readonly dropBudget = new Map<string, number>();

  constructor(private readonly opts: SimLanOptions = {}) {
    this.clock = opts.clock ?? new FakeClock(0);
    this.rng = (opts.seed ?? 0x2545f491) >>> 0 || 1;
    this.impairment = { lossRate: 0, corruptRate: 0, delayUs: 0, jitterUs: 0 };
    this.impair(opts);
  }

  get logger(): Logger | undefined {
    return this.opts.logger;
  }

  addHost(name: string, addrs: { ip4?: string; ip6?: string }): SimHost {
    const h = new SimHost(this, name, addrs);
    this.hosts.set(name, h);
    return h;
  }

  host(name: string): SimHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  impair(i: Impairment): void {
    this.impairment = {
      ...this.impairment,
      ...Object.fromEntries(Object.entries(i).filter(([, v]) => v !== undefined)),
    };
  }

  /** Hosts in `a` and hosts in `b` no longer hear each other. */
  partition(a: string[], b: string[]): void {
    for (const x of a) for (const y of b) this.blocked.add(`${x}>${y}`).add(`${y}>${x}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** Lose the next `n` adverts sent by `host` (on every receiver). */
  dropNext(host: string, n: number): void {
    this.dropBudget.set(host, (this.dropBudget.get(host) ?? 0) + n);
  }

  /** Entries of the timeline, optionally of one action type. */
  actions(type?: VrrpAction['type']): TimelineEntry[] {
    return type ? this.timeline.filter((e) => e.action.type === type) : this.timeline;
  }

  run(us: Micros): void {
    this.clock.advance(us);
  }

  /** Run until absolute time `t` (µs). */
  runUntil(t: Micros): void {
    this.clock.advanceTo(t);
  }

  private random(): number {
    // xorshift32: deterministic and seedable, which Math.random is not.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 0x1_0000_0000;
  }

  /** Called by a host's transport. */
  transmit(from: SimHost, advert: VrrpAdvert): void {
    this.stats.sent++;
    const budget = this.dropBudget.get(from.name) ?? 0;
    if (budget > 0) this.dropBudget.set(from.name, budget - 1);
    const src = advert.family === 6 ? from.ip6 : from.ip4;
    const dst = advert.family === 6 ? 'ff02::12' : '224.0.0.18';
    if (src === undefined) return;
    const frozen: VrrpAdvert = {
      ...advert,
      addresses: [...advert.addresses],
      authData: Buffer.from(advert.authData),
    };
    for (const to of this.hosts.values()) {
      if (to === from || this.blocked.has(`${from.name}>${to.name}`)) continue;
      if (budget > 0 || this.random() < this.impairment.lossRate) {
        this.stats.lost++;
        this.losses.push({ t: this.clock.now(), from: from.name, to: to.name, vrid: advert.vrid });
        continue;
      }
      const corrupt = this.random() < this.impairment.corruptRate;
      if (corrupt)
        this.corruptions.push({ t: this.clock.now(), from: from.name, to: to.name, vrid: advert.vrid });
      const delay = this.impairment.delayUs + Math.floor(this.random() * this.impairment.jitterUs);
      this.clock.at(this.clock.now() + delay, () => this.deliver(to, frozen, src, dst, corrupt));
    }
  }

  private deliver(to: SimHost, sent: VrrpAdvert, src: string, dst: string, corrupt: boolean): void {
    if (corrupt) this.stats.corrupted++;
    const wire = this.opts.wire;
    if (!wire) {
      if (corrupt) this.reject('checksum');
      else to.receive({ advert: sent, src, dst, ttl: 255, ifindex: 2 });
      return;
    }
    const frame = wire.encode(sent, src, dst);
    if (corrupt) {
      const from = Math.min(wire.corruptFrom ?? 0, frame.length - 1);
      const bit = from * 8 + Math.floor(this.random() * (frame.length - from) * 8);
      frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
    }
    to.receiveFrame(frame, wire, { src, dst });
  }

  reject(reason: string): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
  }

  delivered(): void {
    this.stats.delivered++;
  }
}

export interface SimNotify {
  t: Micros;
  instance: string;
  state: NotifyState | 'MASTER_RX_LOWER_PRI';
  priority: number;
}

export interface SimGarp {
  t: Micros;
  instance: string;
  rounds: number;
  addresses: string[];
}

export interface SimGroupNotify {
  t: Micros;
  group: string;
  state: StateName | 'STOP';
}

/** One machine on the LAN: its instances, its addresses, what it announced and notified. */
export class SimHost {
  readonly instances = new Map<string, VrrpInstance>();
  /** Addresses currently configured on this host by VRRP (instance -> VIPs). */
  readonly installed = new Map<string, string[]>();
  readonly garps: SimGarp[] = [];
  readonly notifies: SimNotify[] = [];
  readonly groupNotifies: SimGroupNotify[] = [];
  readonly groups = new Map<string, SyncGroupCoordinator>();
  private crashed = false;
  private readonly specs = new Map<string, InstanceOptions>();
  private readonly groupSpecs = new Map<string, string[]>();

  constructor(
    readonly lan: SimLan,
    readonly name: string,
    private readonly addrs: { ip4?: string; ip6?: string },
  ) {}

  get ip4(): string | undefined {
    return this.addrs.ip4;
  }

  get ip6(): string | undefined {
    return this.addrs.ip6;
  }

  get isCrashed(): boolean {
    return this.crashed;
  }

  addInstance(o: InstanceOptions): VrrpInstance {
    const family = o.family ?? (o.vips?.[0]?.includes(':') ? 6 : 4);
    const primaryIp = o.primaryIp ?? (family === 6 ? this.ip6 : this.ip4);
    if (!primaryIp) throw new Error(`host ${this.name} has no IPv${family} address`);
    this.specs.set(o.name, o);
    const { vips = [], ...rest } = o;
    const config = machineConfig({ ...rest, family, primaryIp });
    const clock = this.lan.clock;
    const name = o.name;
    const inst = new VrrpInstance(
      config,
      { addresses: vips },
      {
        clock,
        logger: this.lan.logger,
        transport: { send: (advert) => this.lan.transmit(this, advert) },
        addresses: {
          addVips: () => void this.installed.set(name, [...vips]),
          removeVips: () => void this.installed.delete(name),
        },
        announcer: {
          announce: (rounds) => {
            this.garps.push({
              t: clock.now(),
              instance: name,
              rounds,
              addresses: [...(this.installed.get(name) ?? [])],
            });
          },
        },
        notifier: {
          notify: (state, priority) =>
            void this.notifies.push({ t: clock.now(), instance: name, state, priority }),
          masterRxLowerPri: (priority) =>
            void this.notifies.push({
              t: clock.now(),
              instance: name,
              state: 'MASTER_RX_LOWER_PRI',
              priority,
            }),
        },
        onAction: (action, t) => this.lan.timeline.push({ t, host: this.name, instance: name, action }),
      },
    );
    this.instances.set(name, inst);
    return inst;
  }

  instance(name: string): VrrpInstance {
    const i = this.instances.get(name);
    if (!i) throw new Error(`no instance ${name} on ${this.name}`);
    return i;
  }

  addSyncGroup(group: string, members: string[]): SyncGroupCoordinator {
    this.groupSpecs.set(group, members);
    const clock = this.lan.clock;
    const g = new SyncGroupCoordinator(
      group,
      members.map((m) => this.instance(m)),
      {
        log: (message) => this.lan.logger?.info({ group }, message),
        notify: (state) => void this.groupNotifies.push({ t: clock.now(), group, state }),
      },
    );
    this.groups.set(group, g);
    return g;
  }

  start(): void {
    this.crashed = false;
    for (const i of this.instances.values()) i.start();
  }

  /** SIGTERM: orderly shutdown of every instance. */
  stop(): void {
    for (const i of this.instances.values()) i.stop();
  }

  /** A new process after a crash or stop: fresh instances and groups from the same configuration. */
  restart(): void {
    for (const i of this.instances.values()) i.kill();
    this.instances.clear();
    this.groups.clear();
    for (const spec of [...this.specs.values()]) this.addInstance(spec);
    for (const [g, members] of [...this.groupSpecs]) this.addSyncGroup(g, members);
    this.start();
  }

  /** Power cut: no priority 0, no cleanup, nothing more sent or received. */
  crash(): void {
    this.crashed = true;
    for (const i of this.instances.values()) i.kill();
  }

  /** The real receive path (SimWire): every instance decodes and validates the frame itself. */
  receiveFrame(frame: Buffer, wire: SimWire, meta: { src: string; dst: string }): void {
    if (this.crashed) return;
    for (const inst of this.instances.values()) {
      const r = wire.accept(Buffer.from(frame), inst, meta);
      if (r.ok) {
        this.lan.delivered();
        inst.receive(r.rx);
      } else if (r.drop !== 'DROP') this.lan.reject(r.code);
    }
  }

  receive(rx: ReceivedAdvert): void {
    if (this.crashed) return;
    for (const inst of this.instances.values()) {
      const c = inst.config;
      // The demultiplexing and checks validate.ts does for real, reduced to what the sim can get wrong.
      if (c.family !== rx.advert.family || c.vrid !== rx.advert.vrid) continue;
      if (c.version !== rx.advert.version) {
        this.lan.reject('version');
        continue;
      }
      if (c.version === 2 && rx.advert.advertInterval * 1_000_000 !== c.advertIntervalUs) {
        this.lan.reject('interval');
        continue;
      }
      this.lan.delivered();
      inst.receive(rx);
    }
  }
}
