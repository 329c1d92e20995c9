/**
 * LvsHost over the in-memory IPVS (FakeIpvs) with checker attempts answered by a fake runner on a
 * FakeClock: checker results move real servers in and out of the table (or to weight 0 with
 * inhibit_on_failure), the sorry server takes over when quorum is lost, notify and quorum scripts
 * run (real processes: /bin/echo through ScriptRunner), the lvs_notify_fifo gets keepalived's lines,
 * reload keeps check state, stop removes only what the configuration created.
 */
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Runner } from '../../../src/check/index.js';
import type { CheckSpec } from '../../../src/check/types.js';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { LvsHost, type LvsHostDeps } from '../../../src/daemon/lvs-host.js';
import { createRegistry, type LvsSnapshot } from '../../../src/daemon/metrics.js';
import { ScriptResolver } from '../../../src/daemon/scripts.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { describeOp } from '../../../src/ipvs/types.js';
import { ScriptRunner } from '../../../src/notify/script.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-lvs-host-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIFO = join(dir, 'lvs.fifo');

const checker =
  'TCP_CHECK {\n        connect_timeout 1\n        retry 1\n        delay_before_retry 1\n      }';

/** Three virtual servers: sorry_server + quorum scripts, inhibit_on_failure, alpha. */
function confText(weight12 = 2): string {
  return `
global_defs {
  lvs_notify_fifo ${FIFO}
}
virtual_server 192.0.2.10 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 2
  sorry_server 192.0.2.99 80
  quorum_up "/bin/echo quorum-up 10"
  quorum_down "/bin/echo quorum-down 10"
  real_server 192.0.2.11 80 {
    weight 1
    notify_up "/bin/echo up 11"
    notify_down "/bin/echo down 11"
    ${checker}
  }
  real_server 192.0.2.12 80 {
    weight ${weight12}
    ${checker}
  }
}
virtual_server 192.0.2.20 80 {
  delay_loop 2
  lb_algo wrr
  lb_kind DR
  protocol TCP
  inhibit_on_failure
  real_server 192.0.2.21 80 {
    weight 3
    ${checker}
  }
  real_server 192.0.2.22 80 {
    weight 4
  }
}
virtual_server 192.0.2.30 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  alpha
  real_server 192.0.2.31 80 {
    ${checker}
  }
}
`;
}

function load(text: string): KeepalivedConfig {
  const path = join(dir, `k${Math.random().toString(16).slice(2)}.conf`);
  writeFileSync(path, text);
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  const bad = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal');
  if (bad.length > 0) throw new Error(JSON.stringify(bad));
  return config;
}

const US = 1_000_000;

interface World {
  clock: FakeClock;
  ipvs: FakeIpvs;
  host: LvsHost;
  down: Set<string>;
  scripts: string[];
  attempts: string[];
  counters: Counters;
  fifo: number;
}

const settle = async () => {
  for (let i = 0; i < 8; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Moves the fake clock forward in 100 ms steps, letting checker results and reconciles land. */
async function step(w: World, seconds: number) {
  for (let t = 0; t < seconds * 10; t++) {
    w.clock.advance(US / 10);
    await settle();
  }
}

/** `addr=weight` of each destination of a service, sorted. */
async function dests(w: World, vip: string): Promise<string[] | undefined> {
  return (await w.ipvs.readTable())
    .get(`tcp ${vip}:80`)
    ?.dests.map((d) => `${d.addr}=${d.weight}`)
    .sort();
}

/** Waits (real time) until the script runner has started `n` scripts. */
async function scriptsStarted(w: World, n: number) {
  for (let i = 0; i < 200 && w.scripts.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return [...w.scripts].sort();
}

function fifoLines(w: World): string[] {
  const buf = Buffer.alloc(65536);
  let text = '';
  for (;;) {
    let n = 0;
    try {
      n = readSync(w.fifo, buf, 0, buf.length, null);
    } catch {
      break; // EAGAIN: nothing more
    }
    if (n <= 0) break;
    text += buf.subarray(0, n).toString();
  }
  return text.split('\n').filter((l) => l !== '');
}

let w: World;

/**
 * At start the two virtual servers that reach their quorum notify it (keepalived's init_service_vs);
 * the third (alpha, no sorry server) starts below it silently. Then the alpha real server's first
 * success: it comes up and its VS gains quorum.
 */
const ALPHA_UP = [
  'VS [192.0.2.10]:tcp:80 UP',
  'VS [192.0.2.20]:tcp:80 UP',
  'RS [192.0.2.31]:tcp:80 [192.0.2.30]:tcp:80 UP',
  'VS [192.0.2.30]:tcp:80 UP',
];
/** The quorum_up of 192.0.2.10, run at start. */
const START_SCRIPT = '/bin/echo quorum-up 10';

async function makeWorld(extra: Partial<LvsHostDeps> = {}, text = confText()): Promise<World> {
  const config = load(text);
  const clock = new FakeClock();
  const ipvs = new FakeIpvs();
  const down = new Set<string>();
  const attempts: string[] = [];
  const scripts: string[] = [];
  const runner: Runner = async (spec: CheckSpec) => {
    const target = 'connectIp' in spec ? spec.connectIp : '';
    attempts.push(target);
    return down.has(target)
      ? { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', `connect to ${target} refused`) }
      : { ok: true };
  };
  const counters = new Counters();
  const host = new LvsHost(config, {
    clock,
    log: silentLogger,
    counters,
    scripts: await ScriptResolver.create(config, silentLogger),
    ipvs,
    checkRunner: runner,
    random: () => 0,
    scriptRunner: new ScriptRunner({
      onEvent: (e) => {
        if (e.type === 'start') scripts.push(e.argv.join(' '));
      },
    }),
    ...extra,
  });
  const world: World = { clock, ipvs, host, down, scripts, attempts, counters, fifo: -1 };
  await host.start();
  world.fifo = openSync(FIFO, constants.O_RDONLY | constants.O_NONBLOCK);
  await settle();
  return world;
}

describe('LvsHost: checker results drive the IPVS table', () => {
  beforeEach(async () => {
    w = await makeWorld();
  });
  afterEach(async () => {
    await w.host.stop();
    closeSync(w.fifo);
  });

  it('programs every service at start; a real server with alpha stays out until its first success', async () => {
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(await dests(w, '192.0.2.20')).toEqual(['192.0.2.21=3', '192.0.2.22=4']);
    expect(await dests(w, '192.0.2.30')).toEqual([]);
    await step(w, 0.2);
    expect(w.attempts).toContain('192.0.2.31');
    expect(await dests(w, '192.0.2.30')).toEqual(['192.0.2.31=1']);
  });

  it('health changes reconcile without reading the table back; a foreign change is repaired within a minute', async () => {
    await step(w, 0.2);
    const svc = (await w.ipvs.readTable()).get('tcp 192.0.2.20:80')?.svc;
    if (!svc) throw new Error('service 192.0.2.20 missing');
    // someone else removes one of our destinations
    await w.ipvs.apply({ kind: 'del-dest', svc, dest: { af: 2, addr: '192.0.2.22', port: 80 } });
    const reads = w.ipvs.reads;
    w.down.add('192.0.2.11');
    await step(w, 3.5);
    expect(w.ipvs.reads).toBe(reads); // (dests() below reads too)
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.12=2']);
    expect(await dests(w, '192.0.2.20')).toEqual(['192.0.2.21=3']);
    await step(w, 60);
    expect(await dests(w, '192.0.2.20')).toEqual(['192.0.2.21=3', '192.0.2.22=4']);
  });

  it('a failing real server leaves after retry+1 failures, comes back on success, with notify scripts and FIFO lines', async () => {
    await step(w, 0.2); // first round: all up
    w.down.add('192.0.2.11');
    // next check at 2 s fails, the retry 1 s later fails too: down at ~3 s
    await step(w, 1.5);
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    await step(w, 2);
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.12=2']);
    expect(await scriptsStarted(w, 2)).toEqual(['/bin/echo down 11', START_SCRIPT]);
    w.down.delete('192.0.2.11');
    await step(w, 2.2);
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(await scriptsStarted(w, 3)).toEqual(['/bin/echo down 11', START_SCRIPT, '/bin/echo up 11']);
    expect(fifoLines(w)).toEqual([
      ...ALPHA_UP,
      'RS [192.0.2.11]:tcp:80 [192.0.2.10]:tcp:80 DOWN',
      'RS [192.0.2.11]:tcp:80 [192.0.2.10]:tcp:80 UP',
    ]);
    expect(w.counters.get('lvs.rs_down')).toBe(1);
    expect(w.counters.get('lvs.rs_up')).toBe(2); // with the alpha server's first success
  });

  it('inhibit_on_failure sets weight 0 instead of removing, and restores the weight', async () => {
    await step(w, 0.2);
    w.down.add('192.0.2.21');
    await step(w, 4);
    expect(await dests(w, '192.0.2.20')).toEqual(['192.0.2.21=0', '192.0.2.22=4']);
    w.down.delete('192.0.2.21');
    await step(w, 2.2);
    expect(await dests(w, '192.0.2.20')).toEqual(['192.0.2.21=3', '192.0.2.22=4']);
  });

  it('quorum lost: the sorry server replaces the pool and quorum_down runs; regained: quorum_up', async () => {
    await step(w, 0.2);
    w.down.add('192.0.2.12'); // live weight 1 < quorum 2
    await step(w, 4);
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.99=1']);
    expect(await scriptsStarted(w, 2)).toEqual(['/bin/echo quorum-down 10', START_SCRIPT]);
    w.down.delete('192.0.2.12');
    await step(w, 2.2);
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(await scriptsStarted(w, 3)).toEqual([
      '/bin/echo quorum-down 10',
      START_SCRIPT,
      '/bin/echo quorum-up 10',
    ]);
    expect(fifoLines(w)).toEqual([
      ...ALPHA_UP,
      'RS [192.0.2.12]:tcp:80 [192.0.2.10]:tcp:80 DOWN',
      'VS [192.0.2.10]:tcp:80 DOWN',
      'RS [192.0.2.12]:tcp:80 [192.0.2.10]:tcp:80 UP',
      'VS [192.0.2.10]:tcp:80 UP',
    ]);
  });

  it('snapshot reports services, real servers with up/down and weights, quorum', async () => {
    await step(w, 0.2);
    w.down.add('192.0.2.21');
    await step(w, 4);
    const snap = JSON.parse(JSON.stringify(w.host.snapshot())) as {
      virtualServers: Array<{
        name: string;
        quorumUp: boolean;
        services: Array<{ key: string; dests: unknown[] }>;
        realServers: Array<{ addr: string; up: boolean; weight: number; checkers: number }>;
      }>;
    };
    expect(snap.virtualServers.map((v) => v.name)).toEqual([
      '192.0.2.10 80',
      '192.0.2.20 80',
      '192.0.2.30 80',
    ]);
    const vs20 = snap.virtualServers[1];
    expect(vs20?.quorumUp).toBe(true);
    expect(vs20?.services).toEqual([
      {
        key: 'tcp 192.0.2.20:80',
        sched: 'wrr',
        dests: [
          { addr: '192.0.2.21', port: 80, weight: 0 },
          { addr: '192.0.2.22', port: 80, weight: 4 },
        ],
      },
    ]);
    expect(vs20?.realServers).toEqual([
      { addr: '192.0.2.21', port: 80, checkers: 1, up: false, weight: 3 },
      { addr: '192.0.2.22', port: 80, checkers: 0, up: true, weight: 4 },
    ]);
  });

  it('reload changing one weight is one set-dest; a down server stays down (check state kept)', async () => {
    await step(w, 0.2);
    w.down.add('192.0.2.21');
    await step(w, 4);
    const gen = w.ipvs.generationOf('tcp 192.0.2.10:80');
    const logLen = w.ipvs.log.length;
    const before = w.attempts.length;
    await w.host.reload(load(confText(5)));
    await settle();
    expect(w.ipvs.log.slice(logLen).map((o) => `${o.kind} ${'dest' in o ? o.dest.addr : ''}`)).toEqual([
      'set-dest 192.0.2.12',
    ]);
    expect(w.ipvs.generationOf('tcp 192.0.2.10:80')).toBe(gen);
    expect(await dests(w, '192.0.2.10')).toEqual(['192.0.2.11=1', '192.0.2.12=5']);
    expect(await dests(w, '192.0.2.20')).toEqual(['192.0.2.21=0', '192.0.2.22=4']);
    // unchanged checkers were not restarted: no immediate attempt after the reload
    expect(w.attempts.length).toBe(before);
  });
});

/** Two virtual servers a reload adds: one whose quorum is met, one whose quorum is not (alpha: its server starts down). */
const ADDED_BY_RELOAD = `
virtual_server 192.0.2.60 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  quorum 2
  real_server 192.0.2.61 80 {
    weight 2
  }
}
virtual_server 192.0.2.70 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  alpha
  real_server 192.0.2.71 80 {
    weight 1
    ${checker}
  }
}
`;

describe('LvsHost: quorum state comes from the IPVS manager', () => {
  it('a virtual server added by a reload reports its quorum at once, in the snapshot and the metrics', async () => {
    const world = await makeWorld();
    try {
      await step(world, 0.2);
      const quorumOf = () =>
        Object.fromEntries(
          (world.host.snapshot() as LvsSnapshot).virtualServers.map((v) => [v.name, v.quorumUp]),
        );
      expect(quorumOf()).toEqual({ '192.0.2.10 80': true, '192.0.2.20 80': true, '192.0.2.30 80': true });
      const transitions = world.counters.get('lvs.quorum_up') + world.counters.get('lvs.quorum_down');
      await world.host.reload(load(confText() + ADDED_BY_RELOAD));
      // No transition happened for the new ones (a first decision is not one), yet both report it.
      expect(world.counters.get('lvs.quorum_up') + world.counters.get('lvs.quorum_down')).toBe(transitions);
      expect(quorumOf()).toEqual({
        '192.0.2.10 80': true,
        '192.0.2.20 80': true,
        '192.0.2.30 80': true,
        '192.0.2.60 80': true,
        '192.0.2.70 80': false,
      });
      const text = await createRegistry({
        lvs: () => world.host.snapshot() as LvsSnapshot,
        counters: world.counters,
      }).metrics();
      expect(text.split('\n')).toEqual(
        expect.arrayContaining([
          'keepalived_ts_lvs_quorum_up{virtual_server="192.0.2.60 80",protocol="tcp",family="inet"} 1',
          'keepalived_ts_lvs_quorum_up{virtual_server="192.0.2.70 80",protocol="tcp",family="inet"} 0',
        ]),
      );
      // A reload that removes them: they leave the state with their virtual servers.
      await world.host.reload(load(confText()));
      expect(Object.keys(quorumOf())).toEqual(['192.0.2.10 80', '192.0.2.20 80', '192.0.2.30 80']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });

  it('a quorum lost by a reload that raises the quorum shows at once, with its quorum_down', async () => {
    const world = await makeWorld();
    try {
      await step(world, 0.2);
      // .11 (weight 1) down: live weight 2 still meets quorum 2 of the total 3
      world.down.add('192.0.2.11');
      await step(world, 4);
      expect(world.counters.get('lvs.quorum_down')).toBe(0);
      await world.host.reload(load(confText().replace('quorum 2', 'quorum 3')));
      const vs10 = (world.host.snapshot() as LvsSnapshot).virtualServers.find(
        (v) => v.name === '192.0.2.10 80',
      );
      expect(vs10?.quorumUp).toBe(false);
      expect(world.counters.get('lvs.quorum_down')).toBe(1);
      expect(await scriptsStarted(world, 3)).toEqual([
        '/bin/echo down 11',
        '/bin/echo quorum-down 10',
        START_SCRIPT,
      ]);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });
});

describe('LvsHost: stop', () => {
  it('removes only what the configuration created', async () => {
    const world = await makeWorld();
    const foreign = {
      af: 2 as const,
      fwmark: 0,
      protocol: 6,
      addr: '203.0.113.5',
      port: 25,
      sched: 'rr',
      flags: 0,
      timeout: 0,
      netmask: 0xffffffff,
    };
    await world.ipvs.apply({ kind: 'add-service', svc: foreign });
    await world.host.stop();
    closeSync(world.fifo);
    expect([...(await world.ipvs.readTable()).keys()]).toEqual(['tcp 203.0.113.5:25']);
  });

  it('with dontRelease (-I) leaves the table in place', async () => {
    const world = await makeWorld({ dontRelease: true });
    await world.host.stop();
    closeSync(world.fifo);
    expect([...(await world.ipvs.readTable()).keys()].sort()).toEqual([
      'tcp 192.0.2.10:80',
      'tcp 192.0.2.20:80',
      'tcp 192.0.2.30:80',
    ]);
  });
});

const SYNC_CONF = `
global_defs {
  lvs_sync_daemon lo VI_1 id 7
  lvs_notify_fifo ${FIFO}
}
vrrp_instance VI_1 {
  interface kt-none0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    192.0.2.40/32
  }
}
virtual_server 192.0.2.40 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  ha_suspend
  real_server 192.0.2.41 80 {
    ${checker}
  }
}
`;

describe('LvsHost: VRRP state (lvs_sync_daemon, ha_suspend)', () => {
  it('the sync daemon follows its instance: BACKUP, then MASTER, stopped at stop', async () => {
    const world = await makeWorld({ localAddrs: () => new Set() }, SYNC_CONF.replace('ha_suspend', ''));
    const daemons = () => world.ipvs.daemons.map((d) => `${d.state}/${d.mcastIfn}/${d.syncId}`);
    world.host.vrrpStateChanged('VI_2', 'MASTER'); // not the sync daemon's instance
    await settle();
    expect(daemons()).toEqual([]);
    world.host.vrrpStateChanged('VI_1', 'BACKUP');
    await settle();
    expect(daemons()).toEqual(['2/lo/7']); // IP_VS_STATE_BACKUP
    world.host.vrrpStateChanged('VI_1', 'MASTER');
    await settle();
    expect(daemons()).toEqual(['1/lo/7']); // IP_VS_STATE_MASTER
    await world.host.stop();
    closeSync(world.fifo);
    expect(daemons()).toEqual([]);
  });

  it('ha_suspend: no checks while the virtual address is not local; they start when it appears', async () => {
    const local = new Set<string>();
    const world = await makeWorld({ localAddrs: () => local }, SYNC_CONF);
    await step(world, 3);
    expect(world.attempts).toEqual([]);
    local.add('192.0.2.40'); // VRRP became MASTER and added the VIP
    world.host.vrrpStateChanged('VI_1', 'MASTER');
    await step(world, 0.2);
    expect(world.attempts).toEqual(['192.0.2.41']);
    local.clear();
    world.host.vrrpStateChanged('VI_1', 'BACKUP');
    await step(world, 6);
    expect(world.attempts).toEqual(['192.0.2.41']);
    await world.host.stop();
    closeSync(world.fifo);
  });
});

/** ha_suspend on 192.0.2.40, its real server .41 with notifiers and a checker without retry. */
const HA_CONF = (alpha: boolean) => `
global_defs {
  lvs_notify_fifo ${FIFO}
}
virtual_server 192.0.2.40 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  ha_suspend${alpha ? '\n  alpha' : ''}
  real_server 192.0.2.41 80 {
    notify_up "/bin/echo up 41"
    notify_down "/bin/echo down 41"
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`;

describe('LvsHost: ha_suspend keeps checker state across suspend and resume (keepalived only disables the checker)', () => {
  /** The VIP goes away for 3 s and comes back; returns the attempts made meanwhile. */
  async function bounceVip(world: World, local: Set<string>): Promise<number> {
    const n = world.attempts.length;
    local.clear();
    world.host.vrrpStateChanged('VI_1', 'BACKUP');
    await step(world, 3);
    const during = world.attempts.length - n;
    local.add('192.0.2.40');
    world.host.vrrpStateChanged('VI_1', 'MASTER');
    await step(world, 0.2); // warmup 0: the resumed checker runs at once
    return during;
  }
  const ops = (w: World, from: number) => w.ipvs.log.slice(from).map((o) => o.kind);

  it('alpha, up before the suspension: no notify_down / notify_up and the pool is not touched after resume', async () => {
    const local = new Set(['192.0.2.40']);
    const world = await makeWorld({ localAddrs: () => local }, HA_CONF(true));
    try {
      await step(world, 0.2);
      expect(fifoLines(world)).toEqual([
        'RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 UP',
        'VS [192.0.2.40]:tcp:80 UP',
      ]);
      expect(await scriptsStarted(world, 1)).toEqual(['/bin/echo up 41']);
      const mark = world.ipvs.log.length;
      expect(await bounceVip(world, local)).toBe(0);
      await step(world, 2.2); // two more successful checks after the resume
      await settle();
      expect(world.attempts).toHaveLength(3);
      expect(fifoLines(world)).toEqual([]);
      expect(world.scripts).toEqual(['/bin/echo up 41']);
      expect(ops(world, mark)).toEqual([]);
      expect(await dests(world, '192.0.2.40')).toEqual(['192.0.2.41=1']);
      // the resumed checker is live: a failure is the usual transition
      world.down.add('192.0.2.41');
      await step(world, 2.2);
      expect(fifoLines(world)).toEqual([
        'RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 DOWN',
        'VS [192.0.2.40]:tcp:80 DOWN',
      ]);
      expect(await scriptsStarted(world, 2)).toEqual(['/bin/echo down 41', '/bin/echo up 41']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });

  it('alpha, failing: its first failure is notified once, not again after resume; then a success brings it up', async () => {
    const local = new Set(['192.0.2.40']);
    const world = await makeWorld({ localAddrs: () => local }, HA_CONF(true));
    try {
      world.down.add('192.0.2.41');
      await step(world, 0.2);
      expect(fifoLines(world)).toEqual(['RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 DOWN']);
      expect(await scriptsStarted(world, 1)).toEqual(['/bin/echo down 41']);
      await bounceVip(world, local);
      await step(world, 2.2);
      await settle();
      expect(world.attempts).toHaveLength(3); // all failed
      expect(fifoLines(world)).toEqual([]);
      expect(world.scripts).toEqual(['/bin/echo down 41']);
      expect(await dests(world, '192.0.2.40')).toEqual([]);
      world.down.delete('192.0.2.41');
      await step(world, 2.2);
      expect(fifoLines(world)).toEqual([
        'RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 UP',
        'VS [192.0.2.40]:tcp:80 UP',
      ]);
      expect(await dests(world, '192.0.2.40')).toEqual(['192.0.2.41=1']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });

  it('not alpha, down before the suspension: stays out of the pool after resume until a check succeeds', async () => {
    const local = new Set(['192.0.2.40']);
    const world = await makeWorld({ localAddrs: () => local }, HA_CONF(false));
    try {
      world.down.add('192.0.2.41');
      await step(world, 0.2);
      expect(fifoLines(world)).toEqual([
        'VS [192.0.2.40]:tcp:80 UP',
        'RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 DOWN',
        'VS [192.0.2.40]:tcp:80 DOWN',
      ]);
      const mark = world.ipvs.log.length;
      await bounceVip(world, local);
      await step(world, 2.2);
      await settle();
      expect(fifoLines(world)).toEqual([]);
      expect(await scriptsStarted(world, 1)).toEqual(['/bin/echo down 41']);
      expect(ops(world, mark)).toEqual([]);
      world.down.delete('192.0.2.41');
      await step(world, 2.2);
      expect(fifoLines(world)).toEqual([
        'RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 UP',
        'VS [192.0.2.40]:tcp:80 UP',
      ]);
      expect(ops(world, mark)).toEqual(['add-dest']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });

  it('a reload while suspended keeps the checker state for the resume', async () => {
    const local = new Set(['192.0.2.40']);
    const world = await makeWorld({ localAddrs: () => local }, HA_CONF(true));
    try {
      await step(world, 0.2);
      expect(fifoLines(world)).toHaveLength(2); // RS UP, VS UP
      const mark = world.ipvs.log.length;
      local.clear();
      world.host.vrrpStateChanged('VI_1', 'BACKUP');
      await step(world, 1.2);
      const attempts = world.attempts.length;
      // a reload that adds another virtual server; this one is unchanged and still suspended
      await world.host.reload(
        load(
          `${HA_CONF(true)}\nvirtual_server 192.0.2.45 80 {\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server 192.0.2.46 80 {\n  }\n}\n`,
        ),
      );
      await step(world, 2);
      expect(world.attempts).toHaveLength(attempts); // still suspended
      local.add('192.0.2.40');
      world.host.vrrpStateChanged('VI_1', 'MASTER');
      await step(world, 2.2);
      await settle();
      expect(world.attempts.length).toBeGreaterThan(attempts);
      expect(fifoLines(world)).toEqual(['VS [192.0.2.45]:tcp:80 UP']);
      expect(world.ipvs.log.slice(mark).map((o) => o.svc.addr)).toEqual(['192.0.2.45', '192.0.2.45']);
      expect(await dests(world, '192.0.2.40')).toEqual(['192.0.2.41=1']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });

  it('alpha, suspended from the start: its first failure after the address appears is notified (has_run was never set)', async () => {
    const local = new Set<string>();
    const world = await makeWorld({ localAddrs: () => local }, HA_CONF(true));
    try {
      world.down.add('192.0.2.41');
      await step(world, 3);
      expect(world.attempts).toEqual([]);
      local.add('192.0.2.40');
      world.host.vrrpStateChanged('VI_1', 'MASTER');
      await step(world, 2.2);
      expect(world.attempts).toHaveLength(2);
      expect(fifoLines(world)).toEqual(['RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 DOWN']);
      expect(await scriptsStarted(world, 1)).toEqual(['/bin/echo down 41']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });
});

const OMEGA_CONF = (second: string) => `
global_defs {
  lvs_notify_fifo ${FIFO}
}
virtual_server 192.0.2.50 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  omega
  quorum_down "/bin/echo quorum-down 50"
  real_server 192.0.2.51 80 {
    notify_down "/bin/echo down 51"
    ${checker}
  }
  real_server ${second} 80 {
    ${checker}
  }
}
`;

describe('LvsHost: omega and reload of real servers', () => {
  it('omega: at stop the down notifiers of live real servers and quorum_down run', async () => {
    const world = await makeWorld({}, OMEGA_CONF('192.0.2.52'));
    await step(world, 0.2);
    await world.host.stop();
    closeSync(world.fifo);
    expect([...world.scripts].sort()).toEqual(['/bin/echo down 51', '/bin/echo quorum-down 50']);
    expect(await world.ipvs.readTable()).toEqual(new Map());
  });

  it('omega: quorum_down runs at stop even with quorum already lost (keepalived notifies whenever it stops)', async () => {
    const world = await makeWorld({}, OMEGA_CONF('192.0.2.52'));
    world.down.add('192.0.2.51');
    world.down.add('192.0.2.52');
    await step(world, 4);
    expect(await scriptsStarted(world, 2)).toEqual(['/bin/echo down 51', '/bin/echo quorum-down 50']);
    world.scripts.length = 0;
    await world.host.stop();
    closeSync(world.fifo);
    expect(world.scripts).toEqual(['/bin/echo quorum-down 50']);
  });

  it('omega with lvs_flush_on_stop: quorum_down at stop, no real server notifier (keepalived does not visit them)', async () => {
    const text = OMEGA_CONF('192.0.2.52').replace('global_defs {', 'global_defs {\n  lvs_flush_on_stop');
    const world = await makeWorld({}, text);
    await step(world, 0.2);
    await world.host.stop();
    closeSync(world.fifo);
    expect(world.scripts).toEqual(['/bin/echo quorum-down 50']);
  });

  it('reload: a removed real server leaves, a new one is checked from scratch, the kept one is not restarted', async () => {
    const world = await makeWorld({}, OMEGA_CONF('192.0.2.52'));
    await step(world, 0.2);
    expect(await dests(world, '192.0.2.50')).toEqual(['192.0.2.51=1', '192.0.2.52=1']);
    world.attempts.length = 0;
    world.down.add('192.0.2.53'); // the new server fails from its first check
    await world.host.reload(load(OMEGA_CONF('192.0.2.53')));
    await settle();
    // not alpha: the new server starts up, as keepalived adds it at once
    expect(await dests(world, '192.0.2.50')).toEqual(['192.0.2.51=1', '192.0.2.53=1']);
    await step(world, 0.2);
    expect(world.attempts).toEqual(['192.0.2.53']); // warmup 0: only the new checker ran at once
    await step(world, 1);
    expect(await dests(world, '192.0.2.50')).toEqual(['192.0.2.51=1']);
    await world.host.stop();
    closeSync(world.fifo);
  });
});

describe('LvsHost: global_defs lvs_flush and lvs_timeouts', () => {
  it('flushes the table at start (foreign services too) and sets the kernel timeouts', async () => {
    const text = confText().replace(
      'global_defs {',
      'global_defs {\n  lvs_flush\n  lvs_timeouts tcp 7200 tcpfin 60 udp 120',
    );
    const config = load(text);
    expect(config.global.lvsFlush).toBe(true);
    const ipvs = new FakeIpvs();
    await ipvs.apply({
      kind: 'add-service',
      svc: {
        af: 2,
        protocol: 6,
        addr: '198.51.100.77',
        port: 80,
        fwmark: 0,
        sched: 'rr',
        flags: 0,
        timeout: 0,
        netmask: 0xffffffff,
      },
    });
    const foreignBefore = (await ipvs.readTable()).size;
    const host = new LvsHost(config, {
      clock: new FakeClock(),
      log: silentLogger,
      counters: new Counters(),
      scripts: await ScriptResolver.create(config, silentLogger),
      ipvs,
      checkRunner: async () => ({ ok: true }),
      random: () => 0,
    });
    await host.start();
    await settle();
    const table = await ipvs.readTable();
    expect(foreignBefore).toBe(1);
    expect([...table.keys()].some((k) => k.includes('198.51.100.77'))).toBe(false);
    expect(table.size).toBeGreaterThan(0);
    expect(await ipvs.timeouts()).toEqual({ tcp: 7200, tcpFin: 60, udp: 120 });
    await host.stop();
  });
});

/** A MailTransport that records each alert's subject and body line. */
function mailbox() {
  const mails: Array<{ subject: string; body: string; to: readonly string[] }> = [];
  const transport = () => ({
    send: async (m: { envelope: { to: readonly string[] }; raw: string }) => {
      const [head = '', body = ''] = m.raw.split('\r\n\r\n');
      mails.push({
        subject: /(?:^|\r\n)Subject: ([^\r]*)/.exec(head)?.[1] ?? '',
        body: body.trim(),
        to: m.envelope.to,
      });
      return { rejected: [] };
    },
    close: () => {},
  });
  return { mails, smtp: { transport } };
}

const SMTP_GLOBAL = `
  router_id LB1
  notification_email {
    ops@example.org
  }
  smtp_server 192.0.2.25
`;

describe('LvsHost: SMTP alerts', () => {
  it('real server down / up and quorum lost / gained mail with keepalived subjects and bodies', async () => {
    const box = mailbox();
    const text = confText().replace('global_defs {', `global_defs {${SMTP_GLOBAL}  smtp_alert\n`);
    const world = await makeWorld({ smtp: box.smtp }, text);
    await step(world, 0.2);
    await settle();
    // start: the two virtual servers with quorum; then the alpha server's first success, whose
    // quorum mail goes first (keepalived: update_quorum_state runs inside update_svr_checker_state,
    // before the checker mails)
    expect(box.mails.map((m) => [m.subject, m.body])).toEqual([
      ['[LB1] Virtualserver [192.0.2.10]:tcp:80 - UP', '=> Starting with quorum up 2+0=2 <= 3 <='],
      ['[LB1] Virtualserver [192.0.2.20]:tcp:80 - UP', '=> Starting with quorum up 1+0=1 <= 7 <='],
      ['[LB1] Virtualserver [192.0.2.30]:tcp:80 - UP', '=> Gained quorum 1+0=1 <= 1 <='],
      [
        '[LB1] Realserver [192.0.2.31]:tcp:80 of virtual server [192.0.2.30]:tcp:80 - UP',
        '=> TCP CHECK succeed on service <=',
      ],
    ]);
    box.mails.length = 0;
    world.down.add('192.0.2.12');
    await step(world, 4);
    await settle();
    expect(box.mails.map((m) => [m.subject, m.body])).toEqual([
      ['[LB1] Virtualserver [192.0.2.10]:tcp:80 - DOWN', '=> Lost quorum 2+0=2 <= 1 <='],
      [
        '[LB1] Realserver [192.0.2.12]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN',
        '=> TCP CHECK failed on service <=',
      ],
    ]);
    expect(box.mails[0]?.to).toEqual(['ops@example.org']);
    box.mails.length = 0;
    world.down.delete('192.0.2.12');
    await step(world, 2.2);
    await settle();
    expect(box.mails.map((m) => m.subject)).toEqual([
      '[LB1] Virtualserver [192.0.2.10]:tcp:80 - UP',
      '[LB1] Realserver [192.0.2.12]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - UP',
    ]);
    expect(world.counters.get('smtp_alerts_sent')).toBe(8);
    await world.host.stop();
    closeSync(world.fifo);
  });

  it('without smtp_alert: real servers still mail (keepalived default), quorum changes do not', async () => {
    const box = mailbox();
    const text = confText().replace('global_defs {', `global_defs {${SMTP_GLOBAL}`);
    const world = await makeWorld({ smtp: box.smtp }, text);
    await step(world, 0.2);
    world.down.add('192.0.2.12');
    await step(world, 4);
    await settle();
    expect(box.mails.map((m) => m.subject)).toEqual([
      '[LB1] Realserver [192.0.2.31]:tcp:80 of virtual server [192.0.2.30]:tcp:80 - UP',
      '[LB1] Realserver [192.0.2.12]:tcp:80 of virtual server [192.0.2.10]:tcp:80 - DOWN',
    ]);
    await world.host.stop();
    closeSync(world.fifo);
  });

  it('omega: at stop the live real servers and the quorum mail "Shutting down"', async () => {
    const box = mailbox();
    const text = OMEGA_CONF('192.0.2.52').replace(
      'global_defs {',
      `global_defs {${SMTP_GLOBAL}  smtp_alert\n`,
    );
    const world = await makeWorld({ smtp: box.smtp }, text);
    await step(world, 0.2);
    await settle();
    expect(box.mails.map((m) => [m.subject, m.body])).toEqual([
      ['[LB1] Virtualserver [192.0.2.50]:tcp:80 - UP', '=> Starting with quorum up 1+0=1 <= 2 <='],
    ]);
    box.mails.length = 0;
    await world.host.stop();
    closeSync(world.fifo);
    expect(box.mails.map((m) => [m.subject, m.body])).toEqual([
      [
        '[LB1] Realserver [192.0.2.51]:tcp:80 of virtual server [192.0.2.50]:tcp:80 - DOWN',
        '=> Shutting down <=',
      ],
      [
        '[LB1] Realserver [192.0.2.52]:tcp:80 of virtual server [192.0.2.50]:tcp:80 - DOWN',
        '=> Shutting down <=',
      ],
      ['[LB1] Virtualserver [192.0.2.50]:tcp:80 - DOWN', '=> Shutting down <='],
    ]);
  });
});

/** Two omega virtual servers, each with two checked real servers and all notifiers. */
const OMEGA_TWO = `
global_defs {
  lvs_notify_fifo ${FIFO}
}
${['60', '70']
  .map(
    (n) => `virtual_server 192.0.2.${n} 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  omega
  quorum_down "/bin/echo quorum-down ${n}"
  ${[1, 2]
    .map(
      (i) => `real_server 192.0.2.${Number(n) + i} 80 {
    notify_down "/bin/echo down ${Number(n) + i}"
    ${checker}
  }`,
    )
    .join('\n  ')}
}`,
  )
  .join('\n')}
`;

describe('LvsHost: omega stop order', () => {
  it('one virtual server at a time: its real servers down, then its quorum_down (keepalived clear_services)', async () => {
    const world = await makeWorld({}, OMEGA_TWO);
    await step(world, 0.2);
    expect(fifoLines(world)).toEqual(['VS [192.0.2.60]:tcp:80 UP', 'VS [192.0.2.70]:tcp:80 UP']);
    world.scripts.length = 0;
    await world.host.stop();
    const lines = fifoLines(world);
    closeSync(world.fifo);
    expect(lines).toEqual([
      'RS [192.0.2.61]:tcp:80 [192.0.2.60]:tcp:80 DOWN',
      'RS [192.0.2.62]:tcp:80 [192.0.2.60]:tcp:80 DOWN',
      'VS [192.0.2.60]:tcp:80 DOWN',
      'RS [192.0.2.71]:tcp:80 [192.0.2.70]:tcp:80 DOWN',
      'RS [192.0.2.72]:tcp:80 [192.0.2.70]:tcp:80 DOWN',
      'VS [192.0.2.70]:tcp:80 DOWN',
    ]);
    // the scripts start in the same order (each notifier is spawned when it is called)
    expect(world.scripts).toEqual([
      '/bin/echo down 61',
      '/bin/echo down 62',
      '/bin/echo quorum-down 60',
      '/bin/echo down 71',
      '/bin/echo down 72',
      '/bin/echo quorum-down 70',
    ]);
    // each virtual server's services go after its notifiers
    const dels = world.ipvs.log.filter((o) => o.kind === 'del-service').map((o) => o.svc.addr);
    expect(dels).toEqual(['192.0.2.60', '192.0.2.70']);
    expect(await world.ipvs.readTable()).toEqual(new Map());
  });
});

describe('LvsHost: IPVS drift repair period', () => {
  it('with the repair interval 0 (the default beside VRRP) the table is never read back', async () => {
    const x = await makeWorld({ repairIntervalUs: 0 });
    try {
      await step(x, 0.2);
      const svc = (await x.ipvs.readTable()).get('tcp 192.0.2.20:80')?.svc;
      if (!svc) throw new Error('service 192.0.2.20 missing');
      await x.ipvs.apply({ kind: 'del-dest', svc, dest: { af: 2, addr: '192.0.2.22', port: 80 } });
      const reads = x.ipvs.reads;
      await step(x, 130);
      expect(x.ipvs.reads).toBe(reads);
      expect(await dests(x, '192.0.2.20')).toEqual(['192.0.2.21=3']);
    } finally {
      await x.host.stop();
      closeSync(x.fifo);
    }
  });
});

/**
 * keepalived's notifications around (re)programming a virtual server (ipwrapper.c): init_service_vs
 * at start and in a reload's first pass, clear_service_rs / update_vs_notifies for what a reload
 * drops. Real servers without checkers are alive from the start; 192.0.2.83 is checked and can fail.
 */
function quorumConf(o: {
  w81?: number;
  drop?: string[];
  quorum?: string;
  withVs80?: boolean;
  flush?: boolean;
}) {
  const rsBlock = (addr: string, weight: number, checked = false) =>
    o.drop?.includes(addr)
      ? ''
      : `  real_server ${addr} 80 {
    weight ${weight}
    notify_down "/bin/echo down ${addr.split('.').at(-1)}"
    ${checked ? checker : ''}
  }
`;
  const vs80 = `virtual_server 192.0.2.80 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  ${o.quorum ?? 'quorum 2'}
  quorum_up "/bin/echo quorum-up 80"
  quorum_down "/bin/echo quorum-down 80"
${rsBlock('192.0.2.81', o.w81 ?? 2)}${rsBlock('192.0.2.82', 2)}${rsBlock('192.0.2.83', 1, true)}}
`;
  return `
global_defs {${SMTP_GLOBAL}  smtp_alert
  lvs_notify_fifo ${FIFO}
  ${o.flush ? 'lvs_flush_on_stop' : ''}
}
${o.withVs80 === false ? '' : vs80}
virtual_server 192.0.2.90 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 192.0.2.91 80 {
    weight 1
  }
}
`;
}

const mailLines = (box: ReturnType<typeof mailbox>) => box.mails.map((m) => `${m.subject} | ${m.body}`);

/** Once `scripts` scripts started: the scripts (sorted), the FIFO lines and the mails, in order. */
async function notified(x: World, box: ReturnType<typeof mailbox>, scripts: number) {
  return { scripts: await scriptsStarted(x, scripts), fifo: fifoLines(x), mails: mailLines(box) };
}

describe('LvsHost: quorum and removal notifications of start and reload (keepalived ipwrapper.c)', () => {
  const worlds: World[] = [];
  const helds: HeldIpvs[] = [];
  afterEach(async () => {
    for (const h of helds.splice(0)) h.release(); // a failed test must not leave a pass held
    for (const x of worlds.splice(0)) {
      await x.host.stop();
      closeSync(x.fifo);
    }
  });

  /** A world where 192.0.2.83 has failed: the start notifications already read and cleared. */
  async function started(box: ReturnType<typeof mailbox>, o: Parameters<typeof quorumConf>[0] = {}) {
    const x = await makeWorld({ smtp: box.smtp }, quorumConf(o));
    worlds.push(x);
    x.down.add('192.0.2.83');
    await step(x, 4);
    await settle();
    const w81 = o.w81 ?? 2;
    expect(await dests(x, '192.0.2.80')).toEqual([`192.0.2.81=${w81}`, '192.0.2.82=2']);
    expect(await scriptsStarted(x, 2)).toEqual(['/bin/echo down 83', '/bin/echo quorum-up 80']);
    expect(fifoLines(x)).toEqual([
      'VS [192.0.2.80]:tcp:80 UP',
      'VS [192.0.2.90]:tcp:80 UP',
      'RS [192.0.2.83]:tcp:80 [192.0.2.80]:tcp:80 DOWN',
    ]);
    expect(mailLines(box)).toEqual([
      `[LB1] Virtualserver [192.0.2.80]:tcp:80 - UP | => Starting with quorum up ${o.quorum ? '2+1=3' : '2+0=2'} <= ${w81 + 3} <=`,
      '[LB1] Virtualserver [192.0.2.90]:tcp:80 - UP | => Starting with quorum up 1+0=1 <= 1 <=',
      '[LB1] Realserver [192.0.2.83]:tcp:80 of virtual server [192.0.2.80]:tcp:80 - DOWN | => TCP CHECK failed on service <=',
    ]);
    x.scripts.length = 0;
    box.mails.length = 0;
    return x;
  }

  it('start with hysteresis: a live weight between quorum and quorum+hysteresis starts down with the sorry server, quorum_down and its FIFO line', async () => {
    const box = mailbox();
    const text = quorumConf({ quorum: 'quorum 4\n  hysteresis 2\n  sorry_server 192.0.2.99 80' });
    const x = await makeWorld({ smtp: box.smtp }, text);
    worlds.push(x);
    await settle();
    // quorum 4 <= live weight 5 (the checked server counts until its first result) < 4+2
    expect(await dests(x, '192.0.2.80')).toEqual(['192.0.2.99=1']);
    expect(await scriptsStarted(x, 1)).toEqual(['/bin/echo quorum-down 80']);
    expect(fifoLines(x)).toEqual(['VS [192.0.2.80]:tcp:80 DOWN', 'VS [192.0.2.90]:tcp:80 UP']);
    expect(mailLines(box)).toEqual([
      '[LB1] Virtualserver [192.0.2.80]:tcp:80 - DOWN | => Starting with quorum down 4+2=6 <= 5 <=',
      '[LB1] Virtualserver [192.0.2.90]:tcp:80 - UP | => Starting with quorum up 1+0=1 <= 1 <=',
    ]);
    expect(x.counters.get('lvs.quorum_down')).toBe(0); // a first decision is not a transition
  });

  it('reload dropping a live real server: its notify_down, the RS DOWN line, then "Removing"; a failed one is silent', async () => {
    const box = mailbox();
    const x = await started(box);
    await x.host.reload(load(quorumConf({ drop: ['192.0.2.82', '192.0.2.83'] })));
    await settle();
    expect(await dests(x, '192.0.2.80')).toEqual(['192.0.2.81=2']);
    expect(await scriptsStarted(x, 1)).toEqual(['/bin/echo down 82']);
    expect(fifoLines(x)).toEqual(['RS [192.0.2.82]:tcp:80 [192.0.2.80]:tcp:80 DOWN']);
    expect(mailLines(box)).toEqual([
      '[LB1] Realserver [192.0.2.82]:tcp:80 of virtual server [192.0.2.80]:tcp:80 - DOWN | => Removing <=',
    ]);
  });

  it('reload costing a kept virtual server its quorum: "Lost quorum" for the old one, then the new one "Starting with quorum down"', async () => {
    const box = mailbox();
    const x = await started(box, { w81: 1 });
    await x.host.reload(load(quorumConf({ w81: 1, drop: ['192.0.2.82'] })));
    await settle();
    expect(await notified(x, box, 3)).toEqual({
      scripts: ['/bin/echo down 82', '/bin/echo quorum-down 80', '/bin/echo quorum-down 80'],
      fifo: [
        'RS [192.0.2.82]:tcp:80 [192.0.2.80]:tcp:80 DOWN',
        'VS [192.0.2.80]:tcp:80 DOWN',
        'VS [192.0.2.80]:tcp:80 DOWN',
      ],
      mails: [
        '[LB1] Realserver [192.0.2.82]:tcp:80 of virtual server [192.0.2.80]:tcp:80 - DOWN | => Removing <=',
        '[LB1] Virtualserver [192.0.2.80]:tcp:80 - DOWN | => Lost quorum 2+0=2 <= 1 <=',
        '[LB1] Virtualserver [192.0.2.80]:tcp:80 - DOWN | => Starting with quorum down 2+0=2 <= 1 <=',
      ],
    });
  });

  it('reload raising the quorum of a kept virtual server: "Starting with quorum down" against quorum-hysteresis', async () => {
    const box = mailbox();
    const x = await started(box, { quorum: 'quorum 2\n  hysteresis 1' });
    // quorum 5 (the total weight; keepalived lowers a higher one to it) > live weight 4 (.83 failed)
    await x.host.reload(load(quorumConf({ quorum: 'quorum 5\n  hysteresis 0' })));
    await settle();
    expect(await scriptsStarted(x, 1)).toEqual(['/bin/echo quorum-down 80']);
    expect(fifoLines(x)).toEqual(['VS [192.0.2.80]:tcp:80 DOWN']);
    expect(mailLines(box)).toEqual([
      '[LB1] Virtualserver [192.0.2.80]:tcp:80 - DOWN | => Starting with quorum down 5+0=5 <= 4 <=',
    ]);
    // lowering it again: up, worded as a start too
    await x.host.reload(load(quorumConf({ quorum: 'quorum 2\n  hysteresis 1' })));
    await settle();
    expect(mailLines(box).at(-1)).toBe(
      '[LB1] Virtualserver [192.0.2.80]:tcp:80 - UP | => Starting with quorum up 2+1=3 <= 4 <=',
    );
  });

  it('reload dropping a virtual server with quorum: its live real servers, then quorum_down and "Lost quorum"', async () => {
    const box = mailbox();
    const x = await started(box);
    await x.host.reload(load(quorumConf({ withVs80: false })));
    await settle();
    expect(await dests(x, '192.0.2.80')).toBeUndefined();
    const rs = (n: number) => `[192.0.2.${n}]:tcp:80`;
    expect(await notified(x, box, 3)).toEqual({
      scripts: ['/bin/echo down 81', '/bin/echo down 82', '/bin/echo quorum-down 80'],
      fifo: [`RS ${rs(81)} ${rs(80)} DOWN`, `RS ${rs(82)} ${rs(80)} DOWN`, `VS ${rs(80)} DOWN`],
      mails: [
        `[LB1] Realserver ${rs(81)} of virtual server ${rs(80)} - DOWN | => Removing <=`,
        `[LB1] Realserver ${rs(82)} of virtual server ${rs(80)} - DOWN | => Removing <=`,
        `[LB1] Virtualserver ${rs(80)} - DOWN | => Lost quorum 2+0=2 <= 0 <=`,
      ],
    });
  });

  it('with lvs_flush_on_stop a dropped virtual server notifies nothing', async () => {
    const box = mailbox();
    const x = await started(box, { flush: true });
    // The same reload adds 192.0.2.70: its start-up notifications come after those of the removals,
    // so once they are in, anything the dropped virtual server notified would be too.
    await x.host.reload(load(quorumConf({ withVs80: false, flush: true }) + VS70));
    await settle();
    expect(await dests(x, '192.0.2.80')).toBeUndefined();
    expect(await notified(x, box, 1)).toEqual({
      scripts: ['/bin/echo quorum-up 70'],
      fifo: ['VS [192.0.2.70]:tcp:80 UP'],
      mails: ['[LB1] Virtualserver [192.0.2.70]:tcp:80 - UP | => Starting with quorum up 1+0=1 <= 1 <='],
    });
  });

  /** A world on HeldIpvs where 192.0.2.83 fails while a repair pass is held in readTable. */
  async function raced(box: ReturnType<typeof mailbox>) {
    const ipvs = new HeldIpvs();
    helds.push(ipvs);
    // quorum 2: 192.0.2.81 (weight 1) and the checked 192.0.2.83 (weight 1)
    const text = quorumConf({ w81: 1, drop: ['192.0.2.82'] });
    // Counts the script look-ups of the model a (re)load builds, so the test knows when a reload is
    // past them (the FIFO script's look-up is not part of it).
    const scripts = await ScriptResolver.create(load(text), silentLogger);
    const probe = { resolved: 0 };
    const resolve = scripts.resolve.bind(scripts);
    scripts.resolve = async (...a: Parameters<typeof resolve>) => {
      const r = await resolve(...a);
      if (!a[0].includes('fifo')) probe.resolved++;
      return r;
    };
    const x = await makeWorld({ smtp: box.smtp, ipvs, repairIntervalUs: 10 * US, scripts }, text);
    worlds.push(x);
    await step(x, 1);
    expect(mailLines(box)).toEqual([
      '[LB1] Virtualserver [192.0.2.80]:tcp:80 - UP | => Starting with quorum up 2+0=2 <= 2 <=',
      '[LB1] Virtualserver [192.0.2.90]:tcp:80 - UP | => Starting with quorum up 1+0=1 <= 1 <=',
    ]);
    box.mails.length = 0;
    expect(await scriptsStarted(x, 1)).toEqual(['/bin/echo quorum-up 80']);
    x.scripts.length = 0;
    fifoLines(x);
    ipvs.hold();
    await step(x, 9.5); // the repair pass (at 10 s) now waits in readTable
    expect(ipvs.held).toBe(true);
    x.down.add('192.0.2.83');
    await step(x, 5);
    // the host saw the failure (notify_down ran), the manager's pass for it waits behind the held one
    expect(await scriptsStarted(x, 1)).toEqual(['/bin/echo down 83']);
    expect(mailLines(box).filter((l) => l.includes('Virtualserver'))).toEqual([]);
    return { x, ipvs, probe, modelLookups: probe.resolved };
  }

  const quorumMails = (box: ReturnType<typeof mailbox>) =>
    mailLines(box).filter((l) => l.includes('Virtualserver'));

  it('a reload racing a checker result decides on one view: one "Lost quorum", not two', async () => {
    const box = mailbox();
    const { x, ipvs, probe, modelLookups } = await raced(box);
    probe.resolved = 0;
    const reload = x.host.reload(load(quorumConf({ w81: 1, drop: ['192.0.2.82'] })));
    // the reload has built its model (the same look-ups as at start) and decided what it could
    for (let i = 0; i < 500 && probe.resolved < modelLookups; i++) await new Promise((r) => setTimeout(r, 2));
    expect(probe.resolved).toBe(modelLookups);
    await settle();
    ipvs.release();
    await reload;
    await step(x, 0.5);
    // keepalived: the checker result loses quorum; the reload keeps the virtual server down, silently
    expect(await scriptsStarted(x, 2)).toEqual(['/bin/echo down 83', '/bin/echo quorum-down 80']);
    expect(fifoLines(x).filter((l) => l.startsWith('VS'))).toEqual(['VS [192.0.2.80]:tcp:80 DOWN']);
    expect(quorumMails(box)).toEqual([
      '[LB1] Virtualserver [192.0.2.80]:tcp:80 - DOWN | => Lost quorum 2+0=2 <= 1 <=',
    ]);
  });

  it('"Shutting down" is for the stop\'s own events: a quorum loss landing during stop is "Lost quorum"', async () => {
    const box = mailbox();
    const { x, ipvs } = await raced(box);
    const stop = x.host.stop();
    ipvs.release();
    await stop;
    expect(quorumMails(box)).toEqual([
      '[LB1] Virtualserver [192.0.2.80]:tcp:80 - DOWN | => Lost quorum 2+0=2 <= 1 <=',
    ]);
  });

  it('a TCP and a UDP virtual server on one address and port are two: own quorum, health, reload identity', async () => {
    const box = mailbox();
    const down = new Set<string>();
    const checkRunner: Runner = async (spec: CheckSpec) => {
      const target = 'connectIp' in spec ? `${spec.connectIp}:${spec.connectPort}` : '';
      return down.has(target)
        ? { ok: false, error: new KaError('KA_ERR_CHECK_REFUSED', `connect to ${target} refused`) }
        : { ok: true };
    };
    const x = await makeWorld({ smtp: box.smtp, checkRunner }, twoProtocols('UDP'));
    worlds.push(x);
    await settle();
    const t = '[192.0.2.80]:tcp:80';
    const u = '[192.0.2.80]:udp:80';
    const rsT = '[192.0.2.81]:tcp:80';
    const rsU = '[192.0.2.81]:udp:80';
    expect(await notified(x, box, 2)).toEqual({
      scripts: ['/bin/echo quorum-up tcp', '/bin/echo quorum-up udp'],
      fifo: [`VS ${t} UP`, `VS ${u} UP`],
      mails: [
        `[LB1] Virtualserver ${t} - UP | => Starting with quorum up 1+0=1 <= 1 <=`,
        `[LB1] Virtualserver ${u} - UP | => Starting with quorum up 1+0=1 <= 1 <=`,
      ],
    });
    x.scripts.length = 0;
    box.mails.length = 0;
    // the TCP one's checker fails (port 80); the UDP one's (port 8081) does not
    down.add('192.0.2.81:80');
    await step(x, 4);
    const table = await x.ipvs.readTable();
    const addrs = (k: string) => table.get(k)?.dests.map((d) => d.addr);
    expect([addrs('tcp 192.0.2.80:80'), addrs('udp 192.0.2.80:80')]).toEqual([[], ['192.0.2.81']]);
    expect(await notified(x, box, 2)).toEqual({
      scripts: ['/bin/echo down tcp', '/bin/echo quorum-down tcp'],
      fifo: [`RS ${rsT} ${t} DOWN`, `VS ${t} DOWN`],
      mails: [
        `[LB1] Virtualserver ${t} - DOWN | => Lost quorum 1+0=1 <= 0 <=`,
        `[LB1] Realserver ${rsT} of virtual server ${t} - DOWN | => TCP CHECK failed on service <=`,
      ],
    });
    x.scripts.length = 0;
    box.mails.length = 0;
    // a reload changing only the UDP one's protocol: the UDP one is removed, an SCTP one is new
    await x.host.reload(load(twoProtocols('SCTP')));
    await settle();
    const s = '[192.0.2.80]:sctp:80';
    expect(await notified(x, box, 3)).toEqual({
      scripts: ['/bin/echo down udp', '/bin/echo quorum-down udp', '/bin/echo quorum-up sctp'],
      fifo: [`RS ${rsU} ${u} DOWN`, `VS ${u} DOWN`, `VS ${s} UP`],
      mails: [
        `[LB1] Realserver ${rsU} of virtual server ${u} - DOWN | => Removing <=`,
        `[LB1] Virtualserver ${u} - DOWN | => Lost quorum 1+0=1 <= 0 <=`,
        `[LB1] Virtualserver ${s} - UP | => Starting with quorum up 1+0=1 <= 1 <=`,
      ],
    });
    expect([...(await x.ipvs.readTable()).keys()].sort()).toEqual([
      'sctp 192.0.2.80:80',
      'tcp 192.0.2.80:80',
    ]);
  });
});

/** A virtual server a reload adds (the positive control of the lvs_flush_on_stop test). */
const VS70 = `
virtual_server 192.0.2.70 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  quorum_up "/bin/echo quorum-up 70"
  real_server 192.0.2.71 80 {
    weight 1
  }
}
`;

/** A TCP virtual server and a `second` one on the same address and port, each with 192.0.2.81 checked. */
function twoProtocols(second: 'UDP' | 'SCTP'): string {
  const vs = (proto: string, port: number) => {
    const p = proto.toLowerCase();
    return `virtual_server 192.0.2.80 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol ${proto}
  quorum_up "/bin/echo quorum-up ${p}"
  quorum_down "/bin/echo quorum-down ${p}"
  real_server 192.0.2.81 80 {
    weight 1
    notify_down "/bin/echo down ${p}"
    TCP_CHECK {
      connect_port ${port}
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }
  }
}
`;
  };
  return `
global_defs {${SMTP_GLOBAL}  smtp_alert
  lvs_notify_fifo ${FIFO}
}
${vs('TCP', 80)}${vs(second, 8081)}`;
}

/** The in-memory IPVS whose readTable can be held, to hold a manager's pass mid-way. */
class HeldIpvs extends FakeIpvs {
  held = false;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hold(): void {
    this.gate = new Promise<void>((r) => {
      this.open = r;
    });
  }
  release(): void {
    this.gate = undefined;
    this.open?.();
  }
  override async readTable() {
    if (this.gate) {
      this.held = true;
      await this.gate;
    }
    return super.readTable();
  }
}

/** An alpha virtual server whose checker has no retry (keepalived notifies its first failure). */
const ALPHA_CONF = (extraGlobal = '') => `
global_defs {
  lvs_notify_fifo ${FIFO}${extraGlobal}
}
virtual_server 192.0.2.40 80 {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  alpha
  real_server 192.0.2.41 80 {
    notify_up "/bin/echo up 41"
    notify_down "/bin/echo down 41"
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`;

describe('LvsHost: alpha', () => {
  it("an alpha checker's first failure runs notify_down and writes `RS … DOWN`, without mail, once", async () => {
    const box = mailbox();
    const world = await makeWorld({ smtp: box.smtp }, ALPHA_CONF(`${SMTP_GLOBAL}  smtp_alert`));
    world.down.add('192.0.2.41');
    await step(world, 4.5); // attempts at 0, 2 and 4 s fail: only the first is notified
    await settle();
    expect(world.attempts.filter((a) => a === '192.0.2.41')).toHaveLength(3);
    expect(await scriptsStarted(world, 1)).toEqual(['/bin/echo down 41']);
    expect(fifoLines(world)).toEqual(['RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 DOWN']);
    expect(box.mails).toEqual([]);
    expect(world.counters.get('lvs.rs_down')).toBe(0);
    expect(await world.ipvs.readTable().then((t) => t.get('tcp 192.0.2.40:80')?.dests)).toEqual([]);
    // its first success is the usual transition
    world.down.delete('192.0.2.41');
    await step(world, 2.2);
    await settle();
    expect(await scriptsStarted(world, 2)).toEqual(['/bin/echo down 41', '/bin/echo up 41']);
    expect(fifoLines(world)).toEqual([
      'RS [192.0.2.41]:tcp:80 [192.0.2.40]:tcp:80 UP',
      'VS [192.0.2.40]:tcp:80 UP',
    ]);
    expect(box.mails.map((m) => m.subject)).toEqual([
      '[LB1] Virtualserver [192.0.2.40]:tcp:80 - UP',
      '[LB1] Realserver [192.0.2.41]:tcp:80 of virtual server [192.0.2.40]:tcp:80 - UP',
    ]);
    await world.host.stop();
    closeSync(world.fifo);
  });
});

describe('LvsHost: rs_init_notifies', () => {
  const withInit = (text: string) => text.replace('global_defs {', 'global_defs {\n  rs_init_notifies');

  it('at start each real server put in the pool runs notify_up and writes `RS … UP`, before its quorum', async () => {
    const box = mailbox();
    const text = withInit(confText()).replace('global_defs {', `global_defs {${SMTP_GLOBAL}`);
    const world = await makeWorld({ smtp: box.smtp }, text);
    await settle();
    // keepalived's order: per virtual server, its real servers (init_service_rs), then its quorum;
    // the alpha server is not in the pool and is not notified
    expect(fifoLines(world)).toEqual([
      'RS [192.0.2.11]:tcp:80 [192.0.2.10]:tcp:80 UP',
      'RS [192.0.2.12]:tcp:80 [192.0.2.10]:tcp:80 UP',
      'VS [192.0.2.10]:tcp:80 UP',
      'RS [192.0.2.21]:tcp:80 [192.0.2.20]:tcp:80 UP',
      'RS [192.0.2.22]:tcp:80 [192.0.2.20]:tcp:80 UP',
      'VS [192.0.2.20]:tcp:80 UP',
    ]);
    expect(await scriptsStarted(world, 2)).toEqual([START_SCRIPT, '/bin/echo up 11']);
    expect(box.mails).toEqual([]); // the real servers mail nothing (no quorum smtp_alert here)
    // a reload notifies the real servers it adds, not the kept ones
    const added = text.replace(
      '  real_server 192.0.2.12 80 {',
      '  real_server 192.0.2.13 80 {\n    weight 1\n  }\n  real_server 192.0.2.12 80 {',
    );
    await world.host.reload(load(added));
    await settle();
    expect(fifoLines(world)).toEqual(['RS [192.0.2.13]:tcp:80 [192.0.2.10]:tcp:80 UP']);
    await world.host.stop();
    closeSync(world.fifo);
  });

  it('without it, start notifies only the quorum decisions', async () => {
    const world = await makeWorld();
    await settle();
    expect(fifoLines(world)).toEqual(['VS [192.0.2.10]:tcp:80 UP', 'VS [192.0.2.20]:tcp:80 UP']);
    await world.host.stop();
    closeSync(world.fifo);
  });
});

/** One group used by a TCP and a UDP virtual server with the same real server (e.g. DNS). */
const GROUP_TWICE = `
global_defs {
  lvs_notify_fifo ${FIFO}
}
virtual_server_group G {
  192.0.2.50 53
}
virtual_server group G {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 192.0.2.51 53 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
virtual_server group G {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol UDP
  real_server 192.0.2.51 53 {
    TCP_CHECK {
      connect_ip 192.0.2.59
      connect_timeout 1
      retry 0
    }
  }
}
`;

describe('LvsHost: virtual server identity', () => {
  it('`virtual_server group G` for TCP and for UDP: each checks its real server and keeps its own quorum', async () => {
    const world = await makeWorld({}, GROUP_TWICE);
    try {
      await step(world, 0.2);
      expect(world.attempts.sort()).toEqual(['192.0.2.51', '192.0.2.59']);
      world.down.add('192.0.2.59'); // the UDP one's checker fails
      await step(world, 2.2);
      const table = await world.ipvs.readTable();
      expect(table.get('tcp 192.0.2.50:53')?.dests.map((d) => d.addr)).toEqual(['192.0.2.51']);
      expect(table.get('udp 192.0.2.50:53')?.dests).toEqual([]);
      expect(fifoLines(world)).toEqual([
        'VS [G]:0 UP',
        'VS [G]:0 UP',
        'RS [192.0.2.51]:udp:53 [G]:0 DOWN',
        'VS [G]:0 DOWN',
      ]);
      const snap = world.host.snapshot() as LvsSnapshot;
      expect(snap.virtualServers.map((v) => [v.protocol, v.quorumUp])).toEqual([
        ['tcp', true],
        ['udp', false],
      ]);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });
});

/** A group with an address entry and an IPv4 fwmark entry; alpha, so a restarted check would empty the pool. */
const GROUP_RELOAD = (protocol: 'TCP' | 'UDP', family = '') => `
global_defs {
  lvs_notify_fifo ${FIFO}
}
virtual_server_group G {
  192.0.2.80 80
  fwmark 9 inet
}
virtual_server group G {
  delay_loop 2
  lb_algo rr
  lb_kind DR
  protocol ${protocol}${family ? `\n  ip_family ${family}` : ''}
  alpha
  quorum_up "/bin/echo quorum-up G"
  quorum_down "/bin/echo quorum-down G"
  real_server 192.0.2.81 80 {
    notify_up "/bin/echo up 81"
    notify_down "/bin/echo down 81"
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 192.0.2.82 80 {
    weight 2
  }
}
`;

describe('LvsHost: reload changing only a group virtual server protocol or family (hitless)', () => {
  async function started(text: string) {
    const world = await makeWorld({}, text);
    await step(world, 0.2); // the alpha real server's first success
    expect(fifoLines(world)).toEqual(['VS [G]:0 UP', 'RS [192.0.2.81]:tcp:80 [G]:0 UP']);
    expect(await scriptsStarted(world, 2)).toEqual(['/bin/echo quorum-up G', '/bin/echo up 81']);
    world.scripts.length = 0;
    world.ipvs.touch('inet fwmark 9', 5n); // traffic on the fwmark service
    return world;
  }
  const fwm = (w: World) => w.ipvs.services.get('inet fwmark 9');

  it('TCP -> UDP: the address entry is replaced (its key has the protocol); the fwmark service, checker, health and quorum stay', async () => {
    const world = await started(GROUP_RELOAD('TCP'));
    try {
      const gen = fwm(world)?.generation;
      const mark = world.ipvs.log.length;
      const attempts = world.attempts.length;
      await world.host.reload(load(GROUP_RELOAD('UDP')));
      await step(world, 0.2);
      await settle();
      expect(world.ipvs.log.slice(mark).map(describeOp)).toEqual([
        'del-service tcp 192.0.2.80:80',
        'add-service udp 192.0.2.80:80',
        'add-dest 192.0.2.81:80 in udp 192.0.2.80:80',
        'add-dest 192.0.2.82:80 in udp 192.0.2.80:80',
      ]);
      // the fwmark service was not touched: same generation, counters and both destinations
      expect(fwm(world)?.generation).toBe(gen);
      expect(fwm(world)?.stats?.conns).toBe(5n);
      expect(fwm(world)?.dests.map((d) => `${d.addr}=${d.weight}`)).toEqual(['192.0.2.81=1', '192.0.2.82=2']);
      // no notifier, no FIFO line (keepalived keeps the virtual server: vs_iseq by group name)
      expect(fifoLines(world)).toEqual([]);
      expect(world.scripts).toEqual([]);
      // the checker was not restarted (warmup 0 would have checked at once); its next check is on time
      expect(world.attempts).toHaveLength(attempts);
      await step(world, 2);
      expect(world.attempts).toHaveLength(attempts + 1);
      const snap = world.host.snapshot() as LvsSnapshot;
      expect(snap.virtualServers.map((v) => [v.protocol, v.quorumUp])).toEqual([['udp', true]]);
      // and it keeps working under the new protocol
      world.down.add('192.0.2.81');
      await step(world, 2.2);
      expect(fifoLines(world)).toEqual(['RS [192.0.2.81]:udp:80 [G]:0 DOWN']);
      expect(await scriptsStarted(world, 1)).toEqual(['/bin/echo down 81']);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });

  it('ip_family only (no service key changes): no IPVS operation and no notifier', async () => {
    const world = await started(GROUP_RELOAD('TCP'));
    try {
      const gens = [...world.ipvs.services.values()].map((s) => s.generation);
      const mark = world.ipvs.log.length;
      const attempts = world.attempts.length;
      await world.host.reload(load(GROUP_RELOAD('TCP', 'inet6')));
      await step(world, 0.2);
      await settle();
      expect(world.ipvs.log.slice(mark)).toEqual([]);
      expect([...world.ipvs.services.values()].map((s) => s.generation)).toEqual(gens);
      expect(fifoLines(world)).toEqual([]);
      expect(world.scripts).toEqual([]);
      expect(world.attempts).toHaveLength(attempts);
    } finally {
      await world.host.stop();
      closeSync(world.fifo);
    }
  });
});
