import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registeredCodes } from '../../../src/core/errors.js';

// Every module that declares error codes keeps them in src/<module>/errors.ts and documents them in
// docs/errors/<module>.md. This test keeps code and documentation in step (STYLE.md habit 8).
const root = join(import.meta.dirname, '../../..');

describe('error code registry', () => {
  it('documents every declared code and declares every documented code', async () => {
    // Every src/**/errors.ts and src/**/*-errors.ts declares codes when imported.
    const files = (readdirSync(join(root, 'src'), { recursive: true }) as string[]).filter(
      (f) => /(^|[/-])errors\.ts$/.test(f) && f !== join('core', 'errors.ts'),
    );
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) await import(join(root, 'src', f));
    const docs = readdirSync(join(root, 'docs/errors'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => readFileSync(join(root, 'docs/errors', f), 'utf8'))
      .join('\n');
    const documented = new Set(docs.match(/KA_ERR_[A-Z0-9_]+/g) ?? []);
    const declared = [...registeredCodes().keys()];
    for (const code of declared) expect(documented, `${code} is not in docs/errors/`).toContain(code);
    for (const code of documented) expect(declared, `${code} is documented but not declared`).toContain(code);
  });
});

describe('defineCodes', () => {
  it('maps each code to its own name and registers its summary', async () => {
    const { defineCodes } = await import('../../../src/core/errors.js');
    const t = defineCodes('test-only', { KA_ERR_TEST_ONLY_X: 'an example' });
    expect(t.KA_ERR_TEST_ONLY_X).toBe('KA_ERR_TEST_ONLY_X');
    expect(registeredCodes().get('KA_ERR_TEST_ONLY_X')).toEqual({
      module: 'test-only',
      summary: 'an example',
    });
  });
});
