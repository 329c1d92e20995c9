import { defineCodes } from '../core/errors.js';

/** Error codes of the SNMP AgentX sub-agent (src/snmp/), documented in docs/errors/snmp.md. */
export const SnmpErrors = defineCodes('snmp', {
  KA_ERR_SNMP_SOCKET_SPEC:
    'snmp_socket / -A names a transport the sub-agent cannot use (only unix:PATH, /PATH, tcp:HOST[:PORT], HOST:PORT)',
  KA_ERR_SNMP_CONNECT:
    'the AgentX master could not be reached, refused the session, or closed the connection',
  KA_ERR_SNMP_REGISTER: 'the AgentX master refused to register a KEEPALIVED-MIB subtree',
  KA_ERR_SNMP_TIMEOUT: 'the AgentX master did not answer an Open or Register PDU in time',
  KA_ERR_SNMP_BAD_PDU:
    'a PDU from the AgentX master could not be decoded, had an unexpected type or answered no request (dropped)',
  KA_ERR_SNMP_SNAPSHOT: 'reading the daemon state for an SNMP request threw (the request gets a genErr)',
  KA_ERR_SNMP_NOTIFY:
    'a trap (AgentX Notify PDU) could not be sent because no session is open, or the master refused it',
});
