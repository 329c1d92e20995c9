/**
 * Turns the configuration's commands (notify*, vrrp_script, fifo scripts) into runnable ScriptDefs,
 * applying keepalived's script checks once at start/reload: path search, executable for the script
 * user, enable_script_security. A script that fails the checks is disabled with keepalived's warning,
 * as keepalived does; the rest of the configuration keeps running.
 */

import type { Command, KeepalivedConfig } from '../config/model.js';
import type { Logger } from '../core/log.js';
import type { ScriptDef, ScriptUser } from '../notify/script.js';
import { checkScript, defaultScriptUser, resolveUser, toScriptDef } from '../notify/security.js';

export class ScriptResolver {
  private constructor(
    private readonly defaultUser: ScriptUser,
    private readonly security: boolean,
    private readonly log: Logger,
  ) {}

  static async create(config: KeepalivedConfig, log: Logger): Promise<ScriptResolver> {
    const g = config.global;
    const su = g.scriptUser
      ? { user: g.scriptUser.user, ...(g.scriptUser.group ? { group: g.scriptUser.group } : {}) }
      : undefined;
    let user: ScriptUser;
    try {
      user = await defaultScriptUser(su, g.enableScriptSecurity);
    } catch (e) {
      log.warn({ err: e }, (e as Error).message);
      user = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    }
    return new ScriptResolver(user, g.enableScriptSecurity, log);
  }

  /** A checked ScriptDef, or undefined (logged) when keepalived would disable the script. */
  async resolve(
    label: string,
    cmd: Command | undefined,
    extra: Partial<ScriptDef> = {},
  ): Promise<ScriptDef | undefined> {
    if (!cmd) return undefined;
    try {
      const user = cmd.user ? await resolveUser(cmd.user, cmd.group) : this.defaultUser;
      const r = await checkScript(cmd.argv, user, { scriptSecurity: this.security });
      for (const w of r.warnings) this.log.warn({ script: label }, w);
      return toScriptDef(label, r, user, extra);
    } catch (e) {
      this.log.warn({ err: e, script: label }, (e as Error).message);
      return undefined;
    }
  }
}
