/**
 * One UDP exchange for DNS_CHECK / UDP_CHECK: a connected datagram socket from dgram-as-promised
 * (its bind promise for `bindto`), one datagram sent, replies handed to the checker as they come,
 * all under one Deadline (as tcp.ts and http.ts) rather than an AbortSignal chain per attempt: this
 * runs thousands of times a second. dgram-as-promised has no connect: the underlying dgram socket's
 * connect and send are used (a connected socket is what reports ICMP port unreachable as
 * ECONNREFUSED). With `fwmark` the socket is the addon's, marked and bound there (markedFd), and
 * adopted (`bind({ fd })`).
 */
import type dgram from 'node:dgram';
import { closeSync } from 'node:fs';
import net from 'node:net';
import DgramAsPromised from 'dgram-as-promised';
import type { KaError } from '../core/errors.js';
import { connectHost, Deadline, deadlineError, markedFd, socketError, timerMs } from './common.js';
import type { CheckResult, ConnOpts } from './types.js';

export interface UdpExchange {
  /** What errors are worded with (`DNS`, `UDP`). */
  readonly what: string;
  readonly details: Record<string, unknown>;
  /** The datagram to send once connected. */
  readonly payload: Buffer;
  /** A received datagram: the attempt's result, or null to keep waiting. */
  onMessage(b: Buffer): CheckResult | null;
  /**
   * The attempt ends without a result from onMessage: TIMEOUT or ABORTED from the deadline, or a socket
   * error mapped to a check code (ICMP port unreachable → REFUSED). `sent`: the payload had gone out.
   */
  onError(e: KaError, sent: boolean): CheckResult;
}

export function exchangeUdp(co: ConnOpts, signal: AbortSignal, x: UdpExchange): Promise<CheckResult> {
  if (signal.aborted) return Promise.resolve(x.onError(deadlineError(true, x.what, x.details), false));
  return new Promise((resolve) => {
    let sock: dgram.Socket | undefined;
    let sent = false;
    let done = false;
    const finish = (r: CheckResult): void => {
      if (done) return;
      done = true;
      deadline.clear();
      if (sock) {
        try {
          sock.close();
        } catch {} // already closed (ERR_SOCKET_DGRAM_NOT_RUNNING)
      }
      resolve(r);
    };
    const onError = (e: unknown): void => {
      if (!done) finish(x.onError(socketError(e, x.what, x.details), sent));
    };
    const deadline = new Deadline(signal, timerMs(co.connectTimeout), (outerAborted) => {
      finish(x.onError(deadlineError(outerAborted, x.what, x.details), sent));
    });
    try {
      const sp = DgramAsPromised.createSocket(net.isIPv6(co.connectIp) ? 'udp6' : 'udp4');
      const s = sp.socket;
      sock = s;
      s.on('error', onError);
      s.on('message', (b: Buffer) => {
        if (done) return;
        const r = x.onMessage(b);
        if (r) finish(r);
      });
      const connect = (): void => {
        // a failed connect(2) goes to this callback, not to 'error'
        s.connect(co.connectPort, connectHost(co), (err?: Error) => {
          if (done) return;
          if (err) {
            onError(err);
            return;
          }
          // on a connected socket, without port and address (dgram-as-promised's send types want them)
          s.send(x.payload, (e) => {
            if (e) onError(e);
            else sent = true;
          });
        });
      };
      if (co.fwmark !== undefined) {
        const fd = markedFd(co, co.fwmark, 'SOCK_DGRAM', true);
        try {
          // dgram's own bind: a synchronous refusal (fd not adopted) must close the fd here
          s.bind({ fd }, () => {
            if (!done) connect();
          });
        } catch (e) {
          closeSync(fd);
          throw e;
        }
      } else if (co.bindto !== undefined || co.bindPort !== undefined)
        sp.bind({ address: co.bindto, port: co.bindPort ?? 0 }).then(() => {
          if (!done) connect();
        }, onError);
      else connect();
    } catch (e) {
      onError(e);
    }
  });
}
