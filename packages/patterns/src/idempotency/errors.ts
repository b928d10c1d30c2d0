import { GopherkitError } from '@gopherkit/primitives/errors';

/** Base of the idempotency errors; `httpStatus` is what an HTTP layer should answer. */
export class IdempotencyError extends GopherkitError {
  constructor(
    code: string,
    message: string,
    readonly httpStatus: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The same token or Idempotency-Key is being processed by another request right now
 * (HTTP 409 Conflict). Retry later; the first request's result will then be returned.
 */
export class InProgressError extends IdempotencyError {
  constructor(what: string) {
    super('ERR_IDEMPOTENCY_IN_PROGRESS', `${what} is already being processed by another request; retry later to get its result`, 409);
  }
}

/** The token is unknown, expired, or belongs to another scope (user). */
export class InvalidTokenError extends IdempotencyError {
  constructor(scope: string) {
    super('ERR_IDEMPOTENCY_INVALID_TOKEN', `idempotency token is unknown, expired or not issued to scope ${JSON.stringify(scope)}: request a new token`, 400);
  }
}

/** complete()/fail() was called by an attempt that no longer owns the token (its PENDING lease expired and another attempt took over). */
export class StaleAttemptError extends IdempotencyError {
  constructor(what: string) {
    super(
      'ERR_IDEMPOTENCY_STALE_ATTEMPT',
      `${what}: this attempt no longer owns it (its pending lease expired and another attempt took over, or it already completed)`,
      409,
    );
  }
}

/** The Idempotency-Key was first used with a different request (HTTP 422 Unprocessable Content). */
export class KeyReuseError extends IdempotencyError {
  constructor(key: string) {
    super('ERR_IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key)} was already used with a different request (method, path or body differ)`, 422);
  }
}
