import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/daemon/cli.js';
import { defaultOptions, parseOptions } from '../../../src/daemon/options.js';

describe('parseOptions', () => {
  it.each([
    [['-f', 'k.conf'], { configFile: 'k.conf' }],
    [['-fk.conf'], { configFile: 'k.conf' }],
    [['--use-file=k.conf'], { configFile: 'k.conf' }],
    [['--use-file', 'k.conf'], { configFile: 'k.conf' }],
    [['-lnD'], { logConsole: true, dontFork: true, logDetail: true }],
    [['-P', '-C', '-B', '--all'], { vrrpOnly: true, checkOnly: true, noBfd: true, all: true }],
    [['-S', '7'], { logFacility: '7' }],
    [['--ipvs-repair-interval=0'], { ipvsRepairInterval: 0 }],
    [['--ipvs-repair-interval', '30.5'], { ipvsRepairInterval: 30.5 }],
    [['--log-facility=local3'], { logFacility: 'local3' }],
    [['-G', '--flush-log-file'], { noSyslog: true, flushLogFile: true }],
    [['-u', '022'], { umask: 0o22 }],
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
    [['-m', '-M'], { coreDump: true, coreDumpPattern: true }],
    [['--core-dump-pattern=core.%p'], { coreDumpPattern: 'core.%p' }],
    [['-t'], { mode: 'config-test', configTestLog: undefined }],
    [['--config-test=/tmp/log'], { mode: 'config-test', configTestLog: '/tmp/log' }],
    [['-t', '-f', 'x.conf'], { mode: 'config-test', configFile: 'x.conf' }],
    [['--dump-config'], { mode: 'dump-config' }],
    [['-v', '-t'], { mode: 'version' }],
    [['-h'], { mode: 'help' }],
    [['--signum=RELOAD'], { mode: 'signum', signum: 'RELOAD' }],
    [['-T', '-s', 'h', '-p', '80'], { mode: 'genhash', genhashArgs: ['-s', 'h', '-p', '80'] }],
    [['-t', 'stray.conf'], { mode: 'config-test', stray: ['stray.conf'] }],
  ] as const)('%j', (argv, expected) => {
    const r = parseOptions(argv);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.opts).toEqual({ ...defaultOptions(), ...expected });
  });

  it.each([
    [['--bogus'], /Unknown option --bogus/],
    [['-Z'], /Unknown option -Z/],
    [['-f'], /requires an argument/],
    [['--use-file'], /requires an argument/],
    [['--dont-fork=yes'], /takes no argument/],
    [['-S', 'local9'], /Invalid log facility/],
    [['-u', 'abc'], /Invalid umask/],
    [['--ipvs-repair-interval=-5'], /Invalid IPVS repair interval/],
    [['--ipvs-repair-interval', 'often'], /Invalid IPVS repair interval/],
    [['-n', '-T'], /must be the first/],
  ] as const)('rejects %j', (argv, message) => {
    const r = parseOptions(argv);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});

describe('runCli', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const run = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
    return { code, out, err };
  };

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
    const r = await run([`--config-test=${log}`, '-f', file('unk2.conf', 'foo 1\n')]);
    expect(r.code).toBe(5);
    expect(readFileSync(log, 'utf8')).toContain('KA_ERR_CONF_UNKNOWN_KEYWORD');
  });
  it('config test: selects @ID lines with -i', async () => {
    const f = file('cond.conf', '@nodeA foo 1\n');
    expect((await run(['-t', '-i', 'nodeA', '-f', f])).code).toBe(5);
    expect((await run(['-t', '-i', 'nodeB', '-f', f])).code).toBe(0);
  });
  it('--dump-config prints the resolved model as JSON', async () => {
    const f = file(
      'vi.conf',
      'vrrp_instance VI_1 {\n  state MASTER\n  virtual_router_id 7\n  advert_int 2\n}\n',
    );
    const r = await run(['--dump-config', '-f', f]);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.out);
    expect(cfg.vrrpInstances[0]).toMatchObject({
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
    expect(await run(['--signum=STOP'])).toEqual({ code: 0, out: '15\n', err: '' });
    expect((await run(['--signum=NOPE'])).code).toBe(1);
  });
  it('exits 1 on a bad option, 0 for -v and -h (to stderr)', async () => {
    expect((await run(['--bogus'])).code).toBe(1);
    const v = await run(['-v']);
    expect(v.code).toBe(0);
    expect(v.err).toMatch(/keepalived-ts/);
    expect((await run(['-h'])).err).toMatch(/--config-test/);
  });
  it('warns about stray arguments and continues', async () => {
    const r = await run(['-t', '-f', file('ok2.conf', ''), 'extra']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/Unexpected argument\(s\): extra/);
  });
});
