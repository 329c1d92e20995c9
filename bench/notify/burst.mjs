#!/usr/bin/env node
// A burst of notify scripts (1,000 instances changing state together, one script each) while a
// 10 ms interval timer stands in for the advert timers: how late the timer runs during the burst
// (the event loop stall), and how long the launches take. No keepalived counterpart (keepalived
// forks from C in its own VRRP process); writes bench/results/notify.json.
// Needs `npm run build` first (imports dist/).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { ScriptRunner } = await import(join(root, 'dist/notify/script.js'));
const N = Number(process.env.BENCH_SCRIPTS ?? 1000);

const dir = mkdtempSync(join(tmpdir(), 'kt-bench-notify-'));
try {
  const script = join(dir, 'notify.sh');
  writeFileSync(script, '#!/bin/sh\nexit 0\n');
  chmodSync(script, 0o755);
  let lastStart = 0;
  const runner = new ScriptRunner({
    onEvent: (e) => {
      if (e.type === 'start') lastStart = performance.now();
    },
  });
  // the stand-in advert timer: lateness of each 10 ms tick
  const late = [];
  let expected = performance.now() + 10;
  const timer = setInterval(() => {
    const now = performance.now();
    late.push(now - expected);
    expected = now + 10;
  }, 10);
  await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  const runs = [];
  for (let i = 0; i < N; i++) {
    runs.push(
      runner.run({ name: `notify_master(VI_${i})`, argv: [script] }, [
        'INSTANCE',
        `VI_${i}`,
        'MASTER',
        '100',
      ]),
    );
  }
  const results = await Promise.all(runs);
  const allDone = performance.now();
  clearInterval(timer);
  const ok = results.filter((r) => r.outcome.kind === 'exit' && r.outcome.code === 0).length;
  const sorted = [...late].sort((a, b) => a - b);
  const result = {
    scripts: N,
    succeeded: ok,
    launchMs: Number((lastStart - t0).toFixed(1)),
    allEndedMs: Number((allDone - t0).toFixed(1)),
    timerTicks: late.length,
    timerMaxLateMs: Number(sorted.at(-1).toFixed(1)),
    timerP99LateMs: Number(sorted[Math.floor(sorted.length * 0.99)].toFixed(1)),
    node: process.version,
  };
  console.log(
    `notify burst: ${N} scripts (${ok} exit 0), launched over ${result.launchMs} ms, all ended after ${result.allEndedMs} ms; a 10 ms timer ran ${late.length} times, at most ${result.timerMaxLateMs} ms late (p99 ${result.timerP99LateMs} ms)`,
  );
  mkdirSync(join(here, '..', 'results'), { recursive: true });
  writeFileSync(join(here, '..', 'results', 'notify.json'), `${JSON.stringify(result)}\n`);
  if (ok !== N) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
