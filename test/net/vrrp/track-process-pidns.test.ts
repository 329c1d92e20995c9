/**
 * The silent refusal of PROC_CN_MCAST_LISTEN: the kernel skips LISTEN without any answer for a
 * sender outside the initial user or pid namespace (a container sharing the host's network
 * namespace). This file runs itself again under `unshare --pid --fork --mount-proc` and under
 * `unshare --user --map-root-user --fork` (root): inside, the connector opens and LISTEN is sent
 * without error, but no ack comes; the source must give up after its ack deadline, the table must
 * poll /proc, and a tracked process started there must be seen.
 * Outside, the same check shows the ack arriving (events mode). Timings are printed, not asserted.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { ProcConnectorSource, ProcessTable, TrackProcess } from '../../../src/vrrp/track/process.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { processScratch, rand, waitUntil } from './track-process-scratch.js';

const INNER = process.env.KT_TRACK_PIDNS_INNER === '1';
/** A tracker on its own table and connector source, with a short ack deadline. */
async function probe(name: string) {
  const counters = new Counters();
  const warnings: string[] = [];
  const log = {
    warn: (_o: unknown, m?: string) => warnings.push(m ?? String(_o)),
    info() {},
    debug() {},
  };
  const table = new ProcessTable({
    events: new ProcConnectorSource(undefined, { ackTimeoutUs: 300_000 }),
    counters,
    log: log as never,
    retryMinUs: 3_600_000_000,
  });
  const seen: boolean[] = [];
  const tp = new TrackProcess({
    name,
    match: { process: name },
    intervalUs: 20_000,
    counters,
    table,
    onChange: (h) => seen.push(h),
  });
  const t0 = process.hrtime.bigint();
  const have = await tp.start();
  const settledMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { tp, table, counters, warnings, seen, have, settledMs };
}

describeIf('track_process: LISTEN silently ignored in a non-initial pid namespace', needRoot, () => {
  const scratch = processScratch('kt-trackpidns-');
  const children = scratch.children;

  const runNamed = async (name: string): Promise<ChildProcess> => {
    const path = join(scratch.dir(), name);
    await copyFile('/bin/sleep', path);
    const c = spawn(path, ['60'], { stdio: 'ignore' });
    children.add(c);
    return c;
  };

  if (INNER) {
    it('(inside the namespace) no ack: falls back to polling, and polling sees the process', async () => {
      const name = `kt${rand()}`;
      const p = await probe(name);
      try {
        expect(p.have).toBe(false);
        expect(p.tp.mode).toBe('polling');
        expect(p.counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
        expect(p.warnings.join('\n')).toMatch(/not acknowledged/);
        const c = await runNamed(name);
        await waitUntil(() => p.seen.includes(true), 'the poll to see the process', 5000);
        c.kill('SIGKILL');
        await once(c, 'exit');
        await waitUntil(() => p.seen.includes(false), 'the poll to see it gone', 5000);
        process.stdout.write(`pidns: polling after ${p.settledMs.toFixed(1)} ms (ack deadline 300 ms)\n`);
      } finally {
        p.tp.stop();
      }
    });
    return;
  }

  it('in the initial namespaces the ack arrives: events mode', async () => {
    const p = await probe(`kt${rand()}`);
    try {
      expect(p.tp.mode).toBe('events');
      expect(p.counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(0);
      process.stdout.write(`initial ns: events mode after ${p.settledMs.toFixed(1)} ms\n`);
    } finally {
      p.tp.stop();
    }
  });

  const inner = async (unshare: string[]) => {
    const file = new URL(import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(
      'unshare',
      [...unshare, '--kill-child', 'npx', 'vitest', 'run', '--project', 'net', file],
      { env: { ...process.env, KT_TRACK_PIDNS_INNER: '1' }, timeout: 90_000 },
    ).catch((e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`inner run failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    });
    expect(stdout).toMatch(/pidns: polling after/);
    expect(stdout).toMatch(/1 passed/);
    process.stdout.write(
      `${unshare.join(' ')}: ${stdout.split('\n').find((l) => l.startsWith('pidns:')) ?? ''}\n`,
    );
  };

  it('in a new pid namespace the silent refusal is detected (this file re-run under unshare)', () =>
    inner(['--pid', '--fork', '--mount-proc']));

  it('in a new user namespace the silent refusal is detected (this file re-run under unshare)', () =>
    inner(['--user', '--map-root-user', '--fork']));
});
