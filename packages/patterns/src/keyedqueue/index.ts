/**
 * Ordered consumption: a keyed worker queue (serial per key, parallel across keys, retry in place,
 * park without overtaking, version gate), and the backoff policy it shares with the outbox relay.
 * @module
 */
export { type Backoff, type BackoffOptions, exponentialBackoff } from './backoff.js';
export {
  type KeyedAttempt,
  type KeyedOutcome,
  KeyedQueue,
  KeyedQueueClosedError,
  type KeyedQueueOptions,
  type ParkInfo,
  type ParkReason,
  STALE,
} from './keyed-queue.js';
