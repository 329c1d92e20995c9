#!/usr/bin/env node
// The slow test tiers, as `npm test` runs them: the kernel tier (one IPVS VM under qemu/TCG, busy on
// one core) beside the net tier then the interop tier (network namespaces, mostly waiting on
// protocol timers), so a CI run stays within its time. Each tier keeps its files sequential
// (vitest.config.ts). The kernel tier's output is printed when it ends, so the logs do not
// interleave. Every tier runs; the exit code is 1 if any failed.
import { execa } from 'execa';

const vitest = (project, opts) =>
  execa('vitest', ['run', '--project', project], { preferLocal: true, reject: false, ...opts });

const kernel = vitest('kernel', { all: true, env: { FORCE_COLOR: process.env.FORCE_COLOR ?? '1' } });
const net = await vitest('net', { stdio: 'inherit' });
const interop = await vitest('interop', { stdio: 'inherit' });
const k = await kernel;
process.stdout.write(`\n--- kernel tier (ran beside net and interop) ---\n${k.all ?? ''}\n`);
const failed = Object.entries({ net, interop, kernel: k }).filter(([, r]) => r.exitCode !== 0);
for (const [name, r] of failed)
  process.stderr.write(`test tier ${name} failed (exit ${r.exitCode ?? r.signal})\n`);
process.exit(failed.length > 0 ? 1 : 0);
