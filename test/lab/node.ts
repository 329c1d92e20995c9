/**
 * One lab node (a network namespace) and the processes started in it: commands, Debian's keepalived
 * or our daemon, with graceful stop, crash, pause/resume, link control and per-node packet drop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { waitFor } from './observe.js';
import { killQuiet, LabError, netnsPids, pidAlive, run } from './resources.js';

export const KEEPALIVED_BIN = '/usr/sbin/keepalived';

/** Debian's keepalived. */
export const keepalivedCommand = (): string[] => [KEEPALIVED_BIN];

/** Our daemon, run from this checkout with the current node binary. */
export const keepalivedTsCommand = (): string[] => [
  process.execPath,
  resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/keepalived-ts.js'),
];

export interface LinkInfo {
  /** Interface name inside the node. */
  readonly ifname: string;
  /** Segment (bridge) the link is plugged into. */
  readonly segment: string;
  /** Name of the bridge port (the veth peer) inside the bridge namespace. */
  readonly port: string;
  /** Namespace holding the bridge and the port. */
  readonly bridgeNs: string;
  readonly mac: string;
  /** Addresses with prefix length, as configured. */
  readonly addrs: readonly string[];
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Name used for the log files (default: the command's basename). */
  readonly name?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** A process started inside a node; stdout and stderr go to files under the node's directory. */
export class LabProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  private exitInfo: ExitInfo | undefined;

  constructor(
    readonly name: string,
    readonly argv: readonly string[],
    readonly stdoutPath: string,
    readonly stderrPath: string,
    child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new LabError(`could not start ${argv.join(' ')}`);
    this.pid = child.pid;
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        res(this.exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  signal(sig: NodeJS.Signals): boolean {
    return this.running && killQuiet(this.pid, sig);
  }

  pause(): void {
    this.signal('SIGSTOP');
  }

  resume(): void {
    this.signal('SIGCONT');
  }

  /** SIGTERM, then SIGKILL if still running after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (!this.running) return this.exitInfo!;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  stdout(): string {
    return readIfExists(this.stdoutPath);
  }

  stderr(): string {
    return readIfExists(this.stderrPath);
  }

  /** Both streams, stdout first. */
  output(): string {
    return this.stdout() + this.stderr();
  }

  /** Wait until stdout or stderr matches `pattern`; returns the match. Throws with the output tail on timeout. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const m = this.output().match(pattern);
      if (m) return m;
      if (performance.now() > deadline)
        throw new LabError(
          `timed out after ${timeoutMs} ms waiting for ${pattern} in ${this.name}; output tail: ${this.output().slice(-1500)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Wait until every listed link of a namespace is operationally UP. Carrier changes reach the stack
 * through the kernel's linkwatch, up to a second after `ip link set up`; until then routes may be
 * missing and frames are dropped.
 */
export async function waitOperUp(ns: string, devs: readonly string[], timeoutMs: number): Promise<void> {
  await waitStates(ns, devs, timeoutMs, 'UP', async () =>
    (
      JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show'])) as { ifname: string; operstate: string }[]
    ).map((l) => [l.ifname, l.operstate]),
  );
}

/**
 * Wait until the listed bridge ports of a namespace are forwarding. The bridge enables a port only
 * when it processes the port's carrier event, which may come after the port reports UP.
 */
export async function waitPortsForwarding(
  ns: string,
  ports: readonly string[],
  timeoutMs: number,
): Promise<void> {
  await waitStates(ns, ports, timeoutMs, 'forwarding', async () =>
    (
      JSON.parse(await run('bridge', ['-n', ns, '-j', 'link', 'show'])) as {
        ifname: string;
        state?: string;
      }[]
    ).map((l) => [l.ifname, l.state ?? '']),
  );
}

async function waitStates(
  ns: string,
  names: readonly string[],
  timeoutMs: number,
  want: string,
  read: () => Promise<[string, string][]>,
): Promise<void> {
  await waitFor({
    what: `${names.join(', ')} in ${ns} to be ${want}`,
    probe: async () => Object.fromEntries((await read()).filter(([n]) => names.includes(n))),
    until: (states) => names.every((n) => states[n] === want),
    timeoutMs,
    intervalMs: 20,
  });
}

const readIfExists = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');

export interface DaemonOptions {
  /** Command and leading args, e.g. `keepalivedCommand()` or `keepalivedTsCommand()`. */
  readonly command: readonly string[];
  /** Configuration text written to `<dir>/keepalived.conf`. */
  readonly config: string;
  /** Instance name for files and logs (default `keepalived`). */
  readonly name?: string;
  /** Arguments appended after the standard flags. */
  readonly extraArgs?: readonly string[];
}

/** A keepalived-style daemon: config and pid files live in `dir`. */
export interface DaemonHandle {
  readonly proc: LabProcess;
  readonly dir: string;
  readonly configPath: string;
  readonly pidPath: string;
  readonly vrrpPidPath: string;
  readonly checkerPidPath: string;
}

export class LabNode {
  private readonly procs: LabProcess[] = [];

  constructor(
    readonly name: string,
    /** Network namespace name (unique to the run). */
    readonly ns: string,
    /** Per-node scratch directory (configs, logs, pid files). */
    readonly dir: string,
    readonly links: readonly LinkInfo[],
  ) {}

  link(ifname = this.links[0]?.ifname ?? 'eth0'): LinkInfo {
    const l = this.links.find((x) => x.ifname === ifname);
    if (!l) throw new LabError(`node ${this.name} has no link ${ifname}`);
    return l;
  }

  /** First address of a link without its prefix length (handy as a VRRP source). */
  primaryAddress(ifname?: string, family: 4 | 6 = 4): string {
    const a = this.link(ifname).addrs.find((x) => x.includes(':') === (family === 6));
    if (!a) throw new LabError(`node ${this.name} has no IPv${family} address`);
    return a.split('/')[0]!;
  }

  /** `ip -n NS ARGS`. */
  ip(args: readonly string[]): Promise<string> {
    return run('ip', ['-n', this.ns, ...args]);
  }

  /** Run a command to completion inside the node; resolves stdout. */
  exec(file: string, args: readonly string[] = [], input?: string): Promise<string> {
    return run('ip', ['netns', 'exec', this.ns, file, ...args], input);
  }

  /** Start a long-running command inside the node (`ip netns exec` execs it, so the pid is the command's). */
  spawn(command: readonly string[], opts: SpawnOptions = {}): LabProcess {
    const [file, ...args] = command;
    if (file === undefined) throw new LabError('empty command');
    const name = opts.name ?? `${file.split('/').pop()}-${this.procs.length}`;
    const logDir = join(this.dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const outPath = join(logDir, `${name}.out`);
    const errPath = join(logDir, `${name}.err`);
    const out = openSync(outPath, 'a');
    const err = openSync(errPath, 'a');
    try {
      const child = spawn('ip', ['netns', 'exec', this.ns, file, ...args], {
        stdio: ['ignore', out, err],
        env: { ...process.env, ...opts.env },
        cwd: opts.cwd ?? this.dir,
      });
      const p = new LabProcess(name, command, outPath, errPath, child);
      this.procs.push(p);
      return p;
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  /**
   * Start a keepalived-style daemon in the foreground with its files in a fresh directory:
   * `CMD -n -l -D -f CONF -p PID -r VPID -c CPID -b BPID [extraArgs]`.
   */
  startDaemon(opts: DaemonOptions): DaemonHandle {
    const name = opts.name ?? 'keepalived';
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    const configPath = join(dir, 'keepalived.conf');
    const pidPath = join(dir, 'keepalived.pid');
    const vrrpPidPath = join(dir, 'vrrp.pid');
    const checkerPidPath = join(dir, 'checkers.pid');
    writeFileSync(configPath, opts.config);
    const argv = [
      ...opts.command,
      '-n',
      '-l',
      '-D',
      '-f',
      configPath,
      '-p',
      pidPath,
      '-r',
      vrrpPidPath,
      '-c',
      checkerPidPath,
      // the BFD pid file too: a default /run/bfd.pid is shared by every daemon on the host
      '-b',
      join(dir, 'bfd.pid'),
      ...(opts.extraArgs ?? []),
    ];
    const proc = this.spawn(argv, { name, cwd: dir });
    return { proc, dir, configPath, pidPath, vrrpPidPath, checkerPidPath };
  }

  /** Debian's keepalived with the given config. */
  startKeepalived(config: string, name = 'keepalived', extraArgs: readonly string[] = []): DaemonHandle {
    return this.startDaemon({ command: keepalivedCommand(), config, name, extraArgs });
  }

  /** Processes started through this node (running or not). */
  processes(): readonly LabProcess[] {
    return this.procs;
  }

  /** Pids of every process in the namespace, whoever started it. */
  pids(): Promise<number[]> {
    return netnsPids(this.ns);
  }

  /** Crash: SIGSTOP then SIGKILL every process in the namespace, until none is left. Returns the pids killed. */
  async crash(timeoutMs = 5000): Promise<number[]> {
    const killed = new Set<number>();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = (await this.pids()).filter(pidAlive);
      if (pids.length === 0) break;
      if (Date.now() > deadline)
        throw new LabError(`node ${this.name}: pids ${pids.join(',')} survive SIGKILL`);
      // Freeze them all first: a child told of its parent's death (keepalived sets PR_SET_PDEATHSIG)
      // must not get to run a graceful shutdown before its own SIGKILL.
      for (const pid of pids) killQuiet(pid, 'SIGSTOP');
      for (const pid of pids) if (killQuiet(pid, 'SIGKILL')) killed.add(pid);
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(this.procs.filter((p) => killed.has(p.pid)).map((p) => p.exited));
    return [...killed];
  }

  /** Stop every process started through this node (SIGTERM, then SIGKILL). */
  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(graceMs)));
  }

  linkDown(ifname?: string): Promise<string> {
    return this.ip(['link', 'set', this.link(ifname).ifname, 'down']);
  }

  /** Set the link up and wait (up to `timeoutMs`) until it has carrier and its bridge port forwards. */
  async linkUp(ifname?: string, timeoutMs = 5000): Promise<void> {
    const dev = this.link(ifname).ifname;
    await this.ip(['link', 'set', dev, 'up']);
    const l = this.link(ifname);
    await Promise.all([
      waitOperUp(this.ns, [dev], timeoutMs),
      waitPortsForwarding(l.bridgeNs, [l.port], timeoutMs),
    ]);
  }

  /**
   * Drop every frame to and from the node's links at their bridge ports, or lift the drop. The links
   * stay up and senders get no error, so daemons see silence, not a carrier loss.
   */
  async isolate(on: boolean): Promise<void> {
    await Promise.all(this.links.map((l) => this.portRule(l, 'isolate', on ? 'drop' : undefined)));
  }

  /**
   * Random loss of `percent` % of frames in each direction on one link (0 removes it), silent for the
   * sender: applied at the bridge port (`numgen random mod 100 < N drop`; this kernel has no netem).
   */
  async setLoss(percent: number, ifname?: string): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100)
      throw new LabError(`loss must be an integer percentage, got ${percent}`);
    const l = this.link(ifname);
    await this.portRule(l, 'loss', percent > 0 ? `numgen random mod 100 < ${percent} drop` : undefined);
  }

  /**
   * Replace (or, without a rule, remove) a bridge-family table applying `rule` to frames entering the
   * bridge from the link's port (prerouting) and leaving through it (forward, once per output port).
   */
  private async portRule(l: LinkInfo, what: string, rule: string | undefined): Promise<void> {
    const table = `lab_${what}_${l.port.replace(/\W/g, '_')}`;
    const lines = [`add table bridge ${table}`, `delete table bridge ${table}`];
    if (rule !== undefined) {
      lines.push(
        `table bridge ${table} {`,
        '  chain in {',
        '    type filter hook prerouting priority 0; policy accept;',
        `    iifname "${l.port}" ${rule}`,
        '  }',
        '  chain out {',
        '    type filter hook forward priority 0; policy accept;',
        `    oifname "${l.port}" ${rule}`,
        '  }',
        '}',
      );
    }
    await run('ip', ['netns', 'exec', l.bridgeNs, 'nft', '-f', '-'], `${lines.join('\n')}\n`);
  }

  /** `ip -j addr` of the node: every address by interface. */
  async addresses(): Promise<
    { ifname: string; family: 'inet' | 'inet6'; local: string; prefixlen: number }[]
  > {
    const json = JSON.parse(await this.ip(['-j', 'addr', 'show'])) as {
      ifname: string;
      addr_info?: { family: 'inet' | 'inet6'; local: string; prefixlen: number }[];
    }[];
    return json.flatMap((l) =>
      (l.addr_info ?? []).map((a) => ({
        ifname: l.ifname,
        family: a.family,
        local: a.local,
        prefixlen: a.prefixlen,
      })),
    );
  }

  /** ICMP echo from this node (`ping -n`): how many of `count` probes got a reply (none sent without a route). */
  async ping(addr: string, count = 1, opts: { intervalS?: number; waitS?: number } = {}) {
    const args = [
      'netns',
      'exec',
      this.ns,
      'ping',
      '-n',
      '-q',
      '-c',
      String(count),
      '-W',
      String(opts.waitS ?? 1),
    ];
    if (opts.intervalS !== undefined) args.push('-i', String(opts.intervalS));
    const r = await execa('ip', [...args, addr], { reject: false });
    const m = /(\d+) packets transmitted, (\d+) received/.exec(String(r.stdout));
    // No route (e.g. link down, other segment): nothing could be sent.
    if (!m && /unreachable/i.test(String(r.stderr))) return { sent: 0, received: 0 };
    if (!m) throw new LabError(`ping ${addr} from ${this.name} failed: ${String(r.stderr).trim()}`);
    return { sent: Number(m[1]), received: Number(m[2]) };
  }

  async hasAddress(addr: string): Promise<boolean> {
    const bare = addr.split('/')[0]!.toLowerCase();
    return (await this.addresses()).some((a) => a.local.toLowerCase() === bare);
  }
}
