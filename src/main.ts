/**
 * Process entry: parses keepalived's command line and dispatches (config test, genhash, daemon).
 * Returns the process exit code; never calls process.exit itself so tests can drive it.
 */
import { runCli } from './daemon/cli.js';

export async function main(argv: string[]): Promise<number> {
  return runCli(argv);
}
