/**
 * keepalived's SIGJSON and SIGSTATS_CLEAR in the daemon (rt-dumps.ts), over MemorySignalSource: the
 * JSON dump (content, mode, atomic replace, no file without instances, failures logged and counted),
 * print-then-clear of the statistics, handler failures, and the disposer.
 */
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { clearCounters, installRtSignals, writeFileAtomic } from '../../../src/daemon/rt-dumps.js';
import { MemorySignalSource, RtSignals } from '../../../src/sys/rt-signals.js';

const JSON_SIG = 36;
const CLEAR_SIG = 63;

function capture() {
  const lines: { level: number; msg: string; code?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, msgs: () => lines.map((l) => l.msg) };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kt-rtdumps-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** One VRRP instance whose statistics live in `inst`, as VrrpHost keeps them. */
function daemon(opts: { instances?: number; writeStats?: boolean } = {}) {
  const src = new MemorySignalSource();
  const signals = new RtSignals(src);
  const counters = new Counters();
  const inst = new Counters();
  inst.inc('vrrp.advert_rcvd', 7);
  inst.inc('vrrp.rx.KA_ERR_VRRP_RX_TTL', 2);
  const { log, lines, msgs } = capture();
  const order: string[] = [];
  const jsonState = () =>
    Array.from({ length: opts.instances ?? 1 }, (_, i) => ({
      data: { iname: `VI_${i + 1}`, state: 2, vrid: 42 + i },
      stats: {
        advert_rcvd: inst.get('vrrp.advert_rcvd'),
        ip_ttl_err: inst.get('vrrp.rx.KA_ERR_VRRP_RX_TTL'),
      },
    }));
  const dispose = installRtSignals({
    dumpDir: () => dir,
    jsonState,
    ...(opts.writeStats === false
      ? {}
      : {
          writeStats: () => {
            order.push(`stats ${inst.get('vrrp.advert_rcvd')}`);
            writeFileSync(join(dir, 'keepalived.stats'), `Received: ${inst.get('vrrp.advert_rcvd')}\n`);
          },
        }),
    clearStats: () => {
      order.push('clear');
      clearCounters(inst);
    },
    log,
    counters,
    signals,
  });
  const signal = (n: number) => {
    src.raise(n);
    src.flush();
  };
  return { src, signals, counters, inst, lines, msgs, order, dispose, signal, jsonState };
}

describe('SIGJSON', () => {
  it("writes keepalived.json (keepalived's -J array, mode 0600) and logs keepalived's line", () => {
    const d = daemon({ instances: 2 });
    d.signal(JSON_SIG);
    const path = join(dir, 'keepalived.json');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(d.jsonState());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['keepalived.json']); // no temporary file left
    expect(d.msgs()).toEqual([`Printing VRRP as json for process(${process.pid}) on signal`]);
    expect(d.counters.get('signal.json')).toBe(1);
    expect(d.src.died).toEqual([]);
  });

  it('replaces an earlier file by rename: a reader holding the old one never sees a partial file', () => {
    const d = daemon();
    d.signal(JSON_SIG);
    const before = statSync(join(dir, 'keepalived.json')).ino;
    d.inst.inc('vrrp.advert_rcvd', 1);
    d.signal(JSON_SIG);
    const after = statSync(join(dir, 'keepalived.json'));
    expect(after.ino).not.toBe(before);
    expect(JSON.parse(readFileSync(join(dir, 'keepalived.json'), 'utf8'))[0].stats.advert_rcvd).toBe(8);
  });

  it('writes the jsonText formatter output verbatim when given (keepalived layout), none when it is empty', () => {
    const src = new MemorySignalSource();
    const counters = new Counters();
    let text = '[{"data":{"iname":"VI_1","ifp_ifname":"eth0"},"stats":{}}]\n';
    installRtSignals({
      dumpDir: () => dir,
      jsonText: () => text,
      jsonState: () => [{ unused: true }],
      clearStats: () => {},
      log: capture().log,
      counters,
      signals: new RtSignals(src),
    });
    src.raise(JSON_SIG);
    src.flush();
    expect(readFileSync(join(dir, 'keepalived.json'), 'utf8')).toBe(text);
    rmSync(join(dir, 'keepalived.json'));
    text = '';
    src.raise(JSON_SIG);
    src.flush();
    expect(readdirSync(dir)).toEqual([]);
    expect(counters.get('signal.json')).toBe(2);
  });

  it('writes no file without VRRP instances (as keepalived)', () => {
    const d = daemon({ instances: 0 });
    d.signal(JSON_SIG);
    expect(readdirSync(dir)).toEqual([]);
    expect(d.counters.get('signal.json')).toBe(1);
  });

  it('a directory it cannot write to is logged in keepalived words and counted; the next signal works', () => {
    const d = daemon();
    rmSync(dir, { recursive: true });
    d.signal(JSON_SIG);
    expect(d.msgs()[1]).toBe(`Can't open ${join(dir, 'keepalived.json')} (2: no such file or directory)`);
    expect(d.counters.get('daemon.dump_errors')).toBe(1);
    dir = mkdtempSync(join(tmpdir(), 'kt-rtdumps-')); // dumpDir is read at each signal
    d.signal(JSON_SIG);
    expect(readdirSync(dir)).toEqual(['keepalived.json']);
  });

  it('a failing state snapshot is logged with KA_ERR_SYS_SIGNAL_HANDLER and counted, never fatal', () => {
    const src = new MemorySignalSource();
    const counters = new Counters();
    const { log, lines } = capture();
    installRtSignals({
      dumpDir: dir,
      jsonState: () => {
        throw new Error('snapshot failed');
      },
      clearStats: () => {},
      log,
      counters,
      signals: new RtSignals(src),
    });
    src.raise(JSON_SIG);
    src.flush();
    const err = lines.find((l) => l.code !== undefined);
    expect(err).toMatchObject({
      code: 'KA_ERR_SYS_SIGNAL_HANDLER',
      msg: 'handler of signal 36 failed: snapshot failed',
    });
    expect(counters.get('signal.errors')).toBe(1);
    expect(src.died).toEqual([]);
  });
});

describe('SIGSTATS_CLEAR', () => {
  it('prints the statistics, then zeroes them; the next JSON dump shows zeros', () => {
    const d = daemon();
    d.signal(CLEAR_SIG);
    expect(d.order).toEqual(['stats 7', 'clear']);
    expect(readFileSync(join(dir, 'keepalived.stats'), 'utf8')).toBe('Received: 7\n');
    expect(d.inst.snapshot()).toEqual({ 'vrrp.advert_rcvd': 0, 'vrrp.rx.KA_ERR_VRRP_RX_TTL': 0 });
    expect(d.msgs()).toEqual([`Printing and clearing VRRP stats for process(${process.pid}) on signal`]);
    expect(d.counters.get('signal.stats_clear')).toBe(1);
    d.inst.inc('vrrp.advert_rcvd');
    d.signal(JSON_SIG);
    expect(JSON.parse(readFileSync(join(dir, 'keepalived.json'), 'utf8'))[0].stats).toEqual({
      advert_rcvd: 1,
      ip_ttl_err: 0,
    });
  });

  it('clears even without a stats writer', () => {
    const d = daemon({ writeStats: false });
    d.signal(CLEAR_SIG);
    expect(d.order).toEqual(['clear']);
    expect(d.inst.get('vrrp.advert_rcvd')).toBe(0);
  });
});

describe('installRtSignals', () => {
  it('the disposer stops the dumps; later signals are caught, counted, and harmless', () => {
    const d = daemon();
    d.dispose();
    d.dispose();
    d.signal(JSON_SIG);
    d.signal(CLEAR_SIG);
    expect(readdirSync(dir)).toEqual([]);
    expect(d.inst.get('vrrp.advert_rcvd')).toBe(7);
    expect(d.signals.stats()).toMatchObject({ received: { 36: 1, 63: 1 }, unwatched: 2 });
    expect(d.src.died).toEqual([]);
  });

  it('when the signals cannot be caught it logs KA_ERR_SYS_SIGNAL, counts, and returns a no-op disposer', () => {
    const src = new MemorySignalSource();
    src.failCatch = true;
    const counters = new Counters();
    const { log, lines } = capture();
    const dispose = installRtSignals({
      dumpDir: dir,
      jsonState: () => [],
      clearStats: () => {},
      log,
      counters,
      signals: new RtSignals(src),
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: 'KA_ERR_SYS_SIGNAL' });
    expect(lines[0]?.msg).toMatch(/^cannot catch keepalived's real-time signals: cannot catch signal 36/);
    expect(counters.get('signal.errors')).toBe(1);
    expect(() => dispose()).not.toThrow();
  });
});

describe('writeFileAtomic', () => {
  it('replaces a link planted at the dump path instead of writing through it', () => {
    const target = join(dir, 'victim');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, join(dir, 'keepalived.json'));
    writeFileAtomic(dir, 'keepalived.json', '[]\n');
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(lstatSync(join(dir, 'keepalived.json')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, 'keepalived.json'), 'utf8')).toBe('[]\n');
  });

  it('property: the file holds exactly the text written, and nothing else is left in the directory', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000, unit: 'binary' }), (text) => {
        writeFileAtomic(dir, 'keepalived.json', text);
        expect(readFileSync(join(dir, 'keepalived.json'), 'utf8')).toBe(text);
        expect(readdirSync(dir)).toEqual(['keepalived.json']);
      }),
      { numRuns: 50 },
    );
  });
});

describe('clearCounters', () => {
  it('property: every counter reads 0 afterwards, and counting resumes from 0', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.nat(1e9)), (values) => {
        const c = new Counters();
        for (const [k, v] of Object.entries(values)) c.inc(k, v);
        clearCounters(c);
        for (const k of Object.keys(values)) expect(c.get(k)).toBe(0);
        const first = Object.keys(values)[0];
        if (first !== undefined) {
          c.inc(first);
          expect(c.get(first)).toBe(1);
        }
      }),
    );
  });
});
