/**
 * What a (re)load does to running trackers (src/vrrp/track/registry.ts): the plan (start, keep,
 * replace a changed definition, stop an unused or removed one), and the real trackers behind it on a
 * fake clock: a stopped tracker leaves no timer, watch or result behind, a replacing script runs at
 * once, and a replaced script that was OK starts OK ("considered successful on reload").
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import type { ScriptOutcome } from '../../../../src/notify/script.js';
import { TrackFile } from '../../../../src/vrrp/track/file.js';
import {
  ProcessTable,
  processTableOf,
  procfsReader,
  TrackProcess,
} from '../../../../src/vrrp/track/process.js';
import {
  type RunKind,
  TrackerRegistry,
  trackerParams,
  type WantedTracker,
} from '../../../../src/vrrp/track/registry.js';
import { VrrpScriptTracker } from '../../../../src/vrrp/track/script.js';

const pos = (line: number) => ({ file: 'keepalived.conf', line, col: 1 });
const script = (name: string, text: string, extra: Record<string, unknown> = {}) => ({
  name,
  script: { text, argv: text.split(' '), user: undefined, group: undefined, pos: pos(2) },
  interval: 1,
  timeout: 1,
  weight: 0,
  weightReverse: false,
  rise: 1,
  fall: 1,
  initFail: false,
  pos: pos(1),
  ...extra,
});

class Fake {
  stopped = 0;
  constructor(readonly id: string) {}
  stop(): void {
    this.stopped++;
  }
}

const want = (kind: RunKind, def: { name: string; [k: string]: unknown }): WantedTracker<unknown> => ({
  kind,
  name: def.name,
  def,
});

describe('trackerParams', () => {
  it('ignores source positions, weights and key order; anything else changes it', () => {
    const a = script('chk', '/bin/true');
    expect(trackerParams(a)).toBe(trackerParams({ ...a, pos: pos(40), weight: -20, weightReverse: true }));
    expect(trackerParams(a)).toBe(trackerParams(Object.fromEntries(Object.entries(a).reverse())));
    for (const change of [
      { script: { ...a.script, text: '/bin/false', argv: ['/bin/false'] } },
      { interval: 2 },
      { timeout: 3 },
      { rise: 2 },
      { fall: 2 },
      { initFail: true },
      { script: { ...a.script, user: 'nobody' } },
    ])
      expect(trackerParams({ ...a, ...change })).not.toBe(trackerParams(a));
  });
});

describe('TrackerRegistry.plan', () => {
  it('starts the used, keeps the unchanged, replaces the changed and stops the unused or removed', () => {
    const r = new TrackerRegistry<Fake>();
    const keep = script('keep', '/bin/true');
    const change = script('change', '/bin/true');
    const unused = script('unused', '/bin/true');
    const gone = { name: 'gone', file: '/tmp/x', pos: pos(9) };
    const handles = { keep: new Fake('keep'), change: new Fake('change'), unused: new Fake('unused') };
    r.add('script', 'keep', keep, handles.keep);
    r.add('script', 'change', change, handles.change);
    r.add('script', 'unused', unused, handles.unused);
    const goneHandle = new Fake('gone');
    r.add('file', 'gone', gone, goneHandle);
    const fresh = script('fresh', '/bin/true');
    const idle = script('idle', '/bin/true');
    const next = [
      want('script', { ...keep, weight: 30, pos: pos(12) }),
      want('script', { ...change, interval: 5 }),
      want('script', unused),
      want('script', fresh),
      want('script', idle),
    ];
    const plan = r.plan(next, (_k, name) => name !== 'unused' && name !== 'idle');
    expect(plan.map((a) => [a.action, a.kind, a.name])).toEqual([
      ['keep', 'script', 'keep'],
      ['replace', 'script', 'change'],
      ['stop', 'script', 'unused'],
      ['start', 'script', 'fresh'],
      ['stop', 'file', 'gone'],
    ]);
    const rep = plan[1];
    expect(rep?.action === 'replace' && rep.old).toBe(handles.change);
    // planning changes nothing
    expect(Object.values(handles).map((h) => h.stopped)).toEqual([0, 0, 0]);
    expect(r.size).toBe(4);
    // applying: stop() forgets the tracker and stops it once
    for (const a of plan) if (a.action === 'stop' || a.action === 'replace') r.stop(a.kind, a.name, a.old);
    expect([handles.change.stopped, handles.unused.stopped, goneHandle.stopped]).toEqual([1, 1, 1]);
    expect(handles.keep.stopped).toBe(0);
    expect(r.get('script', 'change')).toBeUndefined();
    expect(r.get('file', 'gone')).toBeUndefined();
    // the same configuration again: nothing to do but keep
    r.add('script', 'change', { ...change, interval: 5 }, new Fake('change2'));
    r.add('script', 'fresh', fresh, new Fake('fresh'));
    const again = r.plan(next, (_k, name) => name !== 'unused' && name !== 'idle');
    expect(again.map((a) => a.action)).toEqual(['keep', 'keep', 'keep']);
  });

  it('the same name in two kinds is two trackers; a duplicate wanted entry counts once', () => {
    const r = new TrackerRegistry<Fake>();
    const plan = r.plan(
      [want('script', script('x', '/bin/true')), want('file', { name: 'x' }), want('file', { name: 'x' })],
      () => true,
    );
    expect(plan.map((a) => [a.action, a.kind])).toEqual([
      ['start', 'script'],
      ['start', 'file'],
    ]);
  });

  it('stop() of a handle that is no longer the recorded one stops that handle only', () => {
    const r = new TrackerRegistry<Fake>();
    const a = new Fake('a');
    const b = new Fake('b');
    r.add('process', 'p', { name: 'p' }, a);
    r.add('process', 'p', { name: 'p', quorum: 2 }, b);
    r.stop('process', 'p', a);
    expect([a.stopped, b.stopped]).toEqual([1, 0]);
    expect(r.get('process', 'p')).toBe(b);
    r.stopAll();
    expect(b.stopped).toBe(1);
    expect(r.size).toBe(0);
  });
});

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('real trackers behind the registry', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kt-registry-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A vrrp_script tracker whose exec is answered by the test. */
  function scriptTracker(clock: FakeClock, results: ScriptOutcome[], initGood = false) {
    const runs: number[] = [];
    const states: string[] = [];
    let pending: ((o: ScriptOutcome) => void) | undefined;
    const t = new VrrpScriptTracker(
      { name: 'chk', script: { name: 'chk', argv: ['/bin/true'] }, intervalUs: 2_000_000, initGood },
      {
        clock,
        exec: () =>
          new Promise<ScriptOutcome>((res) => {
            runs.push(clock.now());
            const next = results.shift();
            if (next) res(next);
            else pending = res;
          }),
        onChange: (s) => states.push(s),
      },
    );
    return { t, runs, states, finish: (o: ScriptOutcome) => pending?.(o) };
  }

  it('a replaced script: the old one stops (no timer, a late result ignored), the new one runs at once', async () => {
    const clock = new FakeClock(0);
    const r = new TrackerRegistry<VrrpScriptTracker>();
    const old = scriptTracker(clock, [{ kind: 'exit', code: 0 }]);
    r.add('script', 'chk', script('chk', '/bin/true'), old.t);
    old.t.start();
    await flush();
    expect(old.states).toEqual(['up']);
    clock.advance(2_000_000); // second run, still going when the reload comes
    expect(old.runs).toEqual([0, 2_000_000]);
    const armedBefore = clock.armed;
    const [a] = r.plan([want('script', script('chk', '/bin/false'))], () => true);
    expect(a?.action).toBe('replace');
    if (a?.action !== 'replace') return;
    const wasUp = a.old.state === 'up';
    r.stop(a.kind, a.name, a.old);
    expect(clock.armed).toBe(armedBefore - 1);
    const fresh = scriptTracker(clock, Array(6).fill({ kind: 'exit', code: 1 }), wasUp);
    r.add('script', 'chk', a.want.def, fresh.t);
    expect(fresh.t.state).toBe('up'); // considered successful on reload
    fresh.t.start();
    expect(fresh.runs).toEqual([2_000_000]); // first run at once, not an interval later
    await flush();
    expect(fresh.states).toEqual(['down']); // one failure is enough
    old.finish({ kind: 'exit', code: 1 });
    await flush();
    expect(old.states).toEqual(['up']); // the old tracker's late result is dropped
    for (let i = 0; i < 5; i++) {
      clock.advance(2_000_000);
      await flush();
    }
    expect(old.runs).toEqual([0, 2_000_000]);
    // every 2 s from the reload: 2, 4, …, 12 s
    expect(fresh.runs).toEqual([2, 4, 6, 8, 10, 12].map((s) => s * 1_000_000));
  });

  it('a stopped track_file leaves no watch; one stopped during its first read never watches', async () => {
    const clock = new FakeClock(0);
    const path = join(dir, 'prio');
    await writeFile(path, '5\n');
    const r = new TrackerRegistry<TrackFile>();
    const seen: number[] = [];
    const tf = new TrackFile({ name: 'f', path, clock, onChange: (v) => seen.push(v) });
    r.add('file', 'f', { name: 'f', file: path }, tf);
    expect(await tf.start()).toBe(5);
    expect(tf.watching).toBe(true);
    const [a] = r.plan([want('file', { name: 'f', file: path })], () => false);
    expect(a?.action).toBe('stop');
    if (a?.action === 'stop') r.stop(a.kind, a.name, a.old);
    expect(tf.watching).toBe(false);
    await writeFile(path, '9\n');
    await tf.reread();
    expect(seen).toEqual([]);

    const racing = new TrackFile({ name: 'g', path, clock, onChange: () => {} });
    const started = racing.start();
    racing.stop();
    expect(await started).toBe(9);
    expect(racing.watching).toBe(false);
  });

  it('a stopped track_process leaves no scan timer', async () => {
    const clock = new FakeClock(0);
    const root = join(dir, 'proc');
    await mkdir(join(root, '300'), { recursive: true });
    await writeFile(join(root, '300', 'stat'), '300 (haproxy) S 1 300 300 0');
    const tp = new TrackProcess({
      name: 'p',
      match: { process: 'haproxy' },
      clock,
      procRoot: root,
      onChange: () => {},
    });
    const r = new TrackerRegistry<TrackProcess>();
    r.add('process', 'p', { name: 'p', process: 'haproxy' }, tp);
    expect(await tp.start()).toBe(true);
    expect(clock.armed).toBe(1);
    r.stopAll();
    expect(clock.armed).toBe(0);
  });

  it('the registry holds one process table for all its track_process trackers, across a reload', async () => {
    const clock = new FakeClock(0);
    const root = join(dir, 'proc2');
    await mkdir(join(root, '300'), { recursive: true });
    await writeFile(join(root, '300', 'stat'), '300 (haproxy) S 1 300 300 0');
    const r = new TrackerRegistry<TrackProcess>();
    const table = r.shared(
      'process-table',
      () => new ProcessTable({ events: null, reader: procfsReader(root) }),
    );
    expect(processTableOf(r)).toBe(table);
    const mk = (name: string) =>
      new TrackProcess({
        name,
        match: { process: 'haproxy' },
        clock,
        table: processTableOf(r),
        onChange() {},
      });
    const a = mk('a');
    const b = mk('b');
    r.add('process', 'a', { name: 'a', process: 'haproxy' }, a);
    r.add('process', 'b', { name: 'b', process: 'haproxy' }, b);
    expect(await Promise.all([a.start(), b.start()])).toEqual([true, true]);
    expect(table.size).toBe(2);
    expect(table.counts.scans).toBe(1);
    expect(clock.armed).toBe(1); // one poll timer for both
    r.stop('process', 'a', a);
    const c = mk('a');
    r.add('process', 'a', { name: 'a', process: 'haproxy', quorum: 1 }, c);
    expect(await c.start()).toBe(true);
    expect(processTableOf(r)).toBe(table);
    expect(table.size).toBe(2);
    r.stopAll();
    expect(table.size).toBe(0);
    expect(table.mode).toBe('idle');
    expect(clock.armed).toBe(0);
  });
});
