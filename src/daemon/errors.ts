import { defineCodes } from '../core/errors.js';

/** Error codes of the daemon process (documented in docs/errors/daemon.md). */
export const DaemonErrors = defineCodes('daemon', {
  KA_ERR_DAEMON_RUNNING: 'a pid file names another live process',
  KA_ERR_DAEMON_PIDFILE: 'a pid file cannot be written',
  KA_ERR_DAEMON_CONFIG: 'the configuration cannot be loaded at start',
  KA_ERR_DAEMON_METRICS: 'the metrics address is malformed or cannot be listened on',
  KA_ERR_DAEMON_FIREWALL: 'nft rejected a firewall batch (nothing of it applied)',
  KA_ERR_DAEMON_NFT_EXEC: 'the nft command cannot be run or timed out',
  KA_ERR_DAEMON_FIREWALL_INPUT: 'a VIP or interface name the firewall cannot express',
  KA_ERR_DAEMON_STATIC:
    'a static_ipaddress / static_routes / static_rules entry cannot be expressed, added or removed',
});
