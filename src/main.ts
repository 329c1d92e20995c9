/**
 * Process entry: parses keepalived's command line and dispatches (config test, genhash, daemon).
 * Returns the process exit code; never calls process.exit itself so tests can drive it.
 */
import { runCli } from './daemon/cli.js';
import { parseOptions } from './daemon/options.js';

export async function main(argv: string[]): Promise<number> {
  return runCli(argv);
}

/**
 * Whether `argv` asks for a mode that is over once main() returns and has written its output
 * synchronously (-t, --dump-config, -v, -h, --signum, or an option error): bin/keepalived-ts.js then
 * exits at once instead of letting Node wait for background compiler threads (20-50 ms after a
 * large `-t`). Daemon mode and genhash end by themselves.
 */
export function isOneShot(argv: readonly string[]): boolean {
  const { opts } = parseOptions(argv);
  return opts.mode !== 'daemon' && opts.mode !== 'genhash';
}
