import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Message, Producer, ProducerConfig } from 'kafkajs';
import type { OutboxRecord } from './message.js';
import type { OutboxPublisher, PublishOutcome } from './publisher.js';

/** The part of a kafkajs `Producer` {@link KafkaPublisher} uses. */
export type KafkaProducerLike = Pick<Producer, 'connect' | 'send' | 'disconnect'>;

/** The part of a kafkajs `Kafka` client {@link KafkaPublisher} uses. */
export interface KafkaLike {
  producer(config?: ProducerConfig): KafkaProducerLike;
}

/** Options for {@link KafkaPublisher}. */
export interface KafkaPublisherOptions {
  /** A kafkajs `Kafka` instance; the publisher creates (and owns) its producer. */
  kafka: KafkaLike;
  /** Extra producer settings; `idempotent`, `maxInFlightRequests` are forced (see the class doc). */
  producer?: Omit<ProducerConfig, 'idempotent' | 'maxInFlightRequests'>;
  /** Broker-side timeout of one send, ms (default 30 000). Keep it below the relay's `claimTtlMs`. */
  timeoutMs?: number;
  /** Header that carries the outbox id (default `'outbox-id'`). */
  idHeader?: string;
}

/** Header names {@link KafkaPublisher} adds besides the outbox id. */
export const KafkaOutboxHeaders = Object.freeze({ aggregateType: 'aggregate-type', aggregateId: 'aggregate-id', seq: 'aggregate-seq' } as const);

/**
 * Publishes outbox rows with kafkajs.
 *
 * - **Idempotent producer** (`idempotent: true`, `maxInFlightRequests: 1`): the broker drops the
 *   duplicates kafkajs's own retries would create, and one in-flight request keeps a partition's
 *   messages in order across retries. kafkajs documents `idempotent` as experimental.
 * - **`acks: -1`** (all in-sync replicas): an ack means the message survives a leader failover,
 *   which is what allows the relay to mark the row published.
 * - **key = the row's key** (the aggregate id by default): one aggregate → one partition → order.
 * - **headers** carry the outbox id (the consumer's inbox key) and the aggregate/sequence.
 *
 * Messages are grouped by topic; a topic's messages succeed or fail together.
 */
export class KafkaPublisher implements OutboxPublisher {
  private readonly producer: KafkaProducerLike;
  private readonly timeoutMs: number;
  private readonly idHeader: string;
  private connecting: Promise<void> | undefined;

  constructor(options: KafkaPublisherOptions) {
    if (typeof options?.kafka?.producer !== 'function') throw new InvalidArgumentError('kafka', 'a kafkajs Kafka instance', options?.kafka);
    this.producer = options.kafka.producer({ ...options.producer, idempotent: true, maxInFlightRequests: 1 });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.idHeader = options.idHeader ?? 'outbox-id';
  }

  /** Connects the producer (also done lazily by the first publish); a failed connect is retried next time. */
  connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((e: unknown) => {
      this.connecting = undefined;
      throw e;
    });
    return this.connecting;
  }

  async publish(records: readonly OutboxRecord[]): Promise<PublishOutcome> {
    await this.connect();
    const out: (Error | undefined)[] = new Array(records.length).fill(undefined);
    const byTopic = new Map<string, number[]>();
    records.forEach((r, i) => {
      const list = byTopic.get(r.topic);
      if (list) list.push(i);
      else byTopic.set(r.topic, [i]);
    });
    await Promise.all(
      [...byTopic].map(async ([topic, indexes]) => {
        const messages: Message[] = indexes.map((i) => {
          const r = records[i] as OutboxRecord;
          return {
            key: r.key,
            value: r.payload,
            headers: {
              ...r.headers,
              [this.idHeader]: r.id,
              [KafkaOutboxHeaders.aggregateType]: r.aggregateType,
              [KafkaOutboxHeaders.aggregateId]: r.aggregateId,
              [KafkaOutboxHeaders.seq]: String(r.seq),
            },
          };
        });
        try {
          await this.producer.send({ topic, messages, acks: -1, timeout: this.timeoutMs });
        } catch (e) {
          for (const i of indexes) out[i] = e instanceof Error ? e : new Error(String(e));
        }
      }),
    );
    return out;
  }

  /** Disconnects the producer. */
  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    if (connecting) await connecting.catch(() => {});
    await this.producer.disconnect();
  }
}
