/** What every socket wrapper shares: the native socket, loop ref/unref, close. */
import { EventEmitter } from 'node:events';
import type { NativeSocket } from './native.js';

// biome-ignore lint/suspicious/noExplicitAny: mirrors @types/node's EventEmitter constraint
export abstract class SysSocket<Events extends Record<keyof Events, any[]>> extends EventEmitter<Events> {
  protected readonly sock: NativeSocket;

  protected constructor(sock: NativeSocket) {
    super();
    this.sock = sock;
  }

  /** Whether this socket keeps the event loop alive (default true). */
  ref(): this {
    this.sock.ref();
    return this;
  }

  unref(): this {
    this.sock.unref();
    return this;
  }

  get closed(): boolean {
    return this.sock.fd < 0;
  }

  /** Stops polling, closes the poll handle and the fd. Idempotent. */
  close(): void {
    this.sock.close();
    this.removeAllListeners();
  }
}
