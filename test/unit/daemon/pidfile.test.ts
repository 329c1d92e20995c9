import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { ensurePidDir, pidFilePaths, writePidFile } from '../../../src/daemon/pidfile.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kt-pid-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('pid files', () => {
  it('writes our pid and removes the file on release', () => {
    const p = join(tmp(), 'k.pid');
    const release = writePidFile(p);
    expect(readFileSync(p, 'utf8')).toBe(`${process.pid}\n`);
    release();
    expect(existsSync(p)).toBe(false);
  });

  it('refuses when the file names another live process, with a typed error', () => {
    const p = join(tmp(), 'k.pid');
    writeFileSync(p, '1\n'); // pid 1 is always alive
    let err: unknown;
    try {
      writePidFile(p);
    } catch (e) {
      err = e;
    }
    expect(isKaError(err, 'KA_ERR_DAEMON_RUNNING')).toBe(true);
  });

  it('replaces a stale pid file and does not remove a file that another process took over', () => {
    const p = join(tmp(), 'k.pid');
    writeFileSync(p, '999999999\n');
    const release = writePidFile(p);
    expect(readFileSync(p, 'utf8').trim()).toBe(String(process.pid));
    writeFileSync(p, '1\n');
    release();
    expect(readFileSync(p, 'utf8')).toBe('1\n');
  });

  it('reports an unwritable location with a typed error', () => {
    let err: unknown;
    try {
      writePidFile(join(tmp(), 'missing-dir', 'k.pid'));
    } catch (e) {
      err = e;
    }
    expect(isKaError(err, 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
  });
});

describe('pid file names as keepalived 2.2.7 makes them', () => {
  it('uses /run/NAME.pid by default and the command line paths as given', () => {
    expect(pidFilePaths({ usePidDir: false })).toEqual({
      main: '/run/keepalived.pid',
      vrrp: '/run/vrrp.pid',
      checkers: '/run/checkers.pid',
      bfd: '/run/bfd.pid',
      dir: undefined,
    });
    expect(pidFilePaths({ usePidDir: true, main: '/x/k.pid', instance: 'A' }).main).toBe('/x/k.pid');
  });

  it('moves them to /run/keepalived/ with use_pid_dir, an instance or a namespace', () => {
    expect(pidFilePaths({ usePidDir: true })).toMatchObject({
      main: '/run/keepalived/keepalived.pid',
      vrrp: '/run/keepalived/vrrp.pid',
      dir: '/run/keepalived',
    });
    expect(pidFilePaths({ usePidDir: false, instance: 'web' })).toMatchObject({
      main: '/run/keepalived/keepalived_web.pid',
      checkers: '/run/keepalived/checkers_web.pid',
      bfd: '/run/keepalived/bfd_web.pid',
    });
    // two daemons in two namespaces do not share a file
    const a = pidFilePaths({ usePidDir: false, namespace: 'blue' });
    const b = pidFilePaths({ usePidDir: false, namespace: 'red', instance: 'x' });
    expect([a.main, a.dir, b.vrrp]).toEqual([
      '/run/keepalived/keepalived_blue/keepalived.pid',
      '/run/keepalived/keepalived_blue',
      '/run/keepalived/keepalived_red/vrrp_x.pid',
    ]);
  });

  it('creates the pid directory 0755 and removes what it created once empty', () => {
    const base = tmp();
    const dir = join(base, 'keepalived', 'keepalived_ns');
    const mask = process.umask(0o177);
    let release: () => void;
    try {
      release = ensurePidDir(dir);
    } finally {
      process.umask(mask);
    }
    // under keepalived's umask 0177 too, every level created is 0755
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    expect(statSync(join(base, 'keepalived')).mode & 0o777).toBe(0o755);
    const releaseFile = writePidFile(join(dir, 'keepalived.pid'));
    releaseFile();
    release();
    expect(existsSync(join(base, 'keepalived'))).toBe(false);
    expect(existsSync(base)).toBe(true);
  });

  it('leaves a directory that was there before, or is still in use', () => {
    const base = tmp();
    const release = ensurePidDir(base);
    release();
    expect(existsSync(base)).toBe(true);
    const dir = join(base, 'a', 'b');
    const r2 = ensurePidDir(dir);
    writeFileSync(join(base, 'a', 'other.pid'), '1\n');
    r2();
    expect([existsSync(dir), existsSync(join(base, 'a'))]).toEqual([false, true]);
  });
});
