/**
 * BfdHost.stop() releases everything even when a socket fails to close: the failure is logged and
 * counted (KA_ERR_BFD_SOCKET), every other socket still closes, no session timer keeps running, and
 * stop() does not throw (the daemon calls it last on shutdown; a socket left open keeps the process
 * alive). The transport is the in-memory one, wrapped to make chosen closes fail.
 */
import { describe, expect, it } from 'vitest';
import { BfdHost } from '../../../src/bfd/host.js';
import { type BfdTransport, FakeBfdNetwork } from '../../../src/bfd/transport.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { bfdInstance } from './fixtures.js';

/** The in-memory transport, with a record of closes; the listed sockets throw on close (after closing). */
function recording(inner: BfdTransport, failing: ReadonlySet<string>) {
  const open = new Set<string>();
  let senders = 0;
  const track = (id: string, close: () => void) => () => {
    close();
    open.delete(id);
    if (failing.has(id)) throw new Error(`close of ${id} failed`);
  };
  const transport: BfdTransport = {
    listen(family, onDatagram, onError) {
      const l = inner.listen(family, onDatagram, onError);
      const id = `listener${family}`;
      open.add(id);
      return { close: track(id, () => l.close()) };
    },
    sender(o) {
      const s = inner.sender(o);
      const id = `sender${senders++}`;
      open.add(id);
      return { send: (d, dst) => s.send(d, dst), close: track(id, () => s.close()) };
    },
  };
  return { transport, open };
}

describe('BfdHost.stop with sockets that fail to close', () => {
  it('closes the rest, stops every timer, counts the failures and does not throw', () => {
    const clock = new FakeClock();
    const net = new FakeBfdNetwork(clock);
    const counters = new Counters();
    const { transport, open } = recording(
      net.node(['192.0.2.1', 'fd00::1']),
      new Set(['sender0', 'listener4']),
    );
    const host = new BfdHost({
      instances: [
        bfdInstance('B1', '192.0.2.2'),
        bfdInstance('B2', '192.0.2.3'),
        bfdInstance('B6', 'fd00::2', { ttl: 64 }),
      ],
      clock,
      log: silentLogger,
      counters,
      transport,
    });
    host.start();
    clock.advance(3_000_000);
    expect([...open].sort()).toEqual(['listener4', 'listener6', 'sender0', 'sender1', 'sender2']);
    const sent = net.sent;
    expect(sent).toBeGreaterThan(0);

    expect(() => host.stop()).not.toThrow();
    expect([...open]).toEqual([]);
    expect(counters.get('KA_ERR_BFD_SOCKET')).toBe(2);
    expect(host.state('B1')).toBeUndefined();
    clock.advance(10_000_000);
    expect(net.sent).toBe(sent);
  });

  it('a reload that removes a session whose socket fails to close still removes it', () => {
    const clock = new FakeClock();
    const net = new FakeBfdNetwork(clock);
    const counters = new Counters();
    const { transport, open } = recording(net.node(['192.0.2.1']), new Set(['sender0']));
    const b1 = bfdInstance('B1', '192.0.2.2');
    const b2 = bfdInstance('B2', '192.0.2.3');
    const host = new BfdHost({ instances: [b1, b2], clock, log: silentLogger, counters, transport });
    host.start();
    clock.advance(1_000_000);

    expect(() => host.reconfigure([b2])).not.toThrow();
    expect(host.state('B1')).toBeUndefined();
    expect(host.state('B2')).toBe('Down');
    expect([...open].sort()).toEqual(['listener4', 'sender1']);
    expect(counters.get('KA_ERR_BFD_SOCKET')).toBe(1);
    host.stop();
  });
});
