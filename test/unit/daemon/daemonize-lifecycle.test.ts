/**
 * src/daemon/lifecycle-scripts.ts without a daemon: configurations loaded from text, real scripts in
 * a temporary directory. What is run, with which words, what is logged for each outcome, and that a
 * missing or disabled script is skipped with a warning instead of failing.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Counters } from '../../../src/core/counters.js';
import {
  LIFECYCLE_SECURITY_VIOLATION,
  outcomeLine,
  runLifecycleScript,
  timedOutLine,
  warnLifecycleSecurity,
} from '../../../src/daemon/lifecycle-scripts.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-lifecycle-'));
// scripts here must be reachable by a non-root script user (nobody)
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(globals: string) {
  const path = join(dir, `k${Math.random().toString(16).slice(2)}.conf`);
  writeFileSync(path, `global_defs {\n${globals}\n}\n`);
  return loadConfig(path, {}).config;
}

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

/** A logger keeping every line's message and level. */
function recordingLog() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (s: string) => {
        const o = JSON.parse(s) as { level: number; msg: string };
        lines.push({ level: o.level, msg: o.msg });
      },
    },
  );
  return { log, lines, msgs: () => lines.map((l) => l.msg) };
}

describe('runLifecycleScript', () => {
  it('runs the startup script with exactly its configured words and logs success', async () => {
    const out = join(dir, 'args.out');
    const s = script('args.sh', `printf '%s|' "$@" > ${out}`);
    const rec = recordingLog();
    const r = await runLifecycleScript('startup', config(`startup_script "${s} a 'b c'"`), { log: rec.log });
    expect(r?.outcome).toEqual({ kind: 'exit', code: 0 });
    expect(readFileSync(out, 'utf8')).toBe('a|b c|');
    expect(rec.msgs()).toContain(`Running startup script ${s} a 'b c'`);
    expect(rec.msgs()).toContain('startup script script succeeded');
  });

  it('a failing shutdown script: its status logged (warn) and counted', async () => {
    const s = script('fail.sh', 'exit 3');
    const rec = recordingLog();
    const counters = new Counters();
    const r = await runLifecycleScript('shutdown', config(`shutdown_script ${s}`), {
      log: rec.log,
      counters,
    });
    expect(r?.outcome).toEqual({ kind: 'exit', code: 3 });
    expect(rec.lines).toContainEqual({ level: 40, msg: 'shutdown script script failed, status 3' });
    expect(counters.get('daemon.shutdown_script_failures')).toBe(1);
  });

  it('past its timeout the script is ended (SIGTERM) and the outcome says so', async () => {
    const s = script('slow.sh', 'exec sleep 30');
    const rec = recordingLog();
    const counters = new Counters();
    const r = await runLifecycleScript('startup', config(`startup_script ${s}\nstartup_script_timeout 1`), {
      log: rec.log,
      counters,
    });
    expect(r?.outcome).toEqual({ kind: 'timeout', signal: 'SIGTERM' });
    const msgs = rec.msgs();
    const timedOut = msgs.indexOf('startup script timed out');
    expect(timedOut).toBeGreaterThanOrEqual(0);
    expect(msgs.indexOf('startup script script failed, killed by SIGTERM')).toBeGreaterThan(timedOut);
    expect(counters.get('daemon.startup_script_failures')).toBe(1);
  });

  it("a script trapping SIGTERM at its timeout and exiting 3: keepalived's two lines, status kept", async () => {
    const s = script('trap3.sh', "trap 'exit 3' TERM\nsleep 30 &\nwait");
    const rec = recordingLog();
    const r = await runLifecycleScript('startup', config(`startup_script ${s}\nstartup_script_timeout 1`), {
      log: rec.log,
    });
    expect(r?.outcome).toEqual({ kind: 'timeout', signal: 'SIGTERM', code: 3 });
    const warns = rec.lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warns).toEqual(['startup script timed out', 'startup script script failed, status 3']);
  });

  it('no script configured: nothing runs, nothing is logged', async () => {
    const rec = recordingLog();
    expect(await runLifecycleScript('startup', config(''), { log: rec.log })).toBeUndefined();
    expect(await runLifecycleScript('shutdown', config(''), { log: rec.log })).toBeUndefined();
    expect(rec.lines).toEqual([]);
  });

  it('a missing script is skipped with a warning', async () => {
    const rec = recordingLog();
    const r = await runLifecycleScript('startup', config(`startup_script ${join(dir, 'nope.sh')}`), {
      log: rec.log,
    });
    expect(r).toBeUndefined();
    expect(rec.lines.some((l) => l.level === 40)).toBe(true);
    expect(rec.msgs()).not.toContain('startup script script succeeded');
  });
});

describe('warnLifecycleSecurity', () => {
  const s = script('sec.sh', 'exit 0');
  it('warns when a lifecycle script runs as root without enable_script_security, whatever its path', async () => {
    const rec = recordingLog();
    expect(await warnLifecycleSecurity(config(`shutdown_script "${s}" root`), { log: rec.log })).toBe(true);
    expect(rec.lines).toEqual([{ level: 40, msg: LIFECYCLE_SECURITY_VIOLATION }]);
  });
  it('is silent with enable_script_security, for a non-root user, and without scripts', async () => {
    for (const g of [
      `startup_script "${s}" root\nenable_script_security`,
      `startup_script "${s}" nobody`,
      '',
    ]) {
      const rec = recordingLog();
      expect(await warnLifecycleSecurity(config(g), { log: rec.log })).toBe(false);
      expect(rec.lines).toEqual([]);
    }
  });
});

describe('outcomeLine', () => {
  it("keepalived's wording for each outcome", () => {
    expect(outcomeLine('startup', { kind: 'exit', code: 0 })).toBe('startup script script succeeded');
    expect(outcomeLine('shutdown', { kind: 'exit', code: 7 })).toBe(
      'shutdown script script failed, status 7',
    );
    expect(outcomeLine('startup', { kind: 'signal', signal: 'SIGSEGV' })).toBe(
      'startup script script failed, killed by SIGSEGV',
    );
    expect(outcomeLine('startup', { kind: 'timeout', signal: 'SIGKILL' })).toBe(
      'startup script script failed, killed by SIGKILL',
    );
    expect(outcomeLine('shutdown', { kind: 'timeout', signal: 'SIGTERM', code: 3 })).toBe(
      'shutdown script script failed, status 3',
    );
    expect(timedOutLine('shutdown')).toBe('shutdown script timed out');
  });
});
