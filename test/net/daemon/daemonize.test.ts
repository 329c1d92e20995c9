/**
 * keepalived-ts started without -n, as init scripts and `Type=forking` units start keepalived: the
 * command returns 0 only once the daemon is up (its pid file names a live process at that moment),
 * the daemon runs in its own session, is not the starter's child, works from "/" with stdio on
 * /dev/null, reloads on SIGHUP and on SIGTERM stops and removes its pid files; when start-up fails
 * the command exits non-zero and says why on stderr. The daemon's log is read from a syslog socket of
 * the test (KEEPALIVED_TS_SYSLOG_SOCKET), since a forked daemon has no console.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UnixDatagramReceiver } from '../../../src/sys/unix-dgram.js';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand, type LabNode } from '../../lab/node.js';
import { waitFor } from '../../lab/observe.js';
import { killQuiet, pidAlive, pidIn, runsWith } from '../../lab/resources.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const CONFIG = `
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 19
  priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.91/24
  }
}
`;

/** /proc/PID/stat fields after the command name: state, ppid, pgrp, session. */
function stat(pid: number) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]) };
}

describeIf('keepalived-ts without -n (forking)', needLab, () => {
  let topo: Topology | undefined;
  let d: LabNode;
  let n = 0;
  /** Every daemon pid seen, ended in afterAll if still alive. */
  const daemons = new Set<number>();
  /** Every pid file a forked daemon was given, noted before it starts: read again in afterAll. */
  const pidFiles = new Set<string>();
  const sockets: UnixDatagramReceiver[] = [];

  beforeAll(async () => {
    topo = await createTopology({ nodes: [{ name: 'd', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    d = topo.node('d');
  });

  afterAll(async () => {
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

  /** Runs `keepalived-ts -f CONF -p P -r R -c C -b B [extra]` (no -n) in the node; resolves at its exit. */
  async function startForking(extra: string[] = [], pidFile?: string, env: Record<string, string> = {}) {
    const dir = join(topo!.dir, `fork${n++}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keepalived.conf'), CONFIG);
    const logPath = join(dir, 'log');
    const rx = UnixDatagramReceiver.listen(logPath);
    sockets.push(rx);
    const log: string[] = [];
    rx.on('message', (b) => log.push(b.toString()));
    const pid = pidFile ?? join(dir, 'keepalived.pid');
    const argv = [...keepalivedTsCommand(), '-f', 'keepalived.conf', '-p', pid, '-r', join(dir, 'vrrp.pid')];
    argv.push('-c', join(dir, 'checkers.pid'), '-b', join(dir, 'bfd.pid'), '-D', ...extra);
    for (const f of [pid, join(dir, 'vrrp.pid'), join(dir, 'checkers.pid'), join(dir, 'bfd.pid')])
      pidFiles.add(f);
    // a relative -f: the daemon changes to "/", the path must still name this file
    const proc = d.spawn(argv, {
      name: `fork${n}`,
      env: { KEEPALIVED_TS_SYSLOG_SOCKET: logPath, ...env },
      cwd: dir,
    });
    const exit = await proc.exited;
    return { proc, exit, pidFile: pid, dir, log };
  }

  it('exits 0 once the daemon is up; the daemon has its own session, "/" and /dev/null; HUP reloads, TERM stops', async () => {
    const { proc, exit, pidFile, dir, log } = await startForking();
    // read at once: the pid file was written before the starter exited
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    daemons.add(pid);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(proc.output()).toBe('');
    expect(pid).not.toBe(proc.pid);
    expect(pidAlive(pid)).toBe(true);
    const st = stat(pid);
    // setsid(): leader of its own session and process group
    expect(st.sid).toBe(pid);
    expect(st.pgrp).toBe(pid);
    // not a child of the starter nor of this test (reparented once the starter exited)
    expect(st.ppid).not.toBe(proc.pid);
    expect(st.ppid).not.toBe(process.pid);
    expect(readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
    for (const fd of [0, 1, 2]) expect(readlinkSync(`/proc/${pid}/fd/${fd}`)).toBe('/dev/null');
    // the readiness pipe is closed once used
    expect(existsSync(`/proc/${pid}/fd/3`)).toBe(false);
    expect(readFileSync(join(dir, 'vrrp.pid'), 'utf8').trim()).toBe(String(pid));
    expect(log.some((l) => l.includes('Startup complete'))).toBe(true);

    await waitFor({
      what: 'MASTER',
      probe: () => log.some((l) => l.includes('(VI_1) Entering MASTER STATE')),
      timeoutMs: 15_000,
    });
    killQuiet(pid, 'SIGHUP');
    await waitFor({
      what: 'Reload complete',
      probe: () => log.some((l) => l.includes('Reload complete')),
      timeoutMs: 15_000,
    });
    expect(pidAlive(pid)).toBe(true);

    killQuiet(pid, 'SIGTERM');
    await waitFor({ what: `daemon ${pid} to exit`, probe: () => !pidAlive(pid), timeoutMs: 15_000 });
    expect(existsSync(pidFile)).toBe(false);
    expect(existsSync(join(dir, 'vrrp.pid'))).toBe(false);
    expect(log.some((l) => l.includes('Stopped keepalived-ts'))).toBe(true);
    expect(await d.ip(['-4', 'addr', 'show', 'dev', 'eth0'])).not.toContain('192.0.2.91');
  });

  it('exits non-zero with the reason on stderr when the pid file names a live daemon', async () => {
    const first = await startForking();
    const pid = Number(readFileSync(first.pidFile, 'utf8').trim());
    daemons.add(pid);
    expect(first.exit.code).toBe(0);
    const second = await startForking([], first.pidFile);
    expect(second.exit.code).toBe(1);
    expect(second.proc.stderr()).toContain(`daemon is already running (pid ${pid} in ${first.pidFile})`);
    // the first daemon and its pid file are untouched
    expect(pidAlive(pid)).toBe(true);
    expect(readFileSync(first.pidFile, 'utf8').trim()).toBe(String(pid));
    killQuiet(pid, 'SIGTERM');
    await waitFor({ what: `daemon ${pid} to exit`, probe: () => !pidAlive(pid), timeoutMs: 15_000 });
  });

  it('exits 6 when the configuration file is missing, forking or not, as keepalived 2.2.7', async () => {
    for (const extra of [
      ['-f', 'missing.conf'],
      ['-n', '-f', 'missing.conf'],
    ]) {
      const r = await startForking(extra);
      expect(r.exit.code, extra.join(' ')).toBe(6);
      expect(existsSync(r.pidFile), extra.join(' ')).toBe(false);
      const text = `${r.log.join('\n')}\n${r.proc.output()}`;
      expect(text, extra.join(' ')).toMatch(/Config files missing '[^']*missing\.conf'/);
    }
  });

  it('exits non-zero when the pid file cannot be written', async () => {
    const r = await startForking([], '/dev/null/keepalived.pid');
    expect(r.exit.code).toBe(1);
    expect(r.proc.stderr()).toMatch(/cannot write pid file \/dev\/null\/keepalived\.pid/);
    expect(r.proc.stderr()).toMatch(/exited with code 1 before start-up completed/);
  });

  it('with NOTIFY_SOCKET set (Type=notify without -n), the starter names the daemon as MAINPID once it is up', async () => {
    const sockPath = join(topo!.dir, 'notify.sock');
    const notify = UnixDatagramReceiver.listen(sockPath);
    sockets.push(notify);
    const got: string[] = [];
    notify.on('message', (b) => got.push(b.toString()));
    const r = await startForking([], undefined, { NOTIFY_SOCKET: sockPath });
    const pid = Number(readFileSync(r.pidFile, 'utf8').trim());
    daemons.add(pid);
    expect(r.exit.code).toBe(0);
    await waitFor({
      what: 'MAINPID from the starter',
      probe: () => got.includes(`MAINPID=${pid}\nREADY=1`),
      timeoutMs: 5_000,
    });
    killQuiet(pid, 'SIGTERM');
    // the daemon itself tells systemd it stops
    await waitFor({ what: 'STOPPING=1', probe: () => got.includes('STOPPING=1'), timeoutMs: 15_000 });
    await waitFor({ what: `daemon ${pid} to exit`, probe: () => !pidAlive(pid), timeoutMs: 15_000 });
  });

  it('-a logs the addresses present at start and every change, as keepalived words it', async () => {
    const r = await startForking(['-a']);
    const pid = Number(readFileSync(r.pidFile, 'utf8').trim());
    daemons.add(pid);
    expect(r.exit.code).toBe(0);
    const has = (text: string) => r.log.some((l) => l.endsWith(`: ${text}`));
    expect(has('Netlink reflector reports IP 192.0.2.1 added to eth0')).toBe(true);
    // our own VIP (VI_1 alone becomes MASTER) is not reported: keepalived leaves its own changes out
    let vipSet = false;
    await waitFor({
      what: 'the VIP set by VI_1',
      probe: async () =>
        (vipSet = (await d.ip(['-o', 'addr', 'show', 'dev', 'eth0'])).includes('192.0.2.91/24')),
      timeoutMs: 10_000,
    });
    expect(vipSet).toBe(true);
    await d.ip(['addr', 'add', '198.51.100.7/24', 'dev', 'eth0']);
    await d.ip(['addr', 'add', 'fd00::7/64', 'dev', 'eth0', 'nodad']);
    await waitFor({
      what: 'the additions logged',
      probe: () =>
        has('Netlink reflector reports IP 198.51.100.7 added to eth0') &&
        has('Netlink reflector reports IP fd00::7 added to eth0'),
      timeoutMs: 5_000,
    });
    await d.ip(['addr', 'del', '198.51.100.7/24', 'dev', 'eth0']);
    await d.ip(['addr', 'del', 'fd00::7/64', 'dev', 'eth0']);
    await waitFor({
      what: 'the removals logged',
      probe: () =>
        has('Netlink reflector reports IP 198.51.100.7 removed from eth0') &&
        has('Netlink reflector reports IP fd00::7 removed from eth0'),
      timeoutMs: 5_000,
    });
    // the changes above were logged after the VIP was set: its line would be there by now
    expect(r.log.filter((l) => l.includes('192.0.2.91'))).toEqual([]);
    killQuiet(pid, 'SIGTERM');
    await waitFor({ what: `daemon ${pid} to exit`, probe: () => !pidAlive(pid), timeoutMs: 15_000 });
  });

  it('-t, -v and --signum do not fork: they answer in the foreground', async () => {
    const dir = join(topo!.dir, 'fg');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keepalived.conf'), CONFIG);
    const v = d.spawn([...keepalivedTsCommand(), '-v'], { name: 'fg-v', cwd: dir });
    expect((await v.exited).code).toBe(0);
    expect(v.stderr()).toMatch(/^Keepalived v2\.2\.7/);
    const t = d.spawn([...keepalivedTsCommand(), '-t', '-f', 'keepalived.conf'], { name: 'fg-t', cwd: dir });
    expect((await t.exited).code).toBe(0);
    const s = d.spawn([...keepalivedTsCommand(), '--signum=RELOAD'], { name: 'fg-s', cwd: dir });
    expect((await s.exited).code).toBe(0);
    expect(s.stdout()).toBe('1\n');
  });
});
