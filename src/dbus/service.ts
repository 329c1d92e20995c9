/**
 * The object tree (tree.ts) on a real bus, through dbus-next's low-level message API: one method
 * handler answers every call (so errors carry GDBus's names, and `Name` can be sent as keepalived
 * sends it), signals are plain messages. Connecting, owning the name and every later failure are
 * reported through `onFailure`; nothing here throws after construction.
 */

import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { Message, type MessageBus, MessageFlag, MessageType, sessionBus } from '@particle/dbus-next';
import { isKaError, KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DbusErrors } from './errors.js';
import type { DbusActions, DbusReply, VrrpObjectTree } from './tree.js';

/** DBus RequestName replies (dbus-specification, "org.freedesktop.DBus.RequestName"). */
const PRIMARY_OWNER = 1;
const ALREADY_OWNER = 4;
/** A bus that accepts the socket but does not answer Hello in this time is given up. */
const CONNECT_TIMEOUT_MS = 5000;
const CLOSED = 'the bus closed the connection';
/** The largest DBus message (dbus-specification, "Message Protocol": 2^27 bytes). */
const MAX_MESSAGE = 2 ** 27;

export const DEFAULT_SYSTEM_BUS = 'unix:path=/run/dbus/system_bus_socket';

/** The system bus address: $DBUS_SYSTEM_BUS_ADDRESS (GDBus honours it too), else the standard socket. */
export function systemBusAddress(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const a = env.DBUS_SYSTEM_BUS_ADDRESS;
  return a !== undefined && a !== '' ? a : DEFAULT_SYSTEM_BUS;
}

/** GetMachineId as GDBus answers it: /var/lib/dbus/machine-id, else /etc/machine-id. */
export function readMachineId(): string {
  for (const f of ['/var/lib/dbus/machine-id', '/etc/machine-id']) {
    try {
      const id = readFileSync(f, 'utf8').trim();
      if (id !== '') return id;
    } catch {
      // not there: the next file
    }
  }
  return '';
}

/** A DBus well-known name (dbus-specification, "Valid Bus Names"). */
export function validBusName(name: string): boolean {
  if (name.length === 0 || name.length > 255 || name.startsWith(':') || name.startsWith('.')) return false;
  const parts = name.split('.');
  return parts.length >= 2 && parts.every((p) => /^[A-Za-z_-][A-Za-z0-9_-]*$/.test(p));
}

export interface DbusServiceOptions {
  readonly serviceName: string;
  readonly tree: VrrpObjectTree;
  readonly actions: DbusActions;
  readonly log: Logger;
  /** Bus address (`unix:path=…`); default systemBusAddress(). */
  readonly busAddress?: string;
  /** Every failure once the service runs: a broken connection, a reply or signal not sent. */
  readonly onFailure: (e: KaError) => void;
  /** Counted per answered call: KA_ERR_DBUS_BAD_CALL / KA_ERR_DBUS_ACTION. */
  readonly onCallError: (code: string) => void;
}

export class DbusService {
  private bus: MessageBus | undefined;
  private closed = false;
  /** Calls to the bus in flight: dbus-next never settles them when the connection goes. */
  private readonly waiters = new Set<(e: KaError) => void>();

  constructor(private readonly opts: DbusServiceOptions) {}

  get connected(): boolean {
    return this.bus !== undefined && !this.closed;
  }

  /** Connect and answer calls. Rejects with a KaError (KA_ERR_DBUS_CONNECT) when the bus cannot be had. */
  async connect(): Promise<void> {
    const address = this.opts.busAddress ?? systemBusAddress();
    let bus: MessageBus;
    try {
      // sessionBus() is dbus-next's connection to a given address (systemBus() reads the environment)
      bus = sessionBus({ busAddress: address });
    } catch (e) {
      throw new KaError(
        DbusErrors.KA_ERR_DBUS_CONNECT,
        `cannot connect to ${address}: ${(e as Error).message}`,
        {
          address,
        },
      );
    }
    // the MessageBus does not pass on the end of its stream; its connection does (an EventEmitter)
    const conn = (bus as unknown as { _connection?: EventEmitter & { stream?: Duplex } })._connection;
    if (conn?.stream) guardReads(conn.stream);
    // one set of listeners from the start: a failure during auth / Hello rejects connect() at once,
    // a later one is the loss of the connection (an 'error' without a listener would be thrown)
    let phase: 'connecting' | 'up' | 'failed' = 'connecting';
    let settle: (e?: unknown) => void = () => undefined;
    const broken = (e: unknown) => {
      if (phase === 'connecting') settle(e);
      else if (phase === 'up') this.lost(e);
    };
    bus.on('error', broken);
    conn?.on('end', () => broken(CLOSED));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error('no answer to Hello')), CONNECT_TIMEOUT_MS);
      const onConnect = () => settle();
      settle = (e?: unknown) => {
        if (phase !== 'connecting') return;
        clearTimeout(timer);
        bus.removeListener('connect', onConnect);
        if (e === undefined) {
          phase = 'up';
          resolve();
          return;
        }
        phase = 'failed';
        try {
          bus.disconnect();
        } catch {
          // the socket never opened
        }
        reject(
          isKaError(e)
            ? e
            : new KaError(DbusErrors.KA_ERR_DBUS_CONNECT, `cannot connect to ${address}: ${errText(e)}`, {
                address,
              }),
        );
      };
      bus.once('connect', onConnect);
    });
    this.bus = bus;
    bus.addMethodHandler((msg: Message) => {
      this.onCall(msg);
      return true;
    });
  }

  /** RequestName with GDBus's default flags (queued behind an owner); rejects with KA_ERR_DBUS_NAME. */
  async requestName(): Promise<void> {
    const bus = this.bus;
    const name = this.opts.serviceName;
    if (!bus) throw new KaError(DbusErrors.KA_ERR_DBUS_NAME, `cannot own ${name}: not connected`);
    let reply: number;
    try {
      reply = await this.untilLost(bus.requestName(name, 0));
    } catch (e) {
      if (isKaError(e)) throw e;
      throw new KaError(DbusErrors.KA_ERR_DBUS_NAME, `cannot own ${name}: ${errText(e)}`, { name });
    }
    if (reply !== PRIMARY_OWNER && reply !== ALREADY_OWNER)
      throw new KaError(DbusErrors.KA_ERR_DBUS_NAME, `cannot own ${name}: another connection holds it`, {
        name,
        reply,
      });
  }

  /** Emit a signal (dropped, and reported, when the bus is gone). */
  signal(path: string, iface: string, member: string, signature = '', body: readonly unknown[] = []): void {
    if (!this.connected || !this.bus) return;
    try {
      this.bus.send(Message.newSignal(path, iface, member, signature, [...body]));
    } catch (e) {
      this.opts.onFailure(
        new KaError(DbusErrors.KA_ERR_DBUS_SEND, `signal ${iface}.${member} on ${path}: ${errText(e)}`),
      );
    }
  }

  /** Release the name and close the connection. */
  async close(): Promise<void> {
    const bus = this.bus;
    if (!bus || this.closed) return;
    this.closed = true;
    try {
      await withTimeout(bus.releaseName(this.opts.serviceName), 1000);
    } catch {
      // the connection may already be gone: closing it is all that is left
    }
    try {
      bus.disconnect();
    } catch {
      // already closed
    }
  }

  private lost(e: unknown): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus?.disconnect();
    } catch {
      // already closed
    }
    const err = isKaError(e)
      ? e
      : new KaError(DbusErrors.KA_ERR_DBUS_CONNECT, e === CLOSED ? CLOSED : `bus error: ${errText(e)}`);
    for (const w of this.waiters) w(err);
    this.waiters.clear();
    this.opts.onFailure(err);
  }

  /** p, or the failure that ends the connection first. */
  private untilLost<T>(p: Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new KaError(DbusErrors.KA_ERR_DBUS_CONNECT, CLOSED));
    return new Promise<T>((resolve, reject) => {
      const w = (e: KaError) => reject(e);
      this.waiters.add(w);
      p.then(
        (v) => {
          this.waiters.delete(w);
          resolve(v);
        },
        (e: unknown) => {
          this.waiters.delete(w);
          reject(e);
        },
      );
    });
  }

  private onCall(msg: Message): void {
    const call = {
      path: msg.path,
      interface: msg.interface ?? undefined,
      member: msg.member,
      signature: msg.signature ?? '',
      body: msg.body ?? [],
    };
    this.opts.tree.call(call, this.opts.actions).then(
      (reply) => this.reply(msg, reply),
      // tree.call turns action failures into replies; anything else is a fault of ours
      (e: unknown) =>
        this.reply(msg, {
          error: 'org.freedesktop.DBus.Error.Failed',
          message: errText(e),
          code: DbusErrors.KA_ERR_DBUS_ACTION,
        }),
    );
  }

  private reply(msg: Message, r: DbusReply): void {
    if ('error' in r) {
      this.opts.onCallError(r.code);
      this.opts.log.debug(
        { code: r.code },
        `DBus: ${msg.interface ?? ''}.${msg.member} on ${msg.path}: ${r.error}: ${r.message}`,
      );
    }
    if (!this.connected || !this.bus || (msg.flags & MessageFlag.NO_REPLY_EXPECTED) !== 0) return;
    if (msg.type !== MessageType.METHOD_CALL) return;
    try {
      this.bus.send(
        'error' in r
          ? Message.newError(msg as unknown as string, r.error, r.message)
          : Message.newMethodReturn(msg, r.signature, [...r.body]),
      );
    } catch (e) {
      this.opts.onFailure(
        new KaError(DbusErrors.KA_ERR_DBUS_SEND, `reply to ${msg.interface}.${msg.member}: ${errText(e)}`),
      );
    }
  }
}

function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  // dbus-next rejects calls with a DBusError carrying `type` and `text`
  const d = e as { type?: unknown; text?: unknown } | undefined;
  if (d && typeof d.type === 'string') return `${d.type}: ${String(d.text ?? '')}`;
  return String(e);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * dbus-next parses incoming messages inside the socket's 'readable' listener (lib/message.js
 * unmarshalMessages) and lets a parse error escape it; thrown out of an event, it would end the
 * process. The 'readable' events of this one socket are guarded instead: the error destroys the
 * socket with KA_ERR_DBUS_PROTOCOL, which dbus-next passes on as the bus's 'error'.
 */
function guardReads(stream: Duplex): void {
  const emit = stream.emit;
  const read = stream.read;
  // dbus-next reads a message's fields and body in one read() of the length its header announces;
  // more than the specification's maximum would only stall the connection (or buffer up to 1 GiB);
  // a length of 2^31 or more comes out negative there (its padding is computed with >> and <<)
  stream.read = function (this: Duplex, size?: number): unknown {
    if (size !== undefined && (size < 0 || size > MAX_MESSAGE)) {
      this.destroy(
        new KaError(
          DbusErrors.KA_ERR_DBUS_PROTOCOL,
          'unreadable message from the bus: its header announces more than the 128 MiB maximum',
        ),
      );
      return null;
    }
    return read.call(this, size);
  } as Duplex['read'];
  stream.emit = function (this: Duplex, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'readable') return emit.call(this, event, ...args);
    try {
      return emit.call(this, event, ...args);
    } catch (e) {
      this.destroy(
        new KaError(DbusErrors.KA_ERR_DBUS_PROTOCOL, `unreadable message from the bus: ${errText(e)}`),
      );
      return true;
    }
  } as Duplex['emit'];
}
