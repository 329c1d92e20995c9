/**
 * Daemon mode without `-n`: keepalived forks, the parent exits 0, the child calls setsid(), chdir("/")
 * and puts stdio on /dev/null. Node cannot fork(), so the parent starts itself again (same node
 * binary, execArgv, script and arguments) with `detached: true` (setsid), stdio ignored (/dev/null)
 * and one extra descriptor: a pipe on fd 3, named by READY_FD_ENV. The child runs the daemon as with
 * `-n` and writes one line on that pipe: `ready PID` once it is up (pid files written, start-up
 * complete), or `error TEXT` when start-up fails. Unlike keepalived's parent, which exits at once,
 * ours waits for that line: exit 0 once the daemon is up, or the child's exit code (with the reason
 * on stderr) when it dies first, so `Type=forking` units and init scripts see a failed start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

/** Set in the child's environment: the descriptor of the readiness pipe (removed by the child). */
export const READY_FD_ENV = 'KEEPALIVED_TS_READY_FD';

/** How the daemon tells whoever started it how start-up went. */
export interface StartupReporter {
  /** Start-up complete: the daemon is up. */
  ready(): void;
  /** Start-up failed; `reason` is one line for the operator. */
  failed(reason: string): void;
}

/** What the parent needs to start the child; defaults are this process's. */
export interface ForkDeps {
  execPath?: string;
  execArgv?: readonly string[];
  /** The entry script (process.argv[1]). */
  script?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stderr(text: string): void;
  /** Signals forwarded to the child while waiting (default TERM and INT). */
  forward?: readonly NodeJS.Signals[];
  /**
   * sd_notify of this process (set when NOTIFY_SOCKET is): once the child is up it is told
   * `MAINPID=<child>` and `READY=1`, so a `Type=notify` unit started without -n follows the daemon.
   */
  notify?: ((state: string) => void) | undefined;
}

/** A child's line on the readiness pipe. */
export type ReadinessLine = { kind: 'ready'; pid: number } | { kind: 'error'; text: string };

/** Parses one line of the readiness pipe; undefined for anything else (ignored). */
export function parseReadinessLine(line: string): ReadinessLine | undefined {
  const m = /^ready (\d+)$/.exec(line);
  if (m) return { kind: 'ready', pid: Number(m[1]) };
  if (line.startsWith('error ')) return { kind: 'error', text: line.slice(6) };
  return undefined;
}

/** An exit status as a shell reports it: the code, or 128 + the signal number. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? constants.signals[signal] : undefined;
  return n !== undefined ? 128 + n : 1;
}

/**
 * The parent's side: starts the daemon detached and resolves with this process's exit code once the
 * child is up (0) or has died (its exit status). Prints nothing on success, as keepalived.
 */
export function forkDaemon(args: readonly string[], deps: ForkDeps): Promise<number> {
  const script = deps.script ?? process.argv[1];
  if (!script) {
    deps.stderr('keepalived-ts: cannot fork: the entry script is unknown; use -n\n');
    return Promise.resolve(1);
  }
  return new Promise<number>((done) => {
    let child: ChildProcess;
    try {
      child = spawn(
        deps.execPath ?? process.execPath,
        [...(deps.execArgv ?? process.execArgv), script, ...args],
        {
          // setsid(): own session and process group, no controlling terminal
          detached: true,
          stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
          env: { ...(deps.env ?? process.env), [READY_FD_ENV]: '3' },
          cwd: deps.cwd ?? process.cwd(),
        },
      );
    } catch (e) {
      deps.stderr(`keepalived-ts: cannot start the daemon: ${(e as Error).message}\n`);
      done(1);
      return;
    }
    const errors: string[] = [];
    const forward = deps.forward ?? (['SIGTERM', 'SIGINT'] as const);
    const relay = (sig: NodeJS.Signals) => {
      try {
        child.kill(sig);
      } catch {
        // already gone: its exit ends the wait
      }
    };
    for (const s of forward) process.on(s, relay);
    let settled = false;
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      for (const s of forward) process.off(s, relay);
      pipe?.destroy();
      // the daemon lives on in its own session; nothing of it may keep this process alive
      child.unref();
      done(code);
    };
    const pipe = child.stdio[3] as (NodeJS.ReadableStream & { destroy(): void }) | null;
    let buf = '';
    pipe?.setEncoding('utf8');
    pipe?.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const l = parseReadinessLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (l?.kind === 'ready') {
          try {
            deps.notify?.(`MAINPID=${l.pid}\nREADY=1`);
          } catch {
            // systemd not listening: nothing to tell
          }
          finish(0);
        } else if (l?.kind === 'error') errors.push(l.text);
      }
    });
    pipe?.on('error', () => {
      // the child closed its end: its exit decides
    });
    // 'exit' may come before the last lines are read: the pipe's end is awaited (bounded, in case
    // something the child started still holds its end)
    const drained = new Promise<void>((r) => {
      if (!pipe) r();
      pipe?.once('close', r);
      pipe?.once('end', r);
    });
    child.once('error', (e) => {
      deps.stderr(`keepalived-ts: cannot start the daemon: ${e.message}\n`);
      finish(1);
    });
    child.once('exit', async (code, signal) => {
      if (settled) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      if (settled) return;
      const status = exitStatus(code, signal);
      for (const t of errors) deps.stderr(`keepalived-ts: ${t}\n`);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (status !== 0 || errors.length === 0)
        deps.stderr(
          `keepalived-ts: the daemon (pid ${child.pid}) ${how} before start-up completed${
            errors.length ? '' : '; see its log (syslog)'
          }\n`,
        );
      finish(status);
    });
  });
}

/**
 * The child's side: a reporter on the readiness pipe when this process was started by forkDaemon
 * (READY_FD_ENV set and naming a pipe or socket), else undefined. Removes READY_FD_ENV from the
 * environment so scripts do not inherit it.
 */
export function childReporter(env: NodeJS.ProcessEnv = process.env): StartupReporter | undefined {
  const v = env[READY_FD_ENV];
  if (v === undefined) return undefined;
  delete env[READY_FD_ENV];
  const fd = Number(v);
  if (!/^\d+$/.test(v) || fd < 3) return undefined;
  try {
    const st = fstatSync(fd);
    if (!st.isFIFO() && !st.isSocket()) return undefined;
  } catch {
    return undefined;
  }
  let open = true;
  const send = (line: string) => {
    if (!open) return;
    try {
      writeSync(fd, `${line.replace(/\n/g, ' ')}\n`);
    } catch {
      // the parent is gone (killed while waiting): nobody to tell
    }
  };
  return {
    ready: () => {
      send(`ready ${process.pid}`);
      open = false;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
    failed: (reason) => send(`error ${reason}`),
  };
}

/** True when this process is the child forkDaemon started (it must not fork again). */
export const isDaemonChild = (env: NodeJS.ProcessEnv = process.env): boolean =>
  env[READY_FD_ENV] !== undefined;

/**
 * Paths from the command line made absolute against `cwd`: the child changes to "/" as keepalived's
 * daemon does, after which `-f keepalived.conf` would name /keepalived.conf.
 */
export function absolutePaths<T extends Record<string, unknown>>(
  opts: T,
  keys: readonly (keyof T)[],
  cwd: string,
): T {
  const out = { ...opts };
  for (const k of keys) {
    const v = out[k];
    if (typeof v === 'string' && v !== '' && !isAbsolute(v))
      (out as Record<keyof T, unknown>)[k] = resolve(cwd, v);
  }
  return out;
}
