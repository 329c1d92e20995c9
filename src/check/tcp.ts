/** TCP_CHECK: success is a completed TCP handshake within connect_timeout. */
import { attemptSignal, checkConnOpts, fail, socketError, target, tcpConnect } from './common.js';
import type { CheckResult, TcpCheckSpec } from './types.js';

export async function run(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = checkConnOpts(spec);
  if (bad) return fail(bad);
  const s = attemptSignal(signal, spec.connectTimeout);
  try {
    const sock = await tcpConnect(spec, s, signal, 'TCP connect');
    sock.destroy();
    return { ok: true };
  } catch (e) {
    return fail(socketError(e, 'TCP connect', { target: target(spec) }));
  }
}
