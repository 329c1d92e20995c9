/**
 * One error type for the whole daemon (STYLE.md habit 8). Every error carries a stable `code`
 * (`KA_ERR_*`) declared in a module's code table; `docs/ERRORS.md` documents each code and a unit
 * test keeps the two in step. Modules declare their own table with `defineCodes` and throw
 * `KaError`s (or subclasses) with one of those codes.
 */

export type ErrorCodeTable = Readonly<Record<string, string>>;

const registry = new Map<string, { module: string; summary: string }>();

/**
 * Declare a module's codes: `defineCodes('vrrp', { KA_ERR_VRRP_TRUNCATED: 'packet shorter than its header says' })`.
 * Returns a map from each code to itself, so callers write `new KaError(VrrpErrors.KA_ERR_VRRP_TRUNCATED, …)`.
 */
export function defineCodes<const T extends ErrorCodeTable>(
  module: string,
  table: T,
): { readonly [K in keyof T]: K } {
  for (const [code, summary] of Object.entries(table)) {
    if (!/^KA_ERR_[A-Z0-9_]+$/.test(code)) throw new Error(`bad error code name ${code}`);
    const prior = registry.get(code);
    if (prior && prior.module !== module)
      throw new Error(`error code ${code} declared by ${prior.module} and ${module}`);
    registry.set(code, { module, summary });
  }
  return Object.freeze(Object.fromEntries(Object.keys(table).map((k) => [k, k]))) as {
    readonly [K in keyof T]: K;
  };
}

/** Every code declared so far (modules register on import). */
export function registeredCodes(): ReadonlyMap<string, { module: string; summary: string }> {
  return registry;
}

export class KaError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KaError';
    this.code = code;
    this.details = details;
  }
}

export function isKaError(e: unknown, code?: string): e is KaError {
  return e instanceof KaError && (code === undefined || e.code === code);
}
