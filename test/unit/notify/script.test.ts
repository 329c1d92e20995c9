import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { type ScriptEvent, ScriptRunner, succeeded } from '../../../src/notify/script.js';

let dir: string;
const runners: ScriptRunner[] = [];

async function script(name: string, body: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, `#!/bin/sh\n${body}\n`);
  await chmod(p, 0o755);
  return p;
}

function runner(opts: ConstructorParameters<typeof ScriptRunner>[0] = {}): ScriptRunner {
  const r = new ScriptRunner(opts);
  runners.push(r);
  return r;
}

/** Running (not gone, not a zombie waiting for a reaper). */
const alive = async (pid: number): Promise<boolean> => {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
};

/** Poll until `pid` is no longer running (signal delivery is asynchronous). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!(await alive(pid))) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kt-script-'));
});
afterAll(async () => {
  for (const r of runners) await r.close('SIGKILL', 0);
  await rm(dir, { recursive: true, force: true });
});

describe('ScriptRunner with real scripts', () => {
  it('passes argv untouched, reports exit status and captures output', async () => {
    const s = await script('echo.sh', 'for a in "$@"; do echo "[$a]"; done; echo err >&2; exit 3');
    const r = await runner({ captureOutput: true }).run({ name: 'echo', argv: [s, 'a b', "it's"] }, [
      'EXTRA',
    ]);
    expect(r.outcome).toEqual({ kind: 'exit', code: 3 });
    expect(r.stdout).toBe("[a b]\n[it's]\n[EXTRA]\n");
    expect(r.stderr).toBe('err\n');
    expect(succeeded(r.outcome)).toBe(false);
  });

  it('runs a file without #! through /bin/sh -c with keepalived quoting', async () => {
    const p = join(dir, 'noshebang.sh');
    await writeFile(p, 'printf \'n=%s first=%s\\n\' "$#" "$1"\n');
    await chmod(p, 0o755);
    const r = await runner({ captureOutput: true }).run({ name: 'sh', argv: [p, 'x y'], mode: 'shell' });
    expect(r.stdout).toBe('n=1 first=x y\n');
    const odd = 'a\\b \'q\' $HOME `x` "d"';
    const r2 = await runner({ captureOutput: true }).run({ name: 'sh', argv: [p, odd], mode: 'shell' });
    expect(r2.stdout).toBe(`n=1 first=${odd}\n`);
  });

  it('drops IFS, LD_PRELOAD and LD_LIBRARY_PATH from the environment', async () => {
    const s = await script('env.sh', "env | grep -E '^(IFS|LD_PRELOAD|LD_LIBRARY_PATH|KEEP)=' | sort");
    const env = { ...process.env, IFS: ':', LD_PRELOAD: '/x.so', LD_LIBRARY_PATH: '/x', KEEP: 'yes' };
    const r = await runner({ env, captureOutput: true }).run({ name: 'env', argv: [s] });
    expect(r.stdout).toBe('KEEP=yes\n');
  });

  it('keeps at most maxOutputBytes of each stream and counts the rest', async () => {
    const s = await script(
      'chatty.sh',
      'i=0; while [ $i -lt 200 ]; do echo 0123456789012345678901234567890123456789012345678; i=$((i+1)); done',
    );
    const r = await runner({ maxOutputBytes: 1000, captureOutput: true }).run({ name: 'chatty', argv: [s] });
    expect(r.outcome).toEqual({ kind: 'exit', code: 0 });
    expect(r.stdout.length).toBe(1000);
    expect(r.outputDropped).toBe(200 * 50 - 1000);
  });

  it('a spawn failure is a result with KA_ERR_NOTIFY_SPAWN, not an exception', async () => {
    const counters = new Counters();
    const r = await runner({ counters }).run({ name: 'missing', argv: [join(dir, 'does-not-exist')] });
    expect(r.outcome.kind).toBe('spawn-error');
    expect(r.outcome.kind === 'spawn-error' && r.outcome.error.code).toBe('KA_ERR_NOTIFY_SPAWN');
    expect(counters.get('KA_ERR_NOTIFY_SPAWN')).toBe(1);
  });

  it('timeout: SIGTERM to the process group kills the script and its children', async () => {
    const pidFile = join(dir, 'child.pid');
    const s = await script('hang.sh', `sleep 30 & echo $! > ${pidFile}; wait`);
    const events: ScriptEvent[] = [];
    const r = await runner({ onEvent: (e) => events.push(e) }).run({
      name: 'hang',
      argv: [s],
      timeoutUs: 300_000,
    });
    expect(r.outcome).toEqual({ kind: 'timeout', signal: 'SIGTERM' });
    expect(events).toEqual([
      expect.objectContaining({ type: 'start', script: 'hang' }),
      expect.objectContaining({ type: 'timeout', script: 'hang', signal: 'SIGTERM', pid: r.pid }),
      expect.objectContaining({ type: 'end' }),
    ]);
    const child = Number(await readFile(pidFile, 'utf8'));
    expect(await gone(child)).toBe(true);
    process.stdout.write(
      `script timeout: SIGTERM → exit after ${((r.killDelayUs ?? 0) / 1000).toFixed(1)} ms\n`,
    );
  });

  it('timeout: a script ignoring SIGTERM gets SIGKILL after the grace period', async () => {
    const s = await script('stubborn.sh', "trap '' TERM; while :; do sleep 0.05; done");
    const r = await runner().run({ name: 'stubborn', argv: [s], timeoutUs: 200_000, killGraceUs: 300_000 });
    expect(r.outcome.kind).toBe('timeout');
    expect(r.outcome.kind === 'timeout' && r.outcome.signal).toBe('SIGKILL');
    process.stdout.write(
      `script ignoring TERM: killed ${((r.killDelayUs ?? 0) / 1000).toFixed(1)} ms after TERM (grace 300 ms)\n`,
    );
    expect(r.killDelayUs).toBeGreaterThanOrEqual(300_000);
  });

  it('timeout: a script trapping SIGTERM and exiting keeps its exit status in the outcome', async () => {
    const s = await script('trap3.sh', "trap 'exit 3' TERM; sleep 30 & wait");
    const r = await runner().run({ name: 'trap3', argv: [s], timeoutUs: 200_000 });
    expect(r.outcome).toEqual({ kind: 'timeout', signal: 'SIGTERM', code: 3 });
    expect(succeeded(r.outcome)).toBe(false);
  });

  it('a hung script delays neither the caller, nor the event loop, nor the next script', async () => {
    const events: ScriptEvent[] = [];
    const rn = runner({ onEvent: (e) => events.push(e) });
    const hung = await script('hung.sh', 'sleep 30');
    const quick = await script('quick.sh', 'exit 0');
    const hungDone = rn.run({ name: 'hung', argv: [hung] });
    const t0 = process.hrtime.bigint();
    rn.fire({ name: 'quick', argv: [quick] });
    const callUs = Number(process.hrtime.bigint() - t0) / 1000;
    await new Promise<void>((r) => setImmediate(r));
    const quickEnd = await new Promise<ScriptEvent>((resolve) => {
      const check = () => {
        const e = events.find((x) => x.type === 'end' && x.result.script === 'quick');
        if (e) resolve(e);
        else setTimeout(check, 5);
      };
      check();
    });
    expect(quickEnd.type === 'end' && quickEnd.result.outcome).toEqual({ kind: 'exit', code: 0 });
    expect(rn.running).toBe(1);
    process.stdout.write(`fire() returned in ${callUs.toFixed(0)} µs while a hung script runs\n`);
    await rn.close('SIGTERM');
    expect((await hungDone).outcome).toEqual({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('drain waits for running scripts; close right after fire still signals them', async () => {
    const rn = runner();
    const quick = await script('q2.sh', 'sleep 0.1');
    rn.fire({ name: 'q', argv: [quick] });
    rn.fire({ name: 'q', argv: [quick] });
    expect(rn.running).toBe(2);
    expect(await rn.drain(5_000_000)).toBe(true);
    expect(rn.running).toBe(0);
    const hung = await script('h2.sh', 'sleep 30');
    const p = rn.run({ name: 'h', argv: [hung] });
    expect(await rn.drain(100_000)).toBe(false);
    const closing = rn.close('SIGTERM');
    expect((await p).outcome).toEqual({ kind: 'signal', signal: 'SIGTERM' });
    await closing;
    const late = runner();
    const q = late.run({ name: 'h', argv: [hung] });
    await late.close('SIGTERM');
    expect((await q).outcome).toEqual({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('a script that leaves a child in the background ends when it exits, not when the child closes its output', async () => {
    // keepalived waits for the script's pid only; the child (even in its own session) keeps running
    const pids: number[] = [];
    try {
      for (const [name, launch] of [
        ['bg.sh', 'sleep 30'],
        ['bg-setsid.sh', 'setsid sleep 30'],
      ] as const) {
        const pidFile = join(dir, `${name}.pid`);
        const s = await script(name, `echo started\n${launch} &\necho $! > ${pidFile}\nexit 0`);
        const r = await runner({ captureOutput: true }).run({ name, argv: [s], timeoutUs: 20_000_000 });
        const bg = Number((await readFile(pidFile, 'utf8')).trim());
        pids.push(bg);
        expect(r.outcome).toEqual({ kind: 'exit', code: 0 });
        expect(r.stdout).toBe('started\n');
        expect(await alive(bg)).toBe(true);
        process.stdout.write(
          `${name}: ended after ${((r.endedAt - r.startedAt) / 1000).toFixed(0)} ms, its child still running\n`,
        );
      }
    } finally {
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  it('stdin, stdout and stderr are /dev/null, as keepalived gives its scripts', async () => {
    const out = join(dir, 'fds.txt');
    const s = await script(
      'fds.sh',
      `a=$(readlink /proc/$$/fd/0) b=$(readlink /proc/$$/fd/1) c=$(readlink /proc/$$/fd/2)\necho "$a $b $c" > ${out}`,
    );
    const r = await runner().run({ name: 'fds', argv: [s] });
    expect(r.outcome).toEqual({ kind: 'exit', code: 0 });
    expect(await readFile(out, 'utf8')).toBe('/dev/null /dev/null /dev/null\n');
    expect(r.stdout).toBe('');
  });

  it('a background child writing to stdout/stderr after the script exited is not killed by SIGPIPE', async () => {
    // `helper &` / `nohup helper &` in a notify script: the child outlives the script and writes later
    for (const captureOutput of [false, true]) {
      const status = join(dir, `bg-write-${captureOutput}.status`);
      const s = await script(
        `bg-write-${captureOutput}.sh`,
        `( trap 'echo SIGPIPE > ${status}.tmp; mv ${status}.tmp ${status}' PIPE
  sleep 0.3; echo hi; echo oops >&2; echo "$?" > ${status}.tmp; mv ${status}.tmp ${status} ) &
exit 0`,
      );
      const r = await runner({ captureOutput }).run({ name: 'bg-write', argv: [s] });
      expect(r.outcome).toEqual({ kind: 'exit', code: 0 });
      // the script's result came before the child wrote: the status file is not there yet
      expect(await readFile(status, 'utf8').catch(() => null)).toBeNull();
      let written: string | null = null;
      for (let i = 0; i < 500 && written === null; i++) {
        written = await readFile(status, 'utf8').catch(() => null);
        if (written === null) await new Promise((ok) => setTimeout(ok, 10));
      }
      expect(written, `captureOutput ${captureOutput}`).toBe('0\n');
    }
  });

  it('a burst of scripts is spawned one per event-loop turn, in call order, across runners', async () => {
    // a callback chained on setImmediate, first queued after the burst: it runs once per turn
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    const starts: { arg: string; turn: number }[] = [];
    const onEvent = (e: ScriptEvent): void => {
      if (e.type === 'start') starts.push({ arg: String(e.argv.at(-1)), turn: turns });
    };
    const a = runner({ onEvent });
    const b = runner({ onEvent });
    const s = await script('burst.sh', 'exit 0');
    const runs = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0 ? a : b).run({ name: `burst${i}`, argv: [s] }, [String(i)]),
    );
    setImmediate(tick);
    const results = await Promise.all(runs);
    ticking = false;
    expect(results.every((r) => succeeded(r.outcome))).toBe(true);
    expect(starts.map((x) => x.arg)).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    // the ticker ran between every two spawns (all in one turn, the count would not move)
    for (let i = 1; i < starts.length; i++) expect(starts[i]?.turn).toBeGreaterThan(starts[i - 1]?.turn ?? 0);
    process.stdout.write(
      `12 spawns over ${(starts.at(-1)?.turn ?? 0) - (starts[0]?.turn ?? 0) + 1} event-loop turns\n`,
    );
  });

  it('bounded queue per script: extra calls are dropped and counted, queued ones run later', async () => {
    const counters = new Counters();
    const events: ScriptEvent[] = [];
    const rn = runner({ counters, onEvent: (e) => events.push(e) });
    const gate = join(dir, 'gate');
    const s = await script('gated.sh', `while [ ! -e ${gate} ]; do sleep 0.02; done`);
    const def = { name: 'gated', argv: [s], maxRunning: 1, maxQueued: 1 };
    const a = rn.run(def, ['1']);
    const b = rn.run(def, ['2']);
    const c = rn.run(def, ['3']);
    expect((await c).outcome.kind).toBe('dropped');
    await new Promise<void>((r) => setImmediate(r));
    expect(counters.get('KA_ERR_NOTIFY_QUEUE_FULL')).toBe(1);
    expect(events.filter((e) => e.type === 'start').map((e) => e.type === 'start' && e.argv.at(-1))).toEqual([
      '1',
    ]);
    await writeFile(gate, '');
    expect((await a).outcome).toEqual({ kind: 'exit', code: 0 });
    expect((await b).outcome).toEqual({ kind: 'exit', code: 0 });
    expect(events.filter((e) => e.type === 'start').map((e) => e.type === 'start' && e.argv.at(-1))).toEqual([
      '1',
      '2',
    ]);
  });
});
