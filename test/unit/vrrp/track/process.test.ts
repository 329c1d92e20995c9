import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import { Counters } from '../../../../src/core/counters.js';
import {
  countMatches,
  matchProcess,
  type ProcEntry,
  type ProcessMatchSpec,
  parseStat,
  procScratchBytes,
  Quorum,
  readProcEntrySync,
  scanProc,
  TrackProcess,
} from '../../../../src/vrrp/track/process.js';

const entry = (pid: number, comm: string, argv: string[] | null, zombie = false): ProcEntry => ({
  pid,
  comm,
  zombie,
  cmdline: argv ? Buffer.from(`${argv.join('\0')}\0`) : null,
});

const nginx = entry(100, 'nginx', ['nginx', '-g', 'daemon off;']);
const worker = entry(101, 'nginx', ['nginx: worker process']);
const zombie = entry(102, 'nginx', [], true);
const py = entry(103, 'python3', ['/usr/bin/python3', 'app.py', '--port', '8080']);
const longName = entry(104, 'a-very-long-pro', ['/opt/a-very-long-process-name']);

describe('process matching (keepalived read_procs / check_params)', () => {
  const cases: Array<[string, ProcessMatchSpec, ProcEntry, boolean]> = [
    ['comm match', { process: 'nginx' }, nginx, true],
    ['comm match, any args', { process: 'nginx' }, worker, true],
    ['zombie never matches', { process: 'nginx' }, zombie, false],
    ['comm mismatch', { process: 'nginx' }, py, false],
    ['long name compared on 15 chars of comm', { process: 'a-very-long-process-name' }, longName, true],
    ['full_command compares argv[0]', { process: '/usr/bin/python3', fullCommand: true }, py, true],
    ['full_command: comm is not argv[0]', { process: 'python3', fullCommand: true }, py, false],
    ['exact params', { process: '/usr/bin/python3', params: ['app.py', '--port', '8080'] }, py, true],
    ['exact params: one missing', { process: '/usr/bin/python3', params: ['app.py', '--port'] }, py, false],
    [
      'exact params: different',
      { process: '/usr/bin/python3', params: ['app.py', '--port', '8081'] },
      py,
      false,
    ],
    [
      'partial: leading args',
      { process: '/usr/bin/python3', params: ['app.py'], paramMatch: 'partial' },
      py,
      true,
    ],
    [
      'partial: arg prefix is not enough',
      { process: '/usr/bin/python3', params: ['app'], paramMatch: 'partial' },
      py,
      false,
    ],
    [
      'initial: last arg may be a prefix',
      { process: '/usr/bin/python3', params: ['app.py', '--po'], paramMatch: 'initial' },
      py,
      true,
    ],
    [
      'initial: earlier args must be whole',
      { process: '/usr/bin/python3', params: ['app', '--port'], paramMatch: 'initial' },
      py,
      false,
    ],
    [
      'params longer than cmdline',
      { process: 'nginx', params: ['-g', 'daemon off;', 'x'], paramMatch: 'partial' },
      nginx,
      false,
    ],
    [
      'exact with no params and param_match: no args allowed',
      { process: 'nginx', paramMatch: 'exact' },
      nginx,
      false,
    ],
    ['params but cmdline unreadable', { process: 'nginx', params: ['-g'] }, entry(105, 'nginx', null), false],
  ];
  it.each(cases)('%s', (_l, spec, p, want) => {
    expect(matchProcess(spec, p)).toBe(want);
  });

  it('parses comm with spaces and parentheses', () => {
    expect(parseStat('42 (my (odd) name) S 1 42 42 0')).toEqual({ comm: 'my (odd) name', state: 'S' });
    expect(parseStat('garbage')).toBeNull();
  });
});

describe('scanProc on a fake /proc tree', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'kt-proc-'));
    const add = async (pid: number, comm: string, state: string, argv: string[]) => {
      await mkdir(join(root, String(pid)));
      await writeFile(join(root, String(pid), 'stat'), `${pid} (${comm}) ${state} 1 ${pid} ${pid} 0 -1\n`);
      await writeFile(join(root, String(pid), 'cmdline'), argv.length ? `${argv.join('\0')}\0` : '');
    };
    await add(1, 'init', 'S', ['/sbin/init']);
    await add(200, 'haproxy', 'S', ['/usr/sbin/haproxy', '-f', '/etc/haproxy.cfg']);
    await add(201, 'haproxy', 'S', ['/usr/sbin/haproxy', '-f', '/etc/haproxy.cfg']);
    await add(202, 'haproxy', 'Z', []);
    await mkdir(join(root, 'sys'));
    await mkdir(join(root, '300')); // exited between readdir and read: no stat file
    await symlink('1', join(root, 'self'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists numeric entries, marks zombies, skips vanished ones', async () => {
    const procs = await scanProc(root);
    expect(procs.map((p) => [p.pid, p.comm, p.zombie])).toEqual([
      [1, 'init', false],
      [200, 'haproxy', false],
      [201, 'haproxy', false],
      [202, 'haproxy', true],
    ]);
    expect(countMatches({ process: 'haproxy' }, procs)).toBe(2);
    expect(countMatches({ process: '/usr/sbin/haproxy', params: ['-f'], paramMatch: 'partial' }, procs)).toBe(
      2,
    );
  });

  it('readProcEntrySync reads one entry as scanProc does, a long cmdline whole, a gone pid as null', async () => {
    const [viaScan] = (await scanProc(root)).filter((p) => p.pid === 200);
    const one = readProcEntrySync(root, 200, true);
    expect(one).toEqual(viaScan);
    expect(readProcEntrySync(root, 200, false)?.cmdline).toBeNull();
    expect(readProcEntrySync(root, 202, true)?.zombie).toBe(true);
    // longer than the 4 KiB scratch buffer, and each result independent of the next read
    const argv = ['/usr/bin/java', ...Array.from({ length: 2000 }, (_, i) => `-Darg${i}=x`)];
    await mkdir(join(root, '400'));
    await writeFile(join(root, '400', 'stat'), '400 (java) S 1 400 400 0 -1\n');
    await writeFile(join(root, '400', 'cmdline'), `${argv.join('\0')}\0`);
    const java = readProcEntrySync(root, 400, true);
    readProcEntrySync(root, 1, true);
    expect(java?.cmdline?.toString()).toBe(`${argv.join('\0')}\0`);
    expect(matchProcess({ process: '/usr/bin/java', params: argv.slice(1) }, java as ProcEntry)).toBe(true);
    expect(readProcEntrySync(root, 300, true)).toBeNull();
    expect(readProcEntrySync(root, 999, false)).toBeNull();
  });

  it('the scratch buffer shrinks back to 4 KiB after a multi-MB cmdline', async () => {
    const huge = `/usr/bin/big\0${'x'.repeat(3 << 20)}\0`;
    await mkdir(join(root, '500'));
    await writeFile(join(root, '500', 'stat'), '500 (big) S 1 500 500 0 -1\n');
    await writeFile(join(root, '500', 'cmdline'), huge);
    expect(readProcEntrySync(root, 500, true)?.cmdline?.toString()).toBe(huge);
    expect(procScratchBytes()).toBe(4096);
    expect(readProcEntrySync(root, 200, true)?.comm).toBe('haproxy');
    expect(procScratchBytes()).toBe(4096);
  });

  it('a missing /proc is a typed error', async () => {
    await expect(scanProc(join(root, 'nope'))).rejects.toMatchObject({ code: 'KA_ERR_TRACK_PROC_SCAN' });
  });

  it('TrackProcess: quorum 2 from the initial scan, lost when a process goes away', async () => {
    const clock = new FakeClock(0);
    const seen: boolean[] = [];
    const tp = new TrackProcess({
      name: 'hap',
      match: { process: 'haproxy' },
      quorum: 2,
      clock,
      procRoot: root,
      onChange: (h) => seen.push(h),
    });
    expect(await tp.start()).toBe(true);
    await rm(join(root, '201'), { recursive: true });
    await tp.scan();
    expect(seen).toEqual([false]);
    expect(tp.haveQuorum).toBe(false);
    tp.stop();
  });

  it('TrackProcess counts scan failures and keeps its state', async () => {
    const counters = new Counters();
    const tp = new TrackProcess({
      name: 'x',
      match: { process: 'x' },
      procRoot: join(root, 'gone'),
      counters,
      clock: new FakeClock(0),
      onChange: () => {},
    });
    expect(await tp.start()).toBe(false);
    expect(counters.get('KA_ERR_TRACK_PROC_SCAN')).toBe(1);
    tp.stop();
  });
});

describe('scanProc on the real /proc', () => {
  it('finds this process with its command name', async () => {
    const { readFile } = await import('node:fs/promises');
    const comm = (await readFile('/proc/self/comm', 'utf8')).trim();
    const me = (await scanProc()).find((p) => p.pid === process.pid);
    expect(me?.comm).toBe(comm);
    expect(me?.zombie).toBe(false);
    expect(me && matchProcess({ process: comm }, me)).toBe(true);
  });
});

describe('Quorum debounce (fork_delay / terminate_delay) on a fake clock', () => {
  it('gains quorum only after fork_delay, loses only after terminate_delay', () => {
    const clock = new FakeClock(0);
    const log: Array<[number, boolean, number]> = [];
    const q = new Quorum(
      { quorum: 2, quorumMax: 3, forkDelayUs: 500_000, terminateDelayUs: 2_000_000 },
      clock,
      (h, n) => log.push([clock.now(), h, n]),
    );
    expect(q.init(1)).toBe(false);
    clock.advance(1_000_000);
    q.update(2); // at 1 s: gain pending until 1.5 s
    clock.advance(1_000_000);
    q.update(4); // at 2 s: above quorum_max, loss is a count increase → fork_delay, until 2.5 s
    clock.advance(200_000);
    q.update(3); // at 2.2 s: back within, pending loss cancelled
    clock.advance(1_000_000);
    q.update(1); // at 3.2 s: below quorum → terminate_delay until 5.2 s
    clock.advance(1_000_000);
    q.update(2); // at 4.2 s: back, cancelled
    clock.advance(5_000_000);
    q.update(0); // at 9.2 s: lost at 11.2 s
    clock.advance(5_000_000);
    expect(log).toEqual([
      [1_500_000, true, 2],
      [11_200_000, false, 0],
    ]);
  });

  it('with no delays changes at once; bad ranges are typed errors', () => {
    const clock = new FakeClock(0);
    const seen: boolean[] = [];
    const q = new Quorum({}, clock, (h) => seen.push(h));
    q.update(0);
    q.update(1);
    q.update(5);
    q.update(0);
    expect(seen).toEqual([true, false]);
    expect(() => new Quorum({ quorum: 0 }, clock, () => {})).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_BAD_PARAM' }),
    );
    expect(() => new Quorum({ quorum: 3, quorumMax: 2 }, clock, () => {})).toThrow(
      expect.objectContaining({ code: 'KA_ERR_TRACK_BAD_PARAM' }),
    );
  });
});
