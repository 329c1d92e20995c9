/**
 * Shared by the track_process net tests: a scratch directory for copies of executables (named as
 * the tracked process) and the children started from it, killed by pid and removed after the
 * suite; a polling wait.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** Registers the suite's hooks (call inside `describe`); `dir()` is valid once beforeAll ran. */
export function processScratch(prefix: string): { dir: () => string; children: Set<ChildProcess> } {
  let dir = '';
  const children = new Set<ChildProcess>();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await once(c, 'exit');
      }
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return { dir: () => dir, children };
}

/** A short random suffix for process names. */
export const rand = (): string => Math.random().toString(16).slice(2, 8);

/** Polls `cond` every 5 ms; throws after `ms`. */
export async function waitUntil(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
