/**
 * Structured logging through pino. Messages keep keepalived's wording where operators grep for it
 * (`(VI_1) Entering MASTER STATE`); the structured fields carry the rest.
 *
 * Where lines go follows keepalived: to syslog (text, keepalived's idents: src/core/syslog.ts)
 * unless `-G`, and to the console as JSON lines with `-l`.
 */
import {
  destination,
  type Level,
  type Logger,
  multistream,
  pino,
  type StreamEntry,
  stdTimeFunctions,
} from 'pino';
import { type DatagramSink, type SyslogOptions, SyslogStream } from './syslog.js';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Write to stderr (keepalived `-l`/console logging) rather than stdout. */
  stderr?: boolean;
  /** JSON lines on the console (stdout, or stderr with `stderr`); default true. */
  console?: boolean;
  /** Also send each line to syslog through `sink` (undefined: no syslog, keepalived `-G`). */
  syslog?: (SyslogOptions & { sink: DatagramSink }) | undefined;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const base = { level, base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime };
  const console = opts.console ?? true;
  const toConsole = () => destination({ fd: opts.stderr ? 2 : 1, sync: true });
  if (!opts.syslog) return console ? pino(base, toConsole()) : pino({ ...base, level: 'silent' });
  const streams: StreamEntry[] = [
    { level: level as Level, stream: new SyslogStream(opts.syslog.sink, opts.syslog) },
  ];
  if (console) streams.push({ level: level as Level, stream: toConsole() });
  return pino(base, multistream(streams));
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
