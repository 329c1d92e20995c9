/**
 * MISC_CHECK: run `misc_path` in a child process (execa), never in the daemon's thread.
 * Exit 0 = up; 1 = down; with misc_dynamic, 2..255 = up with weight exit−2 (keepalived-surface §2.13).
 * misc_timeout (default delay_loop) kills with SIGTERM, then SIGKILL 2 s later, as keepalived's scripts.
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { KaError } from '../core/errors.js';
import { fail, timerMs } from './common.js';
import type { CheckResult, MiscCheckSpec } from './types.js';

/** Map an exit to a result (pure; unit-tested). `signal` set when the child died by a signal. */
export function interpretExit(
  spec: Pick<MiscCheckSpec, 'miscDynamic'>,
  exitCode: number | undefined,
  signal?: string,
  timedOut = false,
): CheckResult {
  const details = { exitCode, signal };
  // keepalived's mail then says "MISC CHECK timed out"
  if (timedOut)
    return {
      ok: false,
      error: new KaError('KA_ERR_CHECK_TIMEOUT', 'Misc check timed out', details),
      reason: 'timed out',
    };
  if (signal !== undefined || exitCode === undefined)
    return fail(new KaError('KA_ERR_CHECK_EXIT', `Misc check killed by signal ${signal ?? '?'}`, details));
  if (exitCode === 0) return { ok: true };
  if (spec.miscDynamic && exitCode >= 2 && exitCode <= 255) return { ok: true, weight: exitCode - 2 };
  return fail(
    new KaError('KA_ERR_CHECK_EXIT', `Misc check failed (exited with status ${exitCode})`, details),
  );
}

/** Resolve `user U [G]` from numeric ids or the passwd/group files (no getpwnam in Node). */
export function resolveUser(
  user: string,
  group?: string,
  files = { passwd: '/etc/passwd', group: '/etc/group' },
): { uid: number; gid: number } | KaError {
  const read = (p: string): string[][] => {
    try {
      return readFileSync(p, 'utf8')
        .split('\n')
        .map((l) => l.split(':'));
    } catch {
      return [];
    }
  };
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    const row = read(files.passwd).find((r) => r[2] === user);
    gid = row ? Number(row[3]) : uid;
  } else {
    const row = read(files.passwd).find((r) => r[0] === user);
    if (!row) return new KaError('KA_ERR_CHECK_SPEC', `unknown user ${user}`);
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const row = read(files.group).find((r) => r[0] === group);
      if (!row) return new KaError('KA_ERR_CHECK_SPEC', `unknown group ${group}`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid };
}

export async function run(spec: MiscCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const [file, ...args] = spec.miscPath;
  if (!file) return fail(new KaError('KA_ERR_CHECK_SPEC', 'MISC_CHECK without misc_path'));
  if (signal.aborted) return fail(new KaError('KA_ERR_CHECK_ABORTED', 'Misc check cancelled'));
  let ids: { uid: number; gid: number } | undefined;
  if (spec.user !== undefined) {
    const r = resolveUser(spec.user, spec.group);
    if (r instanceof KaError) return fail(r);
    ids = r;
  }
  const timeoutMs = timerMs(spec.miscTimeout ?? spec.delayLoop);
  try {
    const r = await execa(file, args, {
      reject: false,
      stdio: 'ignore',
      timeout: timeoutMs,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: 2000,
      cancelSignal: signal,
      ...(ids ?? {}),
    });
    if (r.isCanceled) return fail(new KaError('KA_ERR_CHECK_ABORTED', 'Misc check cancelled'));
    if (r.failed && r.exitCode === undefined && r.signal === undefined && !r.timedOut)
      return fail(new KaError('KA_ERR_CHECK_SPAWN', `cannot run ${file}: ${r.shortMessage}`, { file }));
    return interpretExit(spec, r.exitCode, r.signal, r.timedOut);
  } catch (e) {
    return fail(
      new KaError(
        'KA_ERR_CHECK_SPAWN',
        `cannot run ${file}: ${(e as Error).message}`,
        { file },
        { cause: e },
      ),
    );
  }
}
