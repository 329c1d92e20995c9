import { defineCodes } from '../core/errors.js';

/** Error codes of the daemon's VRRP host (documented in docs/errors/daemon-vrrp.md). */
export const DaemonVrrpErrors = defineCodes('daemon-vrrp', {
  KA_ERR_VRRP_BIND: 'a vrrp_instance cannot be bound to its interface',
  KA_ERR_VRRP_VMAC: 'the VMAC interface of a use_vmac instance cannot be created or configured',
  KA_ERR_VRRP_ROUTE: 'a virtual_routes / virtual_rules entry cannot be expressed or installed',
});
