/**
 * LvsHost's per-checker SMTP alerts (keepalived 2.2.7 mails each checker result after
 * update_svr_checker_state, not each real-server change) and BFD_CHECK (the checker follows its
 * bfd_instance's session, fed by setBfdState). In-process Scheduler on a FakeClock, FakeIpvs, a
 * recording mail transport.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Runner } from '../../../src/check/index.js';
import type { CheckSpec } from '../../../src/check/types.js';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { KaError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/log.js';
import { LvsHost } from '../../../src/daemon/lvs-host.js';
import { ScriptResolver } from '../../../src/daemon/scripts.js';
import { FakeIpvs } from '../../../src/ipvs/fake.js';
import { ScriptRunner } from '../../../src/notify/script.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-lvs-mails-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string): KeepalivedConfig {
  const path = join(dir, `k${Math.random().toString(16).slice(2)}.conf`);
  writeFileSync(path, text);
  const { config, diagnostics } = loadConfig(path, { configId: 'test' });
  const bad = diagnostics.filter((d) => d.severity === 'error' || d.severity === 'fatal');
  if (bad.length > 0) throw new Error(JSON.stringify(bad));
  return config;
}

const US = 1_000_000;
const settle = async () => {
  for (let i = 0; i < 8; i++) await new Promise<void>((r) => setImmediate(r));
};

interface World {
  clock: FakeClock;
  ipvs: FakeIpvs;
  host: LvsHost;
  /** Checker kinds whose attempts fail. */
  down: Set<string>;
  /** Reason the SMTP_CHECK failures carry. */
  mails: string[];
  scripts: string[];
  counters: Counters;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.host.stop();
});

async function makeWorld(text: string, before?: (host: LvsHost) => void): Promise<World> {
  const config = load(text);
  const clock = new FakeClock();
  const ipvs = new FakeIpvs();
  const down = new Set<string>();
  const mails: string[] = [];
  const scripts: string[] = [];
  const runner: Runner = async (spec: CheckSpec) =>
    down.has(spec.kind)
      ? {
          ok: false,
          error: new KaError('KA_ERR_CHECK_REFUSED', `${spec.kind} refused`),
          ...(spec.kind === 'SMTP_CHECK' ? { reason: 'Error connecting to server [192.0.2.11]:25' } : {}),
        }
      : { ok: true };
  const transport = () => ({
    send: async (m: { raw: string }) => {
      const [head = '', body = ''] = m.raw.split('\r\n\r\n');
      mails.push(`${/(?:^|\r\n)Subject: ([^\r]*)/.exec(head)?.[1] ?? ''} | ${body.trim()}`);
      return { rejected: [] };
    },
    close: () => {},
  });
  const counters = new Counters();
  const host = new LvsHost(config, {
    clock,
    log: silentLogger,
    counters,
    scripts: await ScriptResolver.create(config, silentLogger),
    ipvs,
    checkRunner: runner,
    random: () => 0,
    smtp: { transport },
    scriptRunner: new ScriptRunner({
      onEvent: (e) => {
        if (e.type === 'start') scripts.push(e.argv.join(' '));
      },
    }),
  });
  const w: World = { clock, ipvs, host, down, mails, scripts, counters };
  worlds.push(w);
  before?.(host);
  await host.start();
  await settle();
  return w;
}

/** Moves the fake clock in 100 ms steps, letting results, reconciles and mails land. */
async function step(w: World, seconds: number) {
  for (let t = 0; t < seconds * 10; t++) {
    w.clock.advance(US / 10);
    await settle();
  }
  await settle();
}

async function dests(w: World): Promise<string[]> {
  return ((await w.ipvs.readTable()).get('tcp 192.0.2.10:80')?.dests ?? []).map(
    (d) => `${d.addr}=${d.weight}`,
  );
}

/** Waits (real time) until the script runner has started `n` scripts. */
async function scriptsStarted(w: World, n: number) {
  for (let i = 0; i < 200 && w.scripts.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return [...w.scripts];
}

const GLOBAL = (extra = '') => `
global_defs {
  router_id LB1
  notification_email {
    ops@example.org
  }
  smtp_server 192.0.2.25
${extra}}
`;

/** One real server with two checkers: TCP_CHECK (A) and HTTP_GET (B), both retry 0. */
const TWO_CHECKERS = (extra = '') => `${GLOBAL(extra)}
virtual_server 192.0.2.10 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.11 80 {
    notify_up "/bin/echo up 11"
    notify_down "/bin/echo down 11"
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
    HTTP_GET {
      url {
        path /
      }
      connect_timeout 1
      retry 0
    }
  }
}
`;

const RS = '[LB1] Realserver [192.0.2.11]:tcp:80 of virtual server [192.0.2.10]:tcp:80';

/** A fails, B fails, A recovers, B recovers: one delay_loop (2 s) apart. */
async function sequence(w: World) {
  await step(w, 0.5); // first results: both up, nothing mailed
  w.down.add('TCP_CHECK');
  await step(w, 2);
  w.down.add('HTTP_GET');
  await step(w, 2);
  w.down.delete('TCP_CHECK');
  await step(w, 2);
  w.down.delete('HTTP_GET');
  await step(w, 2);
}

describe('LvsHost: one mail per checker result (keepalived 2.2.7)', () => {
  it('two checkers, no_checker_emails off: each flip mails, the subject carries the real server after it', async () => {
    const w = await makeWorld(TWO_CHECKERS());
    await sequence(w);
    expect(w.mails).toEqual([
      `${RS} - DOWN | => TCP CHECK failed on service <=`,
      `${RS} - DOWN | => CHECK failed on service : HTTP request failed <=`,
      `${RS} - DOWN | => TCP CHECK succeed on service <=`,
      `${RS} - UP | => CHECK succeed on service <=`,
    ]);
    // scripts and IPVS follow the real server only: one DOWN, one UP
    expect(await scriptsStarted(w, 2)).toEqual(['/bin/echo down 11', '/bin/echo up 11']);
    expect(w.counters.get('lvs.rs_down')).toBe(1);
    expect(w.counters.get('lvs.rs_up')).toBe(1);
    expect(await dests(w)).toEqual(['192.0.2.11=1']);
  });

  it('no_checker_emails: only the results that change the real server mail (first and last)', async () => {
    const w = await makeWorld(TWO_CHECKERS('  no_checker_emails\n'));
    await sequence(w);
    expect(w.mails).toEqual([
      `${RS} - DOWN | => TCP CHECK failed on service <=`,
      `${RS} - UP | => CHECK succeed on service <=`,
    ]);
    expect(await scriptsStarted(w, 2)).toEqual(['/bin/echo down 11', '/bin/echo up 11']);
  });

  it('smtp_alert off on the real server: no checker mail at all', async () => {
    const w = await makeWorld(TWO_CHECKERS().replace('    notify_up', '    smtp_alert off\n    notify_up'));
    await sequence(w);
    expect(w.mails).toEqual([]);
    expect(await scriptsStarted(w, 2)).toEqual(['/bin/echo down 11', '/bin/echo up 11']);
  });

  it('SMTP_CHECK mails its reason; MISC_CHECK mails its first result, even unchanged', async () => {
    const text = `${GLOBAL()}
virtual_server 192.0.2.10 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.11 80 {
    SMTP_CHECK {
      connect_timeout 1
      retry 0
    }
    MISC_CHECK {
      misc_path /bin/true
    }
  }
}
`;
    const w = await makeWorld(text);
    await step(w, 0.5);
    // keepalived's misc checker reports its first success whatever state it started in
    expect(w.mails).toEqual([`${RS} - UP | => MISC CHECK succeeded on service <=`]);
    w.mails.length = 0;
    w.down.add('SMTP_CHECK');
    await step(w, 2);
    w.down.add('MISC_CHECK');
    await step(w, 2);
    expect(w.mails).toEqual([
      `${RS} - DOWN | => CHECK failed on service : Error connecting to server [192.0.2.11]:25 <=`,
      `${RS} - DOWN | => MISC CHECK failed on service <=`,
    ]);
  });
});

describe('LvsHost: an alpha MISC_CHECK failing its first run', () => {
  const text = (extra: string) => `${GLOBAL(extra)}
virtual_server 192.0.2.10 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.11 80 {
    notify_down "/bin/echo down 11"
    MISC_CHECK {
      misc_path /bin/false
      alpha
    }
  }
}
`;

  it('notifies DOWN and mails "MISC CHECK failed" (keepalived reports the misc first result); not with no_checker_emails', async () => {
    for (const [extra, mails] of [
      ['', [`${RS} - DOWN | => MISC CHECK failed on service <=`]],
      ['  no_checker_emails\n', []],
    ] as const) {
      const w = await makeWorld(text(extra));
      w.down.add('MISC_CHECK');
      await step(w, 0.5);
      expect(await scriptsStarted(w, 1)).toEqual(['/bin/echo down 11']);
      expect(w.mails).toEqual(mails);
      expect(w.counters.get('lvs.rs_down')).toBe(0);
    }
  });
});

const BFD = (opts: { alpha?: boolean; extra?: string } = {}) => `${GLOBAL(opts.extra ?? '')}
bfd_instance b1 {
  neighbor_ip 192.0.2.50
}
bfd_instance b2 {
  neighbor_ip 192.0.2.51
  vrrp
}
virtual_server 192.0.2.10 80 {
  delay_loop 2
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.11 80 {
    notify_up "/bin/echo up 11"
    notify_down "/bin/echo down 11"
    BFD_CHECK {
      name b1${opts.alpha ? '\n      alpha' : ''}
    }
  }
  real_server 192.0.2.12 80 {
    weight 2
  }
}
`;

describe('LvsHost: BFD_CHECK follows its bfd_instance', () => {
  it('Down takes the real server out, Up brings it back; a repeated state is ignored; mails name the instance', async () => {
    const w = await makeWorld(BFD());
    // no session state yet: a BFD_CHECK starts up (not alpha), as keepalived's checkers do
    expect((await dests(w)).sort()).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    w.host.setBfdState('b1', false);
    await step(w, 0.2);
    expect(await dests(w)).toEqual(['192.0.2.12=2']);
    w.host.setBfdState('b1', false);
    await step(w, 0.2);
    w.host.setBfdState('b1', true);
    await step(w, 0.2);
    expect((await dests(w)).sort()).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(w.mails).toEqual([
      `${RS} - DOWN | => BFD CHECK b1 failed on service <=`,
      `${RS} - UP | => BFD CHECK b1 succeeded on service <=`,
    ]);
    expect(await scriptsStarted(w, 2)).toEqual(['/bin/echo down 11', '/bin/echo up 11']);
    // no attempt ever runs for a BFD_CHECK
    expect(w.counters.get('check.attempts')).toBe(0);
  });

  it('an instance delivering to VRRP only is ignored; an unknown name changes nothing', async () => {
    const w = await makeWorld(BFD().replace('name b1', 'name b2'));
    w.host.setBfdState('b2', false);
    w.host.setBfdState('nope', false);
    await step(w, 0.2);
    expect((await dests(w)).sort()).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(w.mails).toEqual([]);
  });

  it('alpha: starts out of the pool; the first Down only notifies (no mail); Up adds it', async () => {
    const w = await makeWorld(BFD({ alpha: true }));
    expect(await dests(w)).toEqual(['192.0.2.12=2']);
    w.host.setBfdState('b1', false);
    await step(w, 0.2);
    expect(await scriptsStarted(w, 1)).toEqual(['/bin/echo down 11']);
    expect(w.mails).toEqual([]);
    w.host.setBfdState('b1', true);
    await step(w, 0.2);
    expect((await dests(w)).sort()).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(w.mails).toEqual([`${RS} - UP | => BFD CHECK b1 succeeded on service <=`]);
  });

  it('a state known before the checkers start is applied to them', async () => {
    const w = await makeWorld(BFD(), (host) => host.setBfdState('b1', false));
    await step(w, 0.2);
    expect(await dests(w)).toEqual(['192.0.2.12=2']);
  });

  it('reload: a kept BFD_CHECK keeps its state; the sessions announced again change nothing', async () => {
    const w = await makeWorld(BFD());
    w.host.setBfdState('b1', false);
    await step(w, 0.2);
    w.mails.length = 0;
    await w.host.reload(load(BFD({ extra: '  smtp_connect_timeout 5\n' })));
    w.host.setBfdState('b1', false); // the BFD host announces every session after a reload
    await step(w, 0.2);
    expect(await dests(w)).toEqual(['192.0.2.12=2']);
    expect(w.mails).toEqual([]);
    w.host.setBfdState('b1', true);
    await step(w, 0.2);
    expect((await dests(w)).sort()).toEqual(['192.0.2.11=1', '192.0.2.12=2']);
    expect(w.mails).toEqual([`${RS} - UP | => BFD CHECK b1 succeeded on service <=`]);
  });
});
