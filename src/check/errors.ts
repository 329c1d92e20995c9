import { defineCodes } from '../core/errors.js';

/** Error codes of the health checkers in src/check/ (documented in docs/errors/check.md). */
export const CheckErrors = defineCodes('check', {
  KA_ERR_CHECK_TIMEOUT: 'no connection, answer or exit within connect_timeout (or misc_timeout)',
  KA_ERR_CHECK_REFUSED: 'the connection was refused (TCP RST or ICMP port unreachable)',
  KA_ERR_CHECK_UNREACHABLE: 'host or network unreachable, or no route',
  KA_ERR_CHECK_RESET: 'the connection was reset or closed before the exchange completed',
  KA_ERR_CHECK_STATUS: 'HTTP status code outside the url status_code set',
  KA_ERR_CHECK_DIGEST: 'MD5 digest of the HTTP body differs from the url digest',
  KA_ERR_CHECK_REGEX: 'the HTTP body did not satisfy the url regex (or matched with regex_no_match)',
  KA_ERR_CHECK_TRUNCATED: 'the HTTP body is shorter than its Content-Length',
  KA_ERR_CHECK_NO_DATA: 'the server closed without sending a response header',
  KA_ERR_CHECK_BAD_RESPONSE:
    'the response is not valid for the protocol (status line, SMTP code, DNS header)',
  KA_ERR_CHECK_TLS: 'TLS handshake or certificate verification failed',
  KA_ERR_CHECK_EXIT: 'MISC_CHECK script exited with a failing status or died by a signal',
  KA_ERR_CHECK_SPAWN: 'MISC_CHECK or PING_CHECK command could not be started',
  KA_ERR_CHECK_DNS_RCODE: 'DNS answer with a non-zero RCODE',
  KA_ERR_CHECK_UDP_REPLY: 'UDP reply missing, or not matching require_reply / length bounds',
  KA_ERR_CHECK_PING: 'no ICMP echo reply',
  KA_ERR_CHECK_FILE_VALUE: 'FILE_CHECK value marks the server down (non-zero with weight 0)',
  KA_ERR_CHECK_ABORTED: 'the check was cancelled (scheduler stopped or server removed)',
  KA_ERR_CHECK_SPEC: 'invalid checker specification (bad address, port, digest, status code…)',
  KA_ERR_CHECK_IO: 'other socket error while checking',
  KA_ERR_GENHASH_USAGE: 'genhash: bad or missing command-line option',
});

export type CheckErrorCode = keyof typeof CheckErrors;
