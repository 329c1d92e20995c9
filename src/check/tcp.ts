/** TCP_CHECK: success is a completed TCP handshake within connect_timeout. */
import type net from 'node:net';
import { isKaError } from '../core/errors.js';
import {
  connectWith,
  connOptsError,
  Deadline,
  deadlineError,
  fail,
  socketError,
  targetOf,
  timerMs,
} from './common.js';
import type { CheckResult, TcpCheckSpec } from './types.js';

export function run(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = connOptsError(spec);
  if (bad) return Promise.resolve(fail(bad));
  if (signal.aborted)
    return Promise.resolve(fail(deadlineError(true, 'TCP connect', { target: targetOf(spec) })));
  // Callbacks rather than an AbortSignal chain and awaits: this runs thousands of times a second.
  return new Promise((resolve) => {
    let sock: net.Socket | undefined;
    const deadline = new Deadline(signal, timerMs(spec.connectTimeout), (outerAborted) => {
      sock?.destroy();
      resolve(fail(deadlineError(outerAborted, 'TCP connect', { target: targetOf(spec) })));
    });
    try {
      sock = connectWith(
        spec,
        'TCP connect',
        (r) => {
          deadline.clear();
          if (isKaError(r)) resolve(fail(r));
          else {
            r.destroy();
            resolve({ ok: true });
          }
        },
        false,
      );
    } catch (e) {
      deadline.clear();
      resolve(fail(socketError(e, 'TCP connect', { target: targetOf(spec) })));
    }
  });
}
