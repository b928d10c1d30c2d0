import { GopherkitError } from '../errors/index.js';

/**
 * The clock went back further than the generator's policy allows (an NTP step, a VM restore).
 * Issuing IDs anyway could repeat ones already handed out, so the generator refuses instead.
 */
export class ClockMovedBackwardsError extends GopherkitError {
  /** How far behind the last issued timestamp the clock was, in ms. */
  readonly behindMs: number;
  constructor(behindMs: number, detail: string) {
    super('ERR_CLOCK_MOVED_BACKWARDS', `clock moved backwards by ${behindMs} ms; ${detail}`);
    this.behindMs = behindMs;
  }
}

/**
 * Every sequence number of the current millisecond is used and the clock did not reach the next
 * millisecond within the spin bound (only possible with a stalled or fake clock: a real clock
 * ticks within 1 ms).
 */
export class SequenceExhaustedError extends GopherkitError {
  constructor(timestamp: number, idsPerMs: number, spinMs: number) {
    super(
      'ERR_SNOWFLAKE_SEQUENCE_EXHAUSTED',
      `all ${idsPerMs} sequence numbers of ms ${timestamp} are used and the clock did not advance within ${spinMs} ms; use nextAsync() to wait for it`,
    );
  }
}

/** The current time cannot be encoded: before the epoch, or past the layout's lifetime. */
export class TimestampOutOfRangeError extends GopherkitError {
  constructor(message: string) {
    super('ERR_SNOWFLAKE_TIMESTAMP_RANGE', message);
  }
}

/**
 * The worker-ID lease this generator relies on was lost (its Redis key expired or was taken), so
 * another process may now hold the same worker ID; issuing IDs could duplicate theirs.
 */
export class WorkerIdLeaseLostError extends GopherkitError {
  constructor(workerId: number, reason: string) {
    super('ERR_WORKER_ID_LEASE_LOST', `worker ID ${workerId} lease lost: ${reason}`);
  }
}

/** Every worker ID of the layout is leased by someone else. */
export class NoWorkerIdAvailableError extends GopherkitError {
  constructor(count: number, namespace: string) {
    super('ERR_NO_WORKER_ID_AVAILABLE', `all ${count} worker IDs of "${namespace}" are leased; raise workerBits or wait for a lease to expire`);
  }
}
