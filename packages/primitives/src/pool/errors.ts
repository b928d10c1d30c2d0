import { GopherkitError } from '../errors/index.js';

/** The pool was closed: pending and new `acquire` calls reject with this. */
export class PoolClosedError extends GopherkitError {
  constructor() {
    super('ERR_POOL_CLOSED', 'pool is closed');
  }
}

/** `acquireTimeoutMs` passed before a resource became free. The message carries the pool's state. */
export class PoolTimeoutError extends GopherkitError {
  constructor(timeoutMs: number, state: string) {
    super('ERR_POOL_TIMEOUT', `pool: no resource within ${timeoutMs} ms (${state})`);
  }
}

/**
 * `create` failed `attempts` times in a row, so the callers waiting for a new resource were
 * failed instead of left hanging; `cause` is the last create error.
 */
export class PoolCreateError extends GopherkitError {
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    super('ERR_POOL_CREATE', `pool: create failed ${attempts} time(s) in a row: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.attempts = attempts;
  }
}

/** `release()` or `destroy()` on a lease that was already given back: a bug that would hand one resource to two holders. */
export class PoolLeaseReleasedError extends GopherkitError {
  constructor(how: string) {
    super('ERR_POOL_LEASE_RELEASED', `pool lease was already ${how}; a lease can be given back once`);
  }
}
