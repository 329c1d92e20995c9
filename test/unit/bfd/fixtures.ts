import type { BfdInstance } from '../../../src/config/model.js';

/** A `bfd_instance` as the config pipeline would produce it, with keepalived's defaults unless overridden. */
export const bfdInstance = (name: string, neighborIp: string, o: Partial<BfdInstance> = {}): BfdInstance => ({
  name,
  neighborIp,
  sourceIp: undefined,
  minRx: 10,
  minTx: 10,
  idleTx: 1000,
  multiplier: 5,
  passive: false,
  ttl: 255,
  maxHops: 0,
  weight: 0,
  weightReverse: false,
  deliverTo: 'both',
  pos: { file: 'test', line: 1, col: 1 } as BfdInstance['pos'],
  ...o,
});
