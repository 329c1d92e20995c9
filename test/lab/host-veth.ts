/**
 * A network namespace joined to the test process's own namespace by a veth pair: for tests whose
 * code under test runs in the test process (checkers, SMTP client) against a server in the
 * namespace. Cleanup is registered with the lab (exit and signal hooks too) and done by `destroy()`.
 */
import { execFileSync } from 'node:child_process';
import { registerCleanup } from './resources.js';

export interface HostVeth {
  readonly ns: string;
  /** The veth end in the test's namespace (its peer in `ns` is `eth0`). */
  readonly vethHost: string;
  /** Deletes the namespace and the host end; idempotent, never throws. */
  destroy(): void;
}

const sh = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Creates `ns` with `eth0` at `nsAddr` (CIDR), joined to `vethHost` at `hostAddr` (CIDR), all up. */
export function hostVeth(o: { ns: string; vethHost: string; hostAddr: string; nsAddr: string }): HostVeth {
  const del = (): void => {
    for (const args of [
      ['netns', 'del', o.ns],
      ['link', 'del', o.vethHost],
    ]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {}
    }
  };
  const release = registerCleanup(`host veth ${o.ns}`, del);
  let done = false;
  const destroy = (): void => {
    if (done) return;
    done = true;
    del();
    release();
  };
  try {
    sh(['netns', 'add', o.ns]);
    sh(['link', 'add', o.vethHost, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', o.ns]);
    sh(['addr', 'add', o.hostAddr, 'dev', o.vethHost]);
    sh(['link', 'set', o.vethHost, 'up']);
    sh(['-n', o.ns, 'addr', 'add', o.nsAddr, 'dev', 'eth0']);
    sh(['-n', o.ns, 'link', 'set', 'eth0', 'up']);
    sh(['-n', o.ns, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    destroy();
    throw e;
  }
  return { ns: o.ns, vethHost: o.vethHost, destroy };
}
