import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counters } from '../../../src/core/counters.js';
import { fifoLine, NotifyFifo } from '../../../src/notify/fifo.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kt-fifo-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NotifyFifo', () => {
  it('formats lines as keepalived', () => {
    expect(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100)).toBe('INSTANCE "VI_1" MASTER 100');
    expect(fifoLine('GROUP', 'G1', 'FAULT', 0)).toBe('GROUP "G1" FAULT 0');
  });

  it('creates a 0644 FIFO, delivers lines to a reader, and removes the FIFO it created', async () => {
    const path = join(dir, 'a.fifo');
    const fifo = await NotifyFifo.open({ path });
    const st = await lstat(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o644);
    const got: string[] = [];
    const rs = createReadStream(path, { encoding: 'utf8' });
    rs.on('data', (d) => got.push(String(d)));
    expect(fifo.write('INSTANCE "VI_1" BACKUP 150')).toBe(true);
    expect(fifo.write('INSTANCE "VI_1" MASTER 150\n')).toBe(true);
    while (got.join('').split('\n').length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(got.join('')).toBe('INSTANCE "VI_1" BACKUP 150\nINSTANCE "VI_1" MASTER 150\n');
    rs.destroy();
    await fifo.close();
    await expect(lstat(path)).rejects.toThrow();
    expect(fifo.write('x')).toBe(false);
  });

  it('with no reader, writes never block: lines beyond the pipe buffer are dropped and counted', async () => {
    const counters = new Counters();
    const fifo = await NotifyFifo.open({ path: join(dir, 'b.fifo'), counters });
    const line = fifoLine('INSTANCE', 'VI_1', 'BACKUP_PRIORITY', 100);
    const n = 20_000; // ~760 kB, far more than the 64 kB pipe buffer
    let ok = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (fifo.write(line)) ok++;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(
      `fifo without reader: ${n} writes in ${ms.toFixed(1)} ms, ${ok} accepted, ${n - ok} dropped\n`,
    );
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(n);
    expect(counters.get('KA_ERR_NOTIFY_FIFO_DROPPED')).toBe(n - ok);
    await fifo.close();
  });

  it('keeps an existing FIFO on close', async () => {
    const path = join(dir, 'c.fifo');
    const first = await NotifyFifo.open({ path });
    const second = await NotifyFifo.open({ path }); // exists now: not created by `second`
    await second.close();
    expect((await lstat(path)).isFIFO()).toBe(true);
    await first.close();
  });

  it('refuses a path that is not a FIFO', async () => {
    const path = join(dir, 'plain');
    await writeFile(path, '');
    await expect(NotifyFifo.open({ path })).rejects.toMatchObject({ code: 'KA_ERR_NOTIFY_FIFO' });
    await expect(NotifyFifo.open({ path: join(dir, 'no', 'such', 'dir.fifo') })).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_FIFO',
    });
  });

  it('starts the fifo script with the FIFO path appended, and stops it with SIGTERM on close', async () => {
    const out = join(dir, 'script.out');
    const sc = join(dir, 'reader.sh');
    await writeFile(
      sc,
      `#!/bin/sh\necho "arg=$1" > ${out}\nwhile read -r line; do echo "$line" >> ${out}; done < "$1"\n`,
    );
    await chmod(sc, 0o755);
    const path = join(dir, 'd.fifo');
    const fifo = await NotifyFifo.open({ path, script: { name: 'vrrp_notify_fifo_script', argv: [sc] } });
    fifo.write(fifoLine('INSTANCE', 'VI_1', 'FAULT', 100));
    let text = '';
    while (!text.includes('FAULT')) {
      await new Promise((r) => setTimeout(r, 10));
      text = await readFile(out, 'utf8').catch(() => '');
    }
    expect(text).toBe(`arg=${path}\nINSTANCE "VI_1" FAULT 100\n`);
    await fifo.close(); // resolves only once the script is gone
  });
});
