import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ScriptRunner } from '../../../src/notify/script.js';
import { checkScript, resolveUser, toScriptDef } from '../../../src/notify/security.js';
import { describeIf, needRoot } from '../../support/privilege.js';

// Needs root: switching uid/gid, and files owned by another user.
describeIf('scripts run as another user, and script security with real ownership', needRoot, () => {
  let dir: string;
  const runner = new ScriptRunner({ captureOutput: true });
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kt-user-'));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    await runner.close('SIGKILL', 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('runs as nobody with supplementary groups cleared', async () => {
    const nobody = await resolveUser('nobody');
    const p = join(dir, 'id.sh');
    await writeFile(p, '#!/bin/sh\necho "$(id -u) $(id -g) $(id -G)"\n');
    await chmod(p, 0o755);
    const checked = await checkScript([p], nobody, { scriptSecurity: true });
    expect(checked.insecure).toBe(false);
    const r = await runner.run(toScriptDef('id', checked, nobody));
    expect(r.outcome).toEqual({ kind: 'exit', code: 0 });
    expect(r.stdout.trim()).toBe(`${nobody.uid} ${nobody.gid} ${nobody.gid}`);
  });

  it('a root script writable by a non-root user: refused with enable_script_security, warned otherwise', async () => {
    const nobody = await resolveUser('nobody');
    const root = { uid: 0, gid: 0 };
    const p = join(dir, 'owned-by-nobody.sh');
    await writeFile(p, '#!/bin/sh\nexit 0\n');
    await chmod(p, 0o755);
    await chown(p, nobody.uid, nobody.gid);
    await expect(checkScript([p], root, { scriptSecurity: true })).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_SCRIPT_INSECURE',
    });
    const r = await checkScript([p], root, { scriptSecurity: false });
    expect(r.insecure).toBe(true);
    expect(r.warnings).toContain(`Unsafe permissions found for script '${p}'.`);
    // the same file run as nobody needs no protection
    expect((await checkScript([p], nobody, { scriptSecurity: true })).insecure).toBe(false);
  });

  it('a world-writable directory on the path makes a root script insecure', async () => {
    const sub = join(dir, 'open');
    await mkdir(sub);
    await chmod(sub, 0o777);
    const p = join(sub, 's.sh');
    await writeFile(p, '#!/bin/sh\nexit 0\n');
    await chmod(p, 0o755);
    await expect(checkScript([p], { uid: 0, gid: 0 }, { scriptSecurity: true })).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_SCRIPT_INSECURE',
    });
    await chmod(sub, 0o1777); // sticky: allowed, like /tmp
    expect((await checkScript([p], { uid: 0, gid: 0 }, { scriptSecurity: true })).insecure).toBe(false);
  });

  it('a script not executable by its user is refused', async () => {
    const nobody = await resolveUser('nobody');
    const p = join(dir, 'root-only.sh');
    await writeFile(p, '#!/bin/sh\nexit 0\n');
    await chmod(p, 0o700);
    await expect(checkScript([p], nobody, { scriptSecurity: false })).rejects.toMatchObject({
      code: 'KA_ERR_NOTIFY_SCRIPT_NOT_EXECUTABLE',
    });
  });
});
