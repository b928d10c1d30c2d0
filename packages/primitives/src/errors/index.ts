/**
 * Error types shared by every gopherkit module.
 *
 * Every error gopherkit throws extends {@link GopherkitError} and carries a stable `code`, so
 * callers can branch on `err.code` (or `instanceof`) instead of parsing messages.
 * @module
 */

/** Base class of every error gopherkit throws; `code` is stable across releases. */
export class GopherkitError extends Error {
  /** Stable machine-readable code, e.g. `ERR_CHANNEL_CLOSED`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A caller passed a value outside what an API accepts. The message names the argument, the
 * value received and what is allowed, e.g. `capacity must be an integer >= 0, got -1`.
 */
export class InvalidArgumentError extends GopherkitError {
  /** Name of the offending argument or option. */
  readonly argument: string;

  constructor(argument: string, expected: string, received: unknown) {
    super('ERR_INVALID_ARGUMENT', `${argument} must be ${expected}, got ${describeValue(received)}`);
    this.argument = argument;
  }
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean' || v == null) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return `a ${typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v}`;
}

/** Throws {@link InvalidArgumentError} unless `v` is an integer in `[min, max]`. */
export function assertInteger(argument: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new InvalidArgumentError(argument, `an integer ${range}`, v);
  }
  return v;
}

/** Throws {@link InvalidArgumentError} unless `v` is a finite number in `[min, max]`. */
export function assertFinite(argument: string, v: unknown, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    const range =
      min === Number.NEGATIVE_INFINITY
        ? max === Number.POSITIVE_INFINITY
          ? ''
          : ` <= ${max}`
        : max === Number.POSITIVE_INFINITY
          ? ` >= ${min}`
          : ` in [${min}, ${max}]`;
    throw new InvalidArgumentError(argument, `a finite number${range}`, v);
  }
  return v;
}

/** Throws {@link InvalidArgumentError} unless `v` is a non-empty string. */
export function assertNonEmptyString(argument: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new InvalidArgumentError(argument, 'a non-empty string', v);
  return v;
}
