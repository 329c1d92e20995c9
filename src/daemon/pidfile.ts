/**
 * keepalived's pid files. keepalived-ts runs one process (VRRP and checkers share an event loop, the
 * checkers' I/O being asynchronous), so the parent, VRRP and checker pid files all name that process:
 * supervisors and scripts that read any of them (`kill -HUP $(cat /run/keepalived.pid)`) keep working.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { KaError } from '../core/errors.js';
import { DaemonErrors } from './errors.js';

export const DEFAULT_PIDFILES = {
  main: '/run/keepalived.pid',
  vrrp: '/run/vrrp.pid',
  checkers: '/run/checkers.pid',
} as const;

export interface PidFileChoice {
  /** -p, -r, -c, -b as given on the command line. */
  main?: string | undefined;
  vrrp?: string | undefined;
  checkers?: string | undefined;
  bfd?: string | undefined;
  /** global_defs use_pid_dir. */
  usePidDir: boolean;
  /** global_defs instance NAME. */
  instance?: string | undefined;
  /** The network namespace: -s, else global_defs net_namespace. */
  namespace?: string | undefined;
}

export interface PidFilePaths {
  main: string;
  vrrp: string;
  checkers: string;
  bfd: string;
  /** The directory keepalived creates for them (and removes at exit when empty), if any. */
  dir: string | undefined;
}

/**
 * keepalived 2.2.7's pid file names. A file given on the command line is used as it is. Otherwise
 * /run/NAME.pid, or under /run/keepalived/ with use_pid_dir, an `instance` or a namespace; an
 * `instance` adds `_INSTANCE` to each name. keepalived mounts /run/keepalived/keepalived_NS over
 * /run/keepalived in a namespace's own mount namespace; we run in the caller's, so the files are
 * written where the host sees them, /run/keepalived/keepalived_NS/NAME.pid: two daemons in two
 * namespaces no longer collide.
 */
export function pidFilePaths(c: PidFileChoice): PidFilePaths {
  const inDir = c.usePidDir || c.instance !== undefined || c.namespace !== undefined;
  const dir = inDir
    ? `/run/keepalived${c.namespace !== undefined ? `/keepalived_${c.namespace}` : ''}`
    : undefined;
  const name = (base: string) =>
    dir ? `${dir}/${base}${c.instance !== undefined ? `_${c.instance}` : ''}.pid` : `/run/${base}.pid`;
  return {
    main: c.main ?? name('keepalived'),
    vrrp: c.vrrp ?? name('vrrp'),
    checkers: c.checkers ?? name('checkers'),
    bfd: c.bfd ?? name('bfd'),
    dir,
  };
}

/**
 * Creates the pid directory (mode 0755, parents too) as keepalived does; returns a release that
 * removes what was created here once empty (keepalived: remove_pid_dir at exit).
 */
export function ensurePidDir(dir: string): () => void {
  let made: string | undefined;
  try {
    made = mkdirSync(dir, { recursive: true, mode: 0o755 });
    // 0755 whatever the umask (keepalived's daemon umask is 0177), every level made here
    if (made)
      for (let d = dir; d.length >= made.length; d = d.slice(0, d.lastIndexOf('/'))) chmodSync(d, 0o755);
  } catch (e) {
    throw new KaError(
      DaemonErrors.KA_ERR_DAEMON_PIDFILE,
      `cannot create pid directory ${dir}: ${(e as Error).message}`,
      {
        path: dir,
      },
    );
  }
  return () => {
    if (!made) return;
    // innermost first; stop at the first directory still in use
    for (let d = dir; d.length >= made.length; d = d.slice(0, d.lastIndexOf('/'))) {
      try {
        rmdirSync(d);
      } catch {
        return;
      }
    }
  };
}

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
    // 0644 whatever the umask, as keepalived makes them (readable by init scripts and exporters)
    fchmodSync(fd, 0o644);
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
