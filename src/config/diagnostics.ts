import type { ConfigErrorCode } from './errors.js';

/** A place in an original (pre-preprocessing) file; line and col are 1-based. */
export interface SrcPos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * keepalived's error classes (`config_err_t`), in its enum order: the config test exits with the
 * class of the highest one recorded (surface §1.4). `Stop` is ours: keepalived has no class for it.
 */
export enum KaClass {
  /** Informational: does not change the exit code. */
  None = 0,
  FileNotFound = 1,
  BadInterface = 2,
  Fatal = 3,
  MultipleFiles = 4,
  UnknownKeyword = 5,
  UnexpectedBrace = 6,
  UnmatchedQuote = 7,
  MissingParameter = 8,
  InvalidNumber = 9,
  GeneralError = 10,
  Warning = 11,
  Deprecated = 12,
  NoConfig = 13,
  SecurityError = 14,
  /**
   * Not a keepalived class: a line lacks a word keepalived reads unconditionally, and keepalived
   * exits at once with status 2 ("is missing a parameter"). Loading stops there (src/config/check.ts).
   */
  Stop = 15,
}

export type Severity = 'fatal' | 'error' | 'warning';

export interface Diagnostic {
  readonly code: ConfigErrorCode;
  readonly severity: Severity;
  /** keepalived's class of the same condition (drives the config-test exit code). */
  readonly kaClass: KaClass;
  readonly pos: SrcPos | undefined;
  /** The keyword the diagnostic is about (or the token, for lexical errors). */
  readonly keyword: string;
  /** What is wrong. */
  readonly message: string;
  /** What was expected instead, when that can be said. */
  readonly expected: string | undefined;
}

/** Collects diagnostics of one load. */
export class DiagnosticSink {
  readonly list: Diagnostic[] = [];
  add(
    code: ConfigErrorCode,
    severity: Severity,
    kaClass: KaClass,
    pos: SrcPos | undefined,
    keyword: string,
    message: string,
    expected?: string,
  ): void {
    this.list.push({ code, severity, kaClass, pos, keyword, message, expected });
  }
}

/** `file:line:col: severity CODE [keyword] message (expected …)` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.pos ? `${d.pos.file}:${d.pos.line}:${d.pos.col}: ` : '';
  const kw = d.keyword ? ` '${d.keyword}'` : '';
  const exp = d.expected ? ` (expected ${d.expected})` : '';
  return `${where}${d.severity} ${d.code}${kw}: ${d.message}${exp}`;
}

/**
 * keepalived's config-test exit code for a set of diagnostics (surface §1.4): 0 nothing recorded,
 * 2 stopped at a missing parameter, 4 cannot run, 5 would run with errors, 6 security violation or
 * missing checked include.
 */
export function configTestExitCode(diags: readonly Diagnostic[]): number {
  let max = 0;
  for (const d of diags) if (d.kaClass > max) max = d.kaClass;
  if (max === 0) return 0;
  if (max === KaClass.Stop) return 2;
  if (max <= KaClass.Fatal) return 4;
  if (max >= KaClass.NoConfig) return 6;
  return 5;
}
