import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configTestExitCode } from '../../../src/config/diagnostics.js';
import { loadConfig, systemScriptEnv } from '../../../src/config/load.js';
import { destroyNetnsSync, registerCleanup } from '../../lab/resources.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { cases } from '../../unit/config/broken-cases.js';

// Our config test (`-t`) must exit exactly as Debian's `keepalived -t` on the same file, run in a
// network namespace that has the interface names the files use (keepalived -t looks interfaces up).
const SAMPLES = '/usr/share/doc/keepalived/samples';
const KEEPALIVED = '/usr/sbin/keepalived';
const root = join(import.meta.dirname, '../../..');
const ns = `kt${randomBytes(4).toString('hex')}`;
const IFACES = ['eth0', 'eth1', 'eth2', 'eth3'];

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
let releaseCleanup: (() => void) | undefined;
let links = new Set<string>();

async function keepalivedTest(path: string): Promise<number> {
  // keepalived is started by pid through execa; the timeout kills that pid if it ever hangs
  const r = await execa('ip', ['netns', 'exec', ns, KEEPALIVED, '-t', '-f', path, '-i', 'nodeA'], {
    reject: false,
    timeout: 30_000,
    stdin: 'ignore',
  });
  if (r.timedOut) throw new Error(`keepalived -t timed out on ${path}`);
  // a crash is reported as the shell would: 128 + signal number
  return r.exitCode ?? 128 + (r.signal ? constants.signals[r.signal as keyof typeof constants.signals] : 0);
}

/** Our command line, as a user runs it, inside the namespace (its own interface lookup included). */
async function ourCli(path: string): Promise<number> {
  const r = await execa(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      join(root, 'bin/keepalived-ts.js'),
      '-t',
      '-f',
      path,
      '-i',
      'nodeA',
    ],
    { reject: false, timeout: 30_000, stdin: 'ignore' },
  );
  if (r.timedOut) throw new Error(`keepalived-ts -t timed out on ${path}`);
  return r.exitCode ?? -1;
}

function ourTest(path: string): number {
  const { diagnostics } = loadConfig(path, {
    configId: 'nodeA',
    interfaceExists: (n) => links.has(n),
    scripts: systemScriptEnv,
  });
  return configTestExitCode(diagnostics);
}

describeIf('config test exit codes equal keepalived -t', unmet, () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kt-interop-conf-'));
    releaseCleanup = registerCleanup(`config interop ${ns}`, () => {
      try {
        destroyNetnsSync(ns);
      } catch {
        // already gone
      }
    });
    await execa('ip', ['netns', 'add', ns]);
    for (const [i, name] of IFACES.entries()) {
      await execa('ip', ['-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${ns}p${i}`]);
    }
    const out = await execa('ip', ['-n', ns, '-o', 'link', 'show']);
    links = new Set(out.stdout.split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? ''));
  });

  afterAll(async () => {
    await execa('ip', ['netns', 'del', ns], { reject: false });
    releaseCleanup?.();
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
    const theirs = await keepalivedTest(join(dir, 'main.conf'));
    expect(ourTest(join(dir, 'main.conf'))).toBe(c.exit);
    // where keepalived crashes (a segfault is exit 139) we keep the exit it would give otherwise
    expect(theirs).toBe(c.keepalived ?? c.exit);
  });
});
