/** SMTP_CHECK: read the 220 greeting, send `HELO helo_name`, expect 250, then QUIT (keepalived's dialogue). */
import { isKaError, KaError } from '../core/errors.js';
import {
  attemptSignal,
  checkConnOpts,
  fail,
  SocketReader,
  socketError,
  target,
  tcpConnect,
} from './common.js';
import type { CheckResult, SmtpCheckSpec } from './types.js';

export const DEFAULT_HELO = 'smtpchecker.keepalived.org';

/** Index just past the final line of an SMTP reply (`NNN text\r\n`), or -1 when incomplete. */
export function replyEnd(buf: Buffer): number {
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) return -1;
    const line = buf.subarray(start, nl).toString('latin1');
    if (/^\d{3}(?: |\r?$)/.test(line)) return nl + 1;
    start = nl + 1;
  }
}

export function replyCode(reply: Buffer): number | null {
  const m = /(?:^|\n)(\d{3})(?: |\r?\n)/.exec(reply.toString('latin1'));
  return m ? Number(m[1]) : null;
}

export async function run(spec: SmtpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const bad = checkConnOpts(spec);
  if (bad) return fail(bad);
  const details = { target: target(spec) };
  const s = attemptSignal(signal, spec.connectTimeout);
  let sock: Awaited<ReturnType<typeof tcpConnect>> | undefined;
  try {
    sock = await tcpConnect(spec, s, signal, 'SMTP connect');
    const reader = new SocketReader(sock, s, signal, 'SMTP', details);
    let pending = Buffer.alloc(0);
    const expect = async (want: number, stage: string): Promise<void> => {
      const { buf, eof } = await reader.readUntil((b) => replyEnd(Buffer.concat([pending, b])) >= 0);
      const all = Buffer.concat([pending, buf]);
      const end = replyEnd(all);
      if (end < 0) {
        throw eof && all.length === 0
          ? new KaError('KA_ERR_CHECK_NO_DATA', `SMTP ${stage}: no data received`, details)
          : new KaError('KA_ERR_CHECK_TRUNCATED', `SMTP ${stage}: connection closed mid-reply`, details);
      }
      pending = all.subarray(end);
      const code = replyCode(all.subarray(0, end));
      if (code !== want)
        throw new KaError(
          'KA_ERR_CHECK_BAD_RESPONSE',
          `SMTP ${stage}: expected ${want}, got ${code ?? 'garbage'}`,
          {
            ...details,
            code,
          },
        );
    };
    await expect(220, 'greeting');
    sock.write(`HELO ${spec.heloName ?? DEFAULT_HELO}\r\n`);
    await expect(250, 'HELO');
    sock.write('QUIT\r\n');
    return { ok: true };
  } catch (e) {
    return fail(isKaError(e) ? e : socketError(e, 'SMTP', details));
  } finally {
    sock?.destroy();
  }
}
