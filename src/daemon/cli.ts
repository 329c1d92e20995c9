/**
 * keepalived's command line. Interim dispatcher: daemon mode with the flags a supervisor passes
 * (-n -l -D -f -p -r -c -i -s -V -e); the full option parser and the config test replace it.
 */
import { type DaemonOptions, runDaemon } from './run.js';

export async function runCli(argv: string[]): Promise<number> {
  if (argv.includes('-v') || argv.includes('--version')) {
    process.stderr.write('keepalived-ts 0.1.0\n');
    return 0;
  }
  const o: DaemonOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => argv[++i] ?? '';
    if (a === '-f') o.configFile = val();
    else if (a === '-p') o.pidFile = val();
    else if (a === '-r') o.vrrpPidFile = val();
    else if (a === '-c') o.checkersPidFile = val();
    else if (a === '-i') o.configId = val();
    else if (a === '-s') o.namespace = val();
    else if (a === '-l') o.logConsole = true;
    else if (a === '-D') o.logDetail = true;
    else if (a === '-V') o.dontReleaseVrrp = true;
    else if (a === '-e') o.allConfig = true;
  }
  return runDaemon(o);
}
