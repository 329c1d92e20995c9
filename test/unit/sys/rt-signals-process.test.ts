/**
 * The real thing, without privileges: a Node child (the compiled daemon modules in dist/ and the
 * built addon) installs keepalived's SIGJSON / SIGSTATS_CLEAR handling; the test sends it
 * `kill(pid, 36)` and `kill(pid, 63)` as tools do, and checks that it lives on, wrote
 * keepalived.json, printed-then-cleared its statistics, and counted every signal. A child without
 * the handlers shows what the signal does otherwise: it ends the process.
 * Needs `npm run build` (dist/) and the addon (native/build).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const dist = (p: string) => pathToFileURL(join(root, 'dist', p)).href;

// The child: one VRRP instance's statistics in `inst`; a second watcher, registered after the
// daemon's, reports each signal once the daemon has handled it. It exits 0 when stdin closes.
const CHILD = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.argv[1];
const { installRtSignals, clearCounters } = await import(${JSON.stringify(dist('daemon/rt-dumps.js'))});
const { processSignals } = await import(${JSON.stringify(dist('sys/rt-signals.js'))});
const { Counters } = await import(${JSON.stringify(dist('core/counters.js'))});
const { createLogger } = await import(${JSON.stringify(dist('core/log.js'))});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const counters = new Counters();
const inst = new Counters();
inst.inc('vrrp.advert_rcvd', 7);
installRtSignals({
  dumpDir: dir,
  jsonState: () => [{ data: { iname: 'VI_1', state: 2 }, stats: { advert_rcvd: inst.get('vrrp.advert_rcvd') } }],
  writeStats: () => writeFileSync(join(dir, 'keepalived.stats'), 'Received: ' + inst.get('vrrp.advert_rcvd') + '\\n'),
  clearStats: () => clearCounters(inst),
  log: createLogger({ level: 'info', stderr: true }),
  counters,
});
const report = (signo) =>
  out({ handled: signo, rt: processSignals().stats(), counters: counters.snapshot(), inst: inst.snapshot() });
processSignals().watch(36, report);
processSignals().watch(63, report);
process.stdin.on('end', () => { out({ bye: true }); process.exit(0); });
process.stdin.resume();
out({ ready: process.pid });
`;

interface Line {
  ready?: number;
  bye?: boolean;
  handled?: number;
  rt?: { received: Record<string, number>; unwatched: number; dropped: number; errors: number };
  counters?: Record<string, number>;
  inst?: Record<string, number>;
}

/** A child speaking JSON lines; `next(pred)` resolves with the first line matching, or rejects at exit. */
function start(script: string, args: string[]) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  const waiters: { pred: (l: Line) => boolean; ok: (l: Line) => void; fail: (e: Error) => void }[] = [];
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((ok) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w.fail(new Error(`child exited (${code}, ${signal}): ${stderr}`));
      ok({ code, signal });
    }),
  );
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const l = JSON.parse(text) as Line;
    lines.push(l);
    for (const w of [...waiters])
      if (w.pred(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok(l);
      }
  });
  const next = (pred: (l: Line) => boolean) =>
    new Promise<Line>((ok, fail) => {
      if (child.exitCode !== null || child.signalCode !== null) fail(new Error(`child gone: ${stderr}`));
      else waiters.push({ pred, ok, fail });
    });
  return { child, lines, next, exited, stderr: () => stderr };
}

const children: ChildProcess[] = [];
let dir: string | undefined;
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('real-time signals in a real process', () => {
  it('dist/ and the addon are built (npm run build; npx node-gyp rebuild --directory native)', () => {
    expect(existsSync(join(root, 'dist/daemon/rt-dumps.js'))).toBe(true);
    expect(existsSync(join(root, 'native/build/Release/keepalived_ts_native.node'))).toBe(true);
  });

  it('without a handler, signal 36 ends a Node process (what the daemon must not suffer)', async () => {
    const c = start(
      "process.stdin.resume(); process.stdout.write(JSON.stringify({ ready: process.pid }) + '\\n');",
      [],
    );
    children.push(c.child);
    await c.next((l) => l.ready !== undefined);
    process.kill(c.child.pid!, 36);
    await c.exited; // stdin is still open: only the signal can have ended it
    expect(c.lines).toEqual([{ ready: c.child.pid }]);
  });

  it('survives 36 and 63, writes keepalived.json, prints then clears the stats, counts every signal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-rtsig-'));
    const c = start(CHILD, [dir]);
    children.push(c.child);
    const pid = (await c.next((l) => l.ready !== undefined)).ready!;
    expect(pid).toBe(c.child.pid);

    process.kill(pid, 36);
    let l = await c.next((x) => x.handled === 36);
    const json = join(dir, 'keepalived.json');
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual([
      { data: { iname: 'VI_1', state: 2 }, stats: { advert_rcvd: 7 } },
    ]);
    expect(statSync(json).mode & 0o777).toBe(0o600);
    expect(l.counters).toEqual({ 'signal.json': 1 });

    process.kill(pid, 63);
    l = await c.next((x) => x.handled === 63);
    expect(readFileSync(join(dir, 'keepalived.stats'), 'utf8')).toBe('Received: 7\n');
    expect(l.inst).toEqual({ 'vrrp.advert_rcvd': 0 });
    expect(l.counters).toEqual({ 'signal.json': 1, 'signal.stats_clear': 1 });

    process.kill(pid, 36);
    await c.next((x) => x.handled === 36);
    expect(JSON.parse(readFileSync(json, 'utf8'))[0].stats).toEqual({ advert_rcvd: 0 });

    // A burst, as from several scrapers at once: real-time signals queue in the kernel, each one
    // reaches the handler, and the stream socketpair holds them all until the event loop reads.
    const burst = 200;
    for (let i = 0; i < burst; i++) process.kill(pid, 36);
    l = await c.next((x) => x.handled === 36 && (x.rt?.received['36'] ?? 0) === burst + 2);
    expect(l.rt).toEqual({ received: { 36: burst + 2, 63: 1 }, unwatched: 0, dropped: 0, errors: 0 });
    expect(l.counters).toEqual({ 'signal.json': burst + 2, 'signal.stats_clear': 1 });
    expect(readdirSync(dir).sort()).toEqual(['keepalived.json', 'keepalived.stats']);

    // still alive and orderly: it exits 0 when told to
    c.child.stdin?.end();
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(c.lines.at(-1)).toEqual({ bye: true });
    expect(c.stderr()).toContain('Printing and clearing VRRP stats for process(');
  });
});
