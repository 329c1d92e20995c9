/**
 * reload_time_file times as keepalived's parse_datetime reads them, the monitor's scheduling, moves,
 * cancellations and firing with keepalived's log lines (fake clock, fake directory watcher, real
 * files), reload_file, the reload keywords read from global_defs, and the settings a reload refuses.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import type { Logger } from '../../../src/core/log.js';
import {
  createReloadFile,
  DEFAULT_RELOAD_FILE,
  formatLocalTime,
  parseReloadTime,
  ReloadTimeMonitor,
  reloadSettings,
  removeReloadFile,
  unsupportedReloadChanges,
} from '../../../src/daemon/reload-control.js';

const NOW_UTC = Date.UTC(2026, 10, 23, 16, 0, 0); // 2026-11-23 16:00:00Z

describe('parseReloadTime', () => {
  it('a UTC time later today, and one already passed (tomorrow)', () => {
    expect(parseReloadTime('17:30:05Z', NOW_UTC)).toEqual({
      ok: true,
      at: Date.UTC(2026, 10, 23, 17, 30, 5),
      dateSpecified: false,
    });
    expect(parseReloadTime('15:00:00Z', NOW_UTC)).toEqual({
      ok: true,
      at: Date.UTC(2026, 10, 24, 15, 0, 0),
      dateSpecified: false,
    });
    // exactly now is not in the future
    expect(parseReloadTime('16:00:00Z', NOW_UTC)).toMatchObject({ at: Date.UTC(2026, 10, 24, 16, 0, 0) });
    // the last day of a month rolls into the next
    expect(parseReloadTime('01:00:00Z', Date.UTC(2026, 10, 30, 12))).toMatchObject({
      at: Date.UTC(2026, 11, 1, 1, 0, 0),
    });
  });

  it('dates with two- and four-digit years', () => {
    expect(parseReloadTime('2026-12-01 08:00:00Z', NOW_UTC)).toEqual({
      ok: true,
      at: Date.UTC(2026, 11, 1, 8),
      dateSpecified: true,
    });
    expect(parseReloadTime('27-01-02 03:04:05Z', NOW_UTC)).toMatchObject({
      at: Date.UTC(2027, 0, 2, 3, 4, 5),
    });
  });

  it('local time without Z', () => {
    const now = new Date(2026, 10, 23, 10, 0, 0).getTime();
    expect(parseReloadTime('11:15:00', now)).toMatchObject({
      at: new Date(2026, 10, 23, 11, 15, 0).getTime(),
    });
    expect(parseReloadTime('2026-11-25 09:00:00', now)).toMatchObject({
      at: new Date(2026, 10, 25, 9).getTime(),
    });
    expect(formatLocalTime(new Date(2026, 0, 2, 3, 4, 5).getTime())).toBe('2026-01-02 03:04:05');
  });

  it('keepalived refuses a bad length, bad fields, a normalised date and the past, with its words', () => {
    expect(parseReloadTime('1:00', NOW_UTC)).toEqual({
      ok: false,
      past: false,
      lines: [
        'Reload time 1:00 format is incorrect - ignoring',
        "Invalid reload time '1:00' specified - ignoring",
      ],
    });
    expect(parseReloadTime('25:00:00Z', NOW_UTC)).toMatchObject({
      ok: false,
      lines: [
        'Reload date/time 25:00:00Z invalid - ignoring',
        "Invalid reload time '25:00:00Z' specified - ignoring",
      ],
    });
    expect(parseReloadTime('ab:cd:efZ', NOW_UTC)).toMatchObject({
      lines: ['Reload date/time ab:cd:efZ invalid - ignoring', expect.any(String)],
    });
    expect(parseReloadTime('2027-02-30 10:00:00Z', NOW_UTC)).toMatchObject({
      ok: false,
      lines: ['Reload time 2027-02-30 10:00:00Z is not valid - ignoring', expect.any(String)],
    });
    expect(parseReloadTime('12:00:60Z', NOW_UTC)).toMatchObject({
      lines: ['Reload time 12:00:60Z is not valid - ignoring', expect.any(String)],
    });
    expect(parseReloadTime('2026-11-23 15:59:59Z', NOW_UTC)).toEqual({
      ok: false,
      past: true,
      lines: [
        'Reload time 2026-11-23 15:59:59Z is in the past - ignoring',
        'Reload date/time is in the past - ignoring',
      ],
    });
  });
});

function capture() {
  const lines: string[] = [];
  const push = (a: unknown, b?: unknown) => lines.push(String(typeof a === 'string' ? a : b));
  const log = { info: push, warn: push, debug: push, error: push } as unknown as Logger;
  return { log, lines };
}

describe('ReloadTimeMonitor', () => {
  let dir: string;
  let file: string;
  let clock: FakeClock;
  let wall: number;
  let notify: () => void;
  let reloads: number;
  let closed: number;
  const counters = new Counters();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kt-rtime-'));
    file = join(dir, 'reload-at');
    clock = new FakeClock();
    wall = NOW_UTC;
    reloads = 0;
    closed = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const monitor = (repeat = false) => {
    const c = capture();
    const m = new ReloadTimeMonitor({
      path: file,
      repeat,
      log: c.log,
      counters,
      clock,
      wallNow: () => wall + Math.floor((clock.now() - 1_000_000) / 1000),
      onReload: () => reloads++,
      settleMs: 10,
      watchDir: (d, onEvent) => {
        expect(d).toBe(dir);
        notify = onEvent;
        return { close: () => closed++ };
      },
    });
    return { m, lines: c.lines };
  };
  const write = (text: string) => {
    writeFileSync(file, text);
    notify();
    clock.advance(10_000);
  };

  it('schedules from a file present at start, fires once, removes the file and stops watching', () => {
    writeFileSync(file, '2026-11-23 16:00:05Z\n');
    const { m, lines } = monitor();
    m.start();
    expect(lines).toEqual([`Scheduling reload for ${formatLocalTime(Date.UTC(2026, 10, 23, 16, 0, 5))}`]);
    expect(m.reloadAt).toBe(Date.UTC(2026, 10, 23, 16, 0, 5));
    clock.advance(4_999_000);
    expect(reloads).toBe(0);
    clock.advance(1_000);
    expect(reloads).toBe(1);
    expect(existsSync(file)).toBe(false);
    expect(closed).toBe(1);
    m.stop();
  });

  it('moves a scheduled reload, cancels it when the file goes or turns invalid, ignores a rewrite of the same time', () => {
    const { m, lines } = monitor();
    m.start();
    expect(lines).toEqual([]);
    write('16:10:00Z');
    write('16:10:00Z\n');
    write('16:20:00Z');
    const t1 = formatLocalTime(Date.UTC(2026, 10, 23, 16, 10));
    const t2 = formatLocalTime(Date.UTC(2026, 10, 23, 16, 20));
    expect(lines).toEqual([`Scheduling reload for ${t1}`, `Reload time updated from ${t1} to ${t2}`]);
    rmSync(file);
    notify();
    clock.advance(10_000);
    expect(lines.at(-1)).toBe(`Cancelling reload scheduled for ${t2}`);
    expect(m.reloadAt).toBe(0);
    write('16:30:00Z');
    write('tomorrow');
    expect(lines.slice(-3)).toEqual([
      'Reload date/time tomorrow invalid - ignoring',
      "Invalid reload time 'tomorrow' specified - ignoring",
      `Cancelling reload scheduled for ${formatLocalTime(Date.UTC(2026, 10, 23, 16, 30))}`,
    ]);
    clock.advance(3_600_000_000);
    expect(reloads).toBe(0);
    m.stop();
  });

  it('several events while a file is written are read once, after they settle', () => {
    const { m, lines } = monitor();
    m.start();
    writeFileSync(file, '');
    notify();
    clock.advance(5_000);
    writeFileSync(file, '16:05:00Z');
    notify();
    clock.advance(10_000);
    expect(lines).toEqual([`Scheduling reload for ${formatLocalTime(Date.UTC(2026, 10, 23, 16, 5))}`]);
    m.stop();
  });

  it('reload_repeat keeps a time-only file (the next reload is tomorrow), not a dated one', () => {
    const { m } = monitor(true);
    m.start();
    write('16:00:02Z');
    clock.advance(2_000_000);
    expect(reloads).toBe(1);
    expect(existsSync(file)).toBe(true);
    m.stop();
    const second = monitor(true);
    second.m.start();
    expect(second.lines).toEqual([
      `Scheduling reload for ${formatLocalTime(Date.UTC(2026, 10, 24, 16, 0, 2))}`,
    ]);
    write('2026-11-23 16:00:05Z');
    clock.advance(3_000_000);
    expect(reloads).toBe(2);
    expect(existsSync(file)).toBe(false);
    second.m.stop();
  });

  it('stop cancels silently; the directory going away stops monitoring', () => {
    const { m, lines } = monitor();
    m.start();
    write('16:10:00Z');
    m.stop();
    expect(lines).toHaveLength(1);
    clock.advance(3_600_000_000);
    expect(reloads).toBe(0);

    // an hour later on the wall clock
    const again = monitor();
    again.m.start();
    write('18:10:00Z');
    rmSync(dir, { recursive: true, force: true });
    notify();
    clock.advance(10_000);
    expect(again.lines.slice(-2)).toEqual([
      `Cancelling reload scheduled for ${formatLocalTime(Date.UTC(2026, 10, 23, 18, 10))}`,
      'Directory of reload timer file has disappeared. Monitoring stopped.',
    ]);
  });

  it('a directory that cannot be watched is logged as keepalived does', () => {
    const c = capture();
    const m = new ReloadTimeMonitor({
      path: '/nonexistent-kt/dir/at',
      repeat: false,
      log: c.log,
      clock,
      onReload: () => reloads++,
    });
    m.start();
    expect(c.lines).toEqual(['Unable to monitor reload timer file directory /nonexistent-kt/dir- ignoring']);
    m.stop();
  });
});

describe('reload settings', () => {
  const conf = (g: string, top = '') => {
    const d = mkdtempSync(join(tmpdir(), 'kt-rconf-'));
    try {
      writeFileSync(join(d, 'k.conf'), `${top}\nglobal_defs {\n${g}\n}\n`);
      return loadConfig(join(d, 'k.conf')).config;
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  };

  it('reads reload_check_config, reload_file, reload_time_file and reload_repeat with their defaults', () => {
    expect(reloadSettings(conf(''))).toEqual({
      checkLog: undefined,
      reloadFile: undefined,
      timeFile: undefined,
      repeat: false,
    });
    expect(
      reloadSettings(conf('reload_check_config\nreload_file\nreload_time_file /run/at\nreload_repeat')),
    ).toEqual({ checkLog: '/dev/null', reloadFile: DEFAULT_RELOAD_FILE, timeFile: '/run/at', repeat: true });
    expect(
      reloadSettings(conf('reload_check_config /var/log/ka-check\nreload_file /run/ka.reload')),
    ).toMatchObject({
      checkLog: '/var/log/ka-check',
      reloadFile: '/run/ka.reload',
    });
  });

  it('refuses to change the namespace, instance or disable_local_igmp at a reload', () => {
    expect(unsupportedReloadChanges(conf('router_id a'), conf('router_id b'))).toEqual([]);
    expect(unsupportedReloadChanges(conf('', 'instance one'), conf('', 'instance two'))).toEqual([
      'Cannot change instance name at a reload - please restart keepalived',
    ]);
    expect(unsupportedReloadChanges(conf(''), conf('disable_local_igmp', 'net_namespace blue'))).toEqual([
      'Cannot change network namespace at a reload - please restart keepalived',
      'Cannot change disable_local_igmp at a reload - please restart keepalived',
    ]);
  });

  it('reload_file is created rw-r--r-- whatever the umask and removed; failures are counted', () => {
    const d = mkdtempSync(join(tmpdir(), 'kt-rfile-'));
    const counters = new Counters();
    const c = capture();
    const old = process.umask(0o077);
    try {
      createReloadFile(join(d, 'r'), c.log, counters);
      expect(statSync(join(d, 'r')).mode & 0o777).toBe(0o644);
      removeReloadFile(join(d, 'r'), counters);
      expect(existsSync(join(d, 'r'))).toBe(false);
      removeReloadFile(join(d, 'r'), counters);
      createReloadFile(join(d, 'no', 'r'), c.log, counters);
      expect(counters.get('daemon.reload_file_errors')).toBe(1);
      expect(c.lines[0]).toMatch(/^Failed to create reload file \(.*\/no\/r\) - ENOENT/);
    } finally {
      process.umask(old);
      rmSync(d, { recursive: true, force: true });
    }
  });
});
