/**
 * PING_CHECK: one ICMP echo. Node has no raw or ICMP datagram sockets: with the privilege to open one,
 * the addon's raw ICMP socket is used (icmp.ts). Otherwise (no CAP_NET_RAW, addon not built; icmp.ts
 * remembers such a refusal per family and stops trying), Debian's `ping` (iputils-ping) runs as a child
 * process through execa — unprivileged ICMP sockets depend on net.ipv4.ping_group_range, which ping
 * handles — one echo with connect_timeout as its deadline, so the daemon's thread never blocks.
 */
import net from 'node:net';
import { execa } from 'execa';
import { KaError } from '../core/errors.js';
import { checkConnOpts, fail, target } from './common.js';
import { runRaw } from './icmp.js';
import type { CheckResult, PingCheckSpec } from './types.js';

export function pingArgs(spec: PingCheckSpec): string[] {
  const secs = Math.max(1, Math.ceil(spec.connectTimeout));
  const a = [
    net.isIPv6(spec.connectIp) ? '-6' : '-4',
    '-n',
    '-q',
    '-c',
    '1',
    '-W',
    String(secs),
    '-w',
    String(secs),
  ];
  if (spec.bindto !== undefined) a.push('-I', spec.bindto);
  else if (spec.bindIf !== undefined) a.push('-I', spec.bindIf);
  if (spec.fwmark !== undefined) a.push('-m', String(spec.fwmark));
  a.push(spec.connectIp);
  return a;
}

export async function run(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = checkConnOpts({ ...spec, connectPort: spec.connectPort || 1 });
  if (bad) return fail(bad);
  // with `fwmark` the raw socket carries SO_MARK (icmp.ts); the fallback passes it as `ping -m`
  const raw = await runRaw(spec, signal);
  if (raw) return raw;
  return runPingCommand(spec, signal);
}

/** The ping(8) path. */
export async function runPingCommand(spec: PingCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const details = { target: target(spec) };
  try {
    const r = await execa('ping', pingArgs(spec), {
      reject: false,
      stdio: 'ignore',
      cancelSignal: signal,
      timeout: Math.round(spec.connectTimeout * 1000) + 1000,
    });
    if (r.isCanceled) return fail(new KaError('KA_ERR_CHECK_ABORTED', 'PING: cancelled', details));
    if (r.timedOut) return fail(new KaError('KA_ERR_CHECK_TIMEOUT', 'PING: timed out', details));
    if (r.exitCode === 0) return { ok: true };
    if (r.exitCode === 1) return fail(new KaError('KA_ERR_CHECK_PING', 'PING: no echo reply', details));
    return fail(new KaError('KA_ERR_CHECK_SPAWN', `PING: ping failed (${r.shortMessage})`, details));
  } catch (e) {
    return fail(new KaError('KA_ERR_CHECK_SPAWN', `PING: ${(e as Error).message}`, details, { cause: e }));
  }
}
