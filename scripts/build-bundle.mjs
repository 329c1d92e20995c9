// Bundles the compiled entry (dist/main.js) and the modules the one-shot modes use (-t,
// --dump-config, -v, -h, --signum: options, config pipeline, nearley, moo, ipaddr.js, tinyglobby)
// into one CommonJS file, dist/keepalived-ts.cjs, which bin/keepalived-ts.js (itself CommonJS) loads
// first: resolving and loading ~20 ES modules, and Node's ES module loader itself, took about 30 ms
// of a `-t` start-up (docs/BENCHMARKS.md, issue 4). What daemon mode and genhash load on demand
// (`import()`: VRRP, IPVS, checkers, the native addon) stays outside, imported from dist/ as before.
// Run by `npm run build` after tsc.
import { appendFile, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outfile = join(dist, 'keepalived-ts.cjs');

/** Keeps dynamic imports outside the bundle and rewrites `createRequire(import.meta.url)(X)`. */
const plugin = {
  name: 'keepalived-ts-bundle',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (a) => {
      if (a.kind !== 'dynamic-import') return undefined;
      // the path as seen from the bundle, which sits at the top of dist/
      const rel = relative(dist, resolve(a.resolveDir, a.path));
      return { path: `./${rel}`, external: true };
    });
    // CommonJS packages are loaded with createRequire so that Node skips its ESM export scan; in
    // the bundle a plain require() lets esbuild include them
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (a) => ({
      contents: (await readFile(a.path, 'utf8')).replaceAll('createRequire(import.meta.url)(', 'require('),
      loader: 'js',
      resolveDir: dirname(a.path),
    }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: [join(dist, 'main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [plugin],
  logLevel: 'warning',
  legalComments: 'inline',
  metafile: true,
});
// a warning here (e.g. an import.meta the rewrite above does not cover, empty in CommonJS) would be a
// bug of the -t path at run time: the build fails instead
if (result.warnings.length) throw new Error(`bundle: ${result.warnings.length} warning(s), see above`);
// the bin falls back to dist/main.js when one of these is newer than the bundle (tsc run alone)
const fromDist = Object.keys(result.metafile.inputs)
  .map((p) => relative(dist, resolve(root, p)))
  .filter((p) => !p.startsWith('..'));
await appendFile(outfile, `module.exports.bundledFrom = ${JSON.stringify(fromDist)};\n`);
const inputs = Object.keys(result.metafile.inputs).length;
const external = result.metafile.outputs[relative(root, outfile)]?.imports.filter((i) => i.external);
console.log(
  `dist/keepalived-ts.cjs: ${inputs} modules bundled, ${external?.filter((i) => i.path.startsWith('.')).length ?? '?'} loaded on demand from dist/`,
);
