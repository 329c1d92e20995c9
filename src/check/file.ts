/**
 * FILE_CHECK: read the tracked file's integer. With weight 0 (default) a non-zero value marks the server
 * down; otherwise the server stays up and its weight moves by value × weight (negated with `reverse`).
 * A missing or unreadable file, or one not holding an integer, counts as a failure.
 */
import { readFile } from 'node:fs/promises';
import { KaError } from '../core/errors.js';
import { fail } from './common.js';
import type { CheckResult, FileCheckSpec } from './types.js';

export function interpretValue(spec: Pick<FileCheckSpec, 'weight' | 'reverse'>, text: string): CheckResult {
  const t = text.trim();
  if (!/^[-+]?\d+$/.test(t))
    return fail(new KaError('KA_ERR_CHECK_FILE', `track file does not hold an integer: '${t.slice(0, 32)}'`));
  const value = Number(t);
  const weight = spec.weight ?? 0;
  if (weight === 0)
    return value === 0
      ? { ok: true }
      : fail(new KaError('KA_ERR_CHECK_FILE_VALUE', `track file value ${value}`, { value }));
  return { ok: true, weightDelta: value * weight * (spec.reverse ? -1 : 1) };
}

export async function run(spec: FileCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  try {
    const text = await readFile(spec.file, { encoding: 'utf8', signal });
    return interpretValue(spec, text);
  } catch (e) {
    if (signal.aborted) return fail(new KaError('KA_ERR_CHECK_ABORTED', 'FILE_CHECK cancelled'));
    return fail(
      new KaError(
        'KA_ERR_CHECK_FILE',
        `cannot read ${spec.file}: ${(e as Error).message}`,
        { file: spec.file },
        { cause: e },
      ),
    );
  }
}
