/**
 * Run-scoped resources of the lab: unique names, command helpers and a cleanup registry that runs on
 * normal exit, on SIGINT/SIGTERM and on explicit teardown. Everything the lab creates (network
 * namespaces, processes, temp dirs) is registered here so nothing outlives the test process.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { execa } from 'execa';

export class LabError extends Error {
  override readonly name = 'LabError';
}

/** A short id unique to this run: `kt` + 6 hex digits (namespace names stay well under 15 chars). */
export const newRunId = (): string => `kt${randomBytes(3).toString('hex')}`;

/** Run a command; throws LabError with stderr on failure. `input` is written to stdin. */
export async function run(file: string, args: readonly string[], input?: string): Promise<string> {
  const r = await execa(file, args, { input, reject: false, stripFinalNewline: false });
  if (r.exitCode !== 0) {
    throw new LabError(`${file} ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).trim()}`);
  }
  return String(r.stdout);
}

/** Synchronous variant for exit handlers (no event loop left). Never throws. */
export function runSync(file: string, args: readonly string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/** Pids of every process inside a named network namespace (`ip netns pids`). */
export async function netnsPids(ns: string): Promise<number[]> {
  const out = await execa('ip', ['netns', 'pids', ns], { reject: false });
  return parsePids(String(out.stdout));
}

const parsePids = (text: string): number[] =>
  text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);

/** Kill every process in the namespace and delete it; synchronous so exit handlers can use it. */
export function destroyNetnsSync(ns: string): void {
  for (let round = 0; round < 5; round++) {
    const pids = parsePids(runSync('ip', ['netns', 'pids', ns]));
    if (pids.length === 0) break;
    for (const pid of pids) killQuiet(pid, 'SIGKILL');
    spawnSync('sleep', ['0.02']);
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

export function killQuiet(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; treat it as gone (state is the field after the `(comm)`).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

type Cleanup = { readonly label: string; readonly sync: () => void };
const live = new Set<Cleanup>();
let hooked = false;

function runAllSync(): void {
  for (const c of [...live].reverse()) {
    live.delete(c);
    try {
      c.sync();
    } catch {
      // Best effort on the way out; the remaining cleanups still run.
    }
  }
}

function hookProcess(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', runAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      runAllSync();
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Register a synchronous cleanup that runs on exit or signal unless released first.
 * Returns `release`, to call once the resource was torn down normally.
 */
export function registerCleanup(label: string, sync: () => void): () => void {
  hookProcess();
  const c: Cleanup = { label, sync };
  live.add(c);
  return () => {
    live.delete(c);
  };
}

/** Labels of resources still registered (for leak assertions). */
export const liveResources = (): string[] => [...live].map((c) => c.label);

/** Remove a temp dir; registered as a cleanup by its creator. */
export const removeDirSync = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/** The pid a pid file names, or undefined (missing, empty, not a pid). */
export function pidIn(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs with one of `pidFiles` on its command line (a reused pid is not ended). */
export function runsWith(pid: number, pidFiles: ReadonlySet<string>): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .some((a) => pidFiles.has(a));
  } catch {
    return false;
  }
}
