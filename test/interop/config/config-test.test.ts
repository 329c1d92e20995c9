import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configTestExitCode } from '../../../src/config/diagnostics.js';
import { loadConfig, systemScriptEnv } from '../../../src/config/load.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { cases } from '../../unit/config/broken-cases.js';
import { ConfigTestNetns, KEEPALIVED } from './netns.js';

// Our config test (`-t`) must exit exactly as Debian's `keepalived -t` on the same file, run in a
// network namespace that has the interface names the files use (keepalived -t looks interfaces up).
const SAMPLES = '/usr/share/doc/keepalived/samples';
const root = join(import.meta.dirname, '../../..');
const netns = new ConfigTestNetns();

function unmet(): string | null {
  return (
    needRoot() ??
    (existsSync(KEEPALIVED) && existsSync(SAMPLES)
      ? null
      : 'needs Debian keepalived (apt-get install keepalived)')
  );
}

function files(): { name: string; path: string }[] {
  const out: { name: string; path: string }[] = [];
  if (existsSync(SAMPLES)) {
    for (const f of readdirSync(SAMPLES).sort())
      if (f.startsWith('keepalived.conf.')) out.push({ name: `sample ${f}`, path: join(SAMPLES, f) });
  }
  for (const f of readdirSync(join(root, 'conf-examples')).sort())
    if (f.endsWith('.conf')) out.push({ name: `conf-examples/${f}`, path: join(root, 'conf-examples', f) });
  return out;
}

let tmp = '';
const ROUTING = ['static_routes', 'static_rules', 'virtual_routes', 'virtual_rules'];

async function keepalivedTest(path: string): Promise<number> {
  return (await netns.keepalivedTest(path)).exit;
}

/** Our command line, as a user runs it, inside the namespace (its own interface lookup included). */
async function ourCli(path: string): Promise<number> {
  return netns.ourCli(path);
}

function ourTest(path: string): number {
  const { diagnostics } = loadConfig(path, {
    configId: 'nodeA',
    interfaceExists: (n) => netns.links.has(n),
    scripts: systemScriptEnv,
  });
  return configTestExitCode(diagnostics);
}

describeIf('config test exit codes equal keepalived -t', unmet, () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kt-interop-conf-'));
    await netns.open();
  });

  afterAll(async () => {
    await netns.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const list = files();
  it('finds the Debian samples and the conf-examples', () => {
    expect(list.filter((f) => f.name.startsWith('sample')).length).toBeGreaterThanOrEqual(25);
    expect(list.filter((f) => f.name.startsWith('conf-examples')).length).toBe(4);
  });

  it.each(list)('$name', async ({ path }) => {
    const theirs = await keepalivedTest(path);
    expect(ourTest(path)).toBe(theirs);
    expect(await ourCli(path)).toBe(theirs);
  });

  it.each(cases)('broken: $name', async (c) => {
    const dir = join(tmp, c.name.replace(/[^a-z0-9]+/gi, '-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'main.conf'), c.conf);
    for (const [name, text] of Object.entries(c.extra ?? {})) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const r = await netns.keepalivedTest(join(dir, 'main.conf'));
    expect(ourTest(join(dir, 'main.conf'))).toBe(c.exit);
    // where keepalived crashes (a segfault is exit 139) we keep the exit it would give otherwise
    expect(r.exit).toBe(c.keepalived ?? c.exit);
    if (c.message && !c.file && (ROUTING.includes(c.keyword) || c.first)) {
      // keepalived's own wording at the same line: `(FILE: Line N) MESSAGE`, the reader's first
      // (checked for route and rule lines, and wherever keepalived prints two messages)
      const lines = r.stderr
        .split('\n')
        .map((l) => /\(\S+: Line (\d+)\) (.*)$/.exec(l))
        .filter((m) => m !== null && Number(m[1]) === c.at[0])
        .map((m) => m![2]!);
      const at = lines.findIndex((l) => c.message!.test(l));
      expect(at, `keepalived said ${JSON.stringify(lines)}`).toBeGreaterThanOrEqual(0);
      if (c.first) expect(lines.findIndex((l) => c.first!.test(l))).toBe(at - 1);
    }
  });
});
