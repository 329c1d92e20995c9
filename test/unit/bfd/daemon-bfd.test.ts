import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { KeepalivedConfig } from '../../../src/config/model.js';
import { FakeClock } from '../../../src/core/clock.js';
import { Counters } from '../../../src/core/counters.js';
import { DaemonBfd } from '../../../src/daemon/bfd-host.js';
import { bfdInstance } from './fixtures.js';

describe('DaemonBfd with -B', () => {
  it('runs nothing, tells the sink nothing, and says so once (not on every reload)', () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s).msg) });
    const told: string[] = [];
    const bfd = new DaemonBfd({ clock: new FakeClock(), log, counters: new Counters() }, true, {
      setBfdState: (name, up) => told.push(`${name}:${up}`),
    });
    const config = { bfdInstances: [bfdInstance('B1', '192.0.2.2')] } as unknown as KeepalivedConfig;
    bfd.apply(config);
    bfd.apply(config);
    bfd.apply(config);
    expect(lines.filter((m) => /BFD disabled \(-B\)/.test(m))).toHaveLength(1);
    expect(told).toEqual([]);
    bfd.stop();
  });
});
