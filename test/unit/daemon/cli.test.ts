import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_UMASK,
  logConfigDump,
  PROCESS_TITLE,
  type ProcessHooks,
  runCli,
  setupCoreDumps,
  versionText,
} from '../../../src/daemon/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

/** Records the process-wide effects instead of making them. */
function recorder(corePattern = '|/usr/lib/systemd/systemd-coredump %P\n') {
  const calls: string[] = [];
  let pattern = corePattern;
  const hooks: ProcessHooks = {
    setTitle: (t) => calls.push(`title ${t}`),
    umask: (m) => calls.push(`umask ${m.toString(8)}`),
    raiseCoreLimit: () => {
      calls.push('rlimit');
      return undefined;
    },
    abortOnUncaught: () => calls.push('abort'),
    readCorePattern: () => pattern,
    writeCorePattern: (p) => {
      calls.push(`core_pattern ${JSON.stringify(p)}`);
      pattern = p;
    },
  };
  return { calls, hooks, pattern: () => pattern };
}

const run = async (argv: string[], proc?: ProcessHooks) => {
  let out = '';
  let err = '';
  const io = {
    stdout: (t: string) => (out += t),
    stderr: (t: string) => (err += t),
    ...(proc ? { proc } : {}),
  };
  const code = await runCli(argv, io, {});
  return { code, out, err };
};

describe('runCli', () => {
  it('config test: 0 for a clean file, nothing printed', async () => {
    const r = await run(['-t', '-f', file('ok.conf', 'global_defs {\n  router_id lb1\n}\n')]);
    expect(r).toEqual({ code: 0, out: '', err: '' });
  });
  it('config test: 5 and a positioned diagnostic for an unknown keyword', async () => {
    const f = file('unk.conf', 'global_defs {\n  router_idd lb1\n}\n');
    const r = await run(['--config-test', '-f', f]);
    expect(r.code).toBe(5);
    expect(r.err).toContain(`${f}:2:3: warning KA_ERR_CONF_UNKNOWN_KEYWORD 'router_idd'`);
  });
  it('config test: 0 for a missing main file, 4 with -e', async () => {
    expect((await run(['-t', '-f', join(dir, 'missing.conf')])).code).toBe(0);
    expect((await run(['-t', '-e', '-f', join(dir, 'missing.conf')])).code).toBe(4);
  });
  it('config test: appends to the --config-test=FILE log', async () => {
    const log = join(dir, 'test.log');
    writeFileSync(log, 'before\n');
    const r = await run([`--config-t=${log}`, '-f', file('unk2.conf', 'foo 1\n')]);
    expect(r).toMatchObject({ code: 5, err: '' });
    const text = readFileSync(log, 'utf8');
    expect(text.startsWith('before\n')).toBe(true);
    expect(text).toContain('KA_ERR_CONF_UNKNOWN_KEYWORD');
  });
  it('config test: selects @ID lines with -i', async () => {
    const f = file('cond.conf', '@nodeA foo 1\n');
    expect((await run(['-t', '-i', 'nodeA', '-f', f])).code).toBe(5);
    expect((await run(['-t', '--config-i', 'nodeB', '-f', f])).code).toBe(0);
  });
  it('--dump-config exits 2 where keepalived stops at a line missing its parameter', async () => {
    const f = file('stop.conf', 'vrrp_instance VI_1 {\n  virtual_router_id 7\n  priority\n}\n');
    const r = await run(['--dump-config', '-f', f]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/KA_ERR_CONF_MISSING_WORD/);
  });
  it('--dump-config prints the resolved model as JSON', async () => {
    const f = file(
      'vi.conf',
      'vrrp_instance VI_1 {\n  state MASTER\n  virtual_router_id 7\n  advert_int 2\n}\n',
    );
    const r = await run(['--dump-config', '-f', f]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).vrrpInstances[0]).toMatchObject({
      name: 'VI_1',
      vrid: 7,
      priority: 255,
      state: 'MASTER',
      advertInt: 2,
      interface: 'eth0',
    });
  });
  it('--signum prints keepalived signal numbers', async () => {
    expect(await run(['--signum=RELOAD'])).toEqual({ code: 0, out: '1\n', err: '' });
    expect(await run(['--signum', 'STOP'])).toEqual({ code: 0, out: '15\n', err: '' });
    // the C library's SIGRTMIN+2 / SIGRTMAX-1, from the addon (glibc: 36 / 63)
    expect(await run(['--signum=JSON'])).toEqual({ code: 0, out: '36\n', err: '' });
    expect(await run(['--signum=STATS_CLEAR'])).toEqual({ code: 0, out: '63\n', err: '' });
    expect(await run(['--signum=NOPE'])).toEqual({ code: 1, out: '', err: 'Unknown sigfunc NOPE\n' });
  });
  it('-h prints the usage to stderr, exit 0', async () => {
    const r = await run(['-h']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^Usage: keepalived-ts \[OPTION\.\.\.\]\n/);
    expect(r.err).toMatch(/--config-test\[=LOG_FILE\]/);
  });
  it('a bad option: exit 1, the daemon never starts', async () => {
    expect(await run(['--bogus', '-n'])).toEqual({ code: 1, out: '', err: 'Unknown option --bogus\n' });
  });
});

describe('-v', () => {
  it('prints to stderr a first line tools parse as keepalived 2.2.7, then ours', async () => {
    const r = await run(['-v']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    const lines = r.err.split('\n');
    expect(lines[0]).toMatch(/^Keepalived v2\.2\.7 \(keepalived-ts \d+\.\d+\.\d+\S*\)$/);
    expect(r.err).toMatch(/^keepalived-ts \d+\.\d+\.\d+\S*: /m);
    expect(r.err).toMatch(/^Running on \S+ \S+ /m);
    expect(r.err).toContain(`Node.js ${process.version}`);
  });
  it("keepalived-exporter's parse (first line, second word, without its first character) gives 2.2.7", () => {
    // internal/types/utils/version.go: SplitN(out, "\n", 2) must give two parts; Split(line, " ")[1][1:]
    const text = versionText('9.8.7');
    const parts = text.split('\n');
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts[0]!.split(' ')[1]!.slice(1)).toBe('2.2.7');
    expect(parts[0]).toBe('Keepalived v2.2.7 (keepalived-ts 9.8.7)');
  });
});

describe('process-wide effects', () => {
  it('-t: the title becomes keepalived and the umask keepalived default 0177', async () => {
    const rec = recorder();
    expect((await run(['-t', '-f', file('ok3.conf', '')], rec.hooks)).code).toBe(0);
    expect(rec.calls).toEqual([`title ${PROCESS_TITLE}`, `umask ${DEFAULT_UMASK.toString(8)}`]);
  });
  it('daemon mode: the title is set first, even when a bad option then stops the run', async () => {
    const rec = recorder();
    expect(await run(['-n', '--bogus'], rec.hooks)).toEqual({
      code: 1,
      out: '',
      err: 'Unknown option --bogus\n',
    });
    // keepalived's umask 0177 (pid files are forced to 0644 by pidfile.ts)
    expect(rec.calls).toEqual([`title ${PROCESS_TITLE}`, `umask ${DEFAULT_UMASK.toString(8)}`]);
    const withU = recorder();
    await run(['-n', '-u', '027', '--bogus'], withU.hooks);
    expect(withU.calls).toEqual([`title ${PROCESS_TITLE}`, 'umask 27']);
  });
  it('-u sets the umask instead (keepalived: strtoll base 0)', async () => {
    const rec = recorder();
    await run(['-u', '0x12', '-t', '-f', file('ok4.conf', '')], rec.hooks);
    expect(rec.calls).toContain('umask 22');
  });
  it('-v, -h, --signum and --dump-config leave the process as it is', async () => {
    for (const argv of [['-v'], ['-h'], ['--signum=STOP'], ['--dump-config', '-f', file('ok5.conf', '')]]) {
      const rec = recorder();
      await run(argv, rec.hooks);
      expect(rec.calls).toEqual([]);
    }
  });
  it('a test driving runCli without hooks changes nothing in its own process', async () => {
    // process.umask() without an argument is deprecated: read it from /proc
    const umask = () => /^Umask:\s*(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const title = process.title;
    const mask = umask();
    await run(['-t', '-u', '077', '-f', file('ok6.conf', '')]);
    expect(process.title).toBe(title);
    expect(umask()).toBe(mask);
    expect(mask).toMatch(/^0[0-7]{3}$/);
  });
});

describe('setupCoreDumps (-m / -M)', () => {
  it('-m: RLIMIT_CORE unlimited and abort on an uncaught exception; core_pattern untouched', () => {
    const rec = recorder();
    const restore = setupCoreDumps({ coreDump: true, coreDumpPattern: undefined }, rec.hooks, () => {});
    restore();
    expect(rec.calls).toEqual(['rlimit', 'abort']);
  });
  it('-M: sets core_pattern, and restore() puts the original back', () => {
    const rec = recorder('core\n');
    const restore = setupCoreDumps(
      { coreDump: true, coreDumpPattern: '/var/crash/%e.%p' },
      rec.hooks,
      () => {},
    );
    expect(rec.pattern()).toBe('/var/crash/%e.%p');
    restore();
    expect(rec.pattern()).toBe('core\n');
    expect(rec.calls).toEqual([
      'core_pattern "/var/crash/%e.%p"',
      'rlimit',
      'abort',
      'core_pattern "core\\n"',
    ]);
  });
  it('failures are reported with keepalived wording and the daemon goes on', () => {
    const rec = recorder();
    rec.hooks.readCorePattern = () => {
      throw new Error('EACCES');
    };
    rec.hooks.raiseCoreLimit = () => 'prlimit: failed to set the CORE resource limit';
    const said: string[] = [];
    const restore = setupCoreDumps({ coreDump: true, coreDumpPattern: 'core' }, rec.hooks, (t) =>
      said.push(t),
    );
    restore();
    expect(said).toEqual([
      'Unable to read/write core_pattern: EACCES\n',
      'Failed to set core file size: prlimit: failed to set the CORE resource limit\n',
    ]);
    expect(rec.calls).toEqual(['abort']);
  });
});

describe('logConfigDump (-d)', () => {
  it('logs the loaded configuration line by line under a header', () => {
    const lines: string[] = [];
    const config = { global: { routerId: 'lb1' }, vrrpInstances: [] };
    logConfigDump(config as never, { info: ((m: string) => lines.push(m)) as never });
    expect(lines[0]).toBe('------< Configuration dump (-d) >------');
    expect(JSON.parse(lines.slice(1).join('\n'))).toEqual(config);
  });
});

/**
 * The real hooks in a real process: a child imports src/daemon/cli.ts (through a loader that
 * transpiles TypeScript), runs SCRIPT with `cli` bound, prints `ready <json>` and waits; we read
 * /proc, then end it by its pid.
 */
function spawnCliChild(script: string, argv: string[] = []) {
  const repo = resolve(import.meta.dirname, '../../..');
  const ts = pathToFileURL(join(repo, 'node_modules/typescript/lib/typescript.js')).href;
  const loader = file(
    'ts-loader.mjs',
    `import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from ${JSON.stringify(ts)};
export async function resolve(spec, ctx, next) {
  try { return await next(spec, ctx); } catch (e) {
    if (spec.endsWith('.js') && spec.startsWith('.')) return next(spec.slice(0, -3) + '.ts', ctx);
    throw e;
  }
}
export async function load(url, ctx, next) {
  if (!url.endsWith('.ts')) return next(url, ctx);
  const src = await readFile(fileURLToPath(url), 'utf8');
  const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
`,
  );
  const register = file(
    'register.mjs',
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(loader).href)});\n`,
  );
  const child = file(
    `child-${Math.random().toString(16).slice(2)}.mjs`,
    `const cli = await import(${JSON.stringify(pathToFileURL(join(repo, 'src/daemon/cli.ts')).href)});
${script}
setInterval(() => {}, 60_000);
`,
  );
  // cwd: a core file (core_pattern "core") would land in our temporary directory
  const proc = spawn(process.execPath, ['--import', register, child, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: dir,
  });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on('exit', (code, signal) => res({ code, signal })),
  );
  const ready = new Promise<unknown>((res, rej) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^ready (.*)$/m.exec(out);
      if (m) res(JSON.parse(m[1]!));
    });
    void exited.then(() => rej(new Error(`child exited: ${stderr}`)));
  });
  return { pid: proc.pid!, ready, exited, stderr: () => stderr };
}

describe('the real process hooks', () => {
  it('title: comm and cmdline are keepalived, so pidof/killall/track_process find the daemon', async () => {
    const c = spawnCliChild(`cli.realProcessHooks.setTitle(cli.PROCESS_TITLE); console.log('ready 0');`, [
      '-n',
      '-f',
      '/etc/keepalived/keepalived.conf',
    ]);
    try {
      await c.ready;
      expect(readFileSync(`/proc/${c.pid}/comm`, 'utf8')).toBe('keepalived\n');
      // Node rewrites the argv area: the title, then NULs (the arguments are gone from ps)
      const cmdline = readFileSync(`/proc/${c.pid}/cmdline`, 'latin1');
      expect(cmdline.replace(/\0+$/, '')).toBe('keepalived');
      expect(readFileSync(`/proc/${c.pid}/stat`, 'utf8').startsWith(`${c.pid} (keepalived) `)).toBe(true);
      // the lookups init scripts and monitoring use (they only list here, nothing is signalled)
      const ps = spawnSync('ps', ['-o', 'comm=', '-p', String(c.pid)], { encoding: 'utf8' });
      if (!ps.error) expect(ps.stdout.trim()).toBe('keepalived');
      const pidof = spawnSync('pidof', ['keepalived'], { encoding: 'utf8' });
      if (!pidof.error) expect(pidof.stdout.trim().split(/\s+/)).toContain(String(c.pid));
    } finally {
      process.kill(c.pid, 'SIGTERM');
      await c.exited;
    }
  }, 60_000);

  it('-m: RLIMIT_CORE becomes unlimited (or the failure is said)', async () => {
    const c = spawnCliChild(
      `console.log('ready ' + JSON.stringify(cli.realProcessHooks.raiseCoreLimit() ?? null));`,
    );
    try {
      const failure = await c.ready;
      const limits = readFileSync(`/proc/${c.pid}/limits`, 'utf8');
      const core = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(limits);
      if (failure === null) expect([core?.[1], core?.[2]]).toEqual(['unlimited', 'unlimited']);
      else expect(failure).toMatch(/\S/);
    } finally {
      process.kill(c.pid, 'SIGTERM');
      await c.exited;
    }
  }, 60_000);

  it('-m: an uncaught exception aborts the process (SIGABRT: a core where the limit allows)', async () => {
    const c = spawnCliChild(
      `cli.realProcessHooks.abortOnUncaught(); console.log('ready 0'); setTimeout(() => { throw new Error('boom'); }, 10);`,
    );
    await c.ready;
    expect(await c.exited).toEqual({ code: null, signal: 'SIGABRT' });
    expect(c.stderr()).toMatch(/Uncaught exception, aborting for a core dump \(-m\): Error: boom/);
  }, 60_000);
});
