/**
 * Where the daemon's log lines go, and the signals it takes while starting. keepalived logs to
 * syslog (RFC 3164 datagrams to /dev/log; here a socket of the test, through
 * KEEPALIVED_TS_SYSLOG_SOCKET) with an ident per subsystem, to the console (stderr) only with -l, and
 * nowhere with -G and no -l. A SIGHUP or SIGUSR1 that arrives while the daemon starts neither kills
 * it nor opens Node's inspector: it is acted on once the daemon is up.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UnixDatagramReceiver } from '../../../src/sys/unix-dgram.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

// instance is one of the globals keepalived takes only at the top level, outside global_defs
const CONFIG = `
instance web
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 9
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.90/24
  }
}
`;

describeIf('daemon logging and signals during start-up', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let n = 0;
  const procs: LabProcess[] = [];
  const sockets: UnixDatagramReceiver[] = [];

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    d = topo.node('d');
  });

  afterAll(async () => {
    for (const p of procs) await p.stop();
    for (const s of sockets) s.close();
    await topo?.destroy();
  });

  /** Our daemon with its own syslog socket; returns the process and the datagrams received so far. */
  function start(extra: string[]) {
    const dir = join(topo!.dir, `run${n++}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keepalived.conf'), CONFIG);
    const logPath = join(dir, 'log');
    const rx = UnixDatagramReceiver.listen(logPath);
    sockets.push(rx);
    const got: string[] = [];
    rx.on('message', (b) => got.push(b.toString()));
    const argv = [...keepalivedTsCommand(), '-n', '-f', join(dir, 'keepalived.conf'), '-p', join(dir, 'p')];
    argv.push('-r', join(dir, 'r'), '-c', join(dir, 'c'), ...extra);
    const proc = d.spawn(argv, {
      name: `kt${n}`,
      env: { KEEPALIVED_TS_SYSLOG_SOCKET: logPath, TMPDIR: dir },
      cwd: dir,
    });
    procs.push(proc);
    return { proc, got };
  }

  it("sends keepalived's syslog lines, idents with the instance, and nothing to the console without -l", async () => {
    const { proc, got } = start([]);
    const master = await waitFor({
      what: 'Entering MASTER STATE in syslog',
      probe: () => got.find((g) => g.includes('(VI_1) Entering MASTER STATE')),
      timeoutMs: 15_000,
    });
    // daemon (3) × 8 + info (6) = <30>; Mmm dd hh:mm:ss; ident_instance[pid]
    expect(master).toMatch(
      new RegExp(`^<30>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d Keepalived_vrrp_web\\[${proc.pid}\\]: `),
    );
    expect(got.some((g) => new RegExp(`Keepalived\\[${proc.pid}\\]: Starting keepalived-ts`).test(g))).toBe(
      true,
    );
    expect(
      got.some(
        (g) =>
          /Keepalived_web\[\d+\]: Changing syslog ident/.test(g) ||
          /Changing syslog ident to Keepalived_web/.test(g),
      ),
    ).toBe(true);
    expect(proc.output()).toBe('');
  });

  it('logs to the console (stderr, JSON lines) with -l and not to syslog with -G', async () => {
    const { proc, got } = start(['-l', '-G']);
    await proc.waitForOutput(/Entering MASTER STATE/, 15_000);
    expect(proc.stdout()).toBe('');
    const line = proc
      .stderr()
      .split('\n')
      .find((l) => l.includes('Entering MASTER STATE'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({
      level: 30,
      proc: 'vrrp',
      msg: '(VI_1) Entering MASTER STATE',
    });
    expect(got).toEqual([]);
  });

  it('-V: SIGTERM still ends the daemon (exit 0) and the VIP stays', async () => {
    const { proc } = start(['-l', '-V']);
    await proc.waitForOutput(/Entering MASTER STATE/, 15_000);
    proc.signal('SIGTERM');
    const exit = await Promise.race([
      proc.exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await d.ip(['-4', 'addr', 'show', 'dev', 'eth0'])).toContain('192.0.2.90/24');
    await d.ip(['addr', 'del', '192.0.2.90/24', 'dev', 'eth0']);
  });

  it('a SIGHUP and a SIGUSR1 during start-up are acted on once it is up; the process lives', async () => {
    const { proc, got } = start(['-l']);
    // the listeners are installed before the first log line
    await proc.waitForOutput(/Starting keepalived-ts/, 10_000);
    proc.signal('SIGUSR1');
    proc.signal('SIGHUP');
    await proc.waitForOutput(/Reload complete/, 15_000);
    const out = proc.stderr();
    expect(out.indexOf('Startup complete')).toBeGreaterThan(0);
    expect(out.indexOf('Reloading configuration')).toBeGreaterThan(out.indexOf('Startup complete'));
    expect(out).not.toMatch(/Debugger listening/);
    expect(proc.running).toBe(true);
    expect(got.some((g) => g.includes('Reload complete'))).toBe(true);
    // the SIGUSR1 kept during start-up was acted on: the data dump is there
    await waitFor({
      what: 'keepalived.data',
      probe: () => (existsSync(join(topo!.dir, `run${n - 1}`, 'keepalived.data')) ? true : undefined),
      timeoutMs: 5_000,
    });
    const exit = await proc.stop();
    expect(exit).toEqual({ code: 0, signal: null });
  });
});
