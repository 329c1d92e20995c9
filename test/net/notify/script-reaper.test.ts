/**
 * The script runner as PID 1 (a container): orphans left by scripts are reaped, and the exit status
 * of every script still reaches its result (libuv's own children are never reaped in its place).
 * A driver process runs as PID 1 of a new pid namespace (`unshare --pid --fork --mount-proc`, as in
 * a container) with the runner compiled from this checkout into a private directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIf, needRoot } from '../../support/privilege.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SCRIPTS = 20;
const ORPHANS = 5;

/** Runs as PID 1: ORPHANS scripts leave a `sleep 0.2 &` behind, SCRIPTS others exit 7 at spread times. */
const DRIVER = `
import { readdirSync, readFileSync } from 'node:fs';
const [mode, dir, dist] = process.argv.slice(2);
const { ScriptRunner, startOrphanReaper } = await import(dist + '/notify/script.js');
const runner = new ScriptRunner({ reapOrphans: mode === 'on' });
const runs = [];
for (let i = 0; i < ${ORPHANS}; i++) runs.push(runner.run({ name: 'bg', argv: [dir + '/bg.sh'] }));
for (let i = 0; i < ${SCRIPTS}; i++)
  runs.push(runner.run({ name: 'st' + i, argv: [dir + '/st.sh', (i / 5).toFixed(1)] }));
const results = await Promise.all(runs);
const zombies = () => {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task'))
    for (const w of readFileSync('/proc/self/task/' + tid + '/children', 'latin1').split(' ').filter(Boolean)) {
      const st = readFileSync('/proc/' + w + '/stat', 'latin1');
      if (st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z') n++;
    }
  return n;
};
// the orphans end 0.2 s after their script; with the reaper, wait for it (bounded)
await new Promise((ok) => setTimeout(ok, 1000));
for (let i = 0; mode === 'on' && zombies() > 0 && i < 100; i++) await new Promise((ok) => setTimeout(ok, 100));
const reaper = mode === 'on' ? startOrphanReaper() : null;
process.stdout.write(JSON.stringify({
  pid: process.pid,
  outcomes: results.map((r) => r.outcome),
  zombies: zombies(),
  reaped: reaper ? reaper.reaped : null,
}) + '\\n');
process.exit(0);
`;

interface DriverOut {
  pid: number;
  outcomes: unknown[];
  zombies: number;
  reaped: number | null;
}

describeIf(
  'script runner as PID 1 of a pid namespace: orphans reaped, no exit status stolen',
  needRoot,
  () => {
    let dir = '';
    let dist = '';

    beforeAll(() => {
      mkdirSync('/var/tmp', { recursive: true });
      dir = mkdtempSync('/var/tmp/kt-reaper-');
      dist = join(dir, 'dist');
      // Files others are editing may not type-check at this moment; tsc still emits, so check the output.
      spawnSync(
        process.execPath,
        [
          join(repoRoot, 'node_modules/typescript/bin/tsc'),
          ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
          ...['--skipLibCheck', '--types', 'node', '--outDir', dist, '--rootDir', join(repoRoot, 'src')],
          join(repoRoot, 'src/notify/script.ts'),
        ],
        { stdio: 'pipe' },
      );
      symlinkSync(join(repoRoot, 'native'), join(dir, 'native'));
      symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
      writeFileSync(join(dir, 'driver.mjs'), DRIVER);
      writeFileSync(join(dir, 'bg.sh'), '#!/bin/sh\nsleep 0.2 &\nexit 0\n', { mode: 0o755 });
      writeFileSync(join(dir, 'st.sh'), '#!/bin/sh\nsleep "$1"\nexit 7\n', { mode: 0o755 });
    });

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** mountProc false: /proc stays the host's, so the reaper falls back to a waitid peek. */
    const drive = (mode: 'on' | 'off', mountProc = true): DriverOut => {
      const r = spawnSync(
        'unshare',
        [
          '--pid',
          '--fork',
          ...(mountProc ? ['--mount-proc'] : []),
          '--kill-child',
          process.execPath,
          join(dir, 'driver.mjs'),
          mode,
          dir,
          pathToFileURL(dist).href,
        ],
        { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' },
      );
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as DriverOut;
    };

    it('without the reaper the orphans stay zombies of PID 1 (the problem)', () => {
      const out = drive('off');
      expect(out.pid).toBe(1);
      expect(out.zombies).toBe(ORPHANS);
    });

    it.each([
      ['/proc of the namespace (full list of zombies)', true],
      ['the host /proc (waitid peek, one at a time)', false],
    ])('with it they are reaped, and every script still gets its own exit status: %s', (what, mountProc) => {
      const out = drive('on', mountProc);
      expect(out.pid).toBe(1);
      expect(out.zombies).toBe(0);
      expect(out.reaped).toBe(ORPHANS);
      expect(out.outcomes.slice(0, ORPHANS)).toEqual(Array(ORPHANS).fill({ kind: 'exit', code: 0 }));
      expect(out.outcomes.slice(ORPHANS)).toEqual(Array(SCRIPTS).fill({ kind: 'exit', code: 7 }));
      process.stdout.write(
        `PID 1, ${what}: ${out.reaped} orphans reaped, ${SCRIPTS} scripts' statuses intact\n`,
      );
    });
  },
);
