import type { BfdInstance } from '../../../src/config/model.js';
import { BFD_STATE, type BfdPacket } from '../../../src/wire/bfd.js';

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

/** A peer's first packet: Down, Your Discriminator 0 (matched by address), idle 1 s, min_rx 100 ms. */
export const peerDown: BfdPacket = {
  diag: 0,
  state: BFD_STATE.Down,
  poll: false,
  final: false,
  controlPlaneIndependent: false,
  demand: false,
  multipoint: false,
  detectMult: 3,
  myDiscriminator: 5,
  yourDiscriminator: 0,
  desiredMinTx: 1_000_000,
  requiredMinRx: 100_000,
  requiredMinEchoRx: 0,
  auth: undefined,
};
