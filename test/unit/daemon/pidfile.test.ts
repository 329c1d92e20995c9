import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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

/** The KaError writePidFile throws, or undefined. */
function refusal(path: string): unknown {
  try {
    writePidFile(path);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('pid file that is not a regular file (keepalived: "Error reading pid file", not started)', () => {
  it('a symlink to a file: refused, the target keeps its content, the link stays', () => {
    const d = tmp();
    const target = join(d, 'tgt');
    writeFileSync(target, 'precious\n');
    const link = join(d, 'link.pid');
    symlinkSync(target, link);
    const err = refusal(link);
    expect(isKaError(err, 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
    expect((err as Error).message).toBe(`Error reading pid file ${link}: a symbolic link`);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(readlinkSync(link)).toBe(target);
    expect(readdirSync(d).sort()).toEqual(['link.pid', 'tgt']);
  });

  it('a symlink to a file holding a live pid is refused the same way, not read through', () => {
    const d = tmp();
    writeFileSync(join(d, 'other.pid'), '1\n');
    symlinkSync(join(d, 'other.pid'), join(d, 'k.pid'));
    expect(isKaError(refusal(join(d, 'k.pid')), 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
  });

  it('a symlink to a directory: refused, nothing created in the directory', () => {
    const d = tmp();
    mkdirSync(join(d, 'sub'));
    symlinkSync(join(d, 'sub'), join(d, 'k.pid'));
    expect(isKaError(refusal(join(d, 'k.pid')), 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
    expect(readdirSync(join(d, 'sub'))).toEqual([]);
  });

  it('a dangling symlink: refused, its target is not created', () => {
    const d = tmp();
    symlinkSync(join(d, 'absent'), join(d, 'k.pid'));
    const err = refusal(join(d, 'k.pid'));
    expect(isKaError(err, 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
    expect(existsSync(join(d, 'absent'))).toBe(false);
    expect(lstatSync(join(d, 'k.pid')).isSymbolicLink()).toBe(true);
  });

  it('a directory: refused', () => {
    const d = tmp();
    mkdirSync(join(d, 'k.pid'));
    const err = refusal(join(d, 'k.pid'));
    expect(isKaError(err, 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
    expect((err as Error).message).toBe(`Error reading pid file ${join(d, 'k.pid')}: a directory`);
  });

  it('a FIFO: refused without blocking on it (no writer is ever attached)', () => {
    const d = tmp();
    const fifo = join(d, 'k.pid');
    execFileSync('mkfifo', [fifo]);
    const err = refusal(fifo);
    expect(isKaError(err, 'KA_ERR_DAEMON_PIDFILE')).toBe(true);
    expect((err as Error).message).toBe(`Error reading pid file ${fifo}: a FIFO`);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('release leaves a symlink put in place of our file alone (and its target)', () => {
    const d = tmp();
    const p = join(d, 'k.pid');
    const release = writePidFile(p);
    rmSync(p);
    writeFileSync(join(d, 'tgt'), `${process.pid}\n`);
    symlinkSync(join(d, 'tgt'), p);
    release();
    expect(lstatSync(p).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(d, 'tgt'), 'utf8')).toBe(`${process.pid}\n`);
  });

  it('writes through a new file renamed into place: mode 0644, no temporary file left', () => {
    const d = tmp();
    const p = join(d, 'k.pid');
    writeFileSync(p, '999999999\n', { mode: 0o600 });
    const release = writePidFile(p);
    expect(statSync(p).mode & 0o777).toBe(0o644);
    expect(readdirSync(d)).toEqual(['k.pid']);
    release();
    expect(readdirSync(d)).toEqual([]);
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
