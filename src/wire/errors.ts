import { defineCodes } from '../core/errors.js';

/** Error codes of the pure codecs in src/wire/ (documented in docs/errors/wire.md). */
export const WireErrors = defineCodes('wire', {
  KA_ERR_NL_BAD_MSG: 'a netlink message or its fixed header is shorter than its length field says',
  KA_ERR_NL_BAD_ATTR: 'a netlink attribute length is below 4 or runs past its enclosing buffer',
});
