// keepalived-ts's daemon mode (the compiled dist/daemon/run.js, as bin/keepalived-ts.js runs it) with
// one host replaced by a subclass that fails, for test/net/daemon/bfd-shutdown.test.ts. The failing
// host does its real work first, so anything left running afterwards is the daemon's doing.
// Usage: node failing-daemon.mjs stop|start CONFIG DIR
//   stop:  VrrpHost.stop() stops every instance, then throws
//   start: scheduling's start() throws, after VRRP and BFD have started

import { Priorities } from '../../../dist/daemon/priorities.js';
import { runDaemon } from '../../../dist/daemon/run.js';
import { VrrpHost } from '../../../dist/daemon/vrrp-host.js';

class VrrpStopFails extends VrrpHost {
  async stop() {
    await super.stop();
    throw new Error('injected: VRRP stop failed');
  }
}

class SchedulingStartFails extends Priorities {
  start() {
    throw new Error('injected: scheduling start failed');
  }
}

const [fault, configFile, dir] = process.argv.slice(2);
const factories =
  fault === 'stop'
    ? { vrrpHost: (config, deps) => new VrrpStopFails(config, deps) }
    : { priorities: (plan, deps) => new SchedulingStartFails(plan, deps) };

runDaemon(
  {
    configFile,
    logConsole: true,
    logDetail: true,
    pidFile: `${dir}/keepalived.pid`,
    vrrpPidFile: `${dir}/vrrp.pid`,
    checkersPidFile: `${dir}/checkers.pid`,
  },
  factories,
).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`keepalived-ts: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
