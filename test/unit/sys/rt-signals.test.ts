/**
 * RtSignals over MemorySignalSource (what the addon does, without a process-wide handler):
 * range checks, dispatch, counts, handler failures; then the addon's own range and the numbers
 * keepalived and our `--signum` give SIGJSON and SIGSTATS_CLEAR.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isKaError, type KaError } from '../../../src/core/errors.js';
import { runCli } from '../../../src/daemon/cli.js';
import {
  keepalivedSignals,
  MemorySignalSource,
  nativeSignalSource,
  RtSignals,
} from '../../../src/sys/rt-signals.js';
import { RtSignalErrors } from '../../../src/sys/rt-signals-errors.js';

describe('RtSignals', () => {
  it('refuses numbers outside SIGRTMIN..SIGRTMAX with KA_ERR_SYS_SIGNAL, catching nothing', () => {
    const src = new MemorySignalSource();
    const sigs = new RtSignals(src);
    for (const bad of [15, 33, 65, 36.5, Number.NaN, -36]) {
      let err: unknown;
      try {
        sigs.watch(bad, () => {});
      } catch (e) {
        err = e;
      }
      expect(isKaError(err, RtSignalErrors.KA_ERR_SYS_SIGNAL), String(bad)).toBe(true);
      expect((err as KaError).details).toEqual({ signo: bad });
    }
    expect(src.caught.size).toBe(0);
    expect(src.opens).toBe(0);
  });

  it('a failed sigaction is KA_ERR_SYS_SIGNAL with the cause', () => {
    const src = new MemorySignalSource();
    src.failCatch = true;
    const sigs = new RtSignals(src);
    expect(() => sigs.watch(36, () => {})).toThrow(
      expect.objectContaining({ code: RtSignalErrors.KA_ERR_SYS_SIGNAL, details: { signo: 36 } }),
    );
  });

  it('calls each watcher of the signal received, counts every signal, survives unwatched ones', () => {
    const src = new MemorySignalSource();
    const sigs = new RtSignals(src);
    const seen: string[] = [];
    const a = sigs.watch(36, (n) => void seen.push(`a${n}`));
    sigs.watch(36, (n) => void seen.push(`b${n}`));
    sigs.watch(63, (n) => void seen.push(`c${n}`));
    expect([...src.caught].sort()).toEqual([36, 63]);
    expect(src.opens).toBe(1);
    src.raise(36);
    src.raise(63);
    src.flush();
    expect(seen).toEqual(['a36', 'b36', 'c63']);
    a.close();
    a.close();
    src.raise(36);
    src.flush();
    expect(seen).toEqual(['a36', 'b36', 'c63', 'b36']);
    sigs.close(); // every watcher gone, socket closed: the signals stay caught, never fatal
    src.raise(36);
    sigs.watch(40, () => {}); // reopens
    src.raise(63);
    src.flush();
    expect(src.died).toEqual([]);
    expect(sigs.stats()).toEqual({ received: { 36: 2, 63: 2 }, unwatched: 1, dropped: 1, errors: 0 });
  });

  it('a throwing or rejecting handler is reported as KA_ERR_SYS_SIGNAL_HANDLER; the others still run', async () => {
    const src = new MemorySignalSource();
    const sigs = new RtSignals(src);
    const errors: KaError[] = [];
    let after = 0;
    sigs.watch(
      36,
      () => {
        throw new Error('boom');
      },
      { onError: (e) => errors.push(e) },
    );
    sigs.watch(36, async () => Promise.reject(new Error('later')), { onError: (e) => errors.push(e) });
    sigs.watch(
      36,
      () => {
        throw new Error('nobody listens');
      },
      {
        onError: () => {
          throw new Error('the error callback throws too');
        },
      },
    );
    sigs.watch(36, () => void after++);
    src.raise(36);
    src.flush();
    await new Promise((r) => setImmediate(r)); // the rejection settles
    expect(after).toBe(1);
    expect(errors.map((e) => [e.code, e.message, e.details])).toEqual([
      [RtSignalErrors.KA_ERR_SYS_SIGNAL_HANDLER, 'handler of signal 36 failed: boom', { signo: 36 }],
      [RtSignalErrors.KA_ERR_SYS_SIGNAL_HANDLER, 'handler of signal 36 failed: later', { signo: 36 }],
    ]);
    expect(sigs.stats().errors).toBe(3);
  });

  it('a failed read reaches each distinct error callback once', () => {
    const src = new MemorySignalSource();
    const sigs = new RtSignals(src);
    const got: KaError[] = [];
    const onError = (e: KaError) => void got.push(e);
    sigs.watch(36, () => {}, { onError });
    sigs.watch(63, () => {}, { onError });
    src.failRead(Object.assign(new Error('recvmsg: Bad file descriptor'), { code: 'EBADF' }));
    expect(got).toHaveLength(1);
    expect(got[0]?.code).toBe(RtSignalErrors.KA_ERR_SYS_SIGNAL_HANDLER);
    expect(got[0]?.details).toEqual({ errno: 'EBADF' });
  });

  it('property: every caught signal raised is delivered, counted as dropped or lost at close, never fatal', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('raise' as const), n: fc.constantFrom(36, 40, 63) }),
            fc.record({ op: fc.constantFrom('flush' as const, 'close' as const, 'watch' as const) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const src = new MemorySignalSource();
          const sigs = new RtSignals(src);
          let handled = 0;
          let watching = false;
          const watchAll = () => {
            if (watching) return;
            for (const n of [36, 40, 63]) sigs.watch(n, () => void handled++);
            watching = true;
          };
          watchAll();
          let raised = 0;
          for (const o of ops) {
            if (o.op === 'raise') {
              raised++;
              src.raise(o.n);
            } else if (o.op === 'flush') src.flush();
            else if (o.op === 'close') {
              sigs.close();
              watching = false;
            } else watchAll();
          }
          src.flush();
          const st = sigs.stats();
          const received = Object.values(st.received).reduce((a, b) => a + b, 0);
          expect(src.died).toEqual([]);
          expect(received + st.dropped + src.discarded).toBe(raised);
          expect(handled + st.unwatched).toBe(received);
        },
      ),
    );
  });
});

describe('keepalived signal numbers', () => {
  it('SIGJSON = SIGRTMIN+2, SIGSTATS_CLEAR = SIGRTMAX-1', () => {
    expect(keepalivedSignals({ min: 34, max: 64 })).toEqual({ JSON: 36, STATS_CLEAR: 63 });
    expect(keepalivedSignals({ min: 35, max: 64 })).toEqual({ JSON: 37, STATS_CLEAR: 63 }); // musl
  });

  it("this machine's C library gives what --signum prints (36, 63)", async () => {
    const src = nativeSignalSource();
    const nums = keepalivedSignals(src.range);
    const printed = async (name: string) => {
      const out: string[] = [];
      const code = await runCli([`--signum=${name}`], { stdout: (t) => void out.push(t), stderr: () => {} });
      expect(code).toBe(0);
      return Number(out.join('').trim());
    };
    expect(await printed('JSON')).toBe(nums.JSON);
    expect(await printed('STATS_CLEAR')).toBe(nums.STATS_CLEAR);
  });

  it('the addon refuses to catch a classic signal (EINVAL), leaving it to Node', () => {
    expect(() => nativeSignalSource().catch(15)).toThrow(
      expect.objectContaining({ errno: 'EINVAL', syscall: 'sigaction' }),
    );
  });
});
