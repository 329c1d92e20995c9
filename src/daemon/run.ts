/**
 * Daemon mode (`keepalived-ts -n -l -D -f CONF ...`). Wired up once the VRRP runtime lands; until
 * then it reports that plainly and fails (exit 1) instead of pretending to run.
 */
export async function runDaemon(_opts: unknown): Promise<number> {
  process.stderr.write('keepalived-ts: daemon mode is not implemented yet\n');
  return 1;
}
