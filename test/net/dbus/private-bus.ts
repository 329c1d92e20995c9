/**
 * A private dbus-daemon for tests: its own socket in a temporary directory, a policy that allows
 * everything (any connection may own any name, send and receive anything, and monitor), and a
 * `busctl monitor` that records the messages on it. Needs no root; processes end by pid.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface BusMessage {
  readonly type: string;
  readonly sender?: string;
  readonly path?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly payload?: { readonly type: string; readonly data: unknown[] };
}

export interface PrivateBus {
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
  /** `busctl --address=… ARGS`, stdout. */
  busctl(args: readonly string[]): Promise<string>;
  /** Records every message on the bus from now on. */
  monitor(): Promise<BusMonitor>;
  /** Kill the daemon (SIGTERM, then SIGKILL) and remove the directory. */
  stop(): Promise<void>;
}

export interface BusMonitor {
  /** Messages seen so far. */
  messages(): BusMessage[];
  /** Signals seen so far on paths under `prefix`. */
  signals(prefix?: string): BusMessage[];
  stop(): Promise<void>;
}

const POLICY = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`;

async function endProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** First line a process prints on stdout. */
function firstLine(p: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        p.stdout?.off('data', onData);
        resolve(buf.slice(0, nl).trim());
      }
    };
    p.stdout?.on('data', onData);
    p.once('exit', (code) => reject(new Error(`${what} exited (${code}) before printing`)));
  });
}

export async function startPrivateBus(): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-dbus-'));
  const conf = join(dir, 'bus.conf');
  writeFileSync(conf, POLICY.replace('SOCKET', join(dir, 'bus.sock')));
  const daemon = spawn(
    'dbus-daemon',
    [`--config-file=${conf}`, '--nofork', '--nopidfile', '--print-address=1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  daemon.stderr?.resume();
  let address: string;
  try {
    address = await firstLine(daemon, 'dbus-daemon');
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const monitors: BusMonitor[] = [];
  const busctl = async (args: readonly string[]) =>
    (await execa('busctl', [`--address=${address}`, ...args], { timeout: 10_000 })).stdout;
  return {
    address,
    dir,
    pid: daemon.pid ?? -1,
    busctl,
    async monitor() {
      const p = spawn('busctl', [`--address=${address}`, 'monitor', '--json=short'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const seen: BusMessage[] = [];
      let buf = '';
      p.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line.startsWith('{')) seen.push(JSON.parse(line) as BusMessage);
        }
      });
      // busctl says "Monitoring bus message stream." on stderr once it is a monitor
      await new Promise<void>((resolve, reject) => {
        p.stderr?.on('data', (d: Buffer) => {
          if (d.toString().includes('Monitoring')) resolve();
        });
        p.once('exit', (code) => reject(new Error(`busctl monitor exited (${code})`)));
      });
      const m: BusMonitor = {
        messages: () => [...seen],
        signals: (prefix = '/') =>
          seen.filter((x) => x.type === 'signal' && (x.path ?? '').startsWith(prefix)),
        stop: () => endProcess(p),
      };
      monitors.push(m);
      return m;
    },
    async stop() {
      for (const m of monitors) await m.stop();
      await endProcess(daemon);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
