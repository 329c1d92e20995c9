import type { ReceivedAdvert } from '../../../src/wire/vrrp.js';

/** A validated advert as the receive path hands it to the state machine. */
export function rx(
  priority: number,
  src: string,
  o: { version?: 2 | 3; vrid?: number; advertInterval?: number } = {},
): ReceivedAdvert {
  const version = o.version ?? 2;
  const family = src.includes(':') ? 6 : 4;
  return {
    advert: {
      version,
      type: 1,
      vrid: o.vrid ?? 1,
      priority,
      advertInterval: o.advertInterval ?? (version === 2 ? 1 : 100),
      authType: 0,
      authData: version === 2 ? Buffer.alloc(8) : Buffer.alloc(0),
      addresses: [family === 6 ? 'fe80::1' : '192.0.2.100'],
      family,
      checksum: 0,
    },
    src,
    dst: family === 6 ? 'ff02::12' : '224.0.0.18',
    ttl: 255,
    ifindex: 2,
  };
}
