import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { destroyNetnsSync, registerCleanup } from '../../lab/resources.js';

export const KEEPALIVED = '/usr/sbin/keepalived';
const IFACES = ['eth0', 'eth1', 'eth2', 'eth3'];

/**
 * A network namespace with eth0..eth3 (keepalived -t looks interfaces up), for comparing config
 * tests with Debian's keepalived. `close()` removes it.
 */
export class ConfigTestNetns {
  readonly name = `kt${randomBytes(4).toString('hex')}`;
  /** Link names inside the namespace. */
  links = new Set<string>();
  private release: (() => void) | undefined;

  async open(): Promise<void> {
    this.release = registerCleanup(`config interop ${this.name}`, () => {
      try {
        destroyNetnsSync(this.name);
      } catch {
        // already gone
      }
    });
    await execa('ip', ['netns', 'add', this.name]);
    for (const [i, name] of IFACES.entries()) {
      await execa('ip', [
        '-n',
        this.name,
        'link',
        'add',
        name,
        'type',
        'veth',
        'peer',
        'name',
        `${this.name}p${i}`,
      ]);
    }
    const out = await execa('ip', ['-n', this.name, '-o', 'link', 'show']);
    this.links = new Set(out.stdout.split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? ''));
  }

  async close(): Promise<void> {
    await execa('ip', ['netns', 'del', this.name], { reject: false });
    this.release?.();
  }

  /** `keepalived -t -f path` inside the namespace: its exit code (a crash as 128 + signal). */
  async keepalivedTest(path: string): Promise<{ exit: number; stderr: string }> {
    // keepalived is started by pid through execa; the timeout kills that pid if it ever hangs
    const r = await execa('ip', ['netns', 'exec', this.name, KEEPALIVED, '-t', '-f', path, '-i', 'nodeA'], {
      reject: false,
      timeout: 30_000,
      stdin: 'ignore',
    });
    if (r.timedOut) throw new Error(`keepalived -t timed out on ${path}`);
    const exit =
      r.exitCode ?? 128 + (r.signal ? constants.signals[r.signal as keyof typeof constants.signals] : 0);
    return { exit, stderr: String(r.stderr) };
  }

  /** Our built command line, `keepalived-ts -t -f path`, inside the namespace: its exit code. */
  async ourCli(path: string): Promise<number> {
    const bin = join(import.meta.dirname, '../../../bin/keepalived-ts.js');
    const r = await execa(
      'ip',
      ['netns', 'exec', this.name, process.execPath, bin, '-t', '-f', path, '-i', 'nodeA'],
      {
        reject: false,
        timeout: 30_000,
        stdin: 'ignore',
      },
    );
    if (r.timedOut) throw new Error(`keepalived-ts -t timed out on ${path}`);
    return r.exitCode ?? -1;
  }
}
