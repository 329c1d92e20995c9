#!/usr/bin/env node
// Guard for start-up work on the `keepalived-ts` bin: records what the bin prints and returns for
// `-t` and `--dump-config` on the bench's generated file, every conf-examples/ file and every file of
// Debian's samples (plus a few option-only command lines), and compares two recordings byte for byte.
//   node bench/config/compare-output.mjs save FILE.json [-- launcher args...]
//   node bench/config/compare-output.mjs check FILE.json [-- launcher args...]
// The launcher defaults to `node bin/keepalived-ts.js`; the runs happen in a scratch directory with
// a copy of each file at a relative path, so `-f` relative paths are exercised too.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const [verb, record] = process.argv.slice(2);
if ((verb !== 'save' && verb !== 'check') || !record) {
  process.stderr.write('usage: compare-output.mjs save|check FILE.json [-- launcher args...]\n');
  process.exit(2);
}
const dash = process.argv.indexOf('--');
const launcher =
  dash > 0 ? process.argv.slice(dash + 1) : [process.execPath, join(root, 'bin/keepalived-ts.js')];

const digest = (s) => createHash('sha256').update(s).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'kt-compare-'));
const results = {};
try {
  const { generate } = await import(join(here, 'generate.mjs'));
  writeFileSync(join(dir, 'bench.conf'), generate());
  const files = ['bench.conf'];
  const sources = [join(root, 'conf-examples'), '/usr/share/doc/keepalived/samples'];
  for (const src of sources) {
    if (!existsSync(src)) continue;
    for (const f of readdirSync(src).sort()) {
      const name = `${basename(src)}--${f}`;
      copyFileSync(join(src, f), join(dir, name));
      files.push(name);
    }
  }
  const argvs = [
    ['-v'],
    ['-h'],
    ['--signum=RELOAD'],
    ['--signum=JSON'],
    ['-t', '--no-such-option'],
    ['-t', '-f', 'missing.conf'],
  ];
  for (const f of files) {
    argvs.push(['-t', '-f', f], ['--dump-config', '-f', f], ['-t', '-i', 'bench', '-f', f]);
  }
  argvs.push(['-t', '--config-test=test.log', '-f', 'samples--keepalived.conf.vrrp.routes']);
  for (const argv of argvs) {
    const r = spawnSync(launcher[0], [...launcher.slice(1), ...argv], {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    // -v names the node version and kernel, the same for both recordings on one machine; the
    // scratch directory's name appears in messages and dumps: made stable before hashing
    const out = (s) => {
      const t = s.replaceAll(dir, '<dir>');
      return t.length > 4000 ? `sha256:${digest(t)} (${t.length} chars)` : t;
    };
    results[argv.join(' ')] = {
      status: r.status,
      signal: r.signal,
      stdout: out(r.stdout),
      stderr: out(r.stderr),
    };
  }
  const log = join(dir, 'test.log');
  results.configTestLog = existsSync(log) ? readFileSync(log, 'utf8').replaceAll(dir, '<dir>') : null;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const text = `${JSON.stringify(results, null, 1)}\n`;
if (verb === 'save') {
  writeFileSync(record, text);
  console.log(`saved ${Object.keys(results).length} command lines to ${record}`);
} else {
  const before = JSON.parse(readFileSync(record, 'utf8'));
  const after = JSON.parse(text);
  let diffs = 0;
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) {
      diffs++;
      console.log(
        `DIFFERS: ${k}\n  before ${JSON.stringify(before[k])}\n  after  ${JSON.stringify(after[k])}`,
      );
    }
  }
  console.log(`${Object.keys(after).length} command lines, ${diffs} differ`);
  process.exitCode = diffs ? 1 : 0;
}
