/**
 * keepalived's notify semantics for VRRP instances and sync groups (keepalived-surface.md §4.2,
 * §4.5; order read from keepalived's vrrp_notify.c): for each transition, the state-specific
 * script (configured words only), then the generic `notify` script (configured words +
 * `INSTANCE|GROUP NAME STATE PRIORITY`, priority 0 for groups), then the FIFO line. Scripts are
 * fired, never awaited: they are spawned on the next event-loop turn in that order (the FIFO line
 * is deferred the same way so it follows them) and may finish in any order, as in keepalived. STOP scripts are killed (SIGKILL to the group) after 1 s, as at keepalived shutdown.
 *
 * SMTP alerts come last (after the FIFO line, one more turn later), when `configureSmtp` was given
 * the configuration (smtp-alert.ts). DBus and SNMP, between the FIFO and SMTP in keepalived, are not
 * implemented.
 */
import type { KeepalivedConfig } from '../config/model.js';
import type { Counters } from '../core/counters.js';
import { type Logger, silentLogger } from '../core/log.js';
import { fifoLine, type NotifyFifo } from './fifo.js';
import type { ScriptDef, ScriptRunner } from './script.js';
import { type AlertEvent, SmtpAlerter, type SmtpAlerterOptions } from './smtp-alert.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

export interface InstanceNotifyConfig {
  name: string;
  master?: ScriptDef;
  backup?: ScriptDef;
  fault?: ScriptDef;
  stop?: ScriptDef;
  deleted?: ScriptDef;
  /** `notify_deleted`: a removed instance reports DELETED (else FAULT). */
  notifyDeleted?: boolean;
  /** Generic `notify`. */
  generic?: ScriptDef;
  masterRxLowerPri?: ScriptDef;
  /** `notify_priority_changes`: MASTER_PRIORITY / BACKUP_PRIORITY FIFO lines. */
  notifyPriorityChanges?: boolean;
}

export interface GroupNotifyConfig {
  name: string;
  master?: ScriptDef;
  backup?: ScriptDef;
  fault?: ScriptDef;
  stop?: ScriptDef;
  generic?: ScriptDef;
}

export interface NotifierOptions {
  runner: ScriptRunner;
  /** Open FIFOs that receive VRRP lines (`notify_fifo` and `vrrp_notify_fifo`). */
  fifos?: readonly NotifyFifo[];
  log?: Logger;
  counters?: Counters;
  /** The SMTP alert sender; default: one made by the first `configureSmtp`. */
  smtp?: SmtpAlerter;
  /** Options of the sender `configureSmtp` makes (tests: a fake transport). */
  smtpOptions?: Omit<SmtpAlerterOptions, 'log' | 'counters'>;
}

const STOP_TIMEOUT_US = 1_000_000;

export class Notifier {
  private readonly runner: ScriptRunner;
  private fifos: readonly NotifyFifo[];
  private readonly log: Logger;
  private readonly counters: Counters | undefined;
  private smtpAlerter: SmtpAlerter | undefined;
  private readonly smtpOptions: NotifierOptions['smtpOptions'];
  /** keepalived's per-instance `notifies_sent`. */
  private readonly sent = new Set<string>();

  constructor(opts: NotifierOptions) {
    this.runner = opts.runner;
    this.fifos = opts.fifos ?? [];
    this.log = opts.log ?? silentLogger;
    this.counters = opts.counters;
    this.smtpAlerter = opts.smtp;
    this.smtpOptions = opts.smtpOptions;
  }

  /** The SMTP alert sender, once configured. */
  get smtp(): SmtpAlerter | undefined {
    return this.smtpAlerter;
  }

  /**
   * Give the SMTP sender the configuration (at start and on each reload): relay, recipients,
   * router_id and every instance's / group's smtp_alert. Nothing is mailed before the first call.
   */
  configureSmtp(config: Pick<KeepalivedConfig, 'global' | 'vrrpInstances' | 'syncGroups'>): void {
    this.smtpAlerter ??= new SmtpAlerter({
      ...this.smtpOptions,
      log: this.log,
      ...(this.counters ? { counters: this.counters } : {}),
    });
    this.smtpAlerter.configure(config);
  }

  /**
   * Stop: alerts of transitions already notified (queued two turns later) get up to `timeoutMs` to
   * go out (the STOP mails), then the sender closes; what is left is dropped and counted.
   */
  async closeSmtp(timeoutMs = 0): Promise<void> {
    if (!this.smtpAlerter) return;
    for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r));
    await this.smtpAlerter.close(timeoutMs);
  }

  /**
   * Queue an alert after this turn's scripts and FIFO lines (two turns later). Instance and group
   * alerts are decided when notified; LVS callers decide themselves (realServerAlerts /
   * virtualServerAlerts).
   */
  mail(ev: AlertEvent): void {
    const a = this.smtpAlerter;
    if (!a?.enabled) return;
    setImmediate(() => setImmediate(() => a.send(ev)));
  }

  setFifos(fifos: readonly NotifyFifo[]): void {
    this.fifos = fifos;
  }

  /**
   * An instance entered `state` with effective `priority`. `syncGroupState`: the state of its sync
   * group, if any; when the instance merely follows its group into the same state after its first
   * notification, keepalived sends nothing (vrrp_notify.c send_instance_notifies).
   */
  instance(
    inst: InstanceNotifyConfig,
    state: NotifyState,
    priority: number,
    syncGroupState?: NotifyState,
  ): void {
    const reported: NotifyState = state === 'DELETED' && !inst.notifyDeleted ? 'FAULT' : state;
    if (this.sent.has(inst.name) && syncGroupState !== undefined && syncGroupState === reported) return;
    this.sent.add(inst.name);
    const specific = this.pick(inst, reported);
    const stopping = reported === 'STOP';
    if (specific) this.runner.fire(stopping ? stopDef(specific) : specific);
    if (inst.generic) {
      this.runner.fire(stopping ? stopDef(inst.generic) : inst.generic, [
        'INSTANCE',
        inst.name,
        reported,
        String(priority),
      ]);
    }
    this.writeFifos(fifoLine('INSTANCE', inst.name, reported, priority));
    const ev = this.smtpAlerter?.instanceEvent(inst.name, reported);
    if (ev) this.mail(ev);
  }

  /** A sync group entered `state`. */
  group(group: GroupNotifyConfig, state: Exclude<NotifyState, 'DELETED'>): void {
    const specific = this.pick(group, state);
    if (specific) this.runner.fire(specific);
    if (group.generic) this.runner.fire(group.generic, ['GROUP', group.name, state, '0']);
    this.writeFifos(fifoLine('GROUP', group.name, state, 0));
    const ev = this.smtpAlerter?.groupEvent(group.name, state);
    if (ev) this.mail(ev);
  }

  /** MASTER received a lower-priority advert (`notify_master_rx_lower_pri`). */
  masterRxLowerPri(inst: InstanceNotifyConfig, priority: number): void {
    if (inst.masterRxLowerPri) this.runner.fire(inst.masterRxLowerPri);
    this.writeFifos(fifoLine('INSTANCE', inst.name, 'MASTER_RX_LOWER_PRI', priority));
  }

  /** Effective priority changed (FIFO only, with `notify_priority_changes`). */
  priorityChange(inst: InstanceNotifyConfig, inMaster: boolean, priority: number): void {
    if (!inst.notifyPriorityChanges) return;
    this.writeFifos(
      fifoLine('INSTANCE', inst.name, inMaster ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority),
    );
  }

  /** Forget that an instance has notified (reload: a new instance starts afresh). */
  forget(name: string): void {
    this.sent.delete(name);
    this.smtpAlerter?.forget(name);
  }

  /**
   * LVS side: `notify_up` / `notify_down` of a real server (configured words only) and the
   * checker FIFO line (`RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 UP`, formatted by the caller).
   */
  realServer(
    script: ScriptDef | undefined,
    line: string | undefined,
    fifos: readonly NotifyFifo[] = this.fifos,
  ): void {
    if (script) this.runner.fire(script);
    if (line !== undefined) this.writeFifos(line, fifos);
  }

  private pick(c: InstanceNotifyConfig | GroupNotifyConfig, s: NotifyState): ScriptDef | undefined {
    switch (s) {
      case 'MASTER':
        return c.master;
      case 'BACKUP':
        return c.backup;
      case 'FAULT':
        return c.fault;
      case 'STOP':
        return c.stop;
      case 'DELETED':
        return 'deleted' in c ? c.deleted : undefined;
    }
  }

  /** Deferred one event-loop turn, like the script spawns, so lines follow the scripts' launch. */
  private writeFifos(line: string, fifos: readonly NotifyFifo[] = this.fifos): void {
    setImmediate(() => {
      for (const f of fifos) {
        if (!f.write(line)) this.log.debug({ path: f.path, line }, 'notify fifo line dropped');
      }
    });
  }
}

function stopDef(d: ScriptDef): ScriptDef {
  return { ...d, timeoutUs: STOP_TIMEOUT_US, timeoutSignal: 'SIGKILL' };
}
