#!/usr/bin/env node
// Runs every benchmark script (bench/<area>/*.mjs) in turn, each side by side with Debian's
// keepalived where the benchmark has a keepalived counterpart, then prints the summary of
// bench/results/*.json. Usage: npm run bench [-- AREA ...]   (needs `npm run build` first; root).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
if (!existsSync(join(here, '..', 'dist', 'main.js'))) {
  console.error('bench: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
mkdirSync(join(here, 'results'), { recursive: true });
let failed = 0;
for (const area of readdirSync(here).sort()) {
  const dir = join(here, area);
  if (area === 'results' || !statSync(dir).isDirectory()) continue;
  if (only.length && !only.includes(area)) continue;
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith('.mjs'))
    .sort()) {
    console.log(`\n== bench ${area}/${f}`);
    const r = spawnSync(process.execPath, [join(dir, f)], { stdio: 'inherit' });
    if (r.status !== 0) {
      failed++;
      console.error(`bench ${area}/${f} exited ${r.status ?? r.signal}`);
    }
  }
}
console.log('\n== summary (bench/results/*.json)');
for (const f of readdirSync(join(here, 'results'))
  .filter((n) => n.endsWith('.json'))
  .sort()) {
  console.log(`${f}: ${readFileSync(join(here, 'results', f), 'utf8').trim()}`);
}
process.exit(failed ? 1 : 0);
