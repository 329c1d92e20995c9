/**
 * notify_fifo / vrrp_notify_fifo / lvs_notify_fifo (keepalived-surface.md §4.5).
 *
 * The FIFO is created with mode 0644 if absent (by running coreutils `mkfifo` through execa, since
 * Node has no mkfifo(3)), chowned to the configured user, then opened O_RDWR|O_NONBLOCK|O_NOFOLLOW:
 * holding both ends means open never waits for a reader and a write never blocks; when nobody
 * reads and the pipe buffer is full, the line is dropped and counted, as keepalived does. Writes
 * are synchronous on a non-blocking fd (never the libuv thread pool, which a FIFO could stall).
 * A `*_fifo_script` is started before the open with the FIFO path appended, and gets SIGTERM on close.
 */
import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import { chown, lstat, unlink } from 'node:fs/promises';
import { execa } from 'execa';
import type { Counters } from '../core/counters.js';
import { KaError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/log.js';
import { type ScriptDef, ScriptRunner, type ScriptUser } from './script.js';

export interface FifoOptions {
  path: string;
  /** Owner of a FIFO we create (`notify_fifo PATH [user [group]]`). */
  user?: ScriptUser;
  /** `*_fifo_script`; the FIFO path is appended to its argv. It runs on a runner of its own. */
  script?: ScriptDef;
  log?: Logger;
  counters?: Counters;
  /** Label for logs: '', 'vrrp_', 'lvs_'. */
  type?: string;
}

export class NotifyFifo {
  private fd: number | null;
  private scriptRun: Promise<unknown> | null = null;
  private runner: ScriptRunner | null = null;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly created: boolean,
    private readonly opts: FifoOptions,
  ) {
    this.fd = fd;
  }

  /** Create (if absent), start the fifo script, open. Throws KA_ERR_NOTIFY_FIFO. */
  static async open(opts: FifoOptions): Promise<NotifyFifo> {
    const { path } = opts;
    const type = opts.type ?? '';
    let created = false;
    const existing = await lstat(path).catch(() => null);
    if (!existing) {
      const r = await execa('mkfifo', ['-m', '0644', '--', path], { reject: false });
      if (r.exitCode !== 0) {
        throw new KaError('KA_ERR_NOTIFY_FIFO', `Unable to create ${type}notify fifo ${path}`, {
          path,
          stderr: r.stderr,
        });
      }
      created = true;
      const myUid = process.getuid?.();
      const myGid = process.getgid?.();
      if (opts.user && (opts.user.uid !== myUid || opts.user.gid !== myGid)) {
        await chown(path, opts.user.uid, opts.user.gid).catch(() => {
          opts.log?.info(`Failed to set uid:gid for fifo ${path}`);
        });
      }
    }
    let scriptRun: Promise<unknown> | null = null;
    let runner: ScriptRunner | null = null;
    if (opts.script) {
      runner = new ScriptRunner({
        ...(opts.log ? { log: opts.log } : {}),
        ...(opts.counters ? { counters: opts.counters } : {}),
      });
      scriptRun = runner.run(opts.script, [path]);
    }
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (e) {
      if (created) await unlink(path).catch(() => {});
      await runner?.close();
      throw new KaError(
        'KA_ERR_NOTIFY_FIFO',
        `Unable to open ${type}notify fifo ${path} - ${(e as Error).message}`,
        { path },
      );
    }
    const st = fstatSync(fd);
    const myUid = process.getuid?.();
    if (!st.isFIFO() || (st.uid !== myUid && st.uid !== opts.user?.uid)) {
      closeSync(fd);
      await runner?.close();
      throw new KaError('KA_ERR_NOTIFY_FIFO', `${type}notify fifo ${path} is not a fifo we own - not using`, {
        path,
      });
    }
    const fifo = new NotifyFifo(path, fd, created, opts);
    fifo.scriptRun = scriptRun;
    fifo.runner = runner;
    return fifo;
  }

  /** Write one line (a `\n` is added if missing). Never blocks; false when the line was dropped. */
  write(line: string): boolean {
    if (this.fd === null) return false;
    const buf = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
    try {
      const n = writeSync(this.fd, buf);
      if (n === buf.length) return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
        this.opts.log?.warn({ path: this.path, code }, `write to notify fifo ${this.path} failed`);
      }
    }
    this.opts.counters?.inc('KA_ERR_NOTIFY_FIFO_DROPPED');
    return false;
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  /** Unlink (only if we created it), close, SIGTERM the fifo script and wait for it. */
  async close(): Promise<void> {
    if (this.created) await unlink(this.path).catch(() => {});
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    if (this.runner) {
      await this.runner.close('SIGTERM');
      await this.scriptRun;
      this.runner = null;
    }
    (this.opts.log ?? silentLogger).debug({ path: this.path }, 'notify fifo closed');
  }
}

/** `INSTANCE "VI_1" MASTER 150` / `GROUP "G1" BACKUP 0` (no newline). */
export function fifoLine(kind: 'INSTANCE' | 'GROUP', name: string, state: string, priority: number): string {
  return `${kind} "${name}" ${state} ${priority}`;
}
