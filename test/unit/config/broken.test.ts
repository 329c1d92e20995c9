import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScriptEnv } from '../../../src/config/check.js';
import { configTestExitCode } from '../../../src/config/diagnostics.js';
import { loadConfig } from '../../../src/config/load.js';
import { type Case, cases } from './broken-cases.js';

// The machine the exit codes assume (the interop test checks them against keepalived on a real one):
// interfaces eth0..eth3, executables under /bin and /usr/bin, no keepalived_script user.
const IFACES = new Set(['eth0', 'eth1', 'eth2', 'eth3']);
const fakeScripts: ScriptEnv = {
  resolve: (argv0) => (/^\/(usr\/)?bin\/[a-z]+$/.test(argv0) ? argv0 : undefined),
  userExists: () => false,
  unsafe: () => false,
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(c: Case): string {
  const dir = mkdtempSync(join(tmpdir(), 'kt-conf-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'main.conf'), c.conf);
  for (const [name, text] of Object.entries(c.extra ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'main.conf');
}

describe('broken configurations', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });
  it.each(cases)('$name → $code', (c) => {
    const main = setup(c);
    const file = join(main, '..', c.file ?? 'main.conf');
    const { diagnostics } = loadConfig(main, {
      configId: 'nodeA',
      interfaceExists: (n) => IFACES.has(n),
      scripts: fakeScripts,
    });
    const at = (d: (typeof diagnostics)[number]) =>
      d.pos?.file === file && d.pos.line === c.at[0] && d.pos.col === c.at[1];
    const here = (d: (typeof diagnostics)[number]) => d.code === c.code && at(d);
    const hit = diagnostics.find((d) => here(d) && (!c.message || c.message.test(d.message)));
    expect(
      hit,
      `no ${c.code} at ${c.at.join(':')}; got ${JSON.stringify(diagnostics.map((d) => [d.code, d.pos?.line, d.pos?.col, d.keyword]))}`,
    ).toBeDefined();
    expect(hit!.keyword).toBe(c.keyword);
    expect(hit!.message.length).toBeGreaterThan(0);
    if (c.message) expect(hit!.message).toMatch(c.message);
    if (c.first) {
      // keepalived prints its number reader's message first, then the line's own
      const first = diagnostics.findIndex((d) => at(d) && c.first!.test(d.message));
      expect(first, `no first message ${c.first}`).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(diagnostics.indexOf(hit!));
    }
    expect(configTestExitCode(diagnostics)).toBe(c.exit);
    expect(diagnostics.some((d) => d.code === 'KA_ERR_CONF_INTERNAL')).toBe(false);
  });
});
