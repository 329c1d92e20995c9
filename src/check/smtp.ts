/** SMTP_CHECK: read the 220 greeting, send `HELO helo_name`, expect 250, then QUIT (keepalived's dialogue). */
import type net from 'node:net';
import { isKaError, KaError } from '../core/errors.js';
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

/** How a dialogue gets its socket: connectWith (a fake in tests). */
export type SmtpConnector = (
  co: SmtpCheckSpec,
  what: string,
  done: (r: net.Socket | KaError) => void,
) => net.Socket;

export function run(
  spec: SmtpCheckSpec,
  signal: AbortSignal,
  connect: SmtpConnector = connectWith,
): Promise<CheckResult> {
  const bad = connOptsError(spec);
  if (bad) return Promise.resolve(fail(bad));
  if (signal.aborted)
    return Promise.resolve(fail(deadlineError(true, 'SMTP connect', { target: targetOf(spec) })));
  return new Promise((resolve) => new SmtpDialogue(spec, signal, resolve, connect).start());
}

/** keepalived's FMT_SMTP_RS (inet_sockaddrtopair): `[198.51.100.2]:25`. */
function smtpTarget(spec: SmtpCheckSpec): string {
  return `[${spec.connectIp}]:${spec.connectPort}`;
}

/**
 * A failure as keepalived's smtp_final words it, for the mail `=> CHECK failed on service : … <=`:
 * connect timeout or error, a bad greeting or HELO reply, then a read timeout or failure.
 */
function failureReason(phase: Phase, e: KaError, spec: SmtpCheckSpec): string {
  const to = smtpTarget(spec);
  const timeout = e.code === 'KA_ERR_CHECK_TIMEOUT';
  if (phase === Phase.Connect)
    return timeout ? `Connection timeout to server ${to}` : `Error connecting to server ${to}`;
  if (e.code === 'KA_ERR_CHECK_BAD_RESPONSE')
    return phase === Phase.Greeting
      ? `Bad greeting banner from server ${to}`
      : `Bad HELO response from server ${to}`;
  return timeout ? `Read timeout from server ${to}` : `Read failure from server ${to}`;
}

/** Where a dialogue stands; a deadline is reported with the phase's wording. */
const Phase = { Connect: 0, Greeting: 1, Helo: 2, Done: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * One attempt, as callbacks on the socket's events under one Deadline (as tcp.ts and http.ts): the
 * whole dialogue must end within connect_timeout.
 */
class SmtpDialogue {
  private phase: Phase = Phase.Connect;
  private deadline: Deadline | undefined;
  private sock: net.Socket | undefined;
  /** Bytes received and not yet consumed by a reply. */
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly spec: SmtpCheckSpec,
    private readonly signal: AbortSignal,
    private readonly resolve: (r: CheckResult) => void,
    private readonly connect: SmtpConnector,
  ) {}

  start(): void {
    this.deadline = new Deadline(this.signal, timerMs(this.spec.connectTimeout), this.onDeadline);
    try {
      this.sock = this.connect(this.spec, 'SMTP connect', this.onConnect);
    } catch (e) {
      this.fail(socketError(e, 'SMTP connect', this.details()));
    }
  }

  private details(): Record<string, unknown> {
    return { target: targetOf(this.spec) };
  }

  private readonly onDeadline = (outerAborted: boolean): void => {
    this.fail(
      deadlineError(outerAborted, this.phase === Phase.Connect ? 'SMTP connect' : 'SMTP', this.details()),
    );
  };

  private readonly onConnect = (r: net.Socket | KaError): void => {
    if (isKaError(r)) {
      this.fail(r);
      return;
    }
    this.phase = Phase.Greeting;
    r.on('data', this.onData);
    r.on('end', this.onEnd);
    r.on('close', this.onEnd);
    r.on('error', this.onError);
  };

  private readonly onData = (b: Buffer): void => {
    if (this.phase === Phase.Done) return;
    this.pending = this.pending.length === 0 ? b : Buffer.concat([this.pending, b]);
    // a reply may hold the next one too (a pipelining server): take every complete reply
    for (;;) {
      const end = replyEnd(this.pending);
      if (end < 0) return;
      const code = replyCode(this.pending.subarray(0, end));
      this.pending = this.pending.subarray(end);
      if (!this.reply(code)) return;
    }
  };

  /** Acts on one complete reply; false once the dialogue is over. */
  private reply(code: number | null): boolean {
    const [want, stage] = this.phase === Phase.Greeting ? [220, 'greeting'] : [250, 'HELO'];
    if (code !== want) {
      this.fail(
        new KaError(
          'KA_ERR_CHECK_BAD_RESPONSE',
          `SMTP ${stage}: expected ${want}, got ${code ?? 'garbage'}`,
          {
            ...this.details(),
            code,
          },
        ),
      );
      return false;
    }
    const sock = this.sock as net.Socket;
    if (this.phase === Phase.Greeting) {
      this.phase = Phase.Helo;
      sock.write(`HELO ${this.spec.heloName ?? DEFAULT_HELO}\r\n`);
      return true;
    }
    // end, not write + destroy: QUIT still queued in the stream would be dropped by destroy. The
    // socket closes when the server does (221, FIN), or after connect_timeout idle.
    this.phase = Phase.Done;
    this.deadline?.clear();
    sock.setTimeout(timerMs(this.spec.connectTimeout), () => sock.destroy());
    sock.end('QUIT\r\n');
    this.resolve({ ok: true });
    return false;
  }

  private readonly onEnd = (): void => {
    if (this.phase === Phase.Done) return;
    const stage = this.phase === Phase.Greeting ? 'greeting' : 'HELO';
    this.fail(
      this.pending.length === 0
        ? new KaError('KA_ERR_CHECK_NO_DATA', `SMTP ${stage}: no data received`, this.details())
        : new KaError('KA_ERR_CHECK_TRUNCATED', `SMTP ${stage}: connection closed mid-reply`, this.details()),
    );
  };

  private readonly onError = (e: Error): void => {
    this.fail(socketError(e, 'SMTP', this.details()));
  };

  private fail(e: KaError): void {
    if (this.phase === Phase.Done) return;
    const reason = failureReason(this.phase, e, this.spec);
    this.close();
    this.resolve({ ok: false, error: e, reason });
  }

  private close(): void {
    this.phase = Phase.Done;
    this.deadline?.clear();
    this.sock?.destroy();
  }
}
