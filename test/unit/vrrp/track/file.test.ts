import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import { Counters } from '../../../../src/core/counters.js';
import { parseTrackFileValue, readTrackFile, strtol0, TrackFile } from '../../../../src/vrrp/track/file.js';

describe('track_file value parsing (strtol base 0, clamp ±254)', () => {
  it.each([
    ['5\n', 5],
    ['  42', 42],
    ['-17 trailing', -17],
    ['+8', 8],
    ['0x1f', 31],
    ['0X10', 16],
    ['010', 8],
    ['08', 0],
    ['0x', 0],
    ['', 0],
    ['abc', 0],
    ['12abc', 12],
    ['1000', 254],
    ['-1000', -254],
    ['\t\n 7', 7],
  ])('%j → %i', (text, value) => {
    expect(parseTrackFileValue(text)).toBe(value);
  });

  it('strtol0 keeps the sign and the full magnitude before clamping', () => {
    expect(strtol0('-0x100')).toBe(-256);
    expect(strtol0('99999')).toBe(99999);
  });

  it('reads only the first 127 bytes, like keepalived', () => {
    expect(parseTrackFileValue(`${' '.repeat(127)}9`)).toBe(0);
    expect(parseTrackFileValue(`${' '.repeat(126)}9`)).toBe(9);
  });
});

describe('TrackFile on a real directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kt-trackfile-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A TrackFile whose changes can be awaited one at a time. */
  function tracked(path: string, extra: Partial<ConstructorParameters<typeof TrackFile>[0]> = {}) {
    const values: number[] = [];
    let wake: (() => void) | null = null;
    const tf = new TrackFile({
      name: 'f',
      path,
      settleUs: 5_000,
      onChange: (v) => {
        values.push(v);
        wake?.();
      },
      ...extra,
    });
    const next = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (values.length >= n) resolve();
          else wake = check;
        };
        check();
      });
    return { tf, values, next };
  }

  it('reads the initial value, follows writes, deletion and rename-into-place', async () => {
    const path = join(dir, 'weight');
    await writeFile(path, '10\n');
    const { tf, values, next } = tracked(path);
    expect(await tf.start()).toBe(10);
    await writeFile(path, '-20\n');
    await next(1);
    await unlink(path);
    await next(2);
    await writeFile(join(dir, 'tmp'), '0x30');
    await rename(join(dir, 'tmp'), path);
    await next(3);
    tf.stop();
    expect(values).toEqual([-20, 0, 48]);
    expect(tf.value).toBe(48);
  });

  it('ignores other files in the directory', async () => {
    const path = join(dir, 'weight');
    await writeFile(path, '1');
    const { tf, values, next } = tracked(path);
    await tf.start();
    await writeFile(join(dir, 'other'), '99');
    await writeFile(path, '2');
    await next(1);
    tf.stop();
    expect(values).toEqual([2]);
  });

  it('init_file creates the file, and overwrite replaces an existing one', async () => {
    const a = join(dir, 'a');
    const t1 = tracked(a, { initFile: { value: 7, overwrite: false } });
    expect(await t1.tf.start()).toBe(7);
    t1.tf.stop();
    const t2 = tracked(a, { initFile: { value: 3, overwrite: false } });
    expect(await t2.tf.start()).toBe(7);
    t2.tf.stop();
    const t3 = tracked(a, { initFile: { value: 3, overwrite: true } });
    expect(await t3.tf.start()).toBe(3);
    t3.tf.stop();
  });

  it('missing file reads as 0', async () => {
    expect(await readTrackFile(join(dir, 'nope'))).toBe(0);
  });

  it('falls back to periodic re-reads when the directory cannot be watched', async () => {
    const clock = new FakeClock(0);
    const counters = new Counters();
    const path = join(dir, 'missing-dir', 'w');
    const { tf } = tracked(path, { clock, counters, pollUs: 1_000_000 });
    expect(await tf.start()).toBe(0);
    expect(counters.get('KA_ERR_TRACK_FILE_WATCH')).toBe(1);
    expect(clock.armed).toBe(1);
    tf.stop();
  });
});
