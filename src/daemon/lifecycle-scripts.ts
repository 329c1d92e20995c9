/**
 * global_defs `startup_script` / `shutdown_script`, as keepalived 2.2.7 runs them (checked against
 * Debian's binary, docs/DAEMON.md): the startup script once, after the pid files are written and
 * before VRRP, the checkers and BFD start; the shutdown script once, after they have stopped. Each
 * gets exactly its configured words (nothing appended), the daemon's environment, "/" as working
 * directory when the daemon forked, its own process group, and its user ([user [group]], else
 * script_user / keepalived_script / root, with the script security checks of every other script).
 * keepalived waits for it up to `*_script_timeout` seconds (default 10), then logs `timed out` and
 * sends SIGTERM to its process group, SIGKILL 2 s later; then it logs how the script ended. A failing or timed-out script is logged and start-up (or
 * shutdown) goes on. A reload runs neither.
 */
import type { KeepalivedConfig } from '../config/model.js';
import type { Clock } from '../core/clock.js';
import type { Counters } from '../core/counters.js';
import { type Logger, silentLogger } from '../core/log.js';
import { type ScriptOutcome, type ScriptResult, ScriptRunner } from '../notify/script.js';
import { ScriptResolver } from './scripts.js';

export type LifecycleKind = 'startup' | 'shutdown';

export interface LifecycleDeps {
  log: Logger;
  counters?: Counters;
  clock?: Clock;
  /** Resolver for the script's user and checks; default one made from the configuration. */
  resolver?: ScriptResolver;
}

/** keepalived's SIGTERM → SIGKILL delay for a script past its timeout. */
const KILL_GRACE_US = 2_000_000;

/** keepalived's line when the timeout expires, before the SIGTERM. */
export const timedOutLine = (kind: LifecycleKind): string => `${kind} script timed out`;

/**
 * keepalived's log line for how the script ended (its wording, "script script" included). A timed
 * out script gets the line of how it then ended: its exit status when it trapped SIGTERM and exited
 * (keepalived: `timed out`, then `script failed, status 3`), else the signal that ended it.
 */
export function outcomeLine(kind: LifecycleKind, o: ScriptOutcome): string {
  switch (o.kind) {
    case 'exit':
      return o.code === 0
        ? `${kind} script script succeeded`
        : `${kind} script script failed, status ${o.code}`;
    case 'signal':
      return `${kind} script script failed, killed by ${o.signal}`;
    case 'timeout':
      return o.code === undefined
        ? `${kind} script script failed, killed by ${o.signal}`
        : outcomeLine(kind, { kind: 'exit', code: o.code });
    case 'spawn-error':
    case 'dropped':
      return `${kind} script could not be run: ${o.error.message}`;
  }
}

/** keepalived's warning when a lifecycle script runs as root without enable_script_security. */
export const LIFECYCLE_SECURITY_VIOLATION =
  'SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.';

/**
 * keepalived 2.2.7 logs LIFECYCLE_SECURITY_VIOLATION at start when a startup or shutdown script
 * would run as root and enable_script_security is off, whether or not the script's path is safe
 * (`-t` exits 6 for it: src/config). Returns whether it was logged.
 */
export async function warnLifecycleSecurity(
  config: KeepalivedConfig,
  deps: Pick<LifecycleDeps, 'log' | 'resolver'>,
): Promise<boolean> {
  const g = config.global;
  if (g.enableScriptSecurity) return false;
  // silent: runLifecycleScript resolves them again and logs what keepalived warns about
  const resolver = deps.resolver ?? (await ScriptResolver.create(config, silentLogger));
  const myUid = process.getuid?.() ?? 0;
  for (const [kind, cmd] of [
    ['startup', g.startupScript],
    ['shutdown', g.shutdownScript],
  ] as const) {
    const def = await resolver.resolve(`${kind} script`, cmd);
    if (def && (def.user?.uid ?? myUid) === 0) {
      deps.log.warn(LIFECYCLE_SECURITY_VIOLATION);
      return true;
    }
  }
  return false;
}

/**
 * Runs the configuration's startup or shutdown script, if any, and waits for it (bounded by its
 * timeout plus the kill grace). Never rejects; resolves with the result, or undefined when there is
 * no script or keepalived's checks disable it (logged).
 */
export async function runLifecycleScript(
  kind: LifecycleKind,
  config: KeepalivedConfig,
  deps: LifecycleDeps,
): Promise<ScriptResult | undefined> {
  const g = config.global;
  const cmd = kind === 'startup' ? g.startupScript : g.shutdownScript;
  if (!cmd) return undefined;
  const timeoutS = kind === 'startup' ? g.startupScriptTimeout : g.shutdownScriptTimeout;
  const log = deps.log;
  let runner: ScriptRunner | undefined;
  try {
    const resolver = deps.resolver ?? (await ScriptResolver.create(config, log));
    const def = await resolver.resolve(`${kind} script`, cmd, {
      timeoutUs: timeoutS * 1_000_000,
      timeoutSignal: 'SIGTERM',
      killGraceUs: KILL_GRACE_US,
      maxRunning: 1,
      maxQueued: 0,
    });
    if (!def) return undefined;
    runner = new ScriptRunner({
      log,
      ...(deps.counters ? { counters: deps.counters } : {}),
      ...(deps.clock ? { clock: deps.clock } : {}),
      onEvent: (e) => {
        if (e.type === 'timeout' && e.signal === 'SIGTERM')
          log.warn({ script: def.name }, timedOutLine(kind));
      },
    });
    // keepalived logs this one with -D only
    log.debug(`Running ${kind} script ${cmd.text}`);
    const r = await runner.run(def);
    const line = outcomeLine(kind, r.outcome);
    // a timed-out script counts as failed even when it then exits 0
    if (r.outcome.kind === 'exit' && r.outcome.code === 0) log.info(line);
    else {
      deps.counters?.inc(`daemon.${kind}_script_failures`);
      log.warn({ script: def.name }, line);
    }
    return r;
  } catch (e) {
    deps.counters?.inc(`daemon.${kind}_script_failures`);
    log.error({ err: e }, `${kind} script: ${(e as Error).message}`);
    return undefined;
  } finally {
    await runner?.close();
  }
}
