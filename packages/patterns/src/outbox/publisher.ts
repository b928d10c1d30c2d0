import type { OutboxRecord } from './message.js';

/**
 * Per-message outcome of {@link OutboxPublisher.publish}, aligned with its input: `undefined`
 * when the broker acknowledged the message, else the error. Partial failure matters because a
 * batch holds the heads of many aggregates, and one poison message must not hold back the others.
 */
export type PublishOutcome = readonly (Error | undefined)[];

/**
 * A broker the {@link OutboxRelay} publishes to. Implementations must resolve only after the
 * broker has durably acknowledged each message (at-least-once: a crash after the ack and before
 * the relay marks the row leads to a redelivery, which consumers absorb with an inbox keyed by
 * `record.id`). Rejecting the whole call counts as every message failing.
 *
 * A batch never holds two rows of the same aggregate, so messages may be sent in parallel.
 */
export interface OutboxPublisher {
  publish(records: readonly OutboxRecord[]): Promise<PublishOutcome>;
  /** Releases connections the publisher opened itself. */
  close?(): Promise<void>;
}
