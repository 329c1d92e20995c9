/**
 * The connector retry against the real kernel (root): a connector whose first opens fail (as when
 * the daemon starts before it may use it) leaves the trackers polling; the table tries again with
 * its backoff, the real LISTEN is acknowledged, and from then on a tracked process is seen through
 * events (the poll interval is one hour, so no poll can have seen it). Timings are printed, not
 * asserted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import {
  openKernelConnector,
  ProcConnectorSource,
  ProcessTable,
  TrackProcess,
} from '../../../src/vrrp/track/process.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { processScratch, rand, waitUntil } from './track-process-scratch.js';

describeIf('track_process: connector retried after a failure (real kernel)', needRoot, () => {
  const scratch = processScratch('kt-trackretry-');
  const children = scratch.children;

  it('two failed opens, then the retry subscribes and events flow', async () => {
    const name = `kt${rand()}`;
    const path = join(scratch.dir(), name);
    await copyFile('/bin/sleep', path);
    execFileSync('chmod', ['755', path]);
    let opens = 0;
    const source = new ProcConnectorSource(() => {
      opens++;
      if (opens <= 2) throw Object.assign(new Error('EPERM (test)'), { code: 'EPERM' });
      return openKernelConnector();
    });
    const counters = new Counters();
    const table = new ProcessTable({ events: source, counters, retryMinUs: 50_000, retryMaxUs: 200_000 });
    const seen: boolean[] = [];
    const tp = new TrackProcess({
      name,
      match: { process: name },
      intervalUs: 3_600_000_000,
      counters,
      table,
      onChange: (h) => seen.push(h),
    });
    try {
      const t0 = process.hrtime.bigint();
      expect(await tp.start()).toBe(false);
      expect(tp.mode).toBe('polling');
      await waitUntil(() => tp.mode === 'events', 'the retry to subscribe');
      const back = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(opens).toBe(3);
      expect(counters.get('track.proc_connector_retries')).toBe(2);
      expect(counters.get('KA_ERR_TRACK_PROC_CONNECTOR')).toBe(1);
      expect(source.isConfirmed).toBe(true);
      const c = spawn(path, ['60'], { stdio: 'ignore' });
      children.add(c);
      await waitUntil(() => seen.includes(true), 'the exec event');
      c.kill('SIGKILL');
      await once(c, 'exit');
      await waitUntil(() => seen.includes(false), 'the exit event');
      process.stdout.write(
        `connector retry: events mode ${back.toFixed(1)} ms after start (backoff 50, 100 ms)\n`,
      );
    } finally {
      tp.stop();
    }
    expect(source.isOpen).toBe(false);
  });
});
