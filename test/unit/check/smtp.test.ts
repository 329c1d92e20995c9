/**
 * SMTP_CHECK's dialogue over an in-memory socket that models a slow link: each write is taken by the
 * "kernel" only a turn after the server's reply to it arrives, so the next write waits in the
 * stream's buffer, as it does on a real socket whose send buffer is full. What reaches `received` is
 * what the server got; `_final` is the FIN.
 */
import type net from 'node:net';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/check/smtp.js';
import type { SmtpCheckSpec } from '../../../src/check/types.js';
import { KaError } from '../../../src/core/errors.js';

class SlowLinkSocket extends Duplex {
  /** Bytes the server received, in order. */
  received = '';
  /** The client half-closed (FIN after its last write). */
  finSent = false;
  idleMs = 0;
  private onIdle: (() => void) | null = null;

  constructor(private readonly answer: (line: string) => string | null) {
    // as net.connect's sockets: the server's FIN ends our side too
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.received += chunk.toString('latin1');
    const reply = this.answer(chunk.toString('latin1'));
    setImmediate(() => {
      if (reply !== null) this.push(reply);
      if (reply === '221 bye\r\n') this.push(null);
      setImmediate(() => done());
    });
  }

  override _final(done: (e?: Error | null) => void): void {
    this.finSent = true;
    done();
  }

  setTimeout(ms: number, fn: () => void): this {
    this.idleMs = ms;
    this.onIdle = fn;
    return this;
  }

  /** The idle timeout fires. */
  idle(): void {
    this.onIdle?.();
  }

  greet(text = '220 ready\r\n'): void {
    this.push(text);
  }
}

const spec: SmtpCheckSpec = {
  kind: 'SMTP_CHECK',
  connectIp: '192.0.2.25',
  connectPort: 25,
  connectTimeout: 5,
  delayLoop: 1,
  retry: 0,
  delayBeforeRetry: 1,
  warmup: 0,
  alpha: false,
};

/** A connector handing the dialogue the fake socket once "connected" (next turn). */
const via =
  (sock: SlowLinkSocket) => (_co: unknown, _what: string, done: (r: net.Socket | KaError) => void) => {
    setImmediate(() => {
      done(sock as unknown as net.Socket);
      sock.greet();
    });
    return sock as unknown as net.Socket;
  };

const settle = async (until: () => boolean) => {
  for (let i = 0; i < 100 && !until(); i++) await new Promise((r) => setImmediate(r));
};

const server = (closes: boolean) => (line: string) =>
  /^HELO /.test(line) ? '250 hello\r\n' : /^QUIT/.test(line) ? (closes ? '221 bye\r\n' : null) : null;

describe('SMTP_CHECK ends the session with QUIT', () => {
  it('QUIT waiting behind an unsent HELO still reaches the server, then FIN; the socket closes with the server', async () => {
    const sock = new SlowLinkSocket(server(true));
    expect(await run(spec, new AbortController().signal, via(sock))).toEqual({ ok: true });
    await settle(() => sock.destroyed);
    expect(sock.received).toBe('HELO smtpchecker.keepalived.org\r\nQUIT\r\n');
    expect(sock.finSent).toBe(true);
    expect(sock.destroyed).toBe(true);
  });

  it('a server that never closes: the socket is destroyed after connect_timeout idle', async () => {
    const sock = new SlowLinkSocket(server(false));
    expect(await run(spec, new AbortController().signal, via(sock))).toEqual({ ok: true });
    await settle(() => sock.finSent);
    expect(sock.received).toMatch(/QUIT\r\n$/);
    expect(sock.destroyed).toBe(false);
    expect(sock.idleMs).toBe(5000);
    sock.idle();
    expect(sock.destroyed).toBe(true);
  });

  it('a failed dialogue destroys the socket at once, without QUIT', async () => {
    const sock = new SlowLinkSocket(() => null);
    const r = run(spec, new AbortController().signal, (_co, _what, done) => {
      setImmediate(() => {
        done(sock as unknown as net.Socket);
        sock.greet('554 go away\r\n');
      });
      return sock as unknown as net.Socket;
    });
    expect(await r).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_BAD_RESPONSE' } });
    expect(sock.destroyed).toBe(true);
    expect(sock.received).toBe('');
  });
});

describe('SMTP_CHECK failure reasons (the mail says what failed, in keepalived smtp_final words)', () => {
  const greeting = (text: string, helo: string | null) => {
    const sock = new SlowLinkSocket((line) => (/^HELO /.test(line) ? helo : null));
    return (_co: unknown, _what: string, done: (r: net.Socket | KaError) => void) => {
      setImmediate(() => {
        done(sock as unknown as net.Socket);
        sock.greet(text);
      });
      return sock as unknown as net.Socket;
    };
  };

  it('bad greeting, bad HELO reply, connection error, server gone mid-dialogue', async () => {
    const signal = new AbortController().signal;
    expect(await run(spec, signal, greeting('554 go away\r\n', null))).toMatchObject({
      ok: false,
      reason: 'Bad greeting banner from server [192.0.2.25]:25',
    });
    expect(await run(spec, signal, greeting('220 hi\r\n', '550 no\r\n'))).toMatchObject({
      ok: false,
      reason: 'Bad HELO response from server [192.0.2.25]:25',
    });
    const refused = (_co: unknown, _what: string, done: (r: net.Socket | KaError) => void) => {
      const sock = new SlowLinkSocket(() => null);
      setImmediate(() => done(new KaError('KA_ERR_CHECK_REFUSED', 'SMTP connect: refused')));
      return sock as unknown as net.Socket;
    };
    expect(await run(spec, signal, refused)).toMatchObject({
      ok: false,
      reason: 'Error connecting to server [192.0.2.25]:25',
    });
    const gone = (_co: unknown, _what: string, done: (r: net.Socket | KaError) => void) => {
      const sock = new SlowLinkSocket(() => null);
      setImmediate(() => {
        done(sock as unknown as net.Socket);
        sock.push(null); // closed before any greeting
      });
      return sock as unknown as net.Socket;
    };
    expect(await run(spec, signal, gone)).toMatchObject({
      ok: false,
      reason: 'Read failure from server [192.0.2.25]:25',
    });
  });
});
