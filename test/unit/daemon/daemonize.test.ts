/**
 * The fork protocol of src/daemon/daemonize.ts with real processes: a stand-in daemon (plain Node
 * script) started by forkDaemon reports on its fd 3 as the real one does; the parent's exit code and
 * stderr follow what it reports and how it ends. childReporter is checked on a FIFO.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  absolutePaths,
  childReporter,
  exitStatus,
  forkDaemon,
  isDaemonChild,
  parseReadinessLine,
  READY_FD_ENV,
} from '../../../src/daemon/daemonize.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-daemonize-'));
const started: number[] = [];

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in daemon: `body` runs with `say(line)` writing to the readiness fd. */
function standIn(name: string, body: string): string {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(
    path,
    `import { writeSync, writeFileSync } from 'node:fs';
const fd = Number(process.env.${READY_FD_ENV});
const say = (l) => writeSync(fd, l + '\\n');
writeFileSync(${JSON.stringify(join(dir, `${name}.info`))}, JSON.stringify({ pid: process.pid, cwd: process.cwd(), args: process.argv.slice(2) }));
${body}
`,
  );
  return path;
}

async function fork(script: string, args: string[] = [], extra: { forward?: NodeJS.Signals[] } = {}) {
  let err = '';
  const code = await forkDaemon(args, {
    script,
    execArgv: [],
    cwd: dir,
    stderr: (t) => {
      err += t;
    },
    ...extra,
  });
  return { code, err };
}

const info = (name: string) =>
  JSON.parse(readFileSync(join(dir, `${name}.info`), 'utf8')) as { pid: number; cwd: string; args: string[] };

const sid = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[3]);
};

describe('forkDaemon', () => {
  it('resolves 0 once the child says ready; the child lives on in its own session with the same arguments', async () => {
    const s = standIn('ok', "say('ready ' + process.pid); setInterval(() => {}, 1000);");
    const r = await fork(s, ['-f', 'x.conf', '-D']);
    expect(r).toEqual({ code: 0, err: '' });
    const i = info('ok');
    started.push(i.pid);
    expect(i.args).toEqual(['-f', 'x.conf', '-D']);
    expect(sid(i.pid)).toBe(i.pid);
    process.kill(i.pid, 'SIGKILL');
  });

  it("passes on the child's exit code and its reasons when it fails before ready", async () => {
    const s = standIn(
      'fail',
      "say('error daemon is already running (pid 1 in /run/keepalived.pid)'); process.exit(4);",
    );
    const r = await fork(s);
    expect(r.code).toBe(4);
    expect(r.err).toContain('keepalived-ts: daemon is already running (pid 1 in /run/keepalived.pid)\n');
    expect(r.err).toMatch(/the daemon \(pid \d+\) exited with code 4 before start-up completed\n$/);
  });

  it('a child killed by a signal: 128 + its number, and the signal named', async () => {
    const s = standIn('killed', "process.kill(process.pid, 'SIGKILL');");
    const r = await fork(s);
    expect(r.code).toBe(128 + 9);
    expect(r.err).toMatch(/was killed by SIGKILL before start-up completed; see its log/);
  });

  it('a child ending 0 before ready (stopped during start-up): 0, and said so', async () => {
    const r = await fork(standIn('stopped', 'process.exit(0);'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/exited with code 0 before start-up completed/);
  });

  it('forwards the listed signals to the child while waiting', async () => {
    const armed = join(dir, 'fwd.armed');
    const s = standIn(
      'fwd',
      `process.on('SIGUSR2', () => { say('error got SIGUSR2'); process.exit(5); }); writeFileSync(${JSON.stringify(armed)}, ''); setInterval(() => {}, 1000);`,
    );
    const p = fork(s, [], { forward: ['SIGUSR2'] });
    // the stand-in writes the file once its handler is installed
    while (!existsSync(armed)) await new Promise((r) => setTimeout(r, 20));
    process.emit('SIGUSR2', 'SIGUSR2');
    const r = await p;
    expect(r.code).toBe(5);
    expect(r.err).toContain('keepalived-ts: got SIGUSR2\n');
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it('a missing entry script: 1 and a message', async () => {
    const r = await fork(join(dir, 'missing.mjs'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/exited with code 1 before start-up completed/);
  });
});

describe('childReporter', () => {
  it('writes ready PID on the pipe named by the environment, then closes it; the variable is removed', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const rd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wr = openSync(fifo, constants.O_WRONLY);
    const env: NodeJS.ProcessEnv = { [READY_FD_ENV]: String(wr), OTHER: 'x' };
    expect(isDaemonChild(env)).toBe(true);
    const rep = childReporter(env);
    expect(env).toEqual({ OTHER: 'x' });
    expect(rep).toBeDefined();
    rep!.failed('first\nline');
    rep!.ready();
    // after ready nothing more is written (the descriptor is closed)
    rep!.failed('late');
    const buf = Buffer.alloc(256);
    const got = buf.subarray(0, readSync(rd, buf)).toString();
    expect(got).toBe(`error first line\nready ${process.pid}\n`);
    closeSync(rd);
    expect(() => closeSync(wr)).toThrow();
  });

  it('ignores a variable naming no pipe (a regular file, stdio, garbage) but still removes it', () => {
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    const fd = openSync(file, 'r');
    for (const v of [String(fd), '1', 'x', '-3']) {
      const env: NodeJS.ProcessEnv = { [READY_FD_ENV]: v };
      expect(childReporter(env)).toBeUndefined();
      expect(env[READY_FD_ENV]).toBeUndefined();
    }
    closeSync(fd);
    expect(childReporter({})).toBeUndefined();
  });
});

describe('helpers', () => {
  it('parseReadinessLine', () => {
    expect(parseReadinessLine('ready 42')).toEqual({ kind: 'ready', pid: 42 });
    expect(parseReadinessLine('error pid file busy')).toEqual({ kind: 'error', text: 'pid file busy' });
    expect(parseReadinessLine('ready')).toBeUndefined();
    expect(parseReadinessLine('hello')).toBeUndefined();
  });
  it('exitStatus: the code, else 128 + the signal number', () => {
    expect(exitStatus(3, null)).toBe(3);
    expect(exitStatus(null, 'SIGTERM')).toBe(143);
    expect(exitStatus(null, null)).toBe(1);
  });
  it('absolutePaths resolves relative paths only', () => {
    expect(
      absolutePaths(
        { configFile: 'k.conf', pidFile: '/run/p', other: 'x', none: undefined },
        ['configFile', 'pidFile', 'none'],
        '/etc/ka',
      ),
    ).toEqual({ configFile: '/etc/ka/k.conf', pidFile: '/run/p', other: 'x', none: undefined });
  });
});
