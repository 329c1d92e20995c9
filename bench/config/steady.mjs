#!/usr/bin/env node
// Steady-state CPU per config load on the bench file of parse.mjs (for before/after comparisons
// on a busy machine: CPU time, not wall time). `node bench/config/steady.mjs [loads] [warmup]`;
// KT_BENCH_FILE=path writes the generated file there and exits (for callgrind / whole-process runs).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
if (process.env.KT_BENCH_FILE) {
  writeFileSync(process.env.KT_BENCH_FILE, generate());
  process.exit(0);
}
const { loadConfig, sysfsInterfaceExists, systemScriptEnv } = await import(join(root, 'dist/config/load.js'));
const loads = Number(process.argv[2] ?? 20);
const warmup = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-config-'));
try {
  const file = join(dir, 'keepalived.conf');
  writeFileSync(file, generate());
  const cpu = [];
  const wall = [];
  for (let i = 0; i < loads + warmup; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    loadConfig(file, { configId: 'bench', interfaceExists: sysfsInterfaceExists, scripts: systemScriptEnv });
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    if (i === 0)
      console.log(
        `first load: ${(Number(t1 - t0) / 1e6).toFixed(1)} ms wall, ${((c.user + c.system) / 1e3).toFixed(1)} ms CPU`,
      );
    if (i >= warmup) {
      cpu.push((c.user + c.system) / 1e3);
      wall.push(Number(t1 - t0) / 1e6);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const min = (xs) => Math.min(...xs);
  console.log(
    `steady (${loads} loads after ${warmup}): CPU median ${med(cpu).toFixed(1)} ms, min ${min(cpu).toFixed(1)} ms; wall median ${med(wall).toFixed(1)} ms, min ${min(wall).toFixed(1)} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
