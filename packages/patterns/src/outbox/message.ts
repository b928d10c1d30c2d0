/** What a business transaction hands to {@link Outbox.enqueue}. */
export interface OutboxMessage {
  /** Kind of entity the event is about, e.g. `'order'`. */
  aggregateType: string;
  /** The entity's id: events of one aggregate are published in enqueue (commit) order. */
  aggregateId: string;
  /** Destination: a Kafka topic, or the suffix of a Redis stream key. */
  topic: string;
  /** Broker partition key (default: `aggregateId`, so one aggregate stays on one partition). */
  key?: string;
  /** String headers delivered with the message (the outbox id is added by the publisher). */
  headers?: Record<string, string>;
  /** The event body; strings are stored as UTF-8. */
  payload: string | Uint8Array;
}

/** Row states of `gk_outbox.status`. */
export const OutboxStatus = Object.freeze({ pending: 0, published: 1, dead: 2, skipped: 3 } as const);
/** One of {@link OutboxStatus}'s values. */
export type OutboxStatusCode = (typeof OutboxStatus)[keyof typeof OutboxStatus];

/** An outbox row as a publisher or an operator sees it. */
export interface OutboxRecord {
  /** Outbox id (BIGINT as a decimal string): the dedupe key consumers store in their inbox. */
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Position of this event within its aggregate, starting at 1, gap-free in commit order. */
  readonly seq: number;
  readonly topic: string;
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Buffer;
  /** Enqueue time, ms since the epoch. */
  readonly createdAt: number;
  /** Failed publish attempts so far. */
  readonly attempts: number;
  readonly lastError: string | null;
  readonly status: OutboxStatusCode;
}
