import { GopherkitError } from '../errors/index.js';

/**
 * The lock is held by someone else and stayed held through every retry. Distinct from
 * {@link QuorumError}: here the servers answered, they just said "taken" (node-redlock#288 reports
 * plain contention as a quorum failure; gopherkit does not).
 */
export class LockBusyError extends GopherkitError {
  /** The lock name the caller asked for (without prefix). */
  readonly key: string;
  /** How many acquisition attempts were made. */
  readonly attempts: number;

  constructor(key: string, attempts: number) {
    super('ERR_LOCK_BUSY', `lock "${key}" is held by another owner; gave up after ${attempts} attempt(s)`);
    this.key = key;
    this.attempts = attempts;
  }
}

/**
 * A lease the caller held is gone: a renewal found the key missing or owned by someone else, or
 * Redis did not confirm a renewal before the validity ran out, or `maxHoldMs` stopped the
 * watchdog. It is the `reason` of the aborted `lease.signal`; work guarded by the lease must stop,
 * because another owner may already be inside the critical section.
 */
export class LockLostError extends GopherkitError {
  readonly key: string;

  constructor(key: string, why: string, options?: { cause?: unknown }) {
    super('ERR_LOCK_LOST', `lock "${key}" lost: ${why}`, options);
    this.key = key;
  }
}

/**
 * `release()` or `extend()` found the key missing or owned by another token, so nothing was
 * deleted or extended. Reported rather than swallowed: it means the critical section may have
 * overlapped with another owner's.
 */
export class LockNotHeldError extends GopherkitError {
  readonly key: string;

  constructor(key: string, why: string, options?: { cause?: unknown }) {
    super('ERR_LOCK_NOT_HELD', `lock "${key}" is not held by this lease: ${why}`, options);
    this.key = key;
  }
}

/** What one Redlock instance answered during an acquire, extend or release. */
export interface InstanceOutcome {
  /** Index of the client in the array given to `Redlock`. */
  readonly instance: number;
  /** `host:port` of the client when known. */
  readonly address: string;
  /**
   * `ok` = acquired/extended/deleted; `busy` = another owner holds it; `missing` = key absent;
   * `error`/`timeout` = no usable answer; `pending` = sent, but a majority had already said `ok`.
   */
  readonly outcome: 'ok' | 'busy' | 'missing' | 'error' | 'timeout' | 'pending';
  /** The Redis error behind `error`/`timeout`. */
  readonly error?: unknown;
}

/**
 * Redlock could not get a majority of instances to answer in time (or the answers arrived too
 * late to leave any validity). `outcomes` says what each instance did, so an operator can see
 * which servers are down.
 */
export class QuorumError extends GopherkitError {
  readonly key: string;
  readonly quorum: number;
  readonly outcomes: readonly InstanceOutcome[];

  constructor(key: string, operation: string, quorum: number, outcomes: readonly InstanceOutcome[], detail = '') {
    const ok = outcomes.filter((o) => o.outcome === 'ok').length;
    const list = outcomes.map((o) => `#${o.instance} ${o.address}: ${o.outcome}${o.error ? ` (${(o.error as Error).message ?? o.error})` : ''}`).join('; ');
    super('ERR_LOCK_QUORUM', `${operation} of lock "${key}" reached ${ok} of ${outcomes.length} instances, quorum is ${quorum}${detail}: ${list}`, {
      cause: outcomes.find((o) => o.error !== undefined)?.error,
    });
    this.key = key;
    this.quorum = quorum;
    this.outcomes = outcomes;
  }
}

/** A write carried a fencing token older than one the store has already seen: its writer lost the lock. */
export class StaleFenceError extends GopherkitError {
  readonly fence: number;
  readonly highest: number;

  constructor(key: string, fence: number, highest: number) {
    super('ERR_STALE_FENCE', `write to "${key}" rejected: fencing token ${fence} is older than ${highest}, which the store has already seen`);
    this.fence = fence;
    this.highest = highest;
  }
}
