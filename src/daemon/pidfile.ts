/**
 * keepalived's pid files. keepalived-ts runs one process (VRRP and checkers share an event loop, the
 * checkers' I/O being asynchronous), so the parent, VRRP and checker pid files all name that process:
 * supervisors and scripts that read any of them (`kill -HUP $(cat /run/keepalived.pid)`) keep working.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

const kindOf = (st: Stats): string =>
  st.isDirectory()
    ? 'a directory'
    : st.isFIFO()
      ? 'a FIFO'
      : st.isSocket()
        ? 'a socket'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : 'not a regular file';

/** keepalived's wording ("Error reading pid file PATH"), then why. */
const unreadable = (path: string, why: string): KaError =>
  new KaError(DaemonErrors.KA_ERR_DAEMON_PIDFILE, `Error reading pid file ${path}: ${why}`, { path });

/**
 * The text of the pid file at `path`, or undefined when there is none. The last component is never
 * followed (O_NOFOLLOW: a symlink fails with ELOOP) and a FIFO does not block the open (O_NONBLOCK);
 * anything but a regular file is refused with KA_ERR_DAEMON_PIDFILE. keepalived 2.2.7 refuses to
 * start on a pid file it cannot read ("Error reading pid file", then "daemon is already running")
 * and leaves what the path names untouched.
 */
function readPidText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw unreadable(path, code === 'ELOOP' ? 'a symbolic link' : (e as Error).message);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw unreadable(path, kindOf(st));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to `path` mode 0644 through a new file in the same directory (O_CREAT|O_EXCL|
 * O_NOFOLLOW) renamed over it: a symlink planted at `path` is replaced, never written through, and a
 * reader never sees the file empty. keepalived's pidfile_write opens with O_NOFOLLOW; the rename also
 * closes the window between our check of the old file and the write.
 */
function replaceFile(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const fd = openSync(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    // 0644 whatever the umask, as keepalived makes them (readable by init scripts and exporters)
    fchmodSync(fd, 0o644);
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes `pid` to `path`, refusing (as keepalived does) when the file names another live process,
 * and (KA_ERR_DAEMON_PIDFILE) when `path` is a symlink, a directory, a FIFO or anything else that is
 * not a regular file. Returns a release function that removes the file if it still holds our pid.
 */
export function writePidFile(path: string, pid = process.pid): () => void {
  const text = readPidText(path);
  const existing = text === undefined ? undefined : Number.parseInt(text.trim(), 10);
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
    replaceFile(path, `${pid}\n`);
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
      // read without following: a symlink put there since is left alone
      const now = readPidText(path);
      if (now !== undefined && Number.parseInt(now.trim(), 10) === pid) unlinkSync(path);
    } catch {
      // gone, or no longer a regular file: not ours to remove
    }
  };
}
