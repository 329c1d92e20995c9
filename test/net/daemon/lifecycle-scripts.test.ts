/**
 * global_defs startup_script / shutdown_script in a running daemon, as keepalived 2.2.7 runs them:
 * the startup script once, after the pid files are written and before the first VRRP advert (the
 * daemon waits for it), with its configured words only, "/" as working directory (forked daemon) and
 * its own process group; killed at its timeout (SIGTERM, then SIGKILL 2 s later when it ignores it),
 * start-up going on; a failing one does not stop start-up; a reload runs neither; the shutdown script
 * runs at SIGTERM once the instances have stopped (VIP gone), before the pid file is removed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UnixDatagramReceiver } from '../../../src/sys/unix-dgram.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode, type LabProcess } from '../../lab/node.js';
import { adverts, type Capture, startCapture, waitFor } from '../../lab/observe.js';
import { killQuiet, pidAlive, pidIn, runsWith } from '../../lab/resources.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const VRID = 23;
const VIP = '192.0.2.93';

const config = (globals: string) => `
global_defs {
${globals}
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id ${VRID}
  priority 100
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;

describeIf('startup_script and shutdown_script', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let n = 0;
  const procs: LabProcess[] = [];
  const daemons = new Set<number>();
  /** Every pid file a daemon was given, noted before it starts: read again in afterAll. */
  const pidFiles = new Set<string>();
  const sockets: UnixDatagramReceiver[] = [];
  let cap: Capture | undefined;

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    d = topo.node('d');
  });

  afterAll(async () => {
    await cap?.stop();
    for (const p of procs) await p.stop();
    // A forked daemon has its own session, out of reach of the lab's process tracking: the pid
    // files (noted before each start) name those a failed test did not get to note or stop.
    for (const f of pidFiles) {
      const pid = pidIn(f);
      if (pid !== undefined) daemons.add(pid);
    }
    const live = [...daemons].filter((pid) => runsWith(pid, pidFiles));
    for (const pid of live) killQuiet(pid, 'SIGTERM');
    for (const pid of live)
      await waitFor({
        what: `daemon ${pid} gone`,
        probe: () => !runsWith(pid, pidFiles),
        timeoutMs: 10_000,
      }).catch(() => killQuiet(pid, 'SIGKILL'));
    for (const s of sockets) s.close();
    await topo?.destroy();
  });

  /** A directory with the scripts (mode 0755) and the configuration. */
  function setup(scripts: Record<string, string>, globals: (dir: string) => string) {
    const dir = join(topo!.dir, `run${n++}`);
    mkdirSync(dir, { recursive: true });
    for (const [name, body] of Object.entries(scripts))
      writeFileSync(join(dir, name), `#!/bin/sh\n${body.replaceAll('DIR', dir)}\n`, { mode: 0o755 });
    writeFileSync(join(dir, 'keepalived.conf'), config(globals(dir)));
    const files = [
      '-p',
      join(dir, 'keepalived.pid'),
      '-r',
      join(dir, 'vrrp.pid'),
      '-c',
      join(dir, 'checkers.pid'),
    ];
    files.push('-b', join(dir, 'bfd.pid'));
    for (const f of files.filter((_, i) => i % 2 === 1)) pidFiles.add(f);
    return { dir, args: ['-f', join(dir, 'keepalived.conf'), ...files] };
  }

  /** Foreground daemon (-n -l -D): its JSON log lines on stderr. */
  function startForeground(dir: string, args: string[]) {
    const proc = d.spawn([...keepalivedTsCommand(), '-n', '-l', '-D', '-G', ...args], {
      name: `fg${n}`,
      cwd: dir,
    });
    procs.push(proc);
    return proc;
  }

  const msgs = (proc: LabProcess): string[] =>
    proc
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { msg: string }).msg);

  it('the startup script runs once, before the first advert, with its own words, "/" and its own process group', async () => {
    const { dir, args } = setup(
      {
        'start.sh': [
          // the fields after "(comm)": state ppid pgrp session
          `f=$(sed 's/.*) //' /proc/$$/stat)`,
          'echo "args=$#:$1:$2" > DIR/start.out',
          'echo "cwd=$(pwd)" >> DIR/start.out',
          'echo "pid=$$ pgrp=$(echo $f | cut -d" " -f3)" >> DIR/start.out',
          'echo "pidfile=$(cat DIR/keepalived.pid)" >> DIR/start.out',
          'env > DIR/start.env',
          'sleep 1',
          'date +%s%N >> DIR/start.done',
        ].join('\n'),
      },
      (dir) => `  startup_script "${dir}/start.sh one 'two words'"`,
    );
    cap = await startCapture(topo!, { name: 'lifecycle' });
    const logPath = join(dir, 'log');
    const rx = UnixDatagramReceiver.listen(logPath);
    sockets.push(rx);
    const log: string[] = [];
    rx.on('message', (b) => log.push(b.toString()));
    // forked, as an init script starts it
    const starter = d.spawn([...keepalivedTsCommand(), ...args], {
      name: `fork${n}`,
      env: { KEEPALIVED_TS_SYSLOG_SOCKET: logPath },
      cwd: dir,
    });
    const started = await starter.exited;
    const pid = Number(readFileSync(join(dir, 'keepalived.pid'), 'utf8'));
    daemons.add(pid);
    expect(started.code).toBe(0);
    await waitFor({
      what: 'an advert from the daemon',
      probe: () => adverts(cap!.frames(), VRID, '192.0.2.1')[0],
      timeoutMs: 15_000,
    });
    const first = adverts(cap.frames(), VRID, '192.0.2.1')[0]!;
    const done = readFileSync(join(dir, 'start.done'), 'utf8').trim().split('\n');
    expect(done).toHaveLength(1);
    // epoch ns (script's clock) against the capture's epoch µs (kernel timestamp)
    expect(Number(BigInt(done[0]!) / 1000n)).toBeLessThan(first.tsUs);
    const out = readFileSync(join(dir, 'start.out'), 'utf8');
    expect(out).toContain('args=2:one:two words');
    expect(out).toContain('cwd=/\n');
    const m = /pid=(\d+) pgrp=(\d+)/.exec(out);
    expect(m?.[1]).toBe(m?.[2]);
    expect(m?.[1]).not.toBe(String(pid));
    // the pid file was written before the script ran, naming the daemon
    expect(out).toContain(`pidfile=${pid}`);
    // the forked daemon's readiness pipe is not passed on
    expect(readFileSync(join(dir, 'start.env'), 'utf8')).not.toContain('KEEPALIVED_TS_READY_FD');
    expect(log.findIndex((l) => l.includes('startup script script succeeded'))).toBeLessThan(
      log.findIndex((l) => l.includes('Startup complete')),
    );

    // a reload runs neither script
    killQuiet(pid, 'SIGHUP');
    await waitFor({
      what: 'Reload complete',
      probe: () => log.some((l) => l.includes('Reload complete')),
      timeoutMs: 15_000,
    });
    killQuiet(pid, 'SIGTERM');
    await waitFor({ what: `daemon ${pid} to exit`, probe: () => !pidAlive(pid), timeoutMs: 15_000 });
    expect(readFileSync(join(dir, 'start.done'), 'utf8').trim().split('\n')).toHaveLength(1);
    await cap.stop();
    cap = undefined;
  });

  it('a startup script past its timeout gets SIGTERM, then SIGKILL when it ignores it; start-up goes on', async () => {
    const { dir, args } = setup(
      {
        'slow.sh': [
          "trap 'echo TERM >> DIR/slow.out' TERM",
          'echo $$ > DIR/slow.pid',
          'i=0; while [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done',
          'echo end >> DIR/slow.out',
        ].join('\n'),
      },
      (dir) => `  startup_script ${dir}/slow.sh\n  startup_script_timeout 1`,
    );
    const proc = startForeground(dir, args);
    await proc.waitForOutput(/Startup complete/, 30_000);
    const lines = msgs(proc);
    const timedOut = lines.indexOf('startup script timed out');
    const killed = lines.findIndex((l) => /didn't respond to SIGTERM/.test(l));
    const outcome = lines.indexOf('startup script script failed, killed by SIGKILL');
    const complete = lines.indexOf('Startup complete');
    expect(timedOut).toBeGreaterThanOrEqual(0);
    expect(killed).toBeGreaterThan(timedOut);
    expect(outcome).toBeGreaterThan(killed);
    expect(complete).toBeGreaterThan(outcome);
    // it saw the TERM (trapped), never got to its end, and is gone
    expect(readFileSync(join(dir, 'slow.out'), 'utf8')).toBe('TERM\n');
    expect(pidAlive(Number(readFileSync(join(dir, 'slow.pid'), 'utf8')))).toBe(false);
    proc.signal('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it("a startup script exiting 3 from its TERM trap at its timeout: keepalived's two lines, in order", async () => {
    const { dir, args } = setup(
      { 'trap3.sh': ["trap 'exit 3' TERM", 'sleep 30 &', 'wait'].join('\n') },
      (dir) => `  startup_script ${dir}/trap3.sh\n  startup_script_timeout 1`,
    );
    const proc = startForeground(dir, args);
    await proc.waitForOutput(/Startup complete/, 30_000);
    const lines = msgs(proc);
    const timedOut = lines.indexOf('startup script timed out');
    const failed = lines.indexOf('startup script script failed, status 3');
    expect(timedOut).toBeGreaterThanOrEqual(0);
    expect(failed).toBeGreaterThan(timedOut);
    expect(lines.indexOf('Startup complete')).toBeGreaterThan(failed);
    expect(lines.some((l) => /didn't respond to SIGTERM|ended by/.test(l))).toBe(false);
    proc.signal('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it('a failing startup script is logged and start-up goes on; the shutdown script runs at TERM after the VIP is gone', async () => {
    const { dir, args } = setup(
      {
        'fail.sh': 'exit 3',
        'stop.sh': [
          'ip -4 addr show dev eth0 > DIR/stop.addr',
          'cat DIR/keepalived.pid > DIR/stop.pidfile',
          'echo "$#" > DIR/stop.args',
        ].join('\n'),
      },
      (dir) =>
        `  startup_script ${dir}/fail.sh\n  shutdown_script ${dir}/stop.sh\n  shutdown_script_timeout 5`,
    );
    const proc = startForeground(dir, args);
    await proc.waitForOutput(/Entering MASTER STATE/, 30_000);
    expect(msgs(proc)).toContain('startup script script failed, status 3');
    // root scripts without enable_script_security, as keepalived warns at start
    expect(msgs(proc)).toContain(
      'SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.',
    );
    expect(await d.ip(['-4', 'addr', 'show', 'dev', 'eth0'])).toContain(VIP);
    expect(existsSync(join(dir, 'stop.addr'))).toBe(false);
    proc.signal('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const lines = msgs(proc);
    expect(lines.indexOf('shutdown script script succeeded')).toBeGreaterThan(
      lines.indexOf('(VI_1) sent 0 priority'),
    );
    // the instances had stopped: the VIP was already removed when the script ran
    const addr = readFileSync(join(dir, 'stop.addr'), 'utf8');
    expect(addr).toContain('192.0.2.1/24');
    expect(addr).not.toContain(VIP);
    // the pid file was still there, and is removed after
    expect(readFileSync(join(dir, 'stop.pidfile'), 'utf8').trim()).toBe(String(proc.pid));
    expect(existsSync(join(dir, 'keepalived.pid'))).toBe(false);
    expect(readFileSync(join(dir, 'stop.args'), 'utf8')).toBe('0\n');
  });
});
