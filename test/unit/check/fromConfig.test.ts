import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkersFromConfig } from '../../../src/check/fromConfig.js';
import { loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-check-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const conf = `
track_file tf1 {
  file ${join(dir, 'tf1')}
  weight 2
}
virtual_server 198.51.100.10 80 {
  delay_loop 4
  lb_algo rr
  lb_kind NAT
  protocol TCP
  virtualhost www.vs.test
  connect_timeout 3
  real_server 198.51.100.2 80 {
    weight 5
    inhibit_on_failure
    notify_up "/usr/local/bin/up.sh rs1"
    notify_down /usr/local/bin/down.sh
    retry 2
    HTTP_GET {
      url {
        path /health
        digest 0123456789abcdef0123456789abcdef
        status_code 200 301-302
      }
      http_protocol 1.1
      delay_before_retry 1
    }
    TCP_CHECK {
      connect_port 8080
      bindto 198.51.100.1
    }
  }
  real_server 198.51.100.3 80 {
    MISC_CHECK {
      misc_path "/usr/local/bin/check.sh arg1"
      misc_timeout 7
      misc_dynamic
    }
    FILE_CHECK {
      track_file tf1
    }
    DNS_CHECK {
      type A
      name rs.test
    }
  }
}
`;

describe('checker specs from the config model', () => {
  it('maps real servers and their checkers with inherited timing and the virtualhost fallback', () => {
    const path = join(dir, 'keepalived.conf');
    writeFileSync(path, conf);
    const { config, diagnostics } = loadConfig(path, { configId: 'test' });
    expect(diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal')).toEqual([]);
    const { servers, skipped } = checkersFromConfig(config);
    expect(skipped).toEqual([]);
    expect(servers.map((s) => [s.virtualServer, s.realServer, s.spec.weight])).toEqual([
      ['198.51.100.10 80', '198.51.100.2:80', 5],
      ['198.51.100.10 80', '198.51.100.3:80', 1],
    ]);
    expect(servers[0]).toMatchObject({
      inhibitOnFailure: true,
      notifyUp: { argv: ['/usr/local/bin/up.sh', 'rs1'] },
      notifyDown: { argv: ['/usr/local/bin/down.sh'] },
    });
    expect(servers[1]).toMatchObject({ inhibitOnFailure: false, notifyUp: undefined });
    const [http, tcp] = servers[0]!.spec.checkers;
    expect(http).toMatchObject({
      kind: 'HTTP_GET',
      connectIp: '198.51.100.2',
      connectPort: 80,
      connectTimeout: 3,
      delayLoop: 4,
      retry: 2,
      delayBeforeRetry: 1,
      httpProtocol: '1.1',
      virtualhost: 'www.vs.test',
      urls: [{ path: '/health', digest: '0123456789abcdef0123456789abcdef', statusCodes: [200, [301, 302]] }],
    });
    expect(tcp).toMatchObject({ kind: 'TCP_CHECK', connectPort: 8080, bindto: '198.51.100.1' });
    const [misc, file, dns] = servers[1]!.spec.checkers;
    expect(misc).toMatchObject({
      kind: 'MISC_CHECK',
      miscPath: ['/usr/local/bin/check.sh', 'arg1'],
      miscTimeout: 7,
      miscDynamic: true,
    });
    expect(file).toMatchObject({ kind: 'FILE_CHECK', file: join(dir, 'tf1') });
    expect(dns).toMatchObject({ kind: 'DNS_CHECK', type: 'A', name: 'rs.test' });
  });
});
