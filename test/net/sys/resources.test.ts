/**
 * Resource behaviour of the addon: opening and closing 10,000 sockets (raw, netlink, packet; half of
 * them polling) leaves the fd count unchanged; an idle receiving socket costs no CPU (no busy polling,
 * no thread blocked in recv spinning the loop). The receive syscall numbers come from a per-arch table,
 * checked against python3 children blocked in recv/recvmsg.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket } from '../../../src/sys/netlink-socket.js';
import { inNetns } from '../../../src/sys/netns.js';
import { ETH_P_ARP, PacketSocket } from '../../../src/sys/packet-socket.js';
import { type RawMessage, RawSocket } from '../../../src/sys/raw-socket.js';
import { RTNLGRP_LINK } from '../../../src/wire/rtnetlink.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { createVethLab, nextEvent, type VethLab } from './veth-lab.js';

const fdCount = (): number => readdirSync('/proc/self/fd').length;

/** Receive syscall numbers per architecture (asm/unistd_64.h; asm-generic/unistd.h for arm64). */
const RECV_SYSCALLS: Record<string, { recvfrom: number; recvmsg: number; recvmmsg: number }> = {
  x64: { recvfrom: 45, recvmsg: 47, recvmmsg: 299 },
  arm64: { recvfrom: 207, recvmsg: 212, recvmmsg: 243 },
};

function recvSyscalls(): { recvfrom: number; recvmsg: number; recvmmsg: number } {
  const t = RECV_SYSCALLS[process.arch];
  if (!t) {
    throw new Error(
      `no receive syscall numbers for architecture ${process.arch}: add recvfrom/recvmsg/recvmmsg to RECV_SYSCALLS`,
    );
  }
  return t;
}

/**
 * The syscall number a child process shows in /proc/<pid>/syscall while blocked in Python's
 * `sock.<call>(1)` on a socket pair that never receives: proves the table matches this kernel.
 */
async function blockedSyscallOf(call: 'recv' | 'recvmsg'): Promise<number> {
  const child = execa(
    'python3',
    [
      '-c',
      `import socket\na, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\nprint('ready', flush=True)\na.${call}(1)`,
    ],
    { reject: false, stdin: 'ignore', stderr: 'inherit' },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', () => reject(new Error(`python3 ${call} child exited early`)));
    });
    // After 'ready' the child enters the call; wait until it sleeps there (state S in proc(5) stat).
    for (let i = 0; i < 500; i++) {
      if (readFileSync(`/proc/${child.pid}/stat`, 'utf8').includes(') S ')) {
        return Number.parseInt(readFileSync(`/proc/${child.pid}/syscall`, 'utf8').split(' ')[0] ?? '', 10);
      }
      await sleep(10);
    }
    throw new Error(`python3 ${call} child never blocked`);
  } finally {
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await child;
  }
}

/** Threads of this process whose current syscall is one of `nrs` (from /proc/self/task/<tid>/syscall). */
function threadsInSyscalls(nrs: readonly number[]): { threads: number; blocked: string[] } {
  const tids = readdirSync('/proc/self/task');
  const blocked: string[] = [];
  for (const tid of tids) {
    let text = '';
    try {
      text = readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8');
    } catch {
      continue; // thread exited meanwhile
    }
    const nr = Number.parseInt(text.split(' ')[0] ?? '', 10);
    if (nrs.includes(nr)) blocked.push(`${tid}: ${text.trim()}`);
  }
  return { threads: tids.length, blocked };
}

describeIf('sys socket resources', needRoot, () => {
  let lab: VethLab;
  beforeAll(async () => {
    lab = await createVethLab();
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('opening and closing 10,000 sockets leaves the fd count unchanged', async () => {
    const kinds = [
      () => RawSocket.open({ family: 4, protocol: 112, ifname: 'va' }), // polling
      () => RawSocket.open({ family: 6, protocol: 112, ifname: 'va', receive: false }),
      () => NetlinkSocket.open(NETLINK_ROUTE, { groups: [RTNLGRP_LINK] }), // polling
      () => NetlinkSocket.open(NETLINK_GENERIC),
      () => RawSocket.open({ family: 4, protocol: 51 }),
      // AF_PACKET close waits for an RCU grace period in the kernel (~14 ms here), so 1 in 20.
      () => PacketSocket.open({ protocol: ETH_P_ARP }),
    ];
    const pick = (i: number): number => (i % 20 === 0 ? 5 : i % 5);
    await tick();
    const before = fdCount();
    const opened = [0, 0, 0, 0, 0, 0];
    let maxDuring = before;
    inNetns(lab.a, () => {
      for (let i = 0; i < 10_000; i++) {
        const s = kinds[pick(i)]!();
        opened[pick(i)]!++;
        if (i % 1000 === 0) maxDuring = Math.max(maxDuring, fdCount());
        s.close();
      }
    });
    // Let libuv run the poll handles' close callbacks.
    await tick();
    await tick();
    const after = fdCount();
    process.stdout.write(
      `fd leak test: opened ${opened.join('/')} (raw4 polling/raw6/netlink polling/genl/ah/packet) = ${opened.reduce((a, b) => a + b)}; /proc/self/fd before ${before}, after ${after}, max sampled during ${maxDuring}\n`,
    );
    expect(opened.reduce((a, b) => a + b)).toBe(10_000);
    expect(after).toBe(before);
    // At most the one open socket plus readdir's own directory fd.
    expect(maxDuring).toBeLessThanOrEqual(before + 2);
  });

  it('an idle receiving socket keeps process CPU time near zero over 3 s', async () => {
    // The syscall numbers looked for below are those this kernel reports for a blocked receive.
    const nr = recvSyscalls();
    expect(await blockedSyscallOf('recv')).toBe(nr.recvfrom);
    expect(await blockedSyscallOf('recvmsg')).toBe(nr.recvmsg);
    const raw = inNetns(lab.b, () => RawSocket.open({ family: 4, protocol: 112, ifname: 'vb' }));
    raw.join('224.0.0.18');
    const raw6 = inNetns(lab.b, () => RawSocket.open({ family: 6, protocol: 112, ifname: 'vb' }));
    raw6.join('ff02::12');
    const nl = inNetns(lab.b, () => NetlinkSocket.open(NETLINK_ROUTE, { groups: [RTNLGRP_LINK] }));
    let received = 0;
    raw.on('message', () => received++);
    raw6.on('message', () => received++);
    nl.on('event', () => received++);
    try {
      await sleep(50);
      const start = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await sleep(1500);
      // No thread of this process (main, libuv pool, V8 workers) is parked in a receive call: the
      // sockets are watched by epoll through libuv. /proc/<tid>/syscall starts with the syscall number.
      const inRecv = threadsInSyscalls([nr.recvfrom, nr.recvmsg, nr.recvmmsg]);
      await sleep(1500);
      const used = process.cpuUsage(start);
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpuMs = (used.user + used.system) / 1000;
      process.stdout.write(
        `idle CPU test: ${cpuMs.toFixed(1)} ms CPU (user ${(used.user / 1000).toFixed(1)}, system ${(used.system / 1000).toFixed(1)}) over ${wallMs.toFixed(0)} ms wall with 3 receiving sockets; ${received} datagrams arrived\n`,
      );
      expect(cpuMs).toBeLessThan(100);
      expect(inRecv.threads).toBeGreaterThan(1);
      expect(inRecv.blocked).toEqual([]);
      // The idle socket was live all along: a datagram sent now is delivered.
      const tx = inNetns(lab.a, () =>
        RawSocket.open({ family: 4, protocol: 112, ifname: 'va', receive: false }),
      );
      try {
        const got = nextEvent<RawMessage>(raw, 'message');
        tx.send(Buffer.from('3133640100640000c0000264', 'hex'), '224.0.0.18');
        expect((await got).src).toBe('192.0.2.1');
      } finally {
        tx.close();
      }
    } finally {
      raw.close();
      raw6.close();
      nl.close();
    }
  });
});
