/**
 * Consumer side of reliable messaging: an idempotent {@link Inbox} (exactly-once effect on top of
 * at-least-once delivery) and a Redis Streams consumer-group runner that acknowledges only after
 * the handler's transaction committed.
 * @module
 */
export { Inbox, type InboxOptions, type InboxResult } from './inbox.js';
export { StreamConsumer, type StreamConsumerEvents, type StreamConsumerOptions, type StreamMessage } from './stream-consumer.js';
