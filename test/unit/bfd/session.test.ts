import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BfdDriver } from '../../../src/bfd/driver.js';
import {
  type BfdEnv,
  type BfdSession,
  type BfdSessionConfig,
  bfdPacketOf,
  createBfdSession,
  jitteredInterval,
  stepBfd,
} from '../../../src/bfd/session.js';
import { FakeClock } from '../../../src/core/clock.js';
import {
  BFD_DIAG,
  BFD_STATE,
  BFD_STATE_NAMES,
  type BfdPacket,
  decodeBfd,
  encodeBfd,
} from '../../../src/wire/bfd.js';

const ms = 1000;
const cfg = (name: string, o: Partial<BfdSessionConfig> = {}): BfdSessionConfig => ({
  name,
  minRx: 200 * ms,
  minTx: 200 * ms,
  idleTx: 1000 * ms,
  multiplier: 3,
  passive: false,
  ...o,
});

/** Deterministic randomness: a linear congruential sequence, and discriminators counting up. */
function env(seed = 1): BfdEnv {
  let x = seed;
  let d = seed * 1000;
  return {
    random: () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    },
    discriminator: () => ++d,
  };
}

interface Side {
  d: BfdDriver;
  states: string[];
  notified: string[];
  sent: BfdPacket[];
  sentAt: number[];
  actions: string[];
}

/** Two drivers joined by a 1 ms link (through the codec); `cut` drops everything. */
function pair(a: BfdSessionConfig, b: BfdSessionConfig, bStartsAfter = 0) {
  const clock = new FakeClock();
  const link = { cut: false, cutAtoB: false };
  const sides: { A?: Side; B?: Side } = {};
  const mk = (c: BfdSessionConfig, seed: number, peer: () => Side | undefined, dir: 'A' | 'B'): Side => {
    const side: Side = { states: [], notified: [], sent: [], sentAt: [], actions: [] } as unknown as Side;
    side.d = new BfdDriver(c, clock, env(seed), {
      send: (p) => {
        side.sent.push(p);
        side.sentAt.push(clock.now());
        const bytes = encodeBfd(p);
        if (link.cut || (dir === 'A' && link.cutAtoB)) return;
        clock.at(clock.now() + 1 * ms, () => peer()?.d.receive(decodeBfd(bytes)));
      },
      action: (x) => {
        side.actions.push(x.type);
        if (x.type === 'state') {
          side.states.push(BFD_STATE_NAMES[x.to]);
          if (x.notify) side.notified.push(BFD_STATE_NAMES[x.to]);
        }
      },
    });
    return side;
  };
  sides.A = mk(a, 1, () => sides.B, 'A');
  if (bStartsAfter === 0) sides.B = mk(b, 2, () => sides.A, 'B');
  else clock.at(clock.now() + bStartsAfter, () => (sides.B = mk(b, 2, () => sides.A, 'B')));
  return {
    clock,
    link,
    A: sides.A,
    get B(): Side {
      if (!sides.B) throw new Error('B not started yet');
      return sides.B;
    },
  };
}

const up = (p: { A: Side; B: Side }) =>
  p.A.d.localState === BFD_STATE.Up && p.B.d.localState === BFD_STATE.Up;

describe('BFD session (RFC 5880 §6.2 / §6.8.6)', () => {
  it('comes Up through the three-way handshake, then switches idle_tx to min_tx with Poll/Final', () => {
    // B starts 1.5 s after A, as in the keepalived capture: A hears B's Down and goes Init, B hears
    // Init and goes Up, A hears Up and goes Up.
    const p = pair(cfg('A'), cfg('B'), 1500 * ms);
    p.clock.advance(4000 * ms);
    expect(up(p)).toBe(true);
    expect(p.A.states).toEqual(['Init', 'Up']);
    expect(p.B.states).toEqual(['Up']);
    expect(p.A.notified).toEqual(['Up']);
    expect(p.B.notified).toEqual(['Up']);
    const all = [...p.A.sent, ...p.B.sent];
    expect(all.some((x) => x.poll && x.state === BFD_STATE.Up && x.desiredMinTx === 200 * ms)).toBe(true);
    expect(all.some((x) => x.final && x.state === BFD_STATE.Up)).toBe(true);
    expect(all.every((x) => !(x.poll && x.final))).toBe(true);
    // Packets sent while not Up advertise idle_tx.
    expect(all.filter((x) => x.state !== BFD_STATE.Up).every((x) => x.desiredMinTx === 1000 * ms)).toBe(true);
    p.clock.advance(2000 * ms);
    for (const s of [p.A, p.B]) {
      expect(s.d.state.txInterval).toBe(200 * ms);
      expect(s.d.state.poll).toBe(false);
      expect(s.d.state.detectTime).toBe(600 * ms);
    }
  });

  it('goes Down with "Control Detection Time Expired" once a detection time passes without packets', () => {
    // A's detection time uses B's multiplier (5) times the agreed interval max(A.minRx, B.minTx) = 300 ms.
    const p = pair(cfg('A', { multiplier: 3, minRx: 300 * ms }), cfg('B', { multiplier: 5 }));
    p.clock.advance(5000 * ms);
    expect(up(p)).toBe(true);
    expect(p.A.d.state.detectTime).toBe(5 * 300 * ms);
    p.link.cut = true;
    const last = p.A.d.state.lastSeen!;
    p.clock.advanceTo(last + 1500 * ms - 1);
    expect(p.A.d.localState).toBe(BFD_STATE.Up);
    const discr = p.A.d.state.localDiscr;
    p.clock.advanceTo(last + 1500 * ms);
    expect(p.A.d.localState).toBe(BFD_STATE.Down);
    expect(p.A.d.state.localDiag).toBe(BFD_DIAG.ControlDetectionTimeExpired);
    expect(p.A.d.state.remoteDiscr).toBe(0);
    expect(p.A.d.state.localDiscr).not.toBe(discr); // keepalived picks a new discriminator after Up
    expect(p.A.actions).toContain('expired');
    expect(p.A.notified).toEqual(['Up', 'Down']);
    // Back to idle_tx while Down.
    expect(p.A.d.state.txInterval).toBe(1000 * ms);
  });

  it('a peer that stops hearing us signals Down and we follow (diag Neighbor Signaled Down)', () => {
    const p = pair(cfg('A'), cfg('B'));
    p.clock.advance(3000 * ms);
    expect(up(p)).toBe(true);
    p.link.cutAtoB = true;
    p.clock.advance(3000 * ms);
    expect(p.B.d.state.localDiag).toBe(BFD_DIAG.ControlDetectionTimeExpired);
    expect(p.A.states).toContain('Down');
    expect(p.A.d.localState).not.toBe(BFD_STATE.Up);
    expect(p.A.notified.at(-1)).toBe('Down');
    p.link.cutAtoB = false;
    p.clock.advance(5000 * ms);
    expect(up(p)).toBe(true);
  });

  it("takes a peer's AdminDown as Down (diag 3) without reporting a failure", () => {
    const e = env();
    let s = createBfdSession(cfg('A'), 0, e);
    const peer = (state: number, over: Partial<BfdPacket> = {}): BfdPacket => ({
      ...bfdPacketOf(createBfdSession(cfg('B'), 0, env(9))),
      state: state as BfdPacket['state'],
      myDiscriminator: 77,
      yourDiscriminator: s.localDiscr,
      ...over,
    });
    const rx = (pk: BfdPacket, now: number) => {
      const r = stepBfd(s, { type: 'rx', packet: pk }, now, e);
      s = r.state;
      return r.actions;
    };
    rx(peer(BFD_STATE.Down, { yourDiscriminator: 0 }), 10);
    expect(s.localState).toBe(BFD_STATE.Init);
    rx(peer(BFD_STATE.Up), 20);
    expect(s.localState).toBe(BFD_STATE.Up);
    const acts = rx(peer(BFD_STATE.AdminDown, { diag: BFD_DIAG.AdministrativelyDown }), 30);
    expect(s.localState).toBe(BFD_STATE.Down);
    expect(s.localDiag).toBe(BFD_DIAG.NeighborSignaledDown);
    expect(acts).toContainEqual(
      expect.objectContaining({ type: 'state', to: BFD_STATE.Down, notify: false }),
    );
    // While the peer stays AdminDown we stay Down.
    rx(peer(BFD_STATE.AdminDown), 40);
    expect(s.localState).toBe(BFD_STATE.Down);
  });

  it('drops everything while locally AdminDown and sends nothing more', () => {
    const e = env();
    let s = createBfdSession(cfg('A'), 0, e);
    s = stepBfd(s, { type: 'adminDown' }, 5, e).state;
    expect(s.localState).toBe(BFD_STATE.AdminDown);
    expect(s.txAt).toBeUndefined();
    const r = stepBfd(
      s,
      { type: 'rx', packet: { ...bfdPacketOf(s), myDiscriminator: 5, state: BFD_STATE.Down } },
      9,
      e,
    );
    expect(r.actions).toEqual([]);
    expect(r.state.localState).toBe(BFD_STATE.AdminDown);
  });

  it('a passive session is silent until it hears its peer, then comes Up', () => {
    const p = pair(cfg('A', { passive: true }), cfg('B', { passive: true }));
    p.clock.advance(5000 * ms);
    expect(p.A.sent).toEqual([]);
    expect(p.B.sent).toEqual([]);
    const q = pair(cfg('A', { passive: true }), cfg('B'));
    q.clock.advance(500 * ms);
    const firstB = q.B.sentAt[0]!;
    expect(q.A.sentAt.every((t) => t > firstB)).toBe(true);
    q.clock.advance(4000 * ms);
    expect(up(q)).toBe(true);
  });

  it('answers a Poll at once with a Final and ends its own Poll on a Final', () => {
    const e = env();
    let s = createBfdSession(cfg('A'), 0, e);
    const base = { ...bfdPacketOf(createBfdSession(cfg('B'), 0, env(3))), myDiscriminator: 42 };
    s = stepBfd(s, { type: 'rx', packet: { ...base, yourDiscriminator: 0 } }, 1, e).state; // Init
    s = stepBfd(
      s,
      { type: 'rx', packet: { ...base, state: BFD_STATE.Init, yourDiscriminator: s.localDiscr } },
      2,
      e,
    ).state;
    expect(s.localState).toBe(BFD_STATE.Up);
    expect(s.poll).toBe(true); // idle_tx 1 s -> min_tx 200 ms
    const tick = stepBfd(s, { type: 'tick' }, s.txAt!, e);
    const sentPoll = tick.actions.find((a) => a.type === 'send');
    expect(sentPoll).toMatchObject({ packet: { poll: true, final: false, desiredMinTx: 200 * ms } });
    s = tick.state;
    // Until the Final, the interval stays the one agreed before (idle, §6.8.3).
    expect(s.txInterval).toBe(1000 * ms);
    const upPk = { ...base, state: BFD_STATE.Up, yourDiscriminator: s.localDiscr, desiredMinTx: 200 * ms };
    s = stepBfd(s, { type: 'rx', packet: { ...upPk, final: true } }, s.txAt! - 1, e).state;
    expect(s.poll).toBe(false);
    expect(s.txInterval).toBe(200 * ms);
    // A Poll from the peer: one immediate packet with F, not P.
    const r = stepBfd(
      s,
      { type: 'rx', packet: { ...upPk, poll: true, requiredMinRx: 500 * ms } },
      3_000_000,
      e,
    );
    const sends = r.actions.filter((a) => a.type === 'send');
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ packet: { final: true, poll: false } });
    expect(r.state.final).toBe(false);
    expect(r.state.txInterval).toBe(500 * ms); // the peer's new Required Min RX applies
  });

  it('resets the remote view one detection time after going Down', () => {
    const p = pair(cfg('A'), cfg('B'));
    p.clock.advance(3000 * ms);
    p.link.cut = true;
    p.clock.advance(700 * ms);
    expect(p.A.d.localState).toBe(BFD_STATE.Down);
    expect(p.A.d.state.resetAt).toBeDefined();
    p.clock.advance(700 * ms);
    expect(p.A.d.state.resetAt).toBeUndefined();
    expect(p.A.d.state.remoteState).toBe(BFD_STATE.Down);
    expect(p.A.d.state.remoteDiscr).toBe(0);
  });
});

describe('BFD transmit jitter (RFC 5880 §6.8.7)', () => {
  it('reduces each interval by 10-25 %', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 10_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (iv, r) => {
          const d = jitteredInterval(iv, () => r);
          expect(d).toBeGreaterThanOrEqual(iv * 0.75);
          expect(d).toBeLessThanOrEqual(iv * 0.9);
        },
      ),
    );
  });

  it('spaces periodic packets 75-90 % of the interval, also with Detect Mult 1', () => {
    const p = pair(cfg('A', { multiplier: 1 }), cfg('B'));
    p.clock.advance(5000 * ms);
    const c = p.A.d.state.txInterval;
    expect(c).toBe(200 * ms);
    const start = p.A.sent.length;
    p.clock.advance(10_000 * ms);
    const times = p.A.sentAt.slice(start);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.length).toBeGreaterThan(40);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(0.75 * c);
      expect(g).toBeLessThanOrEqual(0.9 * c);
    }
    expect(new Set(gaps).size).toBeGreaterThan(1);
  });
});

describe('BFD session state (keepalived defaults)', () => {
  it('starts Down, sends its first packet at once with Your Discriminator 0 and idle_tx', () => {
    const s: BfdSession = createBfdSession(cfg('A'), 100, env());
    expect(s.localState).toBe(BFD_STATE.Down);
    const r = stepBfd(s, { type: 'tick' }, 100, env());
    expect(r.actions[0]).toMatchObject({
      type: 'send',
      packet: {
        state: BFD_STATE.Down,
        yourDiscriminator: 0,
        desiredMinTx: 1000 * ms,
        requiredMinRx: 200 * ms,
      },
    });
    expect(r.state.txAt! - 100).toBeGreaterThanOrEqual(750 * ms);
  });
});

describe('reconfigure (reload with new timers)', () => {
  it('keeps an Up session Up with its discriminators, announces the change with one Poll', () => {
    const e = env(3);
    let s = createBfdSession(cfg('R'), 0, e);
    const peer = (state: number, o: Partial<BfdPacket> = {}): BfdPacket => ({
      ...bfdPacketOf(createBfdSession(cfg('P'), 0, env(9))),
      state: state as BfdPacket['state'],
      myDiscriminator: 77,
      yourDiscriminator: s.localDiscr,
      ...o,
    });
    s = stepBfd(s, { type: 'rx', packet: peer(BFD_STATE.Init) }, 1000, e).state;
    s = stepBfd(s, { type: 'rx', packet: peer(BFD_STATE.Up, { final: true }) }, 2000, e).state;
    expect(BFD_STATE_NAMES[s.localState]).toBe('Up');
    expect(s.poll).toBe(false);
    const discr = s.localDiscr;
    const r = stepBfd(s, { type: 'reconfigure', cfg: cfg('R', { minTx: 50 * ms, minRx: 50 * ms }) }, 3000, e);
    expect(r.actions.map((a) => a.type)).toEqual(['pollStart']);
    expect(r.state.poll).toBe(true);
    expect(r.state.localState).toBe(BFD_STATE.Up);
    expect(r.state.localDiscr).toBe(discr);
    expect(r.state.remoteDiscr).toBe(77);
    // Until the Final, the old intervals hold (§6.8.3); the packets already carry the new values.
    expect(r.state.txInterval).toBe(s.txInterval);
    expect(bfdPacketOf(r.state)).toMatchObject({ poll: true, desiredMinTx: 50 * ms, requiredMinRx: 50 * ms });
    const fin = stepBfd(r.state, { type: 'rx', packet: peer(BFD_STATE.Up, { final: true }) }, 4000, e).state;
    expect(fin.poll).toBe(false);
    expect(fin.txInterval).toBe(200 * ms); // max(50 ms, peer's min_rx 200 ms)
    // Same timers again: no Poll.
    expect(stepBfd(fin, { type: 'reconfigure', cfg: fin.cfg }, 5000, e).actions).toEqual([]);
  });

  it('a Down session takes a shorter idle_tx at once, without a Poll', () => {
    const e = env(4);
    let s = createBfdSession(cfg('R'), 0, e);
    s = stepBfd(s, { type: 'tick' }, 0, e).state;
    const r = stepBfd(s, { type: 'reconfigure', cfg: cfg('R', { idleTx: 500 * ms }) }, 10, e);
    expect(r.actions).toEqual([]);
    expect(r.state.poll).toBe(false);
    expect(r.state.txInterval).toBe(500 * ms);
    expect(r.state.txAt).toBeLessThanOrEqual(10 + 500 * ms);
  });
});
