/** keepalived's command line. Filled in by the config and daemon issues. */
export async function runCli(argv: string[]): Promise<number> {
  if (argv.includes('-v') || argv.includes('--version')) {
    process.stdout.write('keepalived-ts 0.1.0\n');
    return 0;
  }
  process.stderr.write('keepalived-ts: not yet implemented\n');
  return 1;
}
