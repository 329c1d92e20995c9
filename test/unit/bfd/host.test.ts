import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BfdHost } from '../../../src/bfd/host.js';
import { type BfdTransport, FakeBfdNetwork } from '../../../src/bfd/transport.js';
import type { BfdInstance } from '../../../src/config/model.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { encodeBfd } from '../../../src/wire/bfd.js';
import { bfdInstance, peerDown } from './fixtures.js';

const inst = (name: string, neighborIp: string, o: Partial<BfdInstance> = {}): BfdInstance =>
  bfdInstance(name, neighborIp, { minRx: 100, minTx: 100, multiplier: 3, ...o });

function lab(aOpts: Partial<BfdInstance> = {}, bOpts: Partial<BfdInstance> = {}) {
  const clock = new FakeClock();
  const net = new FakeBfdNetwork(clock);
  const mk = (addr: string, peer: string, o: Partial<BfdInstance>) => {
    const counters = new Counters();
    const changes: string[] = [];
    const host = new BfdHost({
      instances: [inst('B1', peer, o)],
      clock,
      log: silentLogger,
      counters,
      transport: net.node([addr]),
    });
    host.onChange((i, up, st) => changes.push(`${i.name}:${up ? 'up' : 'down'}:${st}`));
    return { host, counters, changes, addr };
  };
  const A = mk('192.0.2.1', '192.0.2.2', aOpts);
  const B = mk('192.0.2.2', '192.0.2.1', bOpts);
  return { clock, net, A, B };
}

describe('BfdHost on an in-memory network', () => {
  it('brings both sessions Up, reports Up then Down when the peer stops', () => {
    const { clock, A, B } = lab();
    A.host.start();
    clock.advance(700_000);
    B.host.start();
    clock.advance(4_000_000);
    expect(A.host.state('B1')).toBe('Up');
    expect(B.host.state('B1')).toBe('Up');
    expect(A.changes).toEqual(['B1:down:Down', 'B1:up:Up']);
    B.host.stop();
    clock.advance(2_000_000);
    expect(A.host.state('B1')).toBe('Down');
    expect(A.changes).toEqual(['B1:down:Down', 'B1:up:Up', 'B1:down:Down']);
    expect(A.host.session('B1')?.localDiag).toBe(1);
    A.host.stop();
  });

  it('drops packets below ttl - max_hops (GTSM), counted; max_hops lets them through', () => {
    const one = lab();
    one.net.hops = 1; // every packet arrives with TTL 254
    one.A.host.start();
    one.B.host.start();
    one.clock.advance(3_000_000);
    expect(one.A.host.state('B1')).toBe('Down');
    expect(one.A.counters.get('KA_ERR_BFD_BAD_TTL')).toBeGreaterThan(0);
    one.A.host.stop();
    one.B.host.stop();

    const two = lab({ maxHops: 1 }, { maxHops: 255 });
    two.net.hops = 1;
    two.A.host.start();
    two.B.host.start();
    two.clock.advance(3_000_000);
    expect(two.A.host.state('B1')).toBe('Up');
    expect(two.B.host.state('B1')).toBe('Up');
    expect(two.A.counters.get('KA_ERR_BFD_BAD_TTL')).toBe(0);
    two.A.host.stop();
    two.B.host.stop();
  });

  it('counts and drops garbage, unknown sessions and authenticated packets without throwing', () => {
    const { clock, net, A } = lab();
    A.host.start();
    const evil = net
      .node(['192.0.2.2'])
      .sender({ family: 4, source: '192.0.2.2', ttl: 255, random: Math.random });
    const stranger = net
      .node(['192.0.2.9'])
      .sender({ family: 4, source: '192.0.2.9', ttl: 255, random: Math.random });
    const pkt = peerDown;
    evil.send(Buffer.from('not bfd'), '192.0.2.1');
    evil.send(encodeBfd({ ...pkt, detectMult: 0 } as never), '192.0.2.1');
    evil.send(encodeBfd({ ...pkt, yourDiscriminator: 12345 }), '192.0.2.1');
    stranger.send(encodeBfd(pkt), '192.0.2.1');
    evil.send(encodeBfd({ ...pkt, auth: { type: 1, data: Buffer.from([1, 0, 0x41, 0x42]) } }), '192.0.2.1');
    clock.advance(10_000);
    expect(A.counters.snapshot()).toMatchObject({
      KA_ERR_BFD_TRUNCATED: 1,
      KA_ERR_BFD_NO_SESSION: 2,
      KA_ERR_BFD_AUTH: 1,
    });
    // detectMult 0 passes the encoder but not the decoder.
    expect(A.counters.get('KA_ERR_BFD_BAD_FIELD')).toBe(1);
    expect(A.host.state('B1')).toBe('Down');
    // A valid Down from the neighbour still moves the session on.
    evil.send(encodeBfd(pkt), '192.0.2.1');
    clock.advance(10_000);
    expect(A.host.state('B1')).toBe('Init');
    A.host.stop();
  });

  it('reload keeps an unchanged session Up (and its discriminator), restarts a changed one in Down, tells listeners', () => {
    const { clock, A, B } = lab();
    A.host.start();
    B.host.start();
    // keepalived sends every session's state to VRRP at start.
    expect(A.changes).toEqual(['B1:down:Down']);
    clock.advance(3_000_000);
    expect(A.host.state('B1')).toBe('Up');
    const discr = A.host.session('B1')?.localDiscr;
    // Same session settings, another weight: kept, and its state sent again.
    A.host.reconfigure([inst('B1', '192.0.2.2', { weight: -30 })]);
    expect(A.host.state('B1')).toBe('Up');
    expect(A.host.session('B1')?.localDiscr).toBe(discr);
    clock.advance(3_000_000);
    expect(A.host.state('B1')).toBe('Up');
    expect(A.changes).toEqual(['B1:down:Down', 'B1:up:Up', 'B1:up:Up']);
    // Another max_hops: a new session, Down until the handshake is done again, and the trackers hear it.
    A.host.reconfigure([inst('B1', '192.0.2.2', { maxHops: 2 })]);
    expect(A.host.state('B1')).toBe('Down');
    expect(A.changes.slice(3)).toEqual(['B1:down:Down']);
    clock.advance(4_000_000);
    expect(A.host.state('B1')).toBe('Up');
    expect(A.changes.slice(3)).toEqual(['B1:down:Down', 'B1:up:Up']);
    // Removed: gone, and reported Down.
    A.host.reconfigure([]);
    expect(A.host.state('B1')).toBeUndefined();
    expect(A.changes.slice(5)).toEqual(['B1:down:Down']);
    A.host.stop();
    B.host.stop();
  });

  it('a timer-only reload keeps the session Up on both sides and applies the new intervals after Poll/Final', () => {
    const { clock, A, B } = lab();
    A.host.start();
    B.host.start();
    clock.advance(3_000_000);
    expect(A.host.state('B1')).toBe('Up');
    expect(B.host.state('B1')).toBe('Up');
    const discr = A.host.session('B1')?.localDiscr;
    const peerDiscr = B.host.session('B1')?.localDiscr;
    const before = { a: A.changes.length, b: B.changes.length };
    A.host.reconfigure([inst('B1', '192.0.2.2', { minRx: 200, minTx: 200, idleTx: 2000, multiplier: 4 })]);
    expect(A.host.session('B1')?.poll).toBe(true);
    for (let t = 0; t < 300; t++) {
      clock.advance(10_000);
      expect(A.host.state('B1')).toBe('Up');
      expect(B.host.state('B1')).toBe('Up');
    }
    expect(A.host.session('B1')?.poll).toBe(false);
    expect(A.host.session('B1')?.localDiscr).toBe(discr);
    expect(B.host.session('B1')?.localDiscr).toBe(peerDiscr);
    // A: sends every max(200, B's min_rx 100) ms, detects in B's multiplier 3 x max(200, B's min_tx 100).
    expect(A.host.session('B1')?.txInterval).toBe(200_000);
    expect(A.host.session('B1')?.detectTime).toBe(600_000);
    // B: A's multiplier 4 x max(B's min_rx 100, A's min_tx 200).
    expect(B.host.session('B1')?.detectTime).toBe(800_000);
    expect(A.changes.slice(before.a)).toEqual(['B1:up:Up']);
    expect(B.changes.length).toBe(before.b);
    A.host.stop();
    B.host.stop();
  });

  it('a throwing listener is logged and counted; the other listeners still hear and the session keeps running', () => {
    const { clock, A, B } = lab();
    A.host.onChange(() => {
      throw new Error('tracker bug');
    });
    const seen: boolean[] = [];
    A.host.onChange((_i, up) => seen.push(up));
    expect(() => A.host.start()).not.toThrow();
    B.host.start();
    expect(() => clock.advance(3_000_000)).not.toThrow();
    expect(A.host.state('B1')).toBe('Up');
    expect(seen).toEqual([false, true]);
    expect(A.counters.get('KA_ERR_BFD_LISTENER')).toBe(2);
    // Timers still armed: a peer that stops is detected.
    B.host.stop();
    expect(() => clock.advance(2_000_000)).not.toThrow();
    expect(A.host.state('B1')).toBe('Down');
    expect(seen).toEqual([false, true, false]);
    expect(A.counters.get('KA_ERR_BFD_LISTENER')).toBe(3);
    A.host.stop();
  });

  it('intervals given in ms with decimals run as integer µs', () => {
    const { clock, A, B } = lab({ minRx: 100.001, minTx: 99.999, idleTx: 1000.3 });
    A.host.start();
    B.host.start();
    expect(() => clock.advance(3_000_000)).not.toThrow();
    expect(A.host.session('B1')?.cfg).toMatchObject({ minRx: 100_001, minTx: 99_999, idleTx: 1_000_300 });
    expect(A.host.state('B1')).toBe('Up');
    expect(B.host.session('B1')?.remoteMinRx).toBe(100_001);
    A.host.stop();
    B.host.stop();
  });

  it('retries a listener that failed to open with a bounded backoff, logs once per change, closes unused families', () => {
    const clock = new FakeClock();
    const net = new FakeBfdNetwork(clock);
    const { log, lines } = capture();
    const base = net.node(['192.0.2.1', 'fd00::1']);
    let failing = true;
    const attempts: number[] = [];
    const open = new Set<4 | 6>();
    const transport: BfdTransport = {
      sender: base.sender,
      listen: (fam, onDatagram, onError) => {
        attempts.push(clock.now());
        if (failing) throw new Error('EADDRINUSE');
        const l = base.listen(fam, onDatagram, onError);
        open.add(fam);
        return {
          close: () => {
            open.delete(fam);
            l.close();
          },
        };
      },
    };
    const counters = new Counters();
    const host = new BfdHost({ instances: [inst('B1', '192.0.2.2')], clock, log, counters, transport });
    const t0 = clock.now();
    host.start();
    clock.advance(600_000_000);
    // 1 s doubling up to 60 s: attempts at 0, 1, 3, 7, 15, 31, 63 s, then every 60 s until 543 s.
    expect(attempts.map((t) => (t - t0) / 1_000_000)).toEqual([
      0, 1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363, 423, 483, 543,
    ]);
    expect(counters.get('KA_ERR_BFD_SOCKET')).toBe(15);
    expect(lines.filter((l) => /Unable to open listening socket/.test(l.msg))).toHaveLength(1);
    failing = false;
    clock.advance(60_000_000);
    expect(open).toEqual(new Set([4]));
    expect(lines.filter((l) => /Listening socket .* open/.test(l.msg))).toHaveLength(1);
    // The peer answers now.
    const peer = new BfdHost({
      instances: [inst('B1', '192.0.2.1')],
      clock,
      log: silentLogger,
      counters: new Counters(),
      transport: net.node(['192.0.2.2']),
    });
    peer.start();
    clock.advance(3_000_000);
    expect(host.state('B1')).toBe('Up');
    // Reload to an IPv6-only set: the IPv4 listener closes, an IPv6 one opens.
    host.reconfigure([inst('B6', 'fd00::2')]);
    expect(open).toEqual(new Set([6]));
    host.stop();
    peer.stop();
    expect(open).toEqual(new Set());
    const n = attempts.length;
    clock.advance(600_000_000);
    expect(attempts).toHaveLength(n);
  });

  it('logs Down as a warning only when leaving Up, AdminDown as a warning; drops packets while AdminDown (counted)', () => {
    const clock = new FakeClock();
    const net = new FakeBfdNetwork(clock);
    const { log, lines } = capture();
    const counters = new Counters();
    const A = new BfdHost({
      instances: [inst('B1', '192.0.2.2')],
      clock,
      log,
      counters,
      transport: net.node(['192.0.2.1']),
    });
    A.start();
    const peer = net
      .node(['192.0.2.2'])
      .sender({ family: 4, source: '192.0.2.2', ttl: 255, random: Math.random });
    const down = peerDown;
    peer.send(encodeBfd(down), '192.0.2.1');
    clock.advance(10_000);
    expect(A.state('B1')).toBe('Init');
    clock.advance(4_000_000);
    expect(A.state('B1')).toBe('Down');
    const entering = () =>
      lines.filter((l) => /Entering/.test(l.msg)).map((l) => [l.level, l.msg.replace(/ \(.*/, '')]);
    expect(entering()).toEqual([
      [20, '(B1) Entering Init state'],
      [30, '(B1) Entering Down state'],
    ]);
    A.stop();

    // A sender that cannot open: the session is AdminDown, and what arrives for it is dropped and counted.
    lines.length = 0;
    const broken: BfdTransport = {
      listen: net.node(['192.0.2.3']).listen,
      sender: () => {
        throw new Error('EADDRNOTAVAIL');
      },
    };
    const C = new BfdHost({ instances: [inst('B1', '192.0.2.2')], clock, log, counters, transport: broken });
    C.start();
    expect(C.state('B1')).toBe('AdminDown');
    expect(entering()).toEqual([[40, '(B1) Entering AdminDown state']]);
    peer.send(encodeBfd(down), '192.0.2.3');
    clock.advance(10_000);
    expect(counters.get('KA_ERR_BFD_ADMIN_DOWN')).toBe(1);
    expect(C.state('B1')).toBe('AdminDown');
    C.stop();
  });

  it('a received TTL of 0 means "not known": no GTSM check (keepalived)', () => {
    const { clock, net, A, B } = lab();
    net.hops = 255; // every packet arrives with TTL 0
    A.host.start();
    B.host.start();
    clock.advance(3_000_000);
    expect(A.host.state('B1')).toBe('Up');
    expect(A.counters.get('KA_ERR_BFD_BAD_TTL')).toBe(0);
    A.host.stop();
    B.host.stop();
  });
});

/** A pino logger at debug level whose records land in `lines`. */
function capture() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}
