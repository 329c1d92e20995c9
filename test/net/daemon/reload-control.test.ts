/**
 * global_defs reload keywords in a running keepalived-ts (as keepalived 2.2.7 behaves, observed in
 * a namespace): with reload_check_config a SIGHUP whose new file fails the config test keeps the
 * running configuration, logs "New config failed validation, see LOG for details" and leaves the
 * test's messages in LOG; a passing one reloads; reload_file is gone once each reload has read the
 * file (and a stale one is removed at start); reload_time_file schedules a reload that happens
 * without a signal and removes the file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { needLab } from '../../lab/gates.js';
import { keepalivedTsCommand } from '../../lab/node.js';
import { waitFor, waitForHolders } from '../../lab/observe.js';
import { createTopology, type Topology } from '../../lab/topology.js';
import { describeIf } from '../../support/privilege.js';

const config = (dir: string, vip: string, extra = '', broken = false) => `
global_defs {
  reload_check_config ${join(dir, 'check.log')}
  reload_file ${join(dir, 'reloading')}
  reload_time_file ${join(dir, 'reload-at')}
  ${extra}
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  ${broken ? '' : 'virtual_router_id 73'}
  priority 255
  advert_int 1
  virtual_ipaddress {
    ${vip}/24
  }
}
`;

/** HH:MM:SSZ `s` seconds from now. */
const utcIn = (s: number) => `${new Date(Date.now() + s * 1000).toISOString().slice(11, 19)}Z`;

describeIf(
  'reload_check_config, reload_file and reload_time_file of a running keepalived-ts',
  needLab,
  () => {
    let topo: Topology | undefined;

    beforeAll(async () => {
      topo = await createTopology({ nodes: [{ name: 'r', links: [{ addrs: ['192.0.2.1/24'] }] }] });
    });

    afterAll(async () => {
      await topo?.destroy();
    });

    it('a failing check keeps the running configuration; a passing one and a scheduled time reload', async () => {
      const r = topo!.node('r');
      const name = 'ka-reloadctl';
      const dir = join(r.dir, name);
      const h = r.startDaemon({ command: keepalivedTsCommand(), config: config(dir, '192.0.2.81'), name });
      await waitForHolders([r], '192.0.2.81', ['r'], 15_000);
      const reloaded = () => (h.proc.output().match(/Reload complete/g) ?? []).length;

      // a new file the config test fails (no virtual_router_id): nothing changes
      writeFileSync(h.configPath, config(dir, '192.0.2.82', '', true));
      h.proc.signal('SIGHUP');
      await waitFor({
        what: 'the failed validation line',
        timeoutMs: 10_000,
        probe: async () => (h.proc.output().includes('New config failed validation') ? true : undefined),
      });
      expect(h.proc.output()).toContain(
        `New config failed validation, see ${join(dir, 'check.log')} for details`,
      );
      expect(readFileSync(join(dir, 'check.log'), 'utf8')).toMatch(/virtual_router_id/);
      expect(reloaded()).toBe(0);
      expect(await r.hasAddress('192.0.2.81')).toBe(true);
      expect(await r.hasAddress('192.0.2.82')).toBe(false);
      expect(existsSync(join(dir, 'reloading'))).toBe(false);

      // a passing one: reloaded, the check log emptied
      writeFileSync(h.configPath, config(dir, '192.0.2.83'));
      h.proc.signal('SIGHUP');
      await waitForHolders([r], '192.0.2.83', ['r'], 15_000);
      // "Reload complete" is logged once the checker side has reloaded too, after the VIPs
      await waitFor({
        what: 'the first reload',
        timeoutMs: 10_000,
        probe: async () => (reloaded() === 1 ? true : undefined),
      });
      expect(readFileSync(join(dir, 'check.log'), 'utf8')).toBe('');
      expect(existsSync(join(dir, 'reloading'))).toBe(false);

      // a reload at a time written to reload_time_file, no signal
      writeFileSync(h.configPath, config(dir, '192.0.2.84'));
      writeFileSync(join(dir, 'reload-at'), `${utcIn(3)}\n`);
      await waitFor({
        what: 'the scheduled reload',
        timeoutMs: 15_000,
        probe: async () => (reloaded() === 2 ? true : undefined),
      });
      expect(h.proc.output()).toMatch(/Scheduling reload for \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      await waitForHolders([r], '192.0.2.84', ['r'], 15_000);
      expect(existsSync(join(dir, 'reload-at'))).toBe(false);

      // a time that is moved away, then cancelled by removing the file: no reload
      writeFileSync(join(dir, 'reload-at'), `${utcIn(2)}\n`);
      await waitFor({
        what: 'the second schedule',
        timeoutMs: 10_000,
        probe: async () =>
          (h.proc.output().match(/Scheduling reload for/g) ?? []).length === 2 ? true : undefined,
      });
      writeFileSync(join(dir, 'reload-at'), `${utcIn(3600)}\n`);
      await waitFor({
        what: 'the moved time',
        timeoutMs: 10_000,
        probe: async () => (h.proc.output().includes('Reload time updated from') ? true : undefined),
      });
      await new Promise((res) => setTimeout(res, 3000));
      expect(reloaded()).toBe(2);
      expect(h.proc.running).toBe(true);
      await h.proc.stop();
    });

    it('removes a stale reload_file at start', async () => {
      const r = topo!.node('r');
      const name = 'ka-stale';
      const dir = join(r.dir, name);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'reloading'), '');
      const h = r.startDaemon({ command: keepalivedTsCommand(), config: config(dir, '192.0.2.85'), name });
      await waitForHolders([r], '192.0.2.85', ['r'], 15_000);
      expect(existsSync(join(dir, 'reloading'))).toBe(false);
      await h.proc.stop();
    });

    it('with reload_check_config, a start-up configuration with errors stops the daemon (exit 2), as keepalived', async () => {
      const r = topo!.node('r');
      const name = 'ka-startcheck';
      const dir = join(r.dir, name);
      // an unknown keyword: keepalived -t exits 5; keepalived itself runs it unless reload_check_config
      const text = config(dir, '192.0.2.86', 'no_such_keyword 1');
      const h = r.startDaemon({ command: keepalivedTsCommand(), config: text, name });
      const info = await h.proc.exited;
      expect(info.code).toBe(2);
      expect(h.proc.output()).toMatch(
        /reload_check_config is set: exited with permanent error CONFIG\. Terminating/,
      );
      expect(await r.hasAddress('192.0.2.86')).toBe(false);
      // the same file without reload_check_config runs
      const h2 = r.startDaemon({
        command: keepalivedTsCommand(),
        config: text.replace(/reload_check_config .*\n/, ''),
        name: 'ka-startnocheck',
      });
      await waitForHolders([r], '192.0.2.86', ['r'], 15_000);
      await h2.proc.stop();
    });
  },
);
