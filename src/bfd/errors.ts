import { defineCodes } from '../core/errors.js';

/** Error codes of BFD: the codec (src/wire/bfd.ts) and the runtime (src/bfd/), documented in docs/errors/bfd.md. */
export const BfdErrors = defineCodes('bfd', {
  KA_ERR_BFD_TRUNCATED: 'a BFD Control packet is shorter than 24 bytes or than its Length field says',
  KA_ERR_BFD_BAD_LENGTH:
    'the BFD Length field is below 24 (26 with the A bit), differs from the datagram length, or disagrees with the authentication section length',
  KA_ERR_BFD_BAD_VERSION: 'the BFD version field is not 1',
  KA_ERR_BFD_BAD_FIELD:
    'a BFD field breaks RFC 5880 §6.8.6 (Detect Mult 0, Multipoint set, My Discriminator 0, Your Discriminator 0 outside Down/AdminDown, Poll and Final both set, reserved Diag 9-31) or an encoder field is out of range',
  KA_ERR_BFD_BAD_TTL: 'a BFD packet arrived with a TTL / hop limit below `ttl - max_hops` (RFC 5881 §5 GTSM)',
  KA_ERR_BFD_NO_SESSION:
    'a BFD packet matches no bfd_instance (unknown Your Discriminator, or unknown source/destination pair when it is 0)',
  KA_ERR_BFD_AUTH: 'a BFD packet has the A bit set: authentication is not supported (as keepalived), dropped',
  KA_ERR_BFD_ADMIN_DOWN:
    'a BFD packet arrived for a session that is locally AdminDown (dropped, RFC 5880 §6.8.6)',
  KA_ERR_BFD_LISTENER:
    'a listener of BFD session changes (a track_bfd tracker) or another session hook threw; logged, counted, the session goes on',
  KA_ERR_BFD_SOCKET: 'a BFD socket could not be opened, bound, configured or closed, or a send failed',
});
