/**
 * The only importer of the native addon (STYLE.md habit 7). The addon exposes syscalls only; every
 * struct it takes or returns (sockaddrs, option structs, control messages) is built and parsed in
 * TypeScript (src/sys/abi.ts). Addon errors carry `code` = errno name and are turned into SysError here.
 */
import { createRequire } from 'node:module';
import { KaError } from '../core/errors.js';
import { SysError, SysErrors } from './errors.js';

/** Callback of `startReceiving`: one call per datagram (or one per error, with only `err`). */
export type NativeRecvCallback = (
  err: NativeErrnoError | null,
  data?: Buffer,
  name?: Buffer,
  control?: Buffer,
  flags?: number,
  /** CLOCK_REALTIME and CLOCK_MONOTONIC in µs (fractional), read just after recvmsg. */
  realtimeUs?: number,
  monotonicUs?: number,
) => void;

/** A non-blocking socket (SOCK_NONBLOCK | SOCK_CLOEXEC always set). */
export interface NativeSocket {
  /** The descriptor, -1 once closed. */
  readonly fd: number;
  setsockopt(level: number, name: number, value: number | Buffer): void;
  getsockoptInt(level: number, name: number): number;
  bind(sockaddr: Buffer): void;
  connect(sockaddr: Buffer): void;
  getsockname(): Buffer;
  /** MSG_DONTWAIT | MSG_NOSIGNAL are always added; EAGAIN is thrown, not waited for. */
  sendmsg(data: Buffer, name: Buffer | null, control: Buffer | null, flags: number): number;
  /** Starts readiness polling (uv_poll); drains with recvmsg until EAGAIN on each wake-up. */
  startReceiving(cb: NativeRecvCallback, bufferSize?: number): void;
  stopReceiving(): void;
  /** Whether the poll handle keeps the event loop alive (default: yes). */
  ref(): void;
  unref(): void;
  /** Stops polling, closes the poll handle, closes the fd. Idempotent. */
  close(): void;
  /**
   * Returns the fd and forgets it (no longer polled nor closed by close(), the finalizer or teardown),
   * e.g. for `net.Socket({ fd })`. EBUSY while receiving, EBADF once closed.
   */
  detach(): number;
}

export interface NativeErrnoError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface NativeConstants {
  readonly [name: string]: number;
}

export interface NativeAddon {
  Socket: new (domain: number, type: number, protocol: number) => NativeSocket;
  ifNameToIndex(name: string): number;
  ifIndexToName(index: number): string;
  nsOpen(path: string): number;
  /** setns(2) on the calling thread, which is Node's main thread. */
  nsEnter(fd: number, nstype: number): void;
  nsClose(fd: number): void;
  /** The calling thread's kernel tid. */
  gettid(): number;
  /** setpriority(PRIO_PROCESS, tid, nice): one thread's nice value. */
  setThreadNice(tid: number, nice: number): void;
  /** sched_setscheduler(tid, policy, { sched_priority }). */
  setThreadScheduler(tid: number, policy: number, priority: number): void;
  /** setrlimit(resource, { soft, hard }); a negative limit is RLIM_INFINITY. */
  setRlimit(resource: number, soft: number, hard: number): void;
  /** getrlimit(resource) -> [soft, hard]; -1 is RLIM_INFINITY. */
  getRlimit(resource: number): [number, number];
  /**
   * waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT) -> [pid, si_code, si_status]: one ended child, left
   * waitable (not reaped); pid 0 when none has ended, -1 when there is no child at all.
   */
  waitidPeek(): [number, number, number];
  /** waitpid(pid > 0, WNOHANG) -> [pid, wstatus]; pid 0 while it runs, -1 when not our child. */
  waitpidNoHang(pid: number): [number, number];
  /** prctl(PR_GET_CHILD_SUBREAPER): whether orphans are reparented to this process. */
  getChildSubreaper(): boolean;
  constants: NativeConstants;
}

const ADDON_PATH = '../../native/build/Release/keepalived_ts_native.node';

let cached: NativeAddon | undefined;

/** Loads the addon (once). Throws KA_ERR_SYS_ADDON if it is not built. */
export function addon(): NativeAddon {
  if (cached) return cached;
  try {
    // Relative to this file: src/sys/ and dist/sys/ both sit two levels below the package root.
    cached = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (e) {
    throw new KaError(
      SysErrors.KA_ERR_SYS_ADDON,
      `cannot load the native addon (${(e as Error).message}); build it with: npx node-gyp rebuild --directory native`,
      {},
      { cause: e },
    );
  }
  return cached;
}

/** A named constant from the C headers, as compiled into the addon. */
export function k(name: string): number {
  const v = addon().constants[name];
  if (v === undefined) throw new Error(`native constant ${name} missing from the addon`);
  return v;
}

function isErrnoError(e: unknown): e is NativeErrnoError {
  return (
    e instanceof Error &&
    !(e instanceof KaError) &&
    typeof (e as NativeErrnoError).code === 'string' &&
    'syscall' in e
  );
}

/** Turns an addon error into a SysError (KA_ERR_SYS_CALL); anything else is returned unchanged. */
export function toSysError(e: unknown, context: Record<string, unknown> = {}): unknown {
  if (isErrnoError(e)) {
    return new SysError(SysErrors.KA_ERR_SYS_CALL, e.message, e.code, e.syscall, context, { cause: e });
  }
  if (e instanceof TypeError) {
    return new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, e.message, '', '', context, { cause: e });
  }
  return e;
}

/** Runs `fn`, rethrowing addon errors as SysError. */
export function sys<T>(fn: () => T, context?: Record<string, unknown>): T {
  try {
    return fn();
  } catch (e) {
    throw toSysError(e, context);
  }
}
