import { defineCodes } from '../core/errors.js';

/** Error codes of IPVS policy and I/O (src/ipvs/); documented in docs/errors/ipvs.md. The codec's are in src/wire/errors.ts. */
export { IpvsWireErrors } from '../wire/errors.js';
export const IpvsErrors = defineCodes('ipvs', {
  KA_ERR_IPVS_NO_FAMILY: 'the kernel has no IPVS generic netlink family (ip_vs not loaded or not built)',
  KA_ERR_IPVS_KERNEL: 'the kernel refused an IPVS operation (errno name in details)',
  KA_ERR_IPVS_BAD_SPEC:
    'a virtual server specification is inconsistent (unknown scheduler, family mismatch, bad range)',
});
