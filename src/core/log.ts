/**
 * Structured logging through pino. Messages keep keepalived's wording where operators grep for it
 * (`(VI_1) Entering MASTER STATE`); the structured fields carry the rest.
 */
import { destination, type Logger, pino, stdTimeFunctions } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Write to stderr (keepalived `-l`/console logging) rather than stdout. */
  stderr?: boolean;
}

export function createLogger(opts: LogOptions = {}): Logger {
  return pino(
    { level: opts.level ?? 'info', base: { pid: process.pid }, timestamp: stdTimeFunctions.isoTime },
    destination({ fd: opts.stderr ? 2 : 1, sync: true }),
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
