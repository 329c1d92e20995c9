/**
 * The addon without privileges: loading, errno-named errors, closed sockets, netlink request
 * bookkeeping, and cleanup of a worker's sockets at worker exit.
 */
import { readdirSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SysErrors } from '../../../src/sys/errors.js';
import { ifIndexToName, ifNameToIndex } from '../../../src/sys/ifaces.js';
import { addon } from '../../../src/sys/native.js';
import { NETLINK_ROUTE, NetlinkSocket } from '../../../src/sys/netlink-socket.js';
import { NLM_F_REQUEST } from '../../../src/wire/netlink.js';
import { getLinkDump, ifinfomsg, RTM_GETLINK } from '../../../src/wire/rtnetlink.js';

const fdCount = (): number => readdirSync('/proc/self/fd').length;

describe('native addon (unprivileged)', () => {
  it('loads and resolves the loopback interface', () => {
    expect(typeof addon().Socket).toBe('function');
    expect(ifNameToIndex('lo')).toBe(1);
    expect(ifIndexToName(1)).toBe('lo');
    expect(addon().gettid()).toBe(process.pid); // the main thread's tid is the pid
  });

  it('errors name the errno and the syscall', () => {
    expect(() => ifNameToIndex('nosuchif0')).toThrow(
      expect.objectContaining({
        code: SysErrors.KA_ERR_SYS_CALL,
        errno: 'ENODEV',
        syscall: 'if_nametoindex',
      }),
    );
    expect(() => ifNameToIndex('')).toThrow(expect.objectContaining({ code: SysErrors.KA_ERR_SYS_BAD_ARG }));
    const n = addon();
    let raw: unknown;
    try {
      new n.Socket(-1, 3, 0);
    } catch (e) {
      raw = e;
    }
    expect(raw).toMatchObject({ code: 'EAFNOSUPPORT', syscall: 'socket' });
    expect((raw as Error).message).toMatch(/^socket: /);
  });

  it('a closed socket throws EBADF and close is idempotent', () => {
    const n = addon();
    const s = new n.Socket(n.constants.AF_NETLINK!, n.constants.SOCK_RAW!, 0);
    expect(s.fd).toBeGreaterThan(2);
    s.close();
    s.close();
    expect(s.fd).toBe(-1);
    expect(() => s.getsockname()).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('netlink: closing rejects pending requests with KA_ERR_SYS_CLOSED, later requests too', async () => {
    const nl = NetlinkSocket.open(NETLINK_ROUTE);
    // A single RTM_GETLINK (not a dump) for lo: sent synchronously, so it is pending right away.
    const p = nl.request({
      type: RTM_GETLINK,
      flags: NLM_F_REQUEST,
      header: ifinfomsg({ index: 1 }),
      attrs: [],
    });
    expect(nl.pendingCount).toBe(1);
    nl.close();
    await expect(p).rejects.toMatchObject({ code: SysErrors.KA_ERR_SYS_CLOSED });
    await expect(nl.request(getLinkDump())).rejects.toMatchObject({ code: SysErrors.KA_ERR_SYS_CLOSED });
    expect(nl.pendingCount).toBe(0);
  });

  it("a worker's open, polling sockets are closed when the worker exits", async () => {
    await tick();
    const before = fdCount();
    const path = new URL('../../../native/build/Release/keepalived_ts_native.node', import.meta.url).pathname;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const n = require(workerData);
      const socks = [];
      for (let i = 0; i < 50; i++) {
        const s = new n.Socket(n.constants.AF_NETLINK, n.constants.SOCK_RAW, 0);
        s.startReceiving(() => {});
        socks.push(s);
      }
      parentPort.postMessage(require('node:fs').readdirSync('/proc/self/fd').length);
    `;
    const w = new Worker(code, { eval: true, workerData: path });
    const during = await new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    // The worker keeps running (its polls hold its loop) until terminated.
    await w.terminate();
    await tick();
    const after = fdCount();
    process.stdout.write(`worker teardown: fds before ${before}, in worker ${during}, after exit ${after}\n`);
    expect(during).toBeGreaterThanOrEqual(before + 50);
    expect(after).toBe(before);
  });
});
