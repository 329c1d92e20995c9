import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configTestExitCode } from '../../../src/config/diagnostics.js';
import { loadConfig, systemScriptEnv } from '../../../src/config/load.js';
import { describeIf, needRoot } from '../../support/privilege.js';
import { ConfigTestNetns, KEEPALIVED } from './netns.js';
import { ALLOWED, type Allow } from './sweep-allow.js';
import { sweepCases } from './sweep-cases.js';

// Differential sweep: every keyword of src/config/keywords.ts with boundary arguments, keepalived -t
// against our config test. Any exit-code difference not in sweep-allow.ts fails.
// KT_SWEEP_OUT=FILE writes a JSON report (each unallowed mismatch with both sides' messages);
// KT_SWEEP_ALL=1 adds the allowed mismatches to its detail, each with the kind of rule that allowed it.
const netns = new ConfigTestNetns();
/** keepalived -t runs in parallel; each takes a few ms of CPU. */
const POOL = 4;

function unmet(): string | null {
  return (
    needRoot() ?? (existsSync(KEEPALIVED) ? null : 'needs Debian keepalived (apt-get install keepalived)')
  );
}

let tmp = '';
const stderrOf = new Map<string, string>();

async function keepalivedTest(path: string): Promise<number> {
  const r = await netns.keepalivedTest(path);
  if (process.env.KT_SWEEP_OUT) stderrOf.set(path, r.stderr);
  return r.exit;
}

function ourTest(path: string): number {
  return configTestExitCode(ourDiagnostics(path));
}

function ourDiagnostics(path: string) {
  return loadConfig(path, {
    configId: 'nodeA',
    interfaceExists: (n) => netns.links.has(n),
    scripts: systemScriptEnv,
  }).diagnostics;
}

describeIf('keyword sweep: config test exit codes equal keepalived -t', unmet, () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'kt-sweep-'));
    await netns.open();
  });

  afterAll(async () => {
    await netns.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('every swept configuration exits as keepalived -t does', async () => {
    const cases = sweepCases();
    const paths = cases.map((c, i) => {
      const p = join(tmp, `c${i}.conf`);
      writeFileSync(p, c.conf);
      return p;
    });
    const theirs: number[] = new Array(cases.length).fill(-1);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < cases.length; i = next++) theirs[i] = await keepalivedTest(paths[i] ?? '');
    };
    await Promise.all(Array.from({ length: POOL }, worker));
    const mismatches: string[] = [];
    const detail: unknown[] = [];
    const seen = new Map<Allow, number>();
    for (const [i, c] of cases.entries()) {
      const ours = ourTest(paths[i] ?? '');
      const ka = theirs[i];
      if (ours === ka) continue;
      const line = `${c.id}: ours ${ours}, keepalived ${ka}`;
      const rule = ALLOWED.find((a) => a.match.test(line));
      if (rule) seen.set(rule, (seen.get(rule) ?? 0) + 1);
      else mismatches.push(line);
      if (process.env.KT_SWEEP_OUT && (!rule || process.env.KT_SWEEP_ALL)) {
        const p = paths[i] ?? '';
        detail.push({
          line,
          allowed: rule?.kind,
          conf: c.conf,
          ka: stderrOf.get(p),
          ours: ourDiagnostics(p).map((d) => d.message),
        });
      }
    }
    if (process.env.KT_SWEEP_OUT) {
      writeFileSync(
        process.env.KT_SWEEP_OUT,
        JSON.stringify(
          {
            total: cases.length,
            allowed: [...seen].map(([a, n]) => ({ rule: a.match.source, kind: a.kind, n })),
            mismatches,
            detail,
          },
          null,
          1,
        ),
      );
    }
    // KT_SWEEP_CLI=N also runs our built command line on every Nth file (node start-up makes it slow)
    const every = Number(process.env.KT_SWEEP_CLI ?? 0);
    if (every > 0) {
      const cliDiffs: string[] = [];
      for (let i = 0; i < cases.length; i += every) {
        const cli = await netns.ourCli(paths[i] ?? '');
        const ours = ourTest(paths[i] ?? '');
        if (cli !== ours) cliDiffs.push(`${cases[i]?.id}: cli ${cli}, in-process ${ours}`);
      }
      expect(cliDiffs).toEqual([]);
    }
    // the sweep covers every table; the allowlist holds only differences that still occur
    expect(cases.length).toBeGreaterThan(4000);
    expect(mismatches).toEqual([]);
    expect(ALLOWED.filter((a) => !seen.has(a)).map((a) => a.match.source)).toEqual([]);
  }, 600_000);
});
