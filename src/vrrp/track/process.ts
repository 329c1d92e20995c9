/**
 * vrrp_track_process (keepalived-surface.md §2.5).
 *
 * Matching as keepalived's read_procs/check_params: without parameters and without full_command the
 * name is compared with the command name from /proc/PID/stat (zombies skipped; names longer than
 * 15 characters are compared on their first 15, the kernel's comm length). With parameters or
 * full_command (or param_match), argv[0] of /proc/PID/cmdline is compared, and the remaining NUL-separated arguments
 * must equal the configured ones (exact), start with them (partial), or start with them with the
 * last one only a prefix (initial).
 *
 * GAP: keepalived follows fork/exec/exit/comm events from the kernel proc connector (netlink
 * NETLINK_CONNECTOR, CN_IDX_PROC). That needs a connector socket in the addon, which does not exist
 * yet, so /proc is re-scanned every `intervalUs` (default 1 s): a process that lives less than one
 * interval can be missed, and changes are seen up to one interval late. fork_delay /
 * terminate_delay then debounce count increases / decreases as keepalived does.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, type Micros, systemClock, type TimerHandle } from '../../core/clock.js';
import type { Counters } from '../../core/counters.js';
import { KaError } from '../../core/errors.js';
import { type Logger, silentLogger } from '../../core/log.js';

export interface ProcessMatchSpec {
  /** `process NAME` */
  process: string;
  /** `process NAME ARG…` */
  params?: readonly string[];
  /** `param_match initial|partial` (default exact when params are given). */
  paramMatch?: 'exact' | 'partial' | 'initial';
  /** `full_command` */
  fullCommand?: boolean;
}

export interface ProcEntry {
  pid: number;
  /** Command name from /proc/PID/stat. */
  comm: string;
  zombie: boolean;
  /** Raw /proc/PID/cmdline (NUL-separated, NUL-terminated); null when not read. */
  cmdline: Buffer | null;
}

const COMM_LEN = 15;

const usesCmdline = (s: ProcessMatchSpec): boolean =>
  s.fullCommand === true || s.paramMatch !== undefined || (s.params?.length ?? 0) > 0;

/** Does one process match? */
export function matchProcess(spec: ProcessMatchSpec, p: ProcEntry): boolean {
  if (p.zombie) return false;
  if (!usesCmdline(spec)) return p.comm === spec.process.slice(0, COMM_LEN);
  if (!p.cmdline) return false;
  const nul = p.cmdline.indexOf(0);
  const argv0 = (nul < 0 ? p.cmdline : p.cmdline.subarray(0, nul)).toString('utf8');
  if (argv0 !== spec.process) return false;
  const params = spec.params ?? [];
  if (params.length === 0 && !spec.paramMatch) return true;
  const actual = nul < 0 ? Buffer.alloc(0) : p.cmdline.subarray(nul + 1);
  const want = params.length ? Buffer.from(`${params.join('\0')}\0`) : Buffer.alloc(0);
  const mode = spec.paramMatch ?? 'exact';
  if (mode === 'exact') return actual.equals(want);
  if (want.length === 0) return true;
  if (actual.length < want.length) return false;
  if (mode === 'partial') return actual.subarray(0, want.length).equals(want);
  return actual.subarray(0, want.length - 1).equals(want.subarray(0, want.length - 1));
}

/** Parse /proc/PID/stat: comm is between the first '(' and the last ')'; state follows. */
export function parseStat(stat: string): { comm: string; state: string } | null {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  return { comm: stat.slice(open + 1, close), state: stat.slice(close + 2, close + 3) };
}

/** Read the process table under `procRoot` (a fake tree in tests). */
export async function scanProc(procRoot = '/proc', withCmdline = true): Promise<ProcEntry[]> {
  let names: string[];
  try {
    names = await readdir(procRoot);
  } catch (e) {
    throw new KaError('KA_ERR_TRACK_PROC_SCAN', `cannot read ${procRoot}: ${(e as Error).message}`, {
      procRoot,
    });
  }
  const out: ProcEntry[] = [];
  await Promise.all(
    names
      .filter((n) => /^[1-9][0-9]*$/.test(n))
      .map(async (n) => {
        try {
          const st = parseStat(await readFile(join(procRoot, n, 'stat'), 'latin1'));
          if (!st) return;
          const cmdline = withCmdline ? await readFile(join(procRoot, n, 'cmdline')).catch(() => null) : null;
          out.push({ pid: Number(n), comm: st.comm, zombie: st.state === 'Z', cmdline });
        } catch {
          // the process exited while we looked
        }
      }),
  );
  return out.sort((a, b) => a.pid - b.pid);
}

export const countMatches = (spec: ProcessMatchSpec, procs: readonly ProcEntry[]): number =>
  procs.reduce((n, p) => n + (matchProcess(spec, p) ? 1 : 0), 0);

export interface QuorumConfig {
  quorum?: number;
  quorumMax?: number;
  forkDelayUs?: Micros;
  terminateDelayUs?: Micros;
}

/**
 * Quorum with fork/terminate debounce, on a clock. `update(count)` with each new count; `onChange`
 * fires when quorum is gained or lost. A rise in count that changes quorum waits fork_delay, a fall
 * waits terminate_delay; a change back before the delay cancels it (keepalived track_process.c).
 */
export class Quorum {
  private have: boolean | null = null;
  private count = 0;
  private timer: TimerHandle | null = null;
  readonly quorum: number;
  readonly quorumMax: number;

  constructor(
    private readonly cfg: QuorumConfig,
    private readonly clock: Clock,
    private readonly onChange: (have: boolean, count: number) => void,
  ) {
    this.quorum = cfg.quorum ?? 1;
    this.quorumMax = cfg.quorumMax ?? Number.POSITIVE_INFINITY;
    if (!Number.isInteger(this.quorum) || this.quorum < 1 || this.quorumMax < this.quorum) {
      throw new KaError(
        'KA_ERR_TRACK_BAD_PARAM',
        `quorum ${this.quorum}..${this.quorumMax} is not a valid range`,
        { ...cfg },
      );
    }
  }

  get haveQuorum(): boolean {
    return this.have ?? false;
  }

  private within(n: number): boolean {
    return n >= this.quorum && n <= this.quorumMax;
  }

  /** Initial count: sets the state without a callback or delay. */
  init(count: number): boolean {
    this.count = count;
    this.have = this.within(count);
    return this.have;
  }

  update(count: number): void {
    if (this.have === null) {
      this.init(count);
      return;
    }
    const prev = this.count;
    this.count = count;
    const want = this.within(count);
    if (want === this.have) {
      this.timer?.cancel();
      this.timer = null;
      return;
    }
    if (this.timer) return;
    const delay = count > prev ? (this.cfg.forkDelayUs ?? 0) : (this.cfg.terminateDelayUs ?? 0);
    if (delay <= 0) {
      this.set(want);
      return;
    }
    this.timer = this.clock.at(this.clock.now() + delay, () => {
      this.timer = null;
      const w = this.within(this.count);
      if (w !== this.have) this.set(w);
    });
  }

  private set(have: boolean): void {
    this.have = have;
    this.onChange(have, this.count);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

export interface TrackProcessOptions extends QuorumConfig {
  name: string;
  match: ProcessMatchSpec;
  onChange: (have: boolean) => void;
  clock?: Clock;
  log?: Logger;
  counters?: Counters;
  intervalUs?: Micros;
  procRoot?: string;
}

/** Polls the process table for one vrrp_track_process. */
export class TrackProcess {
  private readonly quorum: Quorum;
  private readonly clock: Clock;
  private readonly log: Logger;
  private timer: TimerHandle | null = null;
  private stopped = true;
  private scanning = false;

  constructor(private readonly opts: TrackProcessOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.quorum = new Quorum(opts, this.clock, (have) => {
      this.log.info(
        { process: opts.name },
        `Quorum ${have ? 'gained' : 'lost'} for tracked process ${opts.name}`,
      );
      opts.onChange(have);
    });
  }

  get haveQuorum(): boolean {
    return this.quorum.haveQuorum;
  }

  /** First scan (sets the initial state, no callback), then poll. */
  async start(): Promise<boolean> {
    this.stopped = false;
    const n = await this.count();
    const have = this.quorum.init(n ?? 0);
    this.arm();
    return have;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.quorum.cancel();
  }

  /** One scan now; resolves when the quorum state is updated. */
  async scan(): Promise<void> {
    if (this.scanning) return;
    this.scanning = true;
    try {
      const n = await this.count();
      if (n !== null && !this.stopped) this.quorum.update(n);
    } finally {
      this.scanning = false;
    }
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.at(this.clock.now() + (this.opts.intervalUs ?? 1_000_000), () => {
      void this.scan().then(() => this.arm());
    });
  }

  private async count(): Promise<number | null> {
    try {
      return countMatches(this.opts.match, await scanProc(this.opts.procRoot, usesCmdline(this.opts.match)));
    } catch (e) {
      this.opts.counters?.inc('KA_ERR_TRACK_PROC_SCAN');
      this.log.warn({ code: 'KA_ERR_TRACK_PROC_SCAN', err: String(e) }, 'process table scan failed');
      return null;
    }
  }
}
