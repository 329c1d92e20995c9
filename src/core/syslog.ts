/**
 * Log lines to the local syslog socket as keepalived sends them (glibc syslog(3)): one datagram
 * `<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE` to /dev/log. The ident is keepalived's per subsystem
 * (Keepalived, Keepalived_vrrp, Keepalived_healthcheckers, Keepalived_bfd), from a logger's
 * `proc` binding, so `journalctl -t Keepalived_vrrp` and syslog filters keep working.
 *
 * Written here rather than taken from a library: the syslog packages for Node either send over
 * UDP/TCP only (Node has no AF_UNIX datagram sockets; ours come from the native addon) or pull in
 * a second logging framework. The format is a dozen lines.
 */

/** What the stream needs from the socket layer (src/sys/unix-dgram.ts in the daemon, fakes in tests). */
export interface DatagramSink {
  /** Sends one datagram to `path`; throws an errno-like error ({ code }) on failure. */
  send(path: string, data: Buffer): void;
}

export interface SyslogOptions {
  /** syslog facility number (LOG_DAEMON = 3, LOG_LOCAL0..7 = 16..23). */
  facility: number;
  /** Suffix keepalived adds to every ident (`_NAME` for `instance`/`net_namespace`), or ''. */
  identSuffix?: string;
  /** The socket (default /dev/log). */
  path?: string;
  pid?: number;
  /** Time source for the timestamp (tests). */
  now?: () => Date;
  /** Called once per failed send with the error code (the daemon counts them). */
  onError?: (code: string) => void;
}

/** keepalived's facility names for -S / --log-facility: 0-7 and local0-7 are LOG_LOCALn. */
export function facilityNumber(v: string | undefined): number {
  if (v === undefined || v === '' || v === 'daemon') return 3;
  if (v === 'user') return 1;
  const m = /^(?:local)?([0-7])$/.exec(v);
  return m ? 16 + Number(m[1]) : 3;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** RFC 3164 timestamp, local time, day padded with a space (`Nov  3 09:05:01`). */
export function syslogTime(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** pino level → syslog severity (fatal: LOG_CRIT, error: LOG_ERR, warn: LOG_WARNING, info: LOG_INFO, else LOG_DEBUG). */
export function severityOf(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

const IDENTS: Record<string, string> = {
  vrrp: 'Keepalived_vrrp',
  healthcheckers: 'Keepalived_healthcheckers',
  bfd: 'Keepalived_bfd',
};

/** Longest datagram sent; the rest of a longer message is cut (journald and rsyslog take 8 KiB). */
const MAX_DATAGRAM = 8192;

/** One syslog datagram for a pino JSON line, or undefined for a line that is not a log record. */
export function formatSyslog(line: string, o: SyslogOptions): Buffer | undefined {
  let rec: { level?: unknown; msg?: unknown; proc?: unknown; err?: { message?: unknown } };
  try {
    rec = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null || typeof rec.level !== 'number') return undefined;
  let msg = typeof rec.msg === 'string' ? rec.msg : '';
  if (rec.err && typeof rec.err.message === 'string' && !msg.includes(rec.err.message))
    msg = msg ? `${msg}: ${rec.err.message}` : rec.err.message;
  const ident = `${(typeof rec.proc === 'string' && IDENTS[rec.proc]) || 'Keepalived'}${o.identSuffix ?? ''}`;
  const pri = o.facility * 8 + severityOf(rec.level);
  const text = `<${pri}>${syslogTime((o.now ?? (() => new Date()))())} ${ident}[${o.pid ?? process.pid}]: ${msg}`;
  const b = Buffer.from(text, 'utf8');
  return b.length > MAX_DATAGRAM ? b.subarray(0, MAX_DATAGRAM) : b;
}

/**
 * A pino destination (`write(line)`) sending each record to syslog. Never throws and never blocks:
 * the socket is non-blocking, a full or missing syslog drops the line and reports it through
 * `onError` (ENOENT when no syslog daemon runs, EAGAIN when it falls behind).
 */
export class SyslogStream {
  private readonly path: string;
  constructor(
    private readonly sink: DatagramSink,
    private readonly opts: SyslogOptions,
  ) {
    // KEEPALIVED_TS_SYSLOG_SOCKET: another socket than /dev/log (tests; a chroot's log socket)
    this.path = opts.path ?? process.env.KEEPALIVED_TS_SYSLOG_SOCKET ?? '/dev/log';
  }

  write(chunk: string): boolean {
    // pino writes one record per call; a multistream may hand over several lines
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      const dgram = formatSyslog(line, this.opts);
      if (!dgram) continue;
      try {
        this.sink.send(this.path, dgram);
      } catch (e) {
        this.opts.onError?.(String((e as { code?: unknown }).code ?? 'EIO'));
      }
    }
    return true;
  }
}
