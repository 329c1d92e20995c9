import { describe, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';

describe('Counters', () => {
  it('counts by name, reads 0 for a name never counted, and snapshots in name order', () => {
    const c = new Counters();
    c.inc('vrrp.b');
    c.inc('vrrp.a', 5);
    c.inc('vrrp.b', 2);
    expect(c.get('vrrp.b')).toBe(3);
    expect(c.get('vrrp.none')).toBe(0);
    expect(Object.keys(c.snapshot())).toEqual(['vrrp.a', 'vrrp.b']);
  });

  it('clear() brings every counter back to 0 and keeps the names; counting starts again from 0', () => {
    const c = new Counters();
    c.inc('advert_sent', 7);
    c.inc('advert_rcvd', 3);
    c.clear();
    expect(c.snapshot()).toEqual({ advert_rcvd: 0, advert_sent: 0 });
    c.inc('advert_sent');
    expect(c.get('advert_sent')).toBe(1);
  });
});
