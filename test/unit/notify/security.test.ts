import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScriptLine } from '../../../src/notify/command.js';
import {
  checkScript,
  isExecutableBy,
  prepareScript,
  resolveUser,
  unsafeComponent,
} from '../../../src/notify/security.js';

const st = (mode: number, uid: number, gid: number, type: 'dir' | 'file' | 'link' = 'file') => ({
  mode,
  uid,
  gid,
  isDirectory: () => type === 'dir',
  isFile: () => type === 'file',
  isSymbolicLink: () => type === 'link',
});

describe('keepalived is_executable()', () => {
  it.each([
    ['root needs any x bit', 0o001, 1000, 1000, 0, 0, true],
    ['root, no x bit', 0o644, 0, 0, 0, 0, false],
    ['owner uses the user bit', 0o700, 1000, 1000, 1000, 1000, true],
    ['owner ignores group/other bits', 0o077, 1000, 1000, 1000, 1000, false],
    ['group member uses the group bit', 0o710, 0, 50, 1000, 50, true],
    ['group member ignores other bit', 0o701, 0, 50, 1000, 50, false],
    ['others use the other bit', 0o001, 0, 0, 1000, 1000, true],
    ['others without x', 0o770, 0, 0, 1000, 1000, false],
  ])('%s', (_l, mode, fuid, fgid, uid, gid, want) => {
    expect(isExecutableBy(st(mode, fuid, fgid), uid, gid)).toBe(want);
  });
});

describe('keepalived check_security() component rule', () => {
  it.each([
    ['root 0755 dir', st(0o755, 0, 0, 'dir'), false],
    ['non-root owner', st(0o755, 1000, 0, 'dir'), true],
    ['world-writable dir', st(0o777, 0, 0, 'dir'), true],
    ['sticky world-writable dir (/tmp)', st(0o1777, 0, 0, 'dir'), false],
    ['group-writable, root group', st(0o775, 0, 0, 'dir'), false],
    ['group-writable, other group', st(0o775, 0, 100, 'dir'), true],
    ['world-writable file', st(0o757, 0, 0), true],
    ['root symlink 0777', st(0o777, 0, 0, 'link'), false],
  ])('%s', (_l, s, unsafe) => {
    expect(unsafeComponent(s)).toBe(unsafe);
  });
});

describe('checkScript', () => {
  let dir: string;
  const root = { uid: 0, gid: 0 };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kt-sec-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('missing script: KA_ERR_NOTIFY_SCRIPT_NOT_FOUND', async () => {
    await expect(checkScript([join(dir, 'nope')], root, { scriptSecurity: false })).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_SCRIPT_NOT_FOUND',
    });
    await expect(
      checkScript(['no-such-command-kt'], root, { scriptSecurity: false, pathEnv: dir }),
    ).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_SCRIPT_NOT_FOUND',
    });
  });

  it('no x bit: KA_ERR_NOTIFY_SCRIPT_NOT_EXECUTABLE', async () => {
    const p = join(dir, 'noexec.sh');
    await writeFile(p, '#!/bin/sh\n');
    await chmod(p, 0o644);
    await expect(checkScript([p], root, { scriptSecurity: false })).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_SCRIPT_NOT_EXECUTABLE',
    });
  });

  it('bare names are searched in PATH, with keepalived warning', async () => {
    const r = await checkScript(['true', 'x'], root, {
      scriptSecurity: false,
      pathEnv: '/nonexistent:/usr/bin:/bin',
    });
    expect(r.argv).toEqual(['/usr/bin/true', 'x']);
    expect(r.warnings[0]).toBe(
      'WARNING - script `true` resolved by path search to `/usr/bin/true`. Please specify full path.',
    );
  });

  it('#! or ELF runs by execve; anything else through /bin/sh', async () => {
    const a = join(dir, 'bang.sh');
    await writeFile(a, '#!/bin/sh\nexit 0\n');
    await chmod(a, 0o755);
    const b = join(dir, 'plain.sh');
    await writeFile(b, 'exit 0\n');
    await chmod(b, 0o755);
    expect((await checkScript([a], root, { scriptSecurity: false })).mode).toBe('exec');
    const rb = await checkScript([b], root, { scriptSecurity: false });
    expect(rb.mode).toBe('shell');
    expect(rb.warnings).toContain(`Please add a #! shebang to script ${b}`);
    expect((await checkScript(['/bin/true'], root, { scriptSecurity: false })).mode).toBe('exec');
  });

  it('</path file tests go to the shell unchecked', async () => {
    expect(await checkScript(['</etc/hostname'], root, { scriptSecurity: true })).toEqual({
      argv: ['</etc/hostname'],
      mode: 'shell',
      insecure: false,
      warnings: [],
    });
  });

  it('prepareScript: config words to a runnable ScriptDef', async () => {
    const p = join(dir, 'notify.sh');
    await writeFile(p, '#!/bin/sh\nexit 0\n');
    await chmod(p, 0o755);
    const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const r = await prepareScript('notify_master(VI_1)', parseScriptLine(`"${p} MASTER 'a b'"`), {
      defaultUser: me,
      scriptSecurity: false,
    });
    expect(r.def).toEqual({
      name: 'notify_master(VI_1)',
      argv: [p, 'MASTER', 'a b'],
      mode: 'exec',
      user: me,
    });
    await expect(
      prepareScript('x', parseScriptLine(`${p} kt-no-such-user`), { defaultUser: me, scriptSecurity: false }),
    ).rejects.toMatchObject({ code: 'KA_ERR_NOTIFY_BAD_USER' });
  });

  it('resolveUser: unknown user is a typed error; root resolves', async () => {
    await expect(resolveUser('kt-no-such-user')).rejects.toMatchObject({ code: 'KA_ERR_NOTIFY_BAD_USER' });
    await expect(resolveUser('root', 'kt-no-such-group')).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_BAD_USER',
    });
    expect(await resolveUser('root')).toEqual({ uid: 0, gid: 0, name: 'root' });
  });
});
