// Stand-in for `keepalived-ts -n -l -D -f CONF -p PIDFILE` while src/daemon/run.ts does not yet
// construct LvsHost: same options, loads CONF, runs LvsHost from the compiled tree named by KT_DIST
// on the system clock; SIGTERM stops (IPVS cleaned up), SIGHUP reloads. Runs inside the kernel VM.
import { unlinkSync, writeFileSync } from 'node:fs';

const dist = process.env.KT_DIST;
const args = process.argv.slice(2);
const opt = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const conf = opt('-f');
const pidFile = opt('-p');
const { loadConfig } = await import(`${dist}/config/load.js`);
const { formatDiagnostic } = await import(`${dist}/config/diagnostics.js`);
const { LvsHost } = await import(`${dist}/daemon/lvs-host.js`);
const { ScriptResolver } = await import(`${dist}/daemon/scripts.js`);
const { systemClock } = await import(`${dist}/core/clock.js`);
const { Counters } = await import(`${dist}/core/counters.js`);
const { createLogger } = await import(`${dist}/core/log.js`);

const log = createLogger({ level: 'info', stderr: true });
const load = () => {
  const { config, diagnostics } = loadConfig(conf);
  for (const d of diagnostics) log.warn(formatDiagnostic(d));
  if (diagnostics.some((d) => d.severity === 'fatal')) throw new Error('fatal configuration errors');
  return config;
};
const config = load();
if (pidFile) writeFileSync(pidFile, `${process.pid}\n`);
const counters = new Counters();
const host = new LvsHost(config, {
  clock: systemClock,
  log,
  counters,
  scripts: await ScriptResolver.create(config, log),
});
try {
  await host.start();
} catch (e) {
  log.error(`LVS start failed: ${e.code ?? ''} ${e.message}`);
  if (pidFile) unlinkSync(pidFile);
  process.exit(1);
}
log.info('Startup complete');
process.on('SIGHUP', () => {
  host.reload(load()).catch((e) => log.error(`reload failed: ${e.message}`));
});
process.on('SIGUSR1', () => {
  writeFileSync(`${pidFile}.snapshot`, JSON.stringify(host.snapshot()));
});
process.on('SIGTERM', () => {
  host.stop().then(
    () => {
      if (pidFile) unlinkSync(pidFile);
      log.info(`Stopped keepalived-ts (counters ${JSON.stringify(counters.snapshot())})`);
      process.exit(0);
    },
    (e) => {
      log.error(`stop failed: ${e.message}`);
      process.exit(1);
    },
  );
});
