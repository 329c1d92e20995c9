/**
 * vrrp_track_process against the real kernel proc connector (root): a process with a unique command
 * name (a copy of sleep / sh in a temp directory) is started and killed by pid; the tracker sees
 * both through events (its poll interval is one hour, so no poll can have run). Also: fork counting
 * with a real forked shell, the ECONNREFUSED a network namespace gives (the container case), and the
 * polling fallback on the real /proc. Latencies are printed, not asserted.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import { inNetns } from '../../../src/sys/netns.js';
import {
  kernelProcEvents,
  kernelProcessTable,
  ProcConnectorSource,
  type ProcEventSink,
  TrackProcess,
} from '../../../src/vrrp/track/process.js';
import { describeIf, needRoot } from '../../support/privilege.js';

const HOUR_US = 3_600_000_000;
const rand = () => Math.random().toString(16).slice(2, 8);

describeIf('vrrp_track_process over the proc connector', needRoot, () => {
  let dir: string;
  const children = new Set<ChildProcess>();
  const extraPids = new Set<number>();
  const netns = `kt${rand()}`;
  let netnsMade = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kt-trackproc-'));
  });

  afterAll(async () => {
    for (const pid of extraPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await once(c, 'exit');
      }
    }
    if (netnsMade) execFileSync('ip', ['netns', 'del', netns]);
    await rm(dir, { recursive: true, force: true });
  });

  /** A copy of `bin` named `name`: its comm is `name`. */
  const binary = async (bin: string, name: string) => {
    const path = join(dir, name);
    await copyFile(bin, path);
    execFileSync('chmod', ['755', path]);
    return path;
  };

  const run = (path: string, args: string[], extraFd = false): ChildProcess => {
    const c = spawn(path, args, { stdio: extraFd ? ['ignore', 'ignore', 'ignore', 'pipe'] : 'ignore' });
    children.add(c);
    return c;
  };

  const kill = async (c: ChildProcess) => {
    c.kill('SIGKILL');
    await once(c, 'exit');
  };

  /** Resolves with the hrtime at which the tracker reported `want`. */
  const waitFor = (seen: Array<[boolean, bigint]>, want: boolean, from: number): Promise<bigint> =>
    new Promise((resolve, reject) => {
      const deadline = Date.now() + 5000;
      const poll = () => {
        const hit = seen.slice(from).find(([h]) => h === want);
        if (hit) resolve(hit[1]);
        else if (Date.now() > deadline) reject(new Error(`tracker never reported ${want}`));
        else setTimeout(poll, 1);
      };
      poll();
    });

  it('sees a matching process start (exec) and, after kill by pid, its exit, through events', async () => {
    const name = `kt${rand()}`;
    const path = await binary('/bin/sleep', name);
    const seen: Array<[boolean, bigint]> = [];
    const counters = new Counters();
    const tp = new TrackProcess({
      name,
      match: { process: name },
      intervalUs: HOUR_US,
      counters,
      onChange: (h) => seen.push([h, process.hrtime.bigint()]),
    });
    try {
      expect(await tp.start()).toBe(false);
      expect(tp.mode).toBe('events');
      const t0 = process.hrtime.bigint();
      const c = run(path, ['60']);
      const up = await waitFor(seen, true, 0);
      expect(tp.count).toBe(1);
      const exited = once(c, 'exit');
      const t1 = process.hrtime.bigint();
      c.kill('SIGKILL');
      const down = await waitFor(seen, false, 1);
      await exited;
      expect(tp.count).toBe(0);
      expect(tp.mode).toBe('events');
      expect(counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(0);
      // the kernel's per-CPU sequence numbers had no gap (no false loss) while events flowed
      expect(counters.get('track.proc_events_seq_gaps')).toBe(0);
      process.stdout.write(
        `track_process events: start seen ${Number(up - t0) / 1e6} ms after spawn(), ` +
          `exit seen ${Number(down - t1) / 1e6} ms after kill()\n`,
      );
    } finally {
      tp.stop();
    }
    expect(kernelProcEvents().isOpen).toBe(false);
  });

  it('two trackers share one process table and connector; the initial scan counts a running process', async () => {
    const name = `kt${rand()}`;
    const path = await binary('/bin/sleep', name);
    const c = run(path, ['60']);
    await new Promise((r) => setTimeout(r, 100)); // let it exec
    const a = new TrackProcess({ name, match: { process: name }, intervalUs: HOUR_US, onChange() {} });
    const b = new TrackProcess({
      name: `${name}-full`,
      match: { process: path, params: ['60'] },
      intervalUs: HOUR_US,
      onChange() {},
    });
    try {
      expect(await a.start()).toBe(true);
      expect(await b.start()).toBe(true);
      // one shared table, one subscription for both
      expect(kernelProcessTable().size).toBe(2);
      expect(kernelProcEvents().subscribers).toBe(1);
      await kill(c);
      await new Promise((r) => setTimeout(r, 50));
      expect([a.haveQuorum, b.haveQuorum]).toEqual([false, false]);
    } finally {
      a.stop();
      expect(kernelProcEvents().isOpen).toBe(true);
      b.stop();
    }
    expect(kernelProcEvents().isOpen).toBe(false);
  });

  it('counts a forked child of a matching process (quorum 2 reached by a fork event)', async () => {
    const name = `kt${rand()}`;
    const path = await binary('/bin/sh', name);
    const seen: Array<[boolean, bigint]> = [];
    const tp = new TrackProcess({
      name,
      match: { process: name },
      quorum: 2,
      intervalUs: HOUR_US,
      onChange: (h) => seen.push([h, process.hrtime.bigint()]),
    });
    try {
      expect(await tp.start()).toBe(false);
      // The shell forks a subshell that blocks on a read of fd 3 (never written), then blocks itself.
      const c = run(path, ['-c', 'read a <&3 & read b <&3'], true);
      await waitFor(seen, true, 0);
      expect(tp.count).toBe(2);
      const children = (await readFile(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8')).trim().split(/\s+/);
      const sub = Number(children[0]);
      expect(sub).toBeGreaterThan(0);
      extraPids.add(sub);
      process.kill(sub, 'SIGKILL');
      await waitFor(seen, false, 1);
      expect(tp.count).toBe(1);
      await kill(c);
    } finally {
      tp.stop();
    }
  });

  it('in another network namespace the connector refuses (ECONNREFUSED), as in containers', () => {
    execFileSync('ip', ['netns', 'add', netns]);
    netnsMade = true;
    const sink: ProcEventSink = { event() {}, lost() {}, failed() {} };
    let err: unknown;
    inNetns(netns, () => {
      try {
        new ProcConnectorSource().subscribe(sink).close();
      } catch (e) {
        err = e;
      }
    });
    expect(err).toBeInstanceOf(KaError);
    expect((err as KaError).code).toBe('KA_ERR_TRACK_PROC_CONNECTOR');
    expect((err as KaError).details.errno).toBe('ECONNREFUSED');
  });

  it('falls back to polling the real /proc when the connector cannot be opened', async () => {
    const name = `kt${rand()}`;
    const path = await binary('/bin/sleep', name);
    const counters = new Counters();
    const seen: Array<[boolean, bigint]> = [];
    const tp = new TrackProcess({
      name,
      match: { process: name },
      intervalUs: 20_000,
      counters,
      events: new ProcConnectorSource(() => {
        throw new Error('EPERM');
      }),
      onChange: (h) => seen.push([h, process.hrtime.bigint()]),
    });
    try {
      expect(await tp.start()).toBe(false);
      expect(tp.mode).toBe('polling');
      expect(counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
      const c = run(path, ['60']);
      await waitFor(seen, true, 0);
      await kill(c);
      await waitFor(seen, false, 1);
    } finally {
      tp.stop();
    }
  });
});
