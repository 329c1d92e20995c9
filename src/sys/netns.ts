/**
 * Network namespace helpers (tests, lab). setns(2) switches only the calling thread, which is Node's
 * main thread: sockets opened while inside stay in that namespace for their whole life, so one process
 * can hold sockets in several namespaces. libuv's thread pool and other threads are not switched, so
 * only synchronous work belongs inside `inNetns` (no awaits: other callbacks would run in the namespace).
 */
import { SysError, SysErrors } from './errors.js';
import { addon, k, sys } from './native.js';

/** `/run/netns/NAME` for a bare name (as `ip netns add` creates); a path is returned unchanged. */
export function netnsPath(nameOrPath: string): string {
  if (nameOrPath.includes('/')) return nameOrPath;
  if (!/^[A-Za-z0-9_.-]+$/.test(nameOrPath)) {
    throw new SysError(
      SysErrors.KA_ERR_SYS_BAD_ARG,
      `bad namespace name ${JSON.stringify(nameOrPath)}`,
      '',
      'setns',
    );
  }
  return `/run/netns/${nameOrPath}`;
}

/** Enters the namespace; returns a function that goes back to the previous one (and must be called). */
export function enterNetns(nameOrPath: string): () => void {
  const n = addon();
  const nstype = k('CLONE_NEWNET');
  const home = sys(() => n.nsOpen('/proc/thread-self/ns/net'));
  try {
    const target = sys(() => n.nsOpen(netnsPath(nameOrPath)), { netns: nameOrPath });
    try {
      sys(() => n.nsEnter(target, nstype), { netns: nameOrPath });
    } finally {
      n.nsClose(target);
    }
  } catch (e) {
    n.nsClose(home);
    throw e;
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    try {
      sys(() => n.nsEnter(home, nstype));
    } finally {
      n.nsClose(home);
    }
  };
}

/** Runs synchronous `fn` inside the namespace and returns to the previous one, even if `fn` throws. */
export function inNetns<T>(nameOrPath: string, fn: () => T): T {
  const back = enterNetns(nameOrPath);
  try {
    const r = fn();
    if (r instanceof Promise) {
      throw new SysError(SysErrors.KA_ERR_SYS_BAD_ARG, 'inNetns needs a synchronous function', '', 'setns');
    }
    return r;
  } finally {
    back();
  }
}
