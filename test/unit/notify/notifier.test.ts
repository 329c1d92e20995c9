import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotifyFifo } from '../../../src/notify/fifo.js';
import { type InstanceNotifyConfig, Notifier } from '../../../src/notify/notifier.js';
import { type ScriptEvent, ScriptRunner } from '../../../src/notify/script.js';

let dir: string;
let rec: string;
let out: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kt-notify-'));
  out = join(dir, 'calls.log');
  rec = join(dir, 'rec.sh');
  // Appends its argv, one call per line, like the lab's recording scripts.
  await writeFile(rec, `#!/bin/sh\nprintf '[%s]\\n' "$*" >> ${out}\n`);
  await chmod(rec, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A runner that records start order and lets the test wait for every started script to end. */
function harness() {
  const starts: string[][] = [];
  let ended = 0;
  const runner = new ScriptRunner({
    onEvent: (e: ScriptEvent) => {
      if (e.type === 'start') starts.push([...e.argv.slice(1)]);
      if (e.type === 'end' || e.type === 'dropped') ended++;
    },
  });
  const idle = async () => {
    while (ended < starts.length || runner.running > 0) await new Promise((r) => setTimeout(r, 5));
  };
  return { runner, starts, idle };
}

/** One event-loop turn: scripts and FIFO lines are launched on later turns, one script per turn. */
const turn = () => new Promise<void>((r) => setImmediate(r));
/** Turns until no script has been launched for three turns in a row (the launch queue is empty). */
const settled = async (starts: readonly unknown[]): Promise<void> => {
  for (let still = 0, n = starts.length; still < 3; ) {
    await turn();
    still = starts.length === n ? still + 1 : 0;
    n = starts.length;
  }
};

const calls = async (): Promise<string[]> =>
  (await readFile(out, 'utf8').catch(() => ''))
    .split('\n')
    .filter((l) => l !== '')
    .sort();

const inst = (extra: Partial<InstanceNotifyConfig> = {}): InstanceNotifyConfig => ({
  name: 'VI_1',
  master: { name: 'notify_master', argv: [rec, 'MASTER-A', 'arg2'] },
  backup: { name: 'notify_backup', argv: [rec] },
  fault: { name: 'notify_fault', argv: [rec, 'FAULT-A'] },
  stop: { name: 'notify_stop', argv: [rec, 'STOP-A'] },
  generic: { name: 'notify', argv: [rec, 'INST-A'] },
  ...extra,
});

describe('Notifier: keepalived order and arguments, recorded by real scripts', () => {
  it('lab sequence: BACKUP at start, MASTER, then STOP', async () => {
    await rm(out, { force: true });
    const { runner, starts, idle } = harness();
    const n = new Notifier({ runner });
    n.instance(inst(), 'BACKUP', 150);
    n.instance(inst(), 'MASTER', 150);
    n.instance(inst(), 'STOP', 150);
    // spawn order: specific script first, then the generic one, transition by transition
    await settled(starts);
    expect(starts).toEqual([
      [],
      ['INST-A', 'INSTANCE', 'VI_1', 'BACKUP', '150'],
      ['MASTER-A', 'arg2'],
      ['INST-A', 'INSTANCE', 'VI_1', 'MASTER', '150'],
      ['STOP-A'],
      ['INST-A', 'INSTANCE', 'VI_1', 'STOP', '150'],
    ]);
    await idle();
    expect(await calls()).toEqual(
      [
        '[]',
        '[INST-A INSTANCE VI_1 BACKUP 150]',
        '[MASTER-A arg2]',
        '[INST-A INSTANCE VI_1 MASTER 150]',
        '[STOP-A]',
        '[INST-A INSTANCE VI_1 STOP 150]',
      ].sort(),
    );
  });

  it('DELETED reports FAULT unless notify_deleted; with it, the deleted script and DELETED', async () => {
    const { runner, starts, idle } = harness();
    const n = new Notifier({ runner });
    n.instance(inst(), 'DELETED', 90);
    n.instance(
      inst({ name: 'VI_2', notifyDeleted: true, deleted: { name: 'notify_deleted', argv: [rec, 'DEL-A'] } }),
      'DELETED',
      90,
    );
    await settled(starts);
    expect(starts).toEqual([
      ['FAULT-A'],
      ['INST-A', 'INSTANCE', 'VI_1', 'FAULT', '90'],
      ['DEL-A'],
      ['INST-A', 'INSTANCE', 'VI_2', 'DELETED', '90'],
    ]);
    await idle();
  });

  it('sync groups: GROUP NAME STATE 0, and members following the group notify only once', async () => {
    const { runner, starts, idle } = harness();
    const n = new Notifier({ runner });
    const g = {
      name: 'G1',
      master: { name: 'g_master', argv: [rec, 'G-MASTER'] },
      generic: { name: 'g_notify', argv: [rec, 'G'] },
    };
    n.group(g, 'MASTER');
    n.instance(inst(), 'MASTER', 150, 'MASTER'); // first notification of VI_1: sent
    n.instance(inst(), 'MASTER', 150, 'MASTER'); // following the group again: suppressed
    n.instance(inst(), 'FAULT', 150, 'MASTER'); // differs from the group: sent
    await settled(starts);
    expect(starts).toEqual([
      ['G-MASTER'],
      ['G', 'GROUP', 'G1', 'MASTER', '0'],
      ['MASTER-A', 'arg2'],
      ['INST-A', 'INSTANCE', 'VI_1', 'MASTER', '150'],
      ['FAULT-A'],
      ['INST-A', 'INSTANCE', 'VI_1', 'FAULT', '150'],
    ]);
    await idle();
  });

  it('real servers: notify_up/notify_down get their configured words only, plus the checker FIFO line', async () => {
    const { runner, starts, idle } = harness();
    const n = new Notifier({ runner });
    const path = join(dir, 'lvs.fifo');
    const fifo = await NotifyFifo.open({ path });
    const got: string[] = [];
    const rs = createReadStream(path, { encoding: 'utf8' });
    rs.on('data', (d) => got.push(String(d)));
    n.realServer(
      { name: 'notify_down', argv: [rec, 'RS-DOWN', '192.0.2.10'] },
      'RS [192.0.2.10]:tcp:80 [198.51.100.1]:tcp:80 DOWN',
      [fifo],
    );
    n.realServer(undefined, 'VS [198.51.100.1]:tcp:80 DOWN', [fifo]);
    await settled(starts);
    expect(starts).toEqual([['RS-DOWN', '192.0.2.10']]);
    while (got.join('').split('\n').length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(got.join('')).toBe(
      'RS [192.0.2.10]:tcp:80 [198.51.100.1]:tcp:80 DOWN\nVS [198.51.100.1]:tcp:80 DOWN\n',
    );
    rs.destroy();
    await fifo.close();
    await idle();
  });

  it('notify_stop scripts are killed after 1 s', async () => {
    const hang = join(dir, 'hang.sh');
    await writeFile(hang, '#!/bin/sh\nsleep 30\n');
    await chmod(hang, 0o755);
    const ends: ScriptEvent[] = [];
    const runner = new ScriptRunner({ onEvent: (e) => e.type === 'end' && ends.push(e) });
    const n = new Notifier({ runner });
    n.instance({ name: 'VI_1', stop: { name: 'notify_stop', argv: [hang] } }, 'STOP', 100);
    while (ends.length === 0) await new Promise((r) => setTimeout(r, 20));
    const e = ends[0];
    expect(e?.type === 'end' && e.result.outcome).toEqual({ kind: 'timeout', signal: 'SIGKILL' });
    const ms = e?.type === 'end' ? (e.result.endedAt - e.result.startedAt) / 1000 : 0;
    process.stdout.write(`notify_stop hung script killed after ${ms.toFixed(1)} ms\n`);
    expect(ms).toBeGreaterThanOrEqual(1000);
  });

  it('writes keepalived FIFO lines after the scripts, including priority and rx-lower-pri events', async () => {
    const path = join(dir, 'vrrp.fifo');
    const fifo = await NotifyFifo.open({ path });
    const lines: string[] = [];
    const rs = createReadStream(path, { encoding: 'utf8' });
    let buf = '';
    rs.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts);
    });
    const { runner, idle } = harness();
    const n = new Notifier({ runner, fifos: [fifo] });
    n.instance(inst({ notifyPriorityChanges: true }), 'BACKUP', 150);
    n.priorityChange(inst({ notifyPriorityChanges: true }), false, 90);
    n.priorityChange(inst(), false, 80); // not enabled: no line
    n.masterRxLowerPri(inst(), 150);
    n.group({ name: 'G1' }, 'MASTER');
    n.instance(inst(), 'STOP', 150);
    while (lines.length < 5) await new Promise((r) => setTimeout(r, 5));
    expect(lines).toEqual([
      'INSTANCE "VI_1" BACKUP 150',
      'INSTANCE "VI_1" BACKUP_PRIORITY 90',
      'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150',
      'GROUP "G1" MASTER 0',
      'INSTANCE "VI_1" STOP 150',
    ]);
    rs.destroy();
    await fifo.close();
    await idle();
  });
});
