/**
 * bin/keepalived-ts.js with and without dist/keepalived-ts.cjs (the bundle of the one-shot modes,
 * scripts/build-bundle.mjs): the bin picks the bundle only when it is there, newer than the dist/
 * files it was made from, and the mode is a one-shot one; the bundle and dist/main.js print and
 * return the same. Runs a copy of bin/ and dist/ (needs `npm run build`, as CI does through npm ci).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const built = join(repo, 'dist/keepalived-ts.cjs');
const dir = mkdtempSync(join(tmpdir(), 'kt-cli-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bin = join(dir, 'bin/keepalived-ts.js');
const bundle = join(dir, 'dist/keepalived-ts.cjs');

function setup(): void {
  if (!existsSync(built)) throw new Error('dist/keepalived-ts.cjs missing: run `npm run build` first');
  mkdirSync(join(dir, 'bin'));
  for (const f of ['keepalived-ts.js', 'package.json'])
    copyFileSync(join(repo, 'bin', f), join(dir, 'bin', f));
  cpSync(join(repo, 'dist'), join(dir, 'dist'), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  copyFileSync(join(repo, 'package.json'), join(dir, 'package.json'));
  // the copies keep their order of age: the bundle newer than every dist/ file
  const now = Date.now() / 1000;
  utimesSync(bundle, now, now);
}

const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** A stand-in bundle whose output shows that the bin ran it. */
function fakeBundle(oneShot: boolean): void {
  writeFileSync(
    bundle,
    `module.exports = { bundledFrom: ['main.js', 'config/check.js'], isOneShot: () => ${oneShot},
  main: async () => { process.stdout.write('from the bundle\\n'); return 3; } };\n`,
  );
}

const age = (path: string, secondsAgo: number) => {
  const t = Date.now() / 1000 - secondsAgo;
  utimesSync(path, t, t);
};

describe('bin/keepalived-ts.js', () => {
  setup();
  const configs: Record<string, string> = {
    'broken.conf': 'vrrp_instance VI_1 {\n  state BACKUP\n  priority 300\n  virtual_router_id\n',
    'unknown.conf': 'global_defs {\n  no_such_keyword 1\n}\nvirtual_server 192.0.2.1 80 {\n  lb_algo rr\n}\n',
  };
  for (const [name, text] of Object.entries(configs)) writeFileSync(join(dir, name), text);
  for (const f of readdirSync(join(repo, 'conf-examples')))
    copyFileSync(join(repo, 'conf-examples', f), join(dir, f));
  const files = [...Object.keys(configs), ...readdirSync(join(repo, 'conf-examples'))];
  const argvs = [
    ['-v'],
    ['-h'],
    ['--signum=RELOAD'],
    ['-t', '-f', 'missing.conf'],
    ...files.flatMap((f) => [
      ['-t', '-f', f],
      ['--dump-config', '-f', f],
    ]),
  ];

  it('prints and returns the same through the bundle as through dist/main.js', () => {
    const viaBundle = argvs.map(run);
    rmSync(bundle);
    const viaDist = argvs.map(run);
    expect(viaBundle).toEqual(viaDist);
    // the cases are not all alike: exit codes 0, 1 and the config test's own codes all occur
    expect(new Set(viaDist.map((r) => r.status)).size).toBeGreaterThanOrEqual(3);
  });

  it('runs the bundle when it is newer than the dist/ files it was made from', () => {
    fakeBundle(true);
    expect(run(['-t', '-f', 'broken.conf'])).toMatchObject({ status: 3, stdout: 'from the bundle\n' });
  });

  it('falls back to dist/main.js when a bundled dist/ file is newer (tsc run alone)', () => {
    fakeBundle(true);
    age(bundle, 60);
    const r = run(['-t', '-f', 'broken.conf']);
    expect(r.stdout).not.toContain('from the bundle');
    expect(r.status).not.toBe(3);
    expect(r.stderr).toContain('broken.conf:');
  });

  it('leaves daemon mode and genhash to dist/main.js', () => {
    fakeBundle(false);
    const r = run(['-v']);
    expect(r.stdout).not.toContain('from the bundle');
    expect(r.stderr).toMatch(/^Keepalived v\d/);
  });
});
