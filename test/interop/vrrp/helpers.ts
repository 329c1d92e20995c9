/**
 * Shared pieces of the VRRP interop tests: keepalived.conf text for one node, starting either
 * implementation on a lab node, and reading notify recordings back.
 */
import type { DaemonHandle, LabNode } from '../../lab/node.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import type { NotifyRecorder } from '../../lab/observe.js';

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

/** Logs of a daemon for a failure message (last `n` characters). */
export const tail = (d: DaemonHandle, n = 3000): string => d.proc.output().slice(-n);
