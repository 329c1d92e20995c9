/**
 * A scripted DBus peer on a unix socket: it does the server side of SASL EXTERNAL (`\0`, `AUTH
 * EXTERNAL …` answered `OK <guid>`, then `BEGIN`), frames the client's messages and lets the test
 * answer them, or send bytes no DBus message is made of. Replies are marshalled by dbus-next itself.
 */
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { Message, MessageType } from '@particle/dbus-next';

const require = createRequire(import.meta.url);
// dbus-next's own marshaller (not in its public API) so a reply is a real DBus message
const { marshallMessage } = require('@particle/dbus-next/lib/marshall-compat.js') as {
  marshallMessage(m: Message): [Buffer, number[]];
};

/** One message from the client: its header as read here. */
export interface ClientMessage {
  readonly serial: number;
  readonly bytes: Buffer;
}

export interface FakePeer {
  /** After BEGIN: each complete message the client sends. */
  onMessage(cb: (m: ClientMessage, peer: FakePeer) => void): void;
  send(b: Buffer): void;
  /** A method return to `serial` with one string. */
  replyString(serial: number, s: string): void;
  /** A method return to `serial` with one uint32. */
  replyUint(serial: number, n: number): void;
  end(): void;
}

/** 16 bytes of a little-endian header announcing `fields` bytes of header fields, then those bytes as 0xff. */
export function garbageMessage(fields = 48): Buffer {
  const h = Buffer.alloc(16);
  h.write('l', 0, 'latin1');
  h[1] = MessageType.METHOD_CALL;
  h[3] = 1;
  h.writeUInt32LE(0, 4);
  h.writeUInt32LE(1, 8);
  h.writeUInt32LE(fields, 12);
  return Buffer.concat([h, Buffer.alloc(Math.min(fields, 48), 0xff)]);
}

function framed(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const le = buf[0] === 0x6c;
  const body = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fields = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const total = 16 + (((fields + 7) >> 3) << 3) + body;
  return buf.length >= total ? total : undefined;
}

/** Each connection runs `script` once the client has sent BEGIN. */
export async function startFakeBus(path: string, script: (peer: FakePeer) => void): Promise<Server> {
  const server = createServer((sock: Socket) => {
    let buf = Buffer.alloc(0);
    let authed = false;
    let listener: ((m: ClientMessage, peer: FakePeer) => void) | undefined;
    const peer: FakePeer = {
      onMessage: (cb) => {
        listener = cb;
      },
      send: (b) => {
        if (!sock.destroyed) sock.write(b);
      },
      replyString: (serial, s) => peer.send(reply(serial, 's', [s])),
      replyUint: (serial, n) => peer.send(reply(serial, 'u', [n])),
      end: () => sock.end(),
    };
    sock.on('error', () => undefined);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (!authed) {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString('latin1').replace(/^\0/, '');
        buf = buf.subarray(nl + 2);
        if (line.startsWith('AUTH EXTERNAL')) sock.write('OK 0123456789abcdef0123456789abcdef\r\n');
        else if (line === 'BEGIN') {
          authed = true;
          script(peer);
        } else sock.write('ERROR\r\n');
      }
      for (let n = framed(buf); n !== undefined; n = framed(buf)) {
        const bytes = buf.subarray(0, n);
        buf = buf.subarray(n);
        const le = bytes[0] === 0x6c;
        listener?.({ serial: le ? bytes.readUInt32LE(8) : bytes.readUInt32BE(8), bytes }, peer);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

let serials = 1;
function reply(to: number, signature: string, body: unknown[]): Buffer {
  const m = new Message({
    type: MessageType.METHOD_RETURN,
    serial: serials++,
    // typed string in dbus-next's types.d.ts; the header field is a uint32
    replySerial: to as unknown as string,
    sender: 'org.freedesktop.DBus',
    destination: ':1.7',
    signature,
    body,
  });
  return marshallMessage(m)[0];
}
