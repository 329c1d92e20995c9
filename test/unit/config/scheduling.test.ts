/** global_defs scheduling keywords as keepalived reads them (values checked by `keepalived -t`). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { schedPlan } from '../../../src/daemon/priorities.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-sched-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(body: string) {
  const path = join(dir, 'k.conf');
  writeFileSync(path, `global_defs {\n${body}\n}\n`);
  return loadConfig(path);
}

describe('max_auto_priority', () => {
  it('bare keyword means the highest SCHED_RR priority, 99 (keepalived -t accepts it, exit 0)', () => {
    const { config, diagnostics } = load('  max_auto_priority');
    expect(diagnostics).toEqual([]);
    expect(config.global.settings.max_auto_priority).toBe(99);
    expect(schedPlan(config.global)).toMatchObject({ maxAutoPriority: 99, maxAutoPriorityConfigured: true });
  });
  it('takes -1..99 and rejects 100 as a bad number', () => {
    expect(load('  max_auto_priority 20').config.global.settings.max_auto_priority).toBe(20);
    const bad = load('  max_auto_priority 100').diagnostics;
    expect(bad.map((d) => d.code)).toEqual(['KA_ERR_CONF_BAD_NUMBER']);
    expect(bad[0]?.pos).toMatchObject({ line: 2 });
  });
});
