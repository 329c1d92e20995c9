/**
 * Two network namespaces joined by a veth pair (va in A, vb in B), DAD off so IPv6 addresses (and the
 * link-local) are usable at once. Addresses: 192.0.2.1/.2 and fd00::1/::2. Torn down by `destroy()`.
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { destroyNetnsSync, registerCleanup } from '../../lab/resources.js';

export interface VethLab {
  a: string;
  b: string;
  destroy(): Promise<void>;
}

const ip = (...args: string[]) => execa('ip', args);

export async function createVethLab(): Promise<VethLab> {
  const tag = randomBytes(4).toString('hex');
  const a = `kt${tag}a`;
  const b = `kt${tag}b`;
  // Also removed by the lab's exit/signal hook if the test process dies before destroy().
  const release = registerCleanup(`veth-lab ${a} ${b}`, () => {
    for (const ns of [a, b]) {
      try {
        destroyNetnsSync(ns);
      } catch {
        // already gone
      }
    }
  });
  const lab: VethLab = {
    a,
    b,
    async destroy() {
      // Deleting a namespace removes its veth end, and with it the peer.
      for (const ns of [a, b]) await ip('netns', 'del', ns).catch(() => undefined);
      release();
    },
  };
  try {
    await ip('netns', 'add', a);
    await ip('netns', 'add', b);
    for (const ns of [a, b]) {
      await execa('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0']);
      await execa('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_dad=0']);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('-n', a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b);
    await ip('-n', a, 'addr', 'add', '192.0.2.1/24', 'dev', 'va');
    await ip('-n', b, 'addr', 'add', '192.0.2.2/24', 'dev', 'vb');
    await ip('-n', a, 'addr', 'add', 'fd00::1/64', 'dev', 'va', 'nodad');
    await ip('-n', b, 'addr', 'add', 'fd00::2/64', 'dev', 'vb', 'nodad');
    await ip('-n', a, 'link', 'set', 'va', 'up');
    await ip('-n', b, 'link', 'set', 'vb', 'up');
    // The link is usable (carrier seen by linkwatch, qdisc attached, IPv6 up) only some 100 ms later:
    // wait until IPv6 (whose neighbour solicitation is multicast) and IPv4 pings get through.
    for (const target of ['fd00::2', '192.0.2.2']) {
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        const r = await execa('ip', ['netns', 'exec', a, 'ping', '-c', '1', '-W', '1', target], {
          reject: false,
        });
        ok = r.exitCode === 0;
      }
      if (!ok) throw new Error(`veth lab: ${target} unreachable from ${a}`);
    }
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** Resolves with the first event `name` on `em` that satisfies `pred`; rejects after `ms`. */
export function nextEvent<T>(
  em: { on(n: string, f: (v: T) => void): unknown; off(n: string, f: (v: T) => void): unknown },
  name: string,
  pred: (v: T) => boolean = () => true,
  ms = 5000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      em.off(name, on);
      reject(new Error(`no matching '${name}' event within ${ms} ms`));
    }, ms);
    const on = (v: T) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      em.off(name, on);
      resolve(v);
    };
    em.on(name, on);
  });
}
