/**
 * DbusService and DaemonDbus against a scripted peer (fake-bus.ts): bytes dbus-next cannot parse,
 * a peer that hangs up during auth or a call. Each is a typed failure, logged and counted; nothing
 * is thrown (vitest fails a run on an uncaught exception).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Counters } from '../../../src/core/counters.js';
import { isKaError, type KaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { DaemonDbus } from '../../../src/dbus/daemon.js';
import { DbusErrors } from '../../../src/dbus/errors.js';
import { DbusService } from '../../../src/dbus/service.js';
import { type DbusActions, VrrpObjectTree } from '../../../src/dbus/tree.js';
import { type FakePeer, garbageMessage, startFakeBus } from './fake-bus.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-dbus-fake-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

let n = 0;
async function fakeBus(script: (peer: FakePeer) => void): Promise<string> {
  const path = join(dir, `bus${n++}.sock`);
  servers.push(await startFakeBus(path, script));
  return `unix:path=${path}`;
}

const noActions: DbusActions = {
  printData: () => undefined,
  printStats: () => undefined,
  reload: () => undefined,
  sendGarp: () => undefined,
};

function service(busAddress: string) {
  const failures: KaError[] = [];
  const s = new DbusService({
    serviceName: 'org.keepalived.Vrrp1',
    tree: new VrrpObjectTree({}, () => 'x'),
    actions: noActions,
    log: silentLogger,
    busAddress,
    onFailure: (e) => failures.push(e),
    onCallError: () => undefined,
  });
  return { s, failures };
}

async function rejection(p: Promise<unknown>): Promise<KaError> {
  try {
    await p;
  } catch (e) {
    if (isKaError(e)) return e;
    throw e;
  }
  throw new Error('resolved');
}

/** Answer Hello, then hand every later message to `next`. */
const afterHello =
  (next: (peer: FakePeer) => void) =>
  (peer: FakePeer): void => {
    let hello = true;
    peer.onMessage((m, p) => {
      if (hello) {
        hello = false;
        p.replyString(m.serial, ':1.7');
      } else next(p);
    });
  };

describe('bytes dbus-next cannot parse', () => {
  it('a header and 48 bytes of 0xff during Hello: connect() rejects with KA_ERR_DBUS_PROTOCOL', async () => {
    const address = await fakeBus((peer) => peer.send(garbageMessage(48)));
    const { s, failures } = service(address);
    const e = await rejection(s.connect());
    expect(e.code).toBe(DbusErrors.KA_ERR_DBUS_PROTOCOL);
    expect(e.message).toMatch(/^unreadable message from the bus: .*signature/);
    expect(s.connected).toBe(false);
    expect(failures).toEqual([]);
  });

  it('a header announcing 4 GiB of fields (over the 128 MiB maximum): the same typed failure, no stall', async () => {
    for (const fields of [0xfffffff0, 2 ** 27 + 1]) {
      const address = await fakeBus((peer) => peer.send(garbageMessage(fields)));
      const { s } = service(address);
      const e = await rejection(s.connect());
      expect(e.code).toBe(DbusErrors.KA_ERR_DBUS_PROTOCOL);
      expect(e.message).toMatch(/more than the 128 MiB maximum/);
    }
  });

  it('once connected: onFailure gets KA_ERR_DBUS_PROTOCOL, the connection is closed', async () => {
    const address = await fakeBus(afterHello((peer) => peer.send(garbageMessage(48))));
    const { s, failures } = service(address);
    await s.connect();
    expect(s.connected).toBe(true);
    // RequestName goes out; the answer is garbage: the call fails with the connection
    const e = await rejection(s.requestName());
    expect(e.code).toBe(DbusErrors.KA_ERR_DBUS_PROTOCOL);
    expect(failures.map((f) => f.code)).toEqual([DbusErrors.KA_ERR_DBUS_PROTOCOL]);
    expect(s.connected).toBe(false);
  });

  it('in the daemon: start() resolves false, one log line, one count, DBus off', async () => {
    const address = await fakeBus(afterHello((peer) => peer.send(garbageMessage(48))));
    const dir2 = mkdtempSync(join(dir, 'c'));
    const f = join(dir2, 'k.conf');
    writeFileSync(f, 'global_defs {\n enable_dbus\n}\n');
    const out: string[] = [];
    const rec = (level: string) => (a: unknown, b?: unknown) =>
      void out.push(`${level} ${typeof a === 'string' ? a : String(b)}`);
    const log = { info: rec('info'), warn: rec('warn'), error: rec('error'), debug: rec('debug') };
    const counters = new Counters();
    const d = DaemonDbus.create(loadConfig(f, { configId: 'x' }).config, {
      log: log as unknown as typeof silentLogger,
      counters,
      actions: noActions,
      busAddress: address,
    });
    expect(await d?.start()).toBe(false);
    await d?.stop();
    expect(counters.get(DbusErrors.KA_ERR_DBUS_PROTOCOL)).toBe(1);
    expect(counters.get(DbusErrors.KA_ERR_DBUS_CONNECT)).toBe(0);
    expect(out.filter((l) => l.startsWith('error'))).toEqual([
      expect.stringMatching(/^error DBus: unreadable message from the bus: .*; DBus disabled$/),
    ]);
  });
});

describe('a peer that hangs up', () => {
  it('after auth, before answering Hello: connect() says so at once (not "no answer to Hello")', async () => {
    const address = await fakeBus((peer) => peer.end());
    const { s } = service(address);
    const e = await rejection(s.connect());
    expect(e.code).toBe(DbusErrors.KA_ERR_DBUS_CONNECT);
    expect(e.message).toBe(`cannot connect to ${address}: the bus closed the connection`);
  }, 10_000);

  it('during RequestName: the call fails with the connection, reported once', async () => {
    const address = await fakeBus(afterHello((peer) => peer.end()));
    const { s, failures } = service(address);
    await s.connect();
    const e = await rejection(s.requestName());
    expect(e.code).toBe(DbusErrors.KA_ERR_DBUS_CONNECT);
    expect(e.message).toBe('the bus closed the connection');
    expect(failures).toEqual([e]);
  });
});
