import { defineCodes } from '../core/errors.js';

/** Error codes of the VRRP state machine and its runtime (documented in docs/errors/vrrp-machine.md). */
export const MachineErrors = defineCodes('vrrp-machine', {
  KA_ERR_VRRP_MACHINE_CONFIG: 'a state-machine configuration value is out of range',
  KA_ERR_VRRP_ADVERT_SRC: 'a received advert has a source address that is not an IP address',
  KA_ERR_VRRP_ACTION_FAILED: 'executing a state-machine action (send, address change, notify) failed',
});
