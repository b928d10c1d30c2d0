/**
 * Snowflake IDs: 64-bit, time-ordered, generated without coordination, with a configurable bit
 * layout, a per-millisecond sequence that waits (never wraps) on overflow, a clock-backwards
 * policy, JSON helpers for `bigint`, and a Redis lease so no two processes share a worker ID.
 * @module
 */
export { ClockMovedBackwardsError, NoWorkerIdAvailableError, SequenceExhaustedError, TimestampOutOfRangeError, WorkerIdLeaseLostError } from './errors.js';
export { DEFAULT_SNOWFLAKE_LAYOUT, type SnowflakeLayout } from './layout.js';
export {
  Snowflake,
  type SnowflakeDescription,
  type SnowflakeOptions,
  type SnowflakeParts,
  snowflakeJsonReplacer,
  snowflakeJsonReviver,
  type WorkerIdSource,
} from './snowflake.js';
export { leaseWorkerId, WorkerIdLease, type WorkerIdLeaseEvents, type WorkerIdLeaseOptions } from './worker-lease.js';
