// Compiles every grammar/*.ne into src/config/generated/*.ts with nearleyc (the grammars use
// `@preprocessor typescript`). Run by `npm run build`, hence by `npm ci` through `prepare`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/config/generated');
mkdirSync(out, { recursive: true });
const nearleyc = join(root, 'node_modules/nearley/bin/nearleyc.js');
for (const f of readdirSync(join(root, 'grammar')).filter((n) => n.endsWith('.ne'))) {
  execFileSync(
    process.execPath,
    [nearleyc, join(root, 'grammar', f), '-o', join(out, f.replace(/\.ne$/, '.ts'))],
    {
      stdio: 'inherit',
    },
  );
}
