/** Dispatch one attempt to the module of its checker kind. */
import { KaError } from '../core/errors.js';
import * as dns from './dns.js';
import * as file from './file.js';
import * as http from './http.js';
import * as misc from './misc.js';
import * as ping from './ping.js';
import * as smtp from './smtp.js';
import * as tcp from './tcp.js';
import type { CheckResult, CheckSpec } from './types.js';
import * as udp from './udp.js';

export type Runner = (spec: CheckSpec, signal: AbortSignal) => Promise<CheckResult>;

/** Run one attempt; never rejects (any escape becomes KA_ERR_CHECK_IO). */
export const runCheck: Runner = async (spec, signal) => {
  try {
    switch (spec.kind) {
      case 'HTTP_GET':
      case 'SSL_GET':
        return await http.run(spec, signal);
      case 'TCP_CHECK':
        return await tcp.run(spec, signal);
      case 'SMTP_CHECK':
        return await smtp.run(spec, signal);
      case 'DNS_CHECK':
        return await dns.run(spec, signal);
      case 'UDP_CHECK':
        return await udp.run(spec, signal);
      case 'PING_CHECK':
        return await ping.run(spec, signal);
      case 'MISC_CHECK':
        return await misc.run(spec, signal);
      case 'FILE_CHECK':
        return await file.watchRun(spec, signal);
      case 'BFD_CHECK':
        // Never scheduled: the BFD sessions set its state (Scheduler.setBfdState).
        return {
          ok: false,
          error: new KaError('KA_ERR_CHECK_SPEC', `BFD_CHECK ${spec.name} runs no attempts`),
        };
    }
  } catch (e) {
    return {
      ok: false,
      error: new KaError('KA_ERR_CHECK_IO', `checker failed: ${(e as Error).message}`, {}, { cause: e }),
    };
  }
};

export type { CheckResult, CheckSpec, RealServerEvent } from './types.js';
