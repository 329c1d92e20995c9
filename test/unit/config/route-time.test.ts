/**
 * Route time metrics (rtt, rttvar, rto_min) as keepalived 2.2.7 reads them. Expected values were
 * read back with `ip route` from routes keepalived 2.2.7 installed in a network namespace, and the
 * messages from its `-t` output.
 */
import { describe, expect, it } from 'vitest';
import { routeTime } from '../../../src/config/values.js';

const ms = (v: string) => routeTime('rto_min', v).value;

describe('route time metrics', () => {
  it('round the first dropped decimal place up from 5, as keepalived installs them', () => {
    expect(ms('300.5')).toBe(301);
    expect(ms('399.9')).toBe(400);
    expect(ms('1.9999s')).toBe(2000);
    expect(ms('1.2345s')).toBe(1235);
    expect(ms('119.9995s')).toBe(120000);
    expect(routeTime('rtt', '1.0005s').value).toBe(1001 * 8);
    // keepalived compares the character, not a digit: 'x' rounds up, '(' does not
    expect(ms('400.x')).toBe(401);
    expect(ms('400.(')).toBe(400);
    expect(ms('400.5.5')).toBe(401);
    expect(ms('1.2345xs')).toBe(1235);
  });
  it('report too many decimal places before the range, and drop a value rounded past 120 s', () => {
    expect(routeTime('rto_min', '120.0005s')).toMatchObject({
      value: undefined,
      notes: [
        "number '120.0005' has too many decimal places",
        "number '120.0005' outside range [0.000, 120.000]",
      ],
    });
    expect(routeTime('rto_min', '1.x')).toMatchObject({
      value: 200,
      notes: ["number '1.x' has too many decimal places"],
    });
    expect(routeTime('rtt', '1..2')).toMatchObject({
      value: 1600,
      notes: ["number '1..2' has too many decimal places"],
    });
  });
  it('take an empty number as 0 (reset to 200 ms) but not a lone sign', () => {
    for (const v of ['.', '+s', '+.s', '.ms', '1.s']) expect(ms(v), v).toBe(v === '1.s' ? 1000 : 200);
    for (const v of ['+.', '+', '+ms', '+.ms', '1x', '1.2xs', '1.5.s', 's', 'ms', '1.5e'])
      expect(ms(v), v).toBeUndefined();
    expect(routeTime('rto_min', '+.5').notes).toEqual([
      "number '+.5' has too many decimal places",
      "invalid number '+.5'",
    ]);
  });
});
