/**
 * Transactional outbox: the event is written in the business transaction (so it exists exactly
 * when the business change does) and an {@link OutboxRelay} publishes it later — at least once, in
 * order per aggregate, from any number of relays — to Redis Streams or Kafka.
 * Pair it with `@gopherkit/patterns/inbox` on the consumer side for an exactly-once effect.
 * @module
 */
export { OutboxStateError } from './errors.js';
export { type KafkaLike, KafkaOutboxHeaders, type KafkaProducerLike, KafkaPublisher, type KafkaPublisherOptions } from './kafka-publisher.js';
export { type OutboxMessage, type OutboxRecord, OutboxStatus, type OutboxStatusCode } from './message.js';
export { type EnqueuedMessage, Outbox, type OutboxOptions, type OutboxStats, type Queryable } from './outbox.js';
export type { OutboxPublisher, PublishOutcome } from './publisher.js';
export { type OutboxStreamFields, RedisStreamPublisher, type RedisStreamPublisherOptions, streamFields } from './redis-stream-publisher.js';
export { OutboxRelay, type OutboxRelayEvents, type OutboxRelayOptions, type RelayBatchResult } from './relay.js';
