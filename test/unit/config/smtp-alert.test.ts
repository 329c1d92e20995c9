/**
 * Which smtp_alert a real server ends with: its own, else smtp_alert_checker, else smtp_alert, else
 * unset (the alert sender then takes keepalived's default for real servers, on). The virtual
 * server's own smtp_alert does not reach its real servers (keepalived's check_data.c).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-smtp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rsAlert(globals: string, vs: string, rs: string) {
  const path = join(dir, 'k.conf');
  writeFileSync(
    path,
    `global_defs {\n${globals}\n}\nvirtual_server 203.0.113.1 80 {\n  protocol TCP\n  lvs_method NAT\n${vs}\n  real_server 198.51.100.1 80 {\n${rs}\n    TCP_CHECK {\n    }\n  }\n}\n`,
  );
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  expect(diagnostics.filter((d) => d.severity !== 'warning')).toEqual([]);
  const v = config.virtualServers[0];
  return { vs: v?.smtpAlert, rs: v?.realServers[0]?.smtpAlert };
}

describe('real server smtp_alert', () => {
  it('a virtual server’s own smtp_alert does not reach its real servers', () => {
    expect(rsAlert('', '  smtp_alert no', '')).toEqual({ vs: false, rs: undefined });
    expect(rsAlert('', '  smtp_alert yes', '')).toEqual({ vs: true, rs: undefined });
  });
  it('own value first, then smtp_alert_checker, then smtp_alert', () => {
    expect(rsAlert('  smtp_alert_checker no\n  smtp_alert yes', '', '    smtp_alert yes')).toMatchObject({
      rs: true,
    });
    expect(rsAlert('  smtp_alert_checker no\n  smtp_alert yes', '  smtp_alert yes', '')).toMatchObject({
      rs: false,
    });
    expect(rsAlert('  smtp_alert no', '', '')).toMatchObject({ rs: false });
  });
});
