// Runs a VrrpHost from the compiled daemon inside a lab node (as src/daemon/run.ts builds it) and
// feeds it BFD session states as src/daemon/bfd-host.ts does, for test/net/bfd/vrrp-host.test.ts.
// Usage: node vrrp-host-driver.mjs CONFIG
// stdin, one command a line: `bfd NAME up|down` (VrrpHost.setBfdState), `show`, `stop`.
// stdout, one JSON line per command: { seq, instances: VrrpHost.snapshot() } (`stop`: { seq, stopped }).
import { createInterface } from 'node:readline';
import { loadConfig } from '../../../dist/config/load.js';
import { systemClock } from '../../../dist/core/clock.js';
import { Counters } from '../../../dist/core/counters.js';
import { createLogger } from '../../../dist/core/log.js';
import { NetState } from '../../../dist/daemon/netstate.js';
import { ScriptResolver } from '../../../dist/daemon/scripts.js';
import { VrrpHost } from '../../../dist/daemon/vrrp-host.js';

const { config, diagnostics } = loadConfig(process.argv[2], {});
const fatal = diagnostics.filter((d) => d.severity === 'fatal');
if (fatal.length > 0) throw new Error(JSON.stringify(fatal));
const log = createLogger({ level: 'info', stderr: true });
const counters = new Counters();
const net = await NetState.open({ log, counters });
const scripts = await ScriptResolver.create(config, log);
const host = new VrrpHost(config, { clock: systemClock, log, counters, net, scripts });
await host.start();

let seq = 0;
const out = (o) => process.stdout.write(`${JSON.stringify({ seq: seq++, ...o })}\n`);
out({ instances: host.snapshot() });
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, name, state] = line.trim().split(/\s+/);
  if (cmd === 'bfd') {
    host.setBfdState(name, state === 'up');
    out({ instances: host.snapshot() });
  } else if (cmd === 'show') {
    out({ instances: host.snapshot() });
  } else if (cmd === 'stop') {
    await host.stop();
    net.close();
    out({ stopped: true });
    break;
  }
}
