#!/usr/bin/env node
// Entry point installed as `keepalived-ts`: runs the compiled daemon (built by `npm ci`).
// CommonJS (bin/package.json), as is dist/keepalived-ts.cjs, the one-file bundle of what -t,
// --dump-config, -v, -h and --signum need (scripts/build-bundle.mjs): loading them takes Node's
// ES module loader out of those start-ups. Without the bundle, or for daemon mode and genhash, the
// ES module dist/main.js runs as before.
const { statSync } = require('node:fs');
const { join } = require('node:path');

const argv = process.argv.slice(2);
const dist = join(__dirname, '..', 'dist');
const bundle = join(dist, 'keepalived-ts.cjs');

const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;

/** The bundle, unless missing or older than one of the dist/ files it was made from (tsc run alone). */
function loadBundle() {
  const built = mtime(bundle);
  if (built === undefined) return undefined;
  const quick = require(bundle);
  const stale = quick.bundledFrom.some((f) => (mtime(join(dist, f)) ?? Number.POSITIVE_INFINITY) > built);
  return stale ? undefined : quick;
}

/** Waits until what was written to a stream has left the process (pipes and files are synchronous on Linux). */
const flushed = (stream) =>
  stream.writableLength === 0 ? undefined : new Promise((resolve) => stream.once('drain', resolve));

/** One-shot modes exit once their output is out, instead of waiting for the compiler threads. */
async function exitNow(code) {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

async function run() {
  const quick = loadBundle();
  if (quick?.isOneShot(argv)) return exitNow(await quick.main(argv));
  const { isOneShot, main } = await import('../dist/main.js');
  const code = await main(argv);
  if (typeof code === 'number') process.exitCode = code;
  if (isOneShot(argv)) return exitNow(code);
}

run().catch((err) => {
  process.stderr.write(`keepalived-ts: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
});
