/**
 * FILE_CHECK's watchRun is event-driven (keepalived watches track files with inotify): after a
 * checker's first report, an attempt waits for its file to change (write, atomic rename over it, deletion, creation)
 * instead of re-reading every delay_loop; an unwatchable directory falls back to the poll. Ordering
 * only: "has not resolved" is checked after event-loop turns, never against a clock.
 */
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as file from '../../../src/check/file.js';
import { type CheckResult, defaultTiming, type FileCheckSpec } from '../../../src/check/types.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-filecheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function spec(value: string | undefined, extra: Partial<FileCheckSpec> = {}): FileCheckSpec {
  const d = join(dir, `d${n++}`);
  mkdirSync(d);
  const p = join(d, 'track');
  if (value !== undefined) writeFileSync(p, value);
  return { kind: 'FILE_CHECK', file: p, ...defaultTiming('FILE_CHECK'), ...extra };
}

/** An attempt with a flag telling whether it has settled. */
function attempt(s: FileCheckSpec, signal = new AbortController().signal) {
  const a = { done: false, result: undefined as Promise<CheckResult> | undefined };
  a.result = file.watchRun(s, signal).then((r) => {
    a.done = true;
    return r;
  });
  return a;
}
/** Lets pending I/O callbacks run (the read of an unchanged file completes meanwhile). */
async function turns(k = 20): Promise<void> {
  for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r));
}

describe('FILE_CHECK watches its file', () => {
  it('an unchanged file keeps the attempt waiting; a write ends it with the new value', async () => {
    const s = spec('0\n');
    expect(await file.run(s, new AbortController().signal)).toEqual({ ok: true });
    const a = attempt(s);
    await turns();
    expect(a.done).toBe(false);
    expect(file.watchedDirs()).toBe(1);
    writeFileSync(s.file, '3\n');
    expect(await a.result).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_FILE_VALUE' } });
    expect(file.watchedDirs()).toBe(0);
  });

  it('sees an atomic replace (rename over the file), a deletion and a creation', async () => {
    const s = spec('1', { weight: 2 });
    expect(await file.run(s, new AbortController().signal)).toEqual({ ok: true, weightDelta: 2 });
    let a = attempt(s);
    await turns();
    expect(a.done).toBe(false);
    writeFileSync(`${s.file}.tmp`, '5');
    renameSync(`${s.file}.tmp`, s.file);
    expect(await a.result).toEqual({ ok: true, weightDelta: 10 });
    a = attempt(s);
    await turns();
    unlinkSync(s.file);
    // keepalived reads a missing file as 0
    expect(await a.result).toEqual({ ok: true, weightDelta: 0 });
    a = attempt(s);
    await turns();
    expect(a.done).toBe(false); // still missing: nothing to report
    writeFileSync(s.file, '0');
    expect(await a.result).toEqual({ ok: true, weightDelta: 0 });
  });

  it('a file that differs from the last report is returned at once; another file in the directory does not wake it', async () => {
    const s = spec('0');
    await file.run(s, new AbortController().signal);
    const a = attempt(s);
    await turns();
    writeFileSync(join(s.file, '..', 'other'), 'x');
    await turns();
    expect(a.done).toBe(false);
    writeFileSync(s.file, '7');
    await a.result;
    // changed while no attempt ran: the next one returns without waiting
    writeFileSync(s.file, '0');
    expect(await file.watchRun(s, new AbortController().signal)).toEqual({ ok: true });
  });

  it('an abort ends a waiting attempt with KA_ERR_CHECK_ABORTED and closes the watch', async () => {
    const s = spec('0');
    await file.run(s, new AbortController().signal);
    const ctl = new AbortController();
    const a = attempt(s, ctl.signal);
    await turns();
    ctl.abort();
    expect(await a.result).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_ABORTED' } });
    expect(file.watchedDirs()).toBe(0);
  });

  it('falls back to polling where the directory cannot be watched (it does not exist)', async () => {
    const s: FileCheckSpec = {
      kind: 'FILE_CHECK',
      file: join(dir, 'nodir', 'track'),
      ...defaultTiming('FILE_CHECK'),
    };
    const first = await file.run(s, new AbortController().signal);
    expect(first).toEqual({ ok: true }); // missing: 0, as keepalived reads it
    // same state, but no watch: the attempt returns at once and the scheduler polls
    expect(await file.watchRun(s, new AbortController().signal)).toEqual(first);
    expect(file.watchedDirs()).toBe(0);
  });

  it('waitsForChange: only after a first report, and only where the directory can be watched', async () => {
    const s = spec('0');
    expect(file.waitsForChange(s)).toBe(false);
    await file.run(s, new AbortController().signal);
    expect(file.waitsForChange(s)).toBe(true);
    expect(file.watchedDirs()).toBe(0); // the probe keeps no watch open
    const gone: FileCheckSpec = { ...s, file: join(dir, 'nodir2', 'track') };
    await file.run(gone, new AbortController().signal);
    expect(file.waitsForChange(gone)).toBe(false);
  });

  it('attempts run back to back (as the scheduler should while waitsForChange) report each change once', async () => {
    const s = spec('0');
    const results: string[] = [];
    const ctl = new AbortController();
    const loop = (async () => {
      while (results.length < 3) {
        const r = await file.watchRun(s, ctl.signal);
        results.push(r.ok ? 'ok' : r.error.code);
      }
    })();
    const reached = async (k: number) => {
      while (results.length < k) await turns(1);
    };
    await reached(1);
    await turns();
    expect(results).toEqual(['ok']); // unchanged: the second attempt waits
    writeFileSync(s.file, '2');
    await reached(2);
    writeFileSync(s.file, '0');
    await loop;
    expect(results).toEqual(['ok', 'KA_ERR_CHECK_FILE_VALUE', 'ok']);
  });

  it('an abort at any point of the read still ends the attempt (none waits on, no watch left)', async () => {
    const s = spec('0');
    await file.run(s, new AbortController().signal);
    for (let k = 0; k < 100; k++) {
      const ctl = new AbortController();
      const a = attempt(s, ctl.signal);
      await turns(k % 6);
      ctl.abort();
      // an attempt still waiting would only end at the next change of the file: none comes
      expect((await a.result)?.ok).toBe(false);
    }
    expect(file.watchedDirs()).toBe(0);
  });

  it('a symlinked track file follows its target, as keepalived watches the realpath', async () => {
    const base = join(dir, `sym${n++}`);
    mkdirSync(join(base, 'l'), { recursive: true });
    mkdirSync(join(base, 't'));
    writeFileSync(join(base, 't', 'target'), '0');
    symlinkSync(join(base, 't', 'target'), join(base, 'l', 'track'));
    const s: FileCheckSpec = {
      kind: 'FILE_CHECK',
      file: join(base, 'l', 'track'),
      ...defaultTiming('FILE_CHECK'),
    };
    expect(await file.run(s, new AbortController().signal)).toEqual({ ok: true });
    const a = attempt(s);
    await turns();
    expect(a.done).toBe(false);
    writeFileSync(join(base, 't', 'target'), '1');
    expect(await a.result).toMatchObject({ ok: false, error: { code: 'KA_ERR_CHECK_FILE_VALUE' } });
    expect(file.watchedDirs()).toBe(0);
  });

  it('its directory removed: the waiting attempt ends and the checker polls until it is back', async () => {
    const s = spec(undefined);
    const first = await file.run(s, new AbortController().signal);
    expect(first).toEqual({ ok: true }); // missing: 0, as keepalived reads it
    const a = attempt(s);
    await turns();
    expect(a.done).toBe(false);
    rmdirSync(join(s.file, '..'));
    expect(await a.result).toEqual(first);
    expect(file.watchedDirs()).toBe(0);
    expect(file.waitsForChange(s)).toBe(false);
    // re-created with the file: the poll reads it, then the checker watches again
    mkdirSync(join(s.file, '..'));
    writeFileSync(s.file, '0');
    expect(await file.watchRun(s, new AbortController().signal)).toEqual({ ok: true });
    expect(file.waitsForChange(s)).toBe(true);
  });
});
