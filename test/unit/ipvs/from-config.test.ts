import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { buildDesired } from '../../../src/ipvs/desired.js';
import { specsFromConfig, syncDaemonConfig } from '../../../src/ipvs/from-config.js';
import { Fwd, SvcFlag, TunType } from '../../../src/wire/ipvs.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-ipvs-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONF = `
global_defs {
  lvs_sync_daemon eth0 VI_1 id 7
}
virtual_server_group G {
  192.0.2.20-21 8080
  fwmark 9
}
virtual_server 192.0.2.1 80 {
  lb_algo sh
  sh-port
  lb_kind DR
  protocol TCP
  persistence_timeout 300
  persistence_granularity 255.255.255.0
  quorum 2
  sorry_server 198.51.100.99 80
  real_server 198.51.100.1 80 {
    weight 3
    uthreshold 50
  }
  real_server 198.51.100.2 80 {
    weight 2
    lb_kind TUN type gue port 6080 csum
    TCP_CHECK {
      connect_timeout 3
    }
  }
}
virtual_server group G {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.5 8080 {
    weight 1
  }
}
`;

describe('specsFromConfig (keepalived.conf -> desired IPVS table)', () => {
  it('maps virtual_server, group, real_server, sorry_server and lvs_sync_daemon', () => {
    const f = join(dir, 'keepalived.conf');
    writeFileSync(f, CONF);
    const { config, diagnostics } = loadConfig(f);
    expect(diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal')).toEqual([]);
    const specs = specsFromConfig(config);
    expect(specs.map((s) => s.name)).toHaveLength(2);
    const { table } = buildDesired(specs, new Map());
    expect([...table.keys()]).toEqual([
      'tcp 192.0.2.1:80',
      'tcp 192.0.2.20:8080',
      'tcp 192.0.2.21:8080',
      'inet fwmark 9',
    ]);
    const dr = table.get('tcp 192.0.2.1:80');
    expect(dr?.svc).toMatchObject({ sched: 'sh', timeout: 300, netmask: 0xffffff00 });
    expect(dr?.svc.flags).toBe(SvcFlag.PERSISTENT | SvcFlag.SCHED2);
    // real server with a checker and no result yet counts as up (no alpha); quorum 2 <= 3+2
    expect(dr?.dests.map((d) => [d.addr, d.fwd, d.weight, d.uThresh, d.tunType, d.tunPort])).toEqual([
      ['198.51.100.1', Fwd.DROUTE, 3, 50, 0, 0],
      ['198.51.100.2', Fwd.TUNNEL, 2, 0, TunType.GUE, 6080],
    ]);
    const daemon = config.global.lvsSyncDaemon;
    expect(daemon && syncDaemonConfig(daemon, 51)).toMatchObject({ interface: 'eth0', syncId: 7 });
  });
});
