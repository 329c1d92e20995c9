/**
 * The command line against keepalived 2.2.7 (Debian 12 build). KEEPALIVED_CASES records, for each
 * argv, what /usr/sbin/keepalived did: exit code, stdout, and a pattern its stderr matched. They were
 * captured by running the binary with that argv in its own pid, network and mount namespaces (/run on
 * a tmpfs), as the last block below does again whenever keepalived is installed and we are root.
 * Only argvs on which keepalived does not become a daemon (-t, -v, -h, --signum, bad options).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/daemon/cli.js';
import {
  defaultOptions,
  KEEPALIVED_LONG_OPTIONS,
  matchLong,
  parseCNumber,
  parseOptions,
} from '../../../src/daemon/options.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-opts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const OK = join(dir, 'ok.conf');
writeFileSync(OK, 'global_defs {\n  router_id p1\n}\n');
const LOG = join(dir, 'test.log');
const NOLOG = join(dir, 'no', 'such', 'dir', 'test.log');

interface Case {
  argv: string[];
  rc: number;
  /** stdout exactly ('' when nothing). */
  out?: string;
  /** What stderr matches (keepalived's and ours); absent: stderr is empty for both. */
  err?: RegExp;
  /** What stderr must not match. */
  notErr?: RegExp;
  /** Where we deliberately differ from keepalived: our exit code and why. */
  ours?: { rc: number; why: string };
}

const VERSION_LINE = /^Keepalived v2\.2\.7 \(/m;
const USAGE_LINE = /^Usage: \S+ \[OPTION\.\.\.\]$/m;

const KEEPALIVED_CASES: readonly Case[] = [
  { argv: ['-t', '-f', OK], rc: 0 },
  // abbreviations: any unambiguous prefix, with = or a separate value
  { argv: ['--config-t', '-f', OK], rc: 0 },
  { argv: [`--use-f=${OK}`, '-t'], rc: 0 },
  { argv: ['--use-f', OK, '-t'], rc: 0 },
  { argv: ['--no-', '-t', '-f', OK], rc: 0 },
  { argv: ['--no_', '-t', '-f', OK], rc: 0 },
  { argv: ['--dump', '-t', '-f', OK], rc: 0 },
  { argv: ['--dump-c', '-t', '-f', OK], rc: 0 },
  { argv: ['--config-i=x', '-t', '-f', OK], rc: 0 },
  { argv: ['--config-fd=3', '-t', '-f', OK], rc: 0 },
  { argv: ['--all', '-t', '-f', OK], rc: 0 },
  { argv: ['--all-config', '-t', '-f', OK], rc: 0 },
  { argv: ['--ver'], rc: 0, err: VERSION_LINE },
  { argv: ['--h'], rc: 0, err: USAGE_LINE },
  { argv: ['--he'], rc: 0, err: USAGE_LINE },
  { argv: ['--sig=STOP'], rc: 0, out: '15\n' },
  { argv: ['--sig', 'STOP'], rc: 0, out: '15\n' },
  // ambiguous prefixes are unknown options
  { argv: ['--dont-release', '-t', '-f', OK], rc: 1, err: /^Unknown option --dont-release\b/ },
  { argv: ['--no', '-t', '-f', OK], rc: 1, err: /^Unknown option --no\b/ },
  { argv: ['--al', '-t', '-f', OK], rc: 1, err: /^Unknown option --al\b/ },
  { argv: ['--log-f=1', '-t', '-f', OK], rc: 1, err: /^Unknown option --log-f=1/ },
  { argv: ['--v'], rc: 1, err: /^Unknown option --v\b/ },
  { argv: ['--c', '-t', '-f', OK], rc: 1, err: /^Unknown option --c\b/ },
  { argv: ['--co', '-t', '-f', OK], rc: 1, err: /^Unknown option --co\b/ },
  { argv: ['--=x', '-t', '-f', OK], rc: 1, err: /^Unknown option --=x/ },
  { argv: ['---', '-t', '-f', OK], rc: 1, err: /^Unknown option ---/ },
  // unknown, valueless-with-value, missing values
  { argv: ['-Z', '-t', '-f', OK], rc: 1, err: /^Unknown option -Z$/m },
  { argv: ['-lZn', '-t', '-f', OK], rc: 1, err: /^Unknown option -Z$/m },
  { argv: ['--dont-fork=1', '-t', '-f', OK], rc: 1, err: /^Unknown option --dont-fork=1/ },
  { argv: ['--flush-log-file', '-t', '-f', OK], rc: 1, err: /^Unknown option --flush-log-file/ },
  { argv: ['-t', '-f'], rc: 1, err: /^Missing parameter for option -f$/m },
  { argv: ['-t', '--use-file'], rc: 1, err: /^Missing parameter for option --/ },
  { argv: ['-t', '--use-file='], rc: 1, err: /^Missing parameter for option --use-file$/m },
  { argv: ['--umask=', '-t', '-f', OK], rc: 1, err: /^Missing parameter for option --umask$/m },
  { argv: ['--signum'], rc: 1, err: /^Missing parameter for option --/ },
  { argv: ['--signum='], rc: 1, err: /^Missing parameter for option --signum$/m },
  { argv: ['-g', '-t', '-f', OK], rc: 1, err: /^-g requires configure option --enable-log-file/ },
  { argv: ['--log-file', '-t', '-f', OK], rc: 1, err: /^-g requires configure option --enable-log-file/ },
  // -v, -h, --signum act where they stand
  { argv: ['--bogus', '-v'], rc: 0, err: /^Unknown option --bogus\nKeepalived v2\.2\.7 \(/ },
  { argv: ['-v', '--bogus'], rc: 0, err: VERSION_LINE, notErr: /Unknown option/ },
  { argv: ['-h', '-v'], rc: 0, err: USAGE_LINE, notErr: VERSION_LINE },
  { argv: ['-t', '--signum=STOP'], rc: 0, out: '15\n' },
  { argv: ['--signum=STOP', '-h'], rc: 0, out: '15\n' },
  { argv: ['-Z', '--signum=STOP'], rc: 0, out: '15\n', err: /^Unknown option -Z$/m },
  { argv: ['-vZ'], rc: 0, err: VERSION_LINE, notErr: /Unknown option/ },
  { argv: ['-Zv'], rc: 0, err: /^Unknown option -Z\nKeepalived v2\.2\.7 \(/ },
  { argv: ['--version=1'], rc: 1, err: /^Unknown option --version=1/ },
  { argv: ['--help=x', '-t', '-f', OK], rc: 1, err: /^Unknown option --help=x/ },
  {
    argv: ['-t', '-f', OK, '-D', '-D', '-G', '-l', '-n', '-R', '-V', '-I', '-X', '-a', '-d', '-B', '-x'],
    rc: 0,
  },
  { argv: ['--signum=TDATA'], rc: 1, err: /^Unknown sigfunc TDATA$/m },
  { argv: ['--signum=stop'], rc: 1, err: /^Unknown sigfunc stop$/m },
  // non-option words: stdout, and keepalived goes on
  { argv: ['-t', 'stray', '-f', OK, 'more'], rc: 0, out: 'Unexpected argument(s): stray more \n' },
  { argv: ['-t', '-f', OK, '--', '-Z'], rc: 0, out: 'Unexpected argument(s): -Z \n' },
  { argv: ['--config-test', 'log2', '-f', OK], rc: 0, out: 'Unexpected argument(s): log2 \n' },
  { argv: ['-t', '-f', OK, '-'], rc: 0, out: 'Unexpected argument(s): - \n' },
  // values
  { argv: ['-lf', OK, '-t'], rc: 0 },
  { argv: ['-u', '999', '-t', '-f', OK], rc: 0, err: /^Invalid --umask option 999/ },
  { argv: ['-u', 'abc', '-t', '-f', OK], rc: 0, err: /^Invalid --umask option abc/ },
  { argv: ['-u', '-1', '-t', '-f', OK], rc: 0, err: /^Invalid --umask option -1/ },
  { argv: ['-u', '0x', '-t', '-f', OK], rc: 0, err: /^Invalid --umask option 0x/ },
  { argv: ['-u', '0x12', '-t', '-f', OK], rc: 0 },
  { argv: ['-u', '+022', '-t', '-f', OK], rc: 0 },
  { argv: ['-u', '8', '-t', '-f', OK], rc: 0 },
  { argv: ['-S', '1', '-t', '-f', OK], rc: 0 },
  { argv: ['-S', '7', '-t', '-f', OK], rc: 0 },
  { argv: ['-S', '8', '-t', '-f', OK], rc: 5, err: /^Invalid log facility '8'$/m, ours: quirk() },
  {
    argv: ['-S', 'local9', '-t', '-f', OK],
    rc: 5,
    err: /^Invalid log facility 'local9'$/m,
    ours: quirk(),
  },
  { argv: ['-S', 'local1', '-t', '-f', OK], rc: 5, ours: quirk() },
  { argv: ['-S', 'daemon', '-t', '-f', OK], rc: 5, ours: quirk() },
  { argv: ['-S', 'LOCAL1', '-t', '-f', OK], rc: 5, err: /^Invalid log facility 'LOCAL1'$/m, ours: quirk() },
  { argv: ['-P', '-C', '-t', '-f', OK], rc: 0 },
  { argv: ['-e', '-t', '-f', join(dir, 'missing.conf')], rc: 4, err: /missing/ },
  // the config-test log takes stderr from where it stands
  { argv: [`-t${LOG}`, '-f', OK], rc: 0 },
  {
    argv: [`--config-test=${NOLOG}`, '-Z'],
    rc: 1,
    err: /^Unable to open config-test log file /,
    notErr: /-Z/,
  },
  {
    argv: ['-Z', `--config-test=${NOLOG}`],
    rc: 1,
    err: /^Unknown option -Z\nUnable to open config-test log file /,
  },
];

function quirk(): { rc: number; why: string } {
  return {
    rc: 0,
    why: "keepalived's -S parser reports a config error (-t exits 5) for any facility that is not a bare number",
  };
}

async function ours(argv: string[]) {
  let out = '';
  let err = '';
  const rc = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) }, {});
  return { rc, out, err };
}

describe('the command line matches keepalived 2.2.7', () => {
  it.each(KEEPALIVED_CASES.map((c) => [c.argv.join(' ').replaceAll(dir, 'DIR'), c] as const))(
    '%s',
    async (_name, c) => {
      const r = await ours(c.argv);
      expect(r.rc).toBe(c.ours?.rc ?? c.rc);
      expect(r.out).toBe(c.out ?? '');
      if (c.err) expect(r.err).toMatch(c.err);
      else if (!c.ours) expect(r.err).toBe('');
      if (c.notErr) expect(r.err).not.toMatch(c.notErr);
    },
  );

  it('-tFILE creates the log (mode 0644 less the umask), a clean config test writes nothing', async () => {
    const log = join(dir, 'clean.log');
    expect(await ours([`-t${log}`, '-f', OK])).toEqual({ rc: 0, out: '', err: '' });
    expect(readFileSync(log, 'utf8')).toBe('');
  });
  it('messages after --config-test=FILE go to FILE, as keepalived sends stderr there', async () => {
    const log = join(dir, 'after.log');
    const r = await ours(['-Z', `--config-test=${log}`, '-Y', '-f', OK]);
    expect(r.rc).toBe(1);
    expect(r.err).toBe('Unknown option -Z\n');
    expect(readFileSync(log, 'utf8')).toBe('Unknown option -Y\n');
  });
});

describe('parseOptions', () => {
  const parse = (argv: string[], posixlyCorrect = false) => parseOptions(argv, { posixlyCorrect });

  it.each([
    [['-f', 'k.conf'], { configFile: 'k.conf' }],
    [['-fk.conf'], { configFile: 'k.conf' }],
    [['-f', '-t'], { configFile: '-t' }],
    [['--use-file=k.conf'], { configFile: 'k.conf' }],
    [['--use-file', 'k.conf'], { configFile: 'k.conf' }],
    [['--use-file', '-t'], { configFile: '-t' }],
    [['--use-f=a=b'], { configFile: 'a=b' }],
    [['-lnD'], { logConsole: true, dontFork: true, logDetail: true }],
    [['-D', '-D'], { logDetail: true, logExtraDetail: true }],
    [['-P', '-C', '-B'], { vrrpOnly: true, checkOnly: true, noBfd: true }],
    [['-P', '-B', '--all'], { all: true }],
    [['--all', '-P'], { all: true, vrrpOnly: true }],
    [['--no-bfd', '--vrrp-pid=/v', '--checkers-pid', '/c', '--bfd-pid=/b'], {}],
    [['-S', '7'], { logFacility: '7' }],
    [['--log-facility=local3'], { logFacility: 'local3' }],
    [['-S', 'user'], { logFacility: 'user' }],
    [['-S', 'local8'], {}],
    [['-G'], { noSyslog: true }],
    [['-u', '022'], { umask: 0o22 }],
    [['-u0x1ff'], { umask: 0o777 }],
    [['--um=18'], { umask: 18 }],
    [['-u', '01000'], {}],
    [
      ['-X', '-V', '-I', '-R', '-d'],
      { releaseVips: true, dontReleaseVrrp: true, dontReleaseIpvs: true, dontRespawn: true, dumpConf: true },
    ],
    [
      ['-p', '/run/a.pid', '-r', '/run/v.pid', '-c', '/run/c.pid', '-b', '/run/b.pid'],
      {
        pidFile: '/run/a.pid',
        vrrpPidFile: '/run/v.pid',
        checkersPidFile: '/run/c.pid',
        bfdPidFile: '/run/b.pid',
      },
    ],
    [
      ['--pid=/p', '--vrrp_pid=/v', '--checkers_pid=/c', '--bfd_pid=/b'],
      { pidFile: '/p', vrrpPidFile: '/v', checkersPidFile: '/c', bfdPidFile: '/b' },
    ],
    [
      ['-a', '-s', 'blue', '-e', '-i', 'nodeA'],
      { addressMonitoring: true, namespace: 'blue', allConfig: true, configId: 'nodeA' },
    ],
    [
      ['--namespace=blue', '--config-id', 'n2', '--all-config'],
      { namespace: 'blue', configId: 'n2', allConfig: true },
    ],
    [['-x', '-A', '/run/agentx'], { snmp: true, snmpAgentSocket: '/run/agentx' }],
    [['-m'], { coreDump: true }],
    [['-M'], { coreDump: true, coreDumpPattern: 'core' }],
    [['-Mcore.%p'], { coreDump: true, coreDumpPattern: 'core.%p' }],
    [['--core-dump-pattern=/var/crash/%e', '-M'], { coreDump: true, coreDumpPattern: '/var/crash/%e' }],
    [['--core-dump-p', 'x'], { coreDump: true, coreDumpPattern: 'core', stray: ['x'] }],
    [['-t'], { mode: 'config-test' }],
    [['-tlog'], { mode: 'config-test', configTestLog: 'log' }],
    [['-tn'], { mode: 'config-test', configTestLog: 'n' }],
    [['--config-test=/tmp/log', '-t'], { mode: 'config-test', configTestLog: '/tmp/log' }],
    [['--config-test='], { mode: 'config-test' }],
    [['-t', 'x.conf'], { mode: 'config-test', stray: ['x.conf'] }],
    [['--dump-config'], { mode: 'dump-config' }],
    [['--dump-confi'], { mode: 'dump-config' }],
    [['-t', '--dump-config'], { mode: 'dump-config' }],
    [['--dump-config', '-t'], { mode: 'dump-config' }],
    [['--metrics=192.0.2.1:9650'], { metricsAddress: '192.0.2.1:9650' }],
    [['--ipvs-repair-interval=0'], { ipvsRepairInterval: 0 }],
    [['--ipvs-repair-interval', '30.5'], { ipvsRepairInterval: 30.5 }],
    [['-v', '-t'], { mode: 'version' }],
    [['-h'], { mode: 'help' }],
    [['--signum=RELOAD'], { mode: 'signum', signum: 'RELOAD' }],
    [['-T', '-s', 'h', '-p', '80'], { mode: 'genhash', genhashArgs: ['-s', 'h', '-p', '80'] }],
    [['--gen', '-h'], { mode: 'genhash', genhashArgs: ['-h'] }],
    [['a', '-n', 'b', '--', '-c', 'd'], { dontFork: true, stray: ['a', 'b', '-c', 'd'] }],
  ] as const)('%j', (argv, expected) => {
    const r = parse([...argv]);
    expect(r.ok).toBe(true);
    const aliases =
      argv[0] === '--no-bfd'
        ? { noBfd: true, vrrpPidFile: '/v', checkersPidFile: '/c', bfdPidFile: '/b' }
        : {};
    expect(r.opts).toEqual({ ...defaultOptions(), ...aliases, ...expected });
  });

  it('-T after other options warns, as keepalived does, and hands genhash the rest', () => {
    const r = parse(['-n', '-T', '-h']);
    expect(r.opts.mode).toBe('genhash');
    expect(r.opts.genhashArgs).toEqual(['-h']);
    expect(r.messages).toEqual(['Warning -- `-T` not used as first option, previous options ignored']);
    expect(parse(['-l', '--genhash']).messages).toEqual([
      'Warning -- `genhash` not used as first option, previous options ignored',
    ]);
  });

  it('POSIXLY_CORRECT: the first non-option word ends the options', () => {
    expect(parse(['-n', 'x', '-l'], true).opts).toEqual({
      ...defaultOptions(),
      dontFork: true,
      stray: ['x', '-l'],
    });
    expect(parse(['-n', 'x', '-l'], false).opts).toEqual({
      ...defaultOptions(),
      dontFork: true,
      logConsole: true,
      stray: ['x'],
    });
  });

  it('reports every bad option, in order, and keeps parsing', () => {
    const r = parse(['--bogus', '-Z', '-n', '--ipvs-repair-interval=-5', '-f']);
    expect(r.ok).toBe(false);
    expect(r.opts.dontFork).toBe(true);
    expect(r.messages).toEqual([
      'Unknown option --bogus',
      'Unknown option -Z',
      "Invalid IPVS repair interval '-5' (seconds, 0 = never)",
      'Missing parameter for option -f',
    ]);
  });

  it('names the candidates of an ambiguous abbreviation', () => {
    expect(parse(['--dont-release']).messages).toEqual([
      'Unknown option --dont-release (ambiguous: --dont-release-vrrp, --dont-release-ipvs)',
    ]);
  });

  it('records where --config-test=FILE stood among the messages', () => {
    const r = parse(['-Z', '--config-test=L', '-Y']);
    expect(r.configTestLogAt).toBe(1);
    expect(r.messages).toEqual(['Unknown option -Z', 'Unknown option -Y']);
  });

  it('property: an unambiguous prefix parses as the full name, in both value forms', () => {
    const valued = {
      'use-file': 'k.conf',
      pid: '/p',
      umask: '022',
      namespace: 'ns',
      'config-id': 'x',
    } as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(valued) as (keyof typeof valued)[])),
        fc.nat(),
        (name, cut) => {
          const n = 1 + (cut % name.length);
          const prefix = name.slice(0, n);
          const m = matchLong(prefix);
          fc.pre(m !== undefined && 'name' in m);
          const full = parse([`--${name}=${valued[name]}`]);
          expect(parse([`--${prefix}=${valued[name]}`])).toEqual(full);
          expect(parse([`--${prefix}`, valued[name]])).toEqual(full);
        },
      ),
    );
  });

  it('property: random words never throw, and ok is false exactly when an error was reported', () => {
    const word = fc.oneof(
      fc.constantFrom(
        '-t',
        '-f',
        '-v',
        '-h',
        '-T',
        '--',
        '-',
        '--all',
        '--no',
        '--use-f',
        '--signum',
        '-Mx',
        '-lnD',
      ),
      fc.string({ maxLength: 6 }).map((t) => `--${t}`),
      fc.string({ maxLength: 4 }).map((t) => `-${t}`),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), fc.boolean(), (argv, posix) => {
        const r = parse(argv, posix);
        const errors = r.messages.filter(
          (m) => !/^(Invalid log facility|Invalid --umask|Warning -- )/.test(m),
        );
        expect(r.ok).toBe(errors.length === 0);
      }),
    );
  });

  it('never throws, whatever the words', () => {
    const words = [
      '-',
      '--',
      '---',
      '-=',
      '--=',
      '=',
      '-T',
      '-t',
      '-f',
      '--use',
      '--all',
      '-M',
      '',
      '\u0000',
      'x',
    ];
    for (const a of words)
      for (const b of words) for (const c of words) expect(() => parse([a, b, c])).not.toThrow();
  });
});

describe('matchLong (getopt_long lookup)', () => {
  it.each([
    ['all', 'all'],
    ['all-', 'all-config'],
    ['vrrp', 'vrrp'],
    ['vrrp_', 'vrrp_pid'],
    ['ad', 'address-monitoring'],
    ['ge', 'genhash'],
    ['snmp-', 'snmp-agent-socket'],
    ['core-dump', 'core-dump'],
    ['core-dump-', 'core-dump-pattern'],
    ['na', 'namespace'],
    ['um', 'umask'],
    ['p', 'pid'],
    ['si', 'signum'],
    ['b', 'bfd_pid'],
    ['checke', 'checkers_pid'],
    ['no-', 'no-syslog'],
    ['no-bfd', 'no-bfd'],
    // keepalived-ts options only when no keepalived option matches
    ['dump-confi', 'dump-config'],
    ['metrics', 'metrics-address'],
    ['ipvs', 'ipvs-repair-interval'],
  ])('--%s is --%s', (prefix, name) => {
    const m = matchLong(prefix);
    expect(m && 'name' in m ? m.name : m).toBe(name);
  });

  it.each([
    'a',
    'al',
    'c',
    'ch',
    'co',
    'config',
    'd',
    'dont',
    'l',
    'log-f',
    'n',
    'no',
    's',
    'sn',
    'u',
    'v',
    'vr',
    '',
  ])('--%s is ambiguous', (prefix) => {
    const m = matchLong(prefix);
    expect(m && 'ambiguous' in m && m.ambiguous.length).toBeGreaterThan(1);
  });

  it.each(['flush-log-file', 'perf', 'debug', 'no-mem-check', 'mem-check-log', 'x'])(
    '--%s is unknown',
    (name) => {
      expect(matchLong(name)).toBeUndefined();
    },
  );

  it("keepalived-ts's own options never make a keepalived abbreviation ambiguous", () => {
    // every prefix of every keepalived name resolves as among keepalived's names alone
    for (const name of KEEPALIVED_LONG_OPTIONS) {
      for (let n = 1; n <= name.length; n++) {
        const prefix = name.slice(0, n);
        const exact = KEEPALIVED_LONG_OPTIONS.includes(prefix);
        const hits = KEEPALIVED_LONG_OPTIONS.filter((o) => o.startsWith(prefix));
        const m = matchLong(prefix);
        if (exact || hits.length === 1) expect(m && 'name' in m && m.name).toBe(exact ? prefix : hits[0]);
        else expect(m && 'ambiguous' in m && m.ambiguous).toEqual(hits);
      }
    }
  });
});

describe('parseCNumber (strtoll base 0, whole word)', () => {
  it.each([
    ['022', 0o22],
    ['0x1F', 31],
    ['18', 18],
    ['0', 0],
    ['+7', 7],
    ['-0', -0],
    [' 5', 5],
    ['', 0],
  ])('%j is %d', (s, n) => expect(parseCNumber(s)).toBe(n));
  it.each(['08', '0x', '1a', '5 ', 'abc', '--1', '0x-1'])('%j is not a number', (s) => {
    expect(parseCNumber(s)).toBeNaN();
  });
});

/** The same cases against the installed keepalived, when there is one and we may sandbox it. */
const KEEPALIVED = '/usr/sbin/keepalived';
const liveWhy = !existsSync(KEEPALIVED)
  ? `${KEEPALIVED} is not installed`
  : process.getuid?.() !== 0
    ? 'needs root to run keepalived in its own pid/net/mount namespaces'
    : null;
if (liveWhy) process.stderr.write(`SKIPPED live keepalived comparison: ${liveWhy}\n`);

describe.skipIf(liveWhy !== null)('KEEPALIVED_CASES hold for the installed keepalived', () => {
  // A pid namespace: should keepalived ever become a daemon, it dies with the namespace's init.
  const sandbox = (argv: string[]) =>
    spawnSync(
      'unshare',
      [
        '--pid',
        '--fork',
        '--net',
        '--mount',
        '--mount-proc',
        'sh',
        '-c',
        'mount -t tmpfs none /run && exec "$0" "$@"',
        KEEPALIVED,
        ...argv,
      ],
      { encoding: 'utf8', timeout: 10_000, cwd: dir },
    );
  it.each(KEEPALIVED_CASES.map((c) => [c.argv.join(' ').replaceAll(dir, 'DIR'), c] as const))(
    '%s',
    (_name, c) => {
      rmSync(LOG, { force: true });
      const r = sandbox(c.argv);
      expect(r.status).toBe(c.rc);
      expect(r.stdout).toBe(c.out ?? '');
      if (c.err) expect(r.stderr).toMatch(c.err);
      else expect(r.stderr).toBe('');
      if (c.notErr) expect(r.stderr).not.toMatch(c.notErr);
    },
  );
});
