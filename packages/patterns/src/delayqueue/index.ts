/**
 * A Redis sorted-set delay queue (order timeouts and other "do this later" work): one Lua claim
 * into a processing set with a visibility timeout, lease-checked ack, bounded concurrency,
 * `close()`, events and an injectable Clock. At-least-once: handlers must be idempotent.
 * @module
 */
export {
  type DelayedJob,
  type DelayedJobHandler,
  DelayQueue,
  type DelayQueueOptions,
  DelayQueueWorker,
  type DelayQueueWorkerEvents,
  type ProcessOptions,
  WorkerClosedError,
} from './delay-queue.js';
