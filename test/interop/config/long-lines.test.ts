import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configTestExitCode } from '../../../src/config/diagnostics.js';
import { loadConfig, systemScriptEnv } from '../../../src/config/load.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { ConfigTestNetns, KEEPALIVED } from './netns.js';

// keepalived reads a physical line of more than 1,023 bytes in pieces, each parsed as a line of
// its own (src/config/preprocess.ts, pieceEnd). The same files through keepalived -t and ours.
const netns = new ConfigTestNetns();
let tmp = '';

function unmet(): string | null {
  return (
    needRoot() ?? (existsSync(KEEPALIVED) ? null : 'needs Debian keepalived (apt-get install keepalived)')
  );
}

/** A vrrp_instance whose fourth line is `line`. */
const instance = (line: string) =>
  `vrrp_instance A {\ninterface eth0\nvirtual_router_id 1\n${line}\nvirtual_ipaddress {\n192.0.2.1/24\n}\n}\n`;
const addresses = Array.from({ length: 90 }, (_, i) => `192.0.2.${i + 1}/24`).join(' ');

const CASES: { name: string; conf: string; expected: number }[] = [
  // priority, spaces, 150: 1,023 bytes is one line; one byte more and "0" becomes a keyword
  { name: 'a line of 1,023 bytes', conf: instance(`priority${' '.repeat(1012)}150`), expected: 0 },
  { name: 'a line of 1,024 bytes', conf: instance(`priority${' '.repeat(1013)}150`), expected: 5 },
  { name: 'a line of 1,025 bytes', conf: instance(`priority${' '.repeat(1014)}15`), expected: 5 },
  { name: 'CRLF after 1,023 bytes', conf: instance(`priority${' '.repeat(1012)}150\r`), expected: 0 },
  // the rest of a long comment is read as a line: a valid keyword there is taken
  {
    name: 'a keyword after a long comment',
    conf: instance(`# ${'c'.repeat(1021)}priority 150`),
    expected: 0,
  },
  { name: 'junk after a long comment', conf: instance(`# ${'c'.repeat(1021)}nonsense`), expected: 5 },
  // an address list cut in the middle of an address
  {
    name: 'a long virtual_ipaddress line',
    conf: `vrrp_instance A {\ninterface eth0\nvirtual_router_id 1\npriority 100\nvirtual_ipaddress {\n${addresses}\n}\n}\n`,
    expected: -1,
  },
];

describeIf('lines longer than 1,023 bytes: config test exit codes equal keepalived -t', unmet, () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kt-long-'));
    await netns.open();
  });
  afterAll(async () => {
    await netns.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('every case exits as keepalived -t does', async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const [i, c] of CASES.entries()) {
      const path = join(tmp, `c${i}.conf`);
      writeFileSync(path, c.conf);
      const ka = (await netns.keepalivedTest(path)).exit;
      const ours = configTestExitCode(
        loadConfig(path, {
          configId: 'nodeA',
          interfaceExists: (n) => netns.links.has(n),
          scripts: systemScriptEnv,
        }).diagnostics,
      );
      got.push(`${c.name}: ours ${ours}, keepalived ${ka}`);
      want.push(`${c.name}: ours ${ka}, keepalived ${c.expected < 0 ? ka : c.expected}`);
    }
    expect(got).toEqual(want);
  }, 60_000);
});
