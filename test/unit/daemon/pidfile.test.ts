import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isKaError } from '../../../src/core/errors.js';
import { writePidFile } from '../../../src/daemon/pidfile.js';

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
