import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  connectAdopted,
  connOptsError,
  Deadline,
  deadlineError,
  memo,
  targetOf,
} from '../../../src/check/common.js';
import type { ConnOpts } from '../../../src/check/types.js';

describe('Deadline (one attempt: refreshable timer + the caller signal)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once on expiry; touch() restarts the full delay; clear() stops it', () => {
    const fired: boolean[] = [];
    const ctl = new AbortController();
    const d = new Deadline(ctl.signal, 100, (outer) => fired.push(outer));
    vi.advanceTimersByTime(60);
    d.touch();
    vi.advanceTimersByTime(60);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(40);
    expect(fired).toEqual([false]);
    ctl.abort(); // after firing, the caller's abort is no longer heard
    d.touch();
    vi.advanceTimersByTime(500);
    expect(fired).toEqual([false]);

    const quiet: boolean[] = [];
    const c = new Deadline(new AbortController().signal, 100, (outer) => quiet.push(outer));
    c.clear();
    vi.advanceTimersByTime(500);
    expect(quiet).toEqual([]);
  });

  it("reports the caller's abort as such, once, and stops listening after clear()", () => {
    const ctl = new AbortController();
    const fired: boolean[] = [];
    new Deadline(ctl.signal, 100, (outer) => fired.push(outer));
    ctl.abort();
    ctl.abort();
    vi.advanceTimersByTime(500);
    expect(fired).toEqual([true]);

    const ctl2 = new AbortController();
    const none: boolean[] = [];
    new Deadline(ctl2.signal, 100, (outer) => none.push(outer)).clear();
    ctl2.abort();
    expect(none).toEqual([]);
    expect(deadlineError(true, 'TCP connect', {}).code).toBe('KA_ERR_CHECK_ABORTED');
    expect(deadlineError(false, 'TCP connect', {}).code).toBe('KA_ERR_CHECK_TIMEOUT');
  });
});

describe('Deadline on a signal already aborted', () => {
  it('ends as cancelled right after the caller’s setup, not at the timeout', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const fired: boolean[] = [];
    new Deadline(ctl.signal, 60_000, (outer) => fired.push(outer));
    expect(fired).toEqual([]);
    await Promise.resolve();
    expect(fired).toEqual([true]);
  });
});

describe('per-spec memo', () => {
  it('computes once per spec object, null results included', () => {
    let calls = 0;
    const cache = new WeakMap<object, number | null>();
    const key = {};
    const make = () => {
      calls++;
      return null;
    };
    expect(memo(cache, key, make)).toBeNull();
    expect(memo(cache, key, make)).toBeNull();
    expect(calls).toBe(1);
    const bad: ConnOpts = { connectIp: 'not-an-ip', connectPort: 80, connectTimeout: 1 };
    expect(connOptsError(bad)?.code).toBe('KA_ERR_CHECK_SPEC');
    const v6: ConnOpts = { connectIp: '2001:db8::1', connectPort: 80, connectTimeout: 1 };
    expect(connOptsError(v6)).toBeNull();
    expect(targetOf(v6)).toBe('[2001:db8::1]:80');
  });
});

describe('connectAdopted', () => {
  it('a connect that throws at once destroys the adopted socket and rethrows', () => {
    const sock = new net.Socket();
    expect(() => connectAdopted(sock, { host: '192.0.2.1', port: 70000 })).toThrow(
      expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }),
    );
    expect(sock.destroyed).toBe(true);
  });
});
