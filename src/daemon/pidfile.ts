/**
 * keepalived's pid files. keepalived-ts runs one process (VRRP and checkers share an event loop, the
 * checkers' I/O being asynchronous), so the parent, VRRP and checker pid files all name that process:
 * supervisors and scripts that read any of them (`kill -HUP $(cat /run/keepalived.pid)`) keep working.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { KaError } from '../core/errors.js';
import { DaemonErrors } from './errors.js';

export const DEFAULT_PIDFILES = {
  main: '/run/keepalived.pid',
  vrrp: '/run/vrrp.pid',
  checkers: '/run/checkers.pid',
} as const;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `pid` to `path`, refusing (as keepalived does) when the file names another live process.
 * Returns a release function that removes the file if it still holds our pid.
 */
export function writePidFile(path: string, pid = process.pid): () => void {
  let existing: number | undefined;
  try {
    existing = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && Number.isInteger(existing) && existing !== pid && alive(existing)) {
    throw new KaError(
      DaemonErrors.KA_ERR_DAEMON_RUNNING,
      `daemon is already running (pid ${existing} in ${path})`,
      {
        path,
        pid: existing,
      },
    );
  }
  try {
    const fd = openSync(path, 'w', 0o644);
    writeSync(fd, `${pid}\n`);
    closeSync(fd);
  } catch (e) {
    throw new KaError(
      DaemonErrors.KA_ERR_DAEMON_PIDFILE,
      `cannot write pid file ${path}: ${(e as Error).message}`,
      {
        path,
      },
    );
  }
  return () => {
    try {
      if (Number.parseInt(readFileSync(path, 'utf8').trim(), 10) === pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
}
