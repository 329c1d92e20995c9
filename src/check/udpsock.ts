/** A connected UDP socket for DNS_CHECK / UDP_CHECK over dgram-as-promised, bounded by an attempt signal. */
import net from 'node:net';
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised';
import { abortError, connectHost, socketError } from './common.js';
import type { ConnOpts } from './types.js';

export interface UdpConn {
  send(buf: Buffer): Promise<void>;
  /** Next datagram; rejects with the mapped error (ICMP port unreachable → REFUSED) or on abort. */
  recv(): Promise<Buffer>;
  close(): void;
}

export async function openUdp(
  co: ConnOpts,
  signal: AbortSignal,
  outer: AbortSignal,
  what: string,
  details: Record<string, unknown>,
): Promise<UdpConn> {
  const sock: SocketAsPromised = DgramAsPromised.createSocket(net.isIPv6(co.connectIp) ? 'udp6' : 'udp4');
  const raw = sock.socket;
  let failure: unknown = null;
  const waiters: Array<(e: unknown) => void> = [];
  const queue: Buffer[] = [];
  const msgWaiters: Array<(b: Buffer) => void> = [];
  const wakeAll = (e: unknown): void => {
    failure ??= e;
    for (const w of waiters.splice(0)) w(failure);
  };
  raw.on('error', (e) => wakeAll(socketError(e, what, details)));
  raw.on('message', (b: Buffer) => {
    const w = msgWaiters.shift();
    if (w) w(b);
    else queue.push(b);
  });
  const onAbort = (): void => wakeAll(abortError(outer, what, details));
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const guard = <T>(p: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (failure) {
        reject(failure);
        return;
      }
      waiters.push(reject);
      p.then(resolve, (e) => reject(socketError(e, what, details)));
    });
  const close = (): void => {
    signal.removeEventListener('abort', onAbort);
    sock.destroy();
  };
  try {
    if (co.bindto !== undefined || co.bindPort !== undefined)
      await guard(sock.bind({ address: co.bindto, port: co.bindPort ?? 0 }));
    await guard(
      new Promise<void>((res, rej) => {
        raw.once('error', rej);
        raw.connect(co.connectPort, connectHost(co), () => {
          raw.off('error', rej);
          res();
        });
      }),
    );
  } catch (e) {
    close();
    throw e;
  }
  return {
    send: (buf) =>
      guard(
        new Promise<void>((res, rej) => {
          raw.send(buf, (err) => (err ? rej(err) : res()));
        }),
      ),
    recv: () => {
      const b = queue.shift();
      if (b) return Promise.resolve(b);
      return guard(new Promise<Buffer>((res) => msgWaiters.push(res)));
    },
    close,
  };
}
