/**
 * keepalived's BFD child, in the daemon's process: runs the `bfd_instance` sessions (src/bfd/host.ts)
 * unless `-B/--no_bfd`, and feeds each session's Up/Down to the VRRP instances' `track_bfd`
 * trackers (instances with `checker` only are not fed: BFD_CHECK is not implemented).
 */
import { BfdHost } from '../bfd/host.js';
import { UdpBfdTransport } from '../bfd/udp.js';
import type { KeepalivedConfig } from '../config/model.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import type { Logger } from '../core/log.js';

/** Where session changes go: VrrpHost.setBfdState (track_bfd), LvsHost.setBfdState (BFD_CHECK). */
export interface BfdSink {
  setBfdState(name: string, up: boolean): void;
}

export interface DaemonBfdDeps {
  readonly clock: Clock;
  readonly log: Logger;
  readonly counters: Counters;
}

export class DaemonBfd {
  private host: BfdHost | undefined;
  /** The -B message is logged once, not on every reload. */
  private toldDisabled = false;

  constructor(
    private readonly deps: DaemonBfdDeps,
    private readonly disabled: boolean,
    private readonly sink: BfdSink | undefined,
    /** BFD_CHECK's side: every instance except those keepalived delivers to VRRP only. */
    private readonly checkerSink?: BfdSink,
  ) {}

  /** Start (first call) or reconfigure (reload) for `config`'s bfd_instances. */
  apply(config: KeepalivedConfig): void {
    if (this.disabled) {
      if (config.bfdInstances.length > 0 && !this.toldDisabled) {
        this.toldDisabled = true;
        this.deps.log.info('BFD disabled (-B): bfd_instances not run');
      }
      return;
    }
    if (this.host) {
      this.host.reconfigure(config.bfdInstances);
      return;
    }
    if (config.bfdInstances.length === 0) return;
    const host = new BfdHost({
      ...this.deps,
      instances: config.bfdInstances,
      transport: new UdpBfdTransport(),
    });
    host.onChange((inst, up) => {
      // keepalived's bfd_instance `vrrp` / `checker`: delivered to that process only
      if (inst.deliverTo !== 'checker') this.sink?.setBfdState(inst.name, up);
      if (inst.deliverTo !== 'vrrp') this.checkerSink?.setBfdState(inst.name, up);
    });
    host.start();
    this.deps.log.info('Starting BFD');
    this.host = host;
  }

  stop(): void {
    this.host?.stop();
    this.host = undefined;
  }
}
