/**
 * Privilege gates for tiered tests. A test that needs root (network namespaces, raw sockets) or the
 * kernel VM and cannot get it must never pass silently: in CI (CI=true) it fails with the reason,
 * elsewhere it is skipped with the same reason printed.
 */
import { describe } from 'vitest';

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
export const inCI = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

/**
 * `describe` that runs when `reason()` returns null, and otherwise skips (outside CI) or fails (in CI).
 */
export function describeIf(name: string, unmet: () => string | null, body: () => void): void {
  const why = unmet();
  if (why === null) {
    describe(name, body);
  } else if (inCI()) {
    describe(name, () => {
      throw new Error(`${name}: cannot run in CI: ${why}`);
    });
  } else {
    process.stderr.write(`SKIPPED ${name}: ${why}\n`);
    describe.skip(name, body);
  }
}

export const needRoot = (): string | null =>
  isRoot() ? null : 'needs root (network namespaces, raw sockets)';
