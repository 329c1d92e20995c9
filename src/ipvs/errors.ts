import { defineCodes } from '../core/errors.js';

/** Error codes of the IPVS codec (src/wire/ipvs.ts) and policy (src/ipvs/); documented in docs/errors/ipvs.md. */
export const IpvsErrors = defineCodes('ipvs', {
  KA_ERR_IPVS_BAD_REPLY:
    'an IPVS generic netlink message lacks a required attribute or has one of the wrong size',
  KA_ERR_IPVS_BAD_VALUE: 'a value to encode is out of range (address, port, scheduler name, flags)',
  KA_ERR_IPVS_NO_FAMILY: 'the kernel has no IPVS generic netlink family (ip_vs not loaded or not built)',
  KA_ERR_IPVS_KERNEL: 'the kernel refused an IPVS operation (errno name in details)',
  KA_ERR_IPVS_BAD_SPEC:
    'a virtual server specification is inconsistent (unknown scheduler, family mismatch, bad range)',
});
