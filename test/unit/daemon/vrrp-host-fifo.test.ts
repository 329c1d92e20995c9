/**
 * VrrpHost's notify FIFOs across a reload, as keepalived 2.2.7 (vrrp_daemon.c reload_vrrp_thread:
 * "Remove the notify fifo - we don't know if it will be the same after a reload"): at every reload
 * the FIFOs close (their scripts get SIGTERM, a FIFO the daemon made is removed) and those of the
 * new configuration open, scripts started again with the FIFO path. A host without instances needs
 * no raw socket, so this runs unprivileged against real FIFOs in a temporary directory.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { systemClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { silentLogger } from '../../../src/core/log.js';
import { NetState } from '../../../src/daemon/netstate.js';
import { ScriptResolver } from '../../../src/daemon/scripts.js';
import { VrrpHost } from '../../../src/daemon/vrrp-host.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-fifo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const events = join(dir, 'events.log');
const script = join(dir, 'reader.sh');
// records its start (FIFO path) and its SIGTERM, reads the FIFO meanwhile
writeFileSync(
  script,
  `#!/bin/sh
echo "start $1" >> ${events}
trap 'echo "term $1" >> ${events}; exit 0' TERM
while :; do sleep 0.05; done
`,
  { mode: 0o755 },
);

const conf = (fifo: string) => `
global_defs {
  vrrp_notify_fifo ${fifo}
  vrrp_notify_fifo_script ${script}
}
`;

let n = 0;
function load(text: string) {
  const path = join(dir, `k${n++}.conf`);
  writeFileSync(path, text);
  const { config, diagnostics } = loadConfig(path, {});
  expect(diagnostics.filter((d) => d.severity === 'fatal')).toEqual([]);
  return config;
}

const lines = () => (existsSync(events) ? readFileSync(events, 'utf8').trim().split('\n') : []);
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!ok()) throw new Error(`never saw: ${what} (events: ${lines().join(' | ')})`);
}

describe('VrrpHost notify FIFOs on reload (keepalived 2.2.7)', () => {
  it('closes and reopens them at every reload: script restarted, a FIFO it made removed when dropped', async () => {
    const f1 = join(dir, 'one.fifo');
    const f2 = join(dir, 'two.fifo');
    const first = load(conf(f1));
    const log = silentLogger;
    const counters = new Counters();
    const net = await NetState.open({ log, counters });
    const scripts = await ScriptResolver.create(first, log);
    const host = new VrrpHost(first, { clock: systemClock, log, counters, net, scripts });
    try {
      await host.start();
      expect(statSync(f1).isFIFO()).toBe(true);
      await until('script started on one.fifo', () => lines().includes(`start ${f1}`));

      // same FIFO: keepalived still closes it (script SIGTERM) and opens it again
      await host.reload(load(conf(f1)));
      await until(
        'script restarted on one.fifo',
        () => lines().filter((l) => l === `start ${f1}`).length === 2,
      );
      expect(lines()).toEqual([`start ${f1}`, `term ${f1}`, `start ${f1}`]);
      expect(statSync(f1).isFIFO()).toBe(true);

      // another FIFO: the old one (ours) goes, the new one is made, the script follows it
      await host.reload(load(conf(f2)));
      await until('script started on two.fifo', () => lines().includes(`start ${f2}`));
      expect(lines()).toEqual([`start ${f1}`, `term ${f1}`, `start ${f1}`, `term ${f1}`, `start ${f2}`]);
      expect(existsSync(f1)).toBe(false);
      expect(statSync(f2).isFIFO()).toBe(true);
    } finally {
      await host.stop();
      net.close();
    }
    expect(lines().at(-1)).toBe(`term ${f2}`);
    expect(existsSync(f2)).toBe(false);
  });
});
