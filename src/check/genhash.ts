/**
 * `keepalived-ts genhash …`: keepalived 2.2's `--genhash` (options, output and exit codes as
 * keepalived 2.2.7 behaves: the digest alone on stdout; with -v the header/body dumps first).
 * Options are parsed with node:util parseArgs.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { isKaError, KaError } from '../core/errors.js';
import { fetchUrl } from './http.js';
import type { HttpCheckSpec, HttpProtocol } from './types.js';

export interface GenhashIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: GenhashIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

export const GENHASH_USAGE = `Usage: keepalived --genhash COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
`;

const DELIM = (s: string): string => `-----------------------[${s}]-----------------------\n`;

/** keepalived's hex dump: decimal offset, 16 bytes a line split by "- ", printable ASCII column. */
export function dumpBuffer(buf: Buffer): string {
  let out = '';
  for (let off = 0; off < buf.length; off += 16) {
    const line = buf.subarray(off, off + 16);
    let hex = '';
    let ascii = '';
    for (let j = 0; j < 16; j++) {
      const b = line[j];
      hex += b === undefined ? '   ' : `${b.toString(16).padStart(2, '0')} `;
      if (j === 7) hex += '- ';
      ascii += b === undefined ? ' ' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    out += `${String(off).padStart(4, '0')}  ${hex}  ${ascii}\n`;
  }
  return out;
}

const PROTOCOLS: Record<string, HttpProtocol> = {
  '1.0': '1.0',
  '1.0c': '1.0C',
  '1.0C': '1.0C',
  '1.1': '1.1',
};
/** keepalived's default timeout is UINT_MAX ticks; node timers stop at 2^31−1 ms. */
const NO_TIMEOUT_S = 2147483;

export interface GenhashArgs {
  spec: HttpCheckSpec;
  path: string;
  verbose: boolean;
  help: boolean;
}

const usageError = (msg: string): KaError => new KaError('KA_ERR_GENHASH_USAGE', msg);

/** Parse genhash's command line; throws KA_ERR_GENHASH_USAGE with keepalived's message. */
export function parseGenhashArgs(argv: string[]): GenhashArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        genhash: { type: 'boolean', short: 'T' },
        verbose: { type: 'boolean', short: 'v' },
        'use-ssl': { type: 'boolean', short: 'S' },
        'use-sni': { type: 'boolean', short: 'I' },
        server: { type: 'string', short: 's' },
        'use-virtualhost': { type: 'string', short: 'V' },
        port: { type: 'string', short: 'p' },
        url: { type: 'string', short: 'u' },
        fwmark: { type: 'string', short: 'm' },
        protocol: { type: 'string', short: 'P' },
        timeout: { type: 'string', short: 't' },
      },
    }));
  } catch (e) {
    throw usageError((e as Error).message);
  }
  const server = values.server as string | undefined;
  if (server !== undefined && !net.isIP(server)) throw usageError(`server should be an IP, not ${server}`);
  const portStr = values.port as string | undefined;
  const port = portStr === undefined ? undefined : /^\d+$/.test(portStr) ? Number(portStr) : Number.NaN;
  if (port !== undefined && !(port > 0 && port <= 65535))
    throw usageError(`invalid port number '${portStr}'`);
  const proto = values.protocol as string | undefined;
  if (proto !== undefined && !PROTOCOLS[proto]) throw usageError(`invalid HTTP protocol version '${proto}'`);
  const t = values.timeout as string | undefined;
  if (t !== undefined && !/^\s*\d+$/.test(t)) throw usageError(`invalid timeout '${t}'`);
  const fwmark = values.fwmark as string | undefined;
  if (fwmark !== undefined && !/^\s*\d+$/.test(fwmark)) throw usageError(`invalid fwmark '${fwmark}'`);
  const path = values.url as string | undefined;
  const help = values.help === true;
  if (!help && (server === undefined || port === undefined || path === undefined))
    throw usageError('server (-s), port (-p) and url (-u) are mandatory');
  const timeout = t === undefined ? NO_TIMEOUT_S : Math.min(NO_TIMEOUT_S, Math.max(Number(t), 0.001));
  const spec: HttpCheckSpec = {
    kind: values['use-ssl'] ? 'SSL_GET' : 'HTTP_GET',
    connectIp: server ?? '',
    connectPort: port ?? 0,
    connectTimeout: timeout,
    urls: [{ path: path ?? '/' }],
    httpProtocol: proto === undefined ? '1.0' : PROTOCOLS[proto],
    enableSni: values['use-sni'] === true,
    delayLoop: 60,
    retry: 0,
    delayBeforeRetry: 0,
    alpha: false,
  };
  const vhost = values['use-virtualhost'] as string | undefined;
  if (vhost !== undefined) spec.virtualhost = vhost;
  if (fwmark !== undefined) spec.fwmark = Number(fwmark);
  return { spec, path: path ?? '/', verbose: values.verbose === true, help };
}

/** Run genhash; resolves to the process exit code (keepalived exits 0 even when the fetch fails). */
export async function runGenhash(argv: string[], io: GenhashIo = defaultIo): Promise<number> {
  let args: GenhashArgs;
  try {
    args = parseGenhashArgs(argv);
  } catch (e) {
    if (!isKaError(e, 'KA_ERR_GENHASH_USAGE')) throw e;
    if (!e.message.includes('mandatory')) io.stderr(`${e.message}\n`);
    io.stderr(GENHASH_USAGE);
    return 1;
  }
  if (args.help) {
    io.stderr(GENHASH_USAGE);
    return 1;
  }
  const { spec, path, verbose } = args;
  try {
    const res = await fetchUrl(spec, { path }, new AbortController().signal, { keepBody: verbose });
    if (verbose) {
      io.stdout(DELIM('    HTTP Header Buffer    '));
      io.stdout(dumpBuffer(res.header));
      io.stdout(DELIM(' HTTP Header Ascii Buffer '));
      io.stdout(`${res.header.toString('latin1')}\n`);
      if (res.body && res.body.length > 0) {
        io.stdout(DELIM('        HTML Buffer        '));
        io.stdout(dumpBuffer(res.body));
      }
      io.stdout('\n');
      io.stdout(DELIM('    HTML hash resulting    '));
      io.stdout(dumpBuffer(Buffer.from(res.digest, 'hex')));
      io.stdout(DELIM(' HTML hash final resulting '));
    }
    io.stdout(`${res.digest}\n`);
    if (verbose) io.stdout(`\nGlobal response time for [${path}] = ${res.elapsedUs} usecs\n`);
    return 0;
  } catch (e) {
    const code = isKaError(e) ? e.code : 'KA_ERR_CHECK_IO';
    // keepalived prints these and still exits 0.
    if (code === 'KA_ERR_CHECK_NO_DATA') io.stderr('no data received from remote webserver\n');
    else if (code === 'KA_ERR_CHECK_TIMEOUT') io.stdout('Connection timed out\n');
    else io.stdout('Connection failed\n');
    return 0;
  }
}
