// Runs a VrrpHost from the compiled daemon inside a lab node, as run.ts does, and applies
// VrrpHost.reload() on SIGHUP (run.ts does not call it yet). Prints one JSON line per event on stdout.
// Usage: node reload-driver.mjs CONFIG
import { loadConfig } from '../../../dist/config/load.js';
import { systemClock } from '../../../dist/core/clock.js';
import { Counters } from '../../../dist/core/counters.js';
import { createLogger } from '../../../dist/core/log.js';
import { NetState } from '../../../dist/daemon/netstate.js';
import { ScriptResolver } from '../../../dist/daemon/scripts.js';
import { VrrpHost } from '../../../dist/daemon/vrrp-host.js';

const path = process.argv[2];
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const load = () => {
  const { config, diagnostics } = loadConfig(path, {});
  const fatal = diagnostics.filter((d) => d.severity === 'fatal');
  if (fatal.length > 0) throw new Error(JSON.stringify(fatal));
  return config;
};
const log = createLogger({ level: 'info', stderr: true });
const config = load();
const counters = new Counters();
const net = await NetState.open({ log, counters });
const scripts = await ScriptResolver.create(config, log);
const host = new VrrpHost(config, { clock: systemClock, log, counters, net, scripts });
await host.start();
out({ event: 'started', pid: process.pid });
process.on('SIGHUP', async () => {
  const plan = await host.reload(load());
  out({
    event: 'reloaded',
    kept: plan.kept.map((k) => ({
      name: k.next.name,
      added: k.vipsAdded.map((v) => v.address),
      removed: k.vipsRemoved.map((v) => v.address),
      changed: k.changed,
      unapplied: k.unapplied,
    })),
    added: plan.added.map((c) => c.name),
    removed: plan.removed.map((c) => c.name),
  });
});
process.on('SIGUSR1', () => out({ event: 'snapshot', instances: host.snapshot() }));
process.on('SIGTERM', async () => {
  await host.stop();
  net.close();
  out({ event: 'stopped' });
  process.exit(0);
});
