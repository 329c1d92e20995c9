/**
 * Script user resolution and script security, as keepalived checks them at config load
 * (keepalived-surface.md §4.4): PATH search for bare names, "executable by its user", the
 * non-root-writable path check for scripts run as root (or setuid/setgid root), and the choice
 * between execve and `/bin/sh -c` (a file without `#!` or ELF magic goes through the shell).
 */
import { constants } from 'node:fs';
import { lstat, open, realpath, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { KaError } from '../core/errors.js';
import type { ScriptSpec } from './command.js';
import type { ScriptDef, ScriptUser } from './script.js';

/** keepalived's log line when some script is insecure and enable_script_security is off (config test exit 6). */
export const SECURITY_VIOLATION =
  'SECURITY VIOLATION - scripts are being executed but script_security not enabled.';

/** What the security check concluded about one script. */
export interface ResolvedScript {
  argv: string[];
  /** Executable to run when argv[0] is a symlink or was found by PATH search. */
  path?: string;
  mode: 'exec' | 'shell';
  /** Some part of the path is writable by non-root (run anyway: enable_script_security is off). */
  insecure: boolean;
  /** Log lines keepalived would print (warnings that do not disable the script). */
  warnings: string[];
}

export interface SecurityOptions {
  /** `enable_script_security`: refuse insecure scripts instead of warning. */
  scriptSecurity: boolean;
  /** PATH for bare names (default process.env.PATH or the POSIX default). */
  pathEnv?: string;
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

interface StatLike {
  mode: number;
  uid: number;
  gid: number;
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

/** keepalived's is_executable(): root needs any x bit, else owner / group / other x bit. */
export function isExecutableBy(
  st: Pick<StatLike, 'mode' | 'uid' | 'gid'>,
  uid: number,
  gid: number,
): boolean {
  if (uid === 0) return (st.mode & 0o111) !== 0;
  if (uid === st.uid) return (st.mode & 0o100) !== 0;
  if (gid === st.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** One path component is unsafe when not root-owned, or group-writable by a non-root group or world-writable (sticky dirs exempt). */
export function unsafeComponent(st: StatLike): boolean {
  if (st.uid !== 0) return true;
  const checked = (st.isDirectory() && (st.mode & S_ISVTX) === 0) || st.isFile();
  return checked && ((st.gid !== 0 && (st.mode & 0o020) !== 0) || (st.mode & 0o002) !== 0);
}

/** Walk `/`, each directory and the file itself with lstat; first unsafe component, or null. */
export async function findUnsafeComponent(file: string): Promise<string | null> {
  const parts = file.split('/').filter((p) => p !== '');
  const prefixes = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  for (const p of prefixes) {
    let st: StatLike;
    try {
      st = await lstat(p);
    } catch {
      throw new KaError(
        'KA_ERR_NOTIFY_SCRIPT_NOT_FOUND',
        `check_script_secure could not find script '${file}' - disabling`,
        { file },
      );
    }
    if (unsafeComponent(st)) return p;
  }
  return null;
}

async function searchPath(name: string, user: ScriptUser, pathEnv: string): Promise<string> {
  let denied = false;
  for (const dir of pathEnv.split(delimiter)) {
    const cand = join(dir === '' ? '.' : dir, name);
    try {
      const st = await stat(cand);
      if (st.isFile() && isExecutableBy(st, user.uid, user.gid)) return cand;
      denied = true;
    } catch {
      // not in this directory
    }
  }
  if (denied) {
    throw new KaError(
      'KA_ERR_NOTIFY_SCRIPT_NOT_EXECUTABLE',
      `Permissions failure for script ${name} in path - disabling`,
      { name },
    );
  }
  throw new KaError('KA_ERR_NOTIFY_SCRIPT_NOT_FOUND', `Cannot find script ${name} in path - disabling`, {
    name,
  });
}

async function hasExecMagic(file: string): Promise<boolean> {
  const fh = await open(file, constants.O_RDONLY);
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    const head = buf.subarray(0, bytesRead);
    return (
      head.subarray(0, 2).toString('latin1') === '#!' || head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
    );
  } finally {
    await fh.close();
  }
}

/**
 * Check a script as keepalived's check_script_secure() does and decide how to run it. Throws
 * KA_ERR_NOTIFY_SCRIPT_NOT_FOUND / _NOT_EXECUTABLE, or _INSECURE when `scriptSecurity` is on and
 * the script would run as root from a non-root-writable path.
 */
export async function checkScript(
  argvIn: readonly string[],
  user: ScriptUser,
  opts: SecurityOptions,
): Promise<ResolvedScript> {
  const argv = [...argvIn];
  const first = argv[0];
  if (first === undefined || first === '')
    throw new KaError('KA_ERR_NOTIFY_BAD_COMMAND', 'empty script command');
  const warnings: string[] = [];
  // `</path` tests a file for being openable: keepalived hands it to the shell unchecked.
  if (/^<[ \t]*\//.test(first)) return { argv, mode: 'shell', insecure: false, warnings };

  if (!first.includes('/')) {
    const found = await searchPath(first, user, opts.pathEnv ?? process.env.PATH ?? '/usr/bin:/bin');
    warnings.push(
      `WARNING - script \`${first}\` resolved by path search to \`${found}\`. Please specify full path.`,
    );
    argv[0] = found;
  }
  const file = argv[0] as string;
  let real: string;
  try {
    real = await realpath(file);
  } catch (e) {
    throw new KaError(
      'KA_ERR_NOTIFY_SCRIPT_NOT_FOUND',
      `Script ${file} cannot be accessed - ${(e as Error).message}`,
      { file },
    );
  }
  const st = await stat(real);
  if (!st.isFile() || !isExecutableBy(st, user.uid, user.gid)) {
    throw new KaError(
      'KA_ERR_NOTIFY_SCRIPT_NOT_EXECUTABLE',
      `WARNING - script '${file}' is not executable for uid:gid ${user.uid}:${user.gid} - disabling.`,
      { file, uid: user.uid, gid: user.gid },
    );
  }
  const needProtection =
    user.uid === 0 ||
    user.gid === 0 ||
    (st.uid === 0 && (st.mode & 0o100) !== 0 && (st.mode & S_ISUID) !== 0) ||
    (st.gid === 0 && (st.mode & 0o010) !== 0 && (st.mode & S_ISGID) !== 0);
  let insecure = false;
  if (needProtection) {
    const paths = real === file ? [file] : [file, real];
    for (const p of paths) {
      const bad = await findUnsafeComponent(p);
      if (bad === null) continue;
      if (opts.scriptSecurity) {
        throw new KaError(
          'KA_ERR_NOTIFY_SCRIPT_INSECURE',
          `Unsafe permissions found for script '${file}' - disabling.`,
          {
            file,
            component: bad,
          },
        );
      }
      warnings.push(`Unsafe permissions found for script '${file}'.`);
      insecure = true;
      break;
    }
  }
  const mode = (await hasExecMagic(real)) ? 'exec' : 'shell';
  if (mode === 'shell') warnings.push(`Please add a #! shebang to script ${file}`);
  return { argv, ...(real !== file ? { path: real } : {}), mode, insecure, warnings };
}

/** Build a ScriptDef from a checked script. */
export function toScriptDef(
  name: string,
  r: ResolvedScript,
  user: ScriptUser | undefined,
  extra: Partial<ScriptDef> = {},
): ScriptDef {
  return {
    ...extra,
    name,
    argv: r.argv,
    mode: r.mode,
    ...(r.path ? { path: r.path } : {}),
    ...(user ? { user } : {}),
  };
}

async function getent(db: 'passwd' | 'group', key: string): Promise<string[] | null> {
  // getent honours NSS (LDAP, sssd…), which reading /etc/passwd would not.
  const r = await execa('getent', [db, key], { reject: false });
  if (r.exitCode !== 0 || typeof r.stdout !== 'string' || r.stdout === '') return null;
  return (r.stdout.split('\n')[0] ?? '').split(':');
}

/**
 * Resolve `USER [GROUP]` as keepalived's set_uid_gid(): the user's uid and primary gid, or the
 * named group's gid. Throws KA_ERR_NOTIFY_BAD_USER. (A `:group` prefix asking for supplementary
 * groups is accepted but cannot be honoured: Node always clears them.)
 */
export async function resolveUser(user: string, group?: string): Promise<ScriptUser> {
  const pw = await getent('passwd', user);
  if (!pw) throw new KaError('KA_ERR_NOTIFY_BAD_USER', `Script user '${user}' does not exist`, { user });
  const uid = Number(pw[2]);
  let gid = Number(pw[3]);
  const g = group?.startsWith(':') ? group.slice(1) || undefined : group;
  if (g !== undefined) {
    const gr = await getent('group', g);
    if (!gr) throw new KaError('KA_ERR_NOTIFY_BAD_USER', `Script group '${g}' does not exist`, { group: g });
    gid = Number(gr[2]);
  }
  return { uid, gid, name: user };
}

/**
 * The default script user: `script_user` if configured, else `keepalived_script` if it exists,
 * else the daemon's own ids. With enable_script_security a missing keepalived_script is an error.
 */
export async function defaultScriptUser(
  scriptUser: { user: string; group?: string } | undefined,
  scriptSecurity: boolean,
): Promise<ScriptUser> {
  if (scriptUser) return resolveUser(scriptUser.user, scriptUser.group);
  try {
    return await resolveUser('keepalived_script');
  } catch (e) {
    if (scriptSecurity) {
      throw new KaError(
        'KA_ERR_NOTIFY_BAD_USER',
        'Unable to set default user keepalived_script for script',
        {},
        { cause: e },
      );
    }
    return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  }
}

export interface PrepareContext extends SecurityOptions {
  /** From `defaultScriptUser()`. */
  defaultUser: ScriptUser;
}

/**
 * Config → runnable script in one step: resolve `user [group]` (else the default script user),
 * run the security check, build the ScriptDef. Throws the KaErrors of resolveUser / checkScript;
 * keepalived then disables that one script and carries on.
 */
export async function prepareScript(
  label: string,
  spec: ScriptSpec,
  ctx: PrepareContext,
  extra: Partial<ScriptDef> = {},
): Promise<{ def: ScriptDef; warnings: string[]; insecure: boolean }> {
  const user = spec.user !== undefined ? await resolveUser(spec.user, spec.group) : ctx.defaultUser;
  const checked = await checkScript(spec.argv, user, ctx);
  return {
    def: toScriptDef(label, checked, user, extra),
    warnings: checked.warnings,
    insecure: checked.insecure,
  };
}
