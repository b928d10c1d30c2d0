import { assertInteger, assertNonEmptyString } from '@gopherkit/primitives/errors';
import type { RedisClient } from '@gopherkit/primitives/redis';
import type { OutboxRecord } from './message.js';
import type { OutboxPublisher, PublishOutcome } from './publisher.js';

/** Options for {@link RedisStreamPublisher}. */
export interface RedisStreamPublisherOptions {
  redis: RedisClient;
  /** Key prefix (default `'gk:'`); the stream of a topic is `${prefix}outbox:${topic}` unless `stream` says otherwise. */
  prefix?: string;
  /** Picks the stream key of a record (overrides the prefix rule). */
  stream?: (record: OutboxRecord) => string;
  /**
   * Caps each stream at about this many entries (`XADD … MAXLEN ~ n`), so a stream nobody trims
   * cannot eat the server's memory. Entries beyond the cap are gone even if a consumer group has
   * not read them yet: size it well above the worst consumer lag. Default: no cap.
   */
  maxLen?: number;
}

/** The fields of a stream entry written by {@link RedisStreamPublisher}. */
export interface OutboxStreamFields {
  /** Outbox id: the consumers' inbox dedupe key. */
  outboxId: string;
  aggregateType: string;
  aggregateId: string;
  /** Sequence within the aggregate, as a decimal string. */
  seq: string;
  key: string;
  /** JSON object of string headers. */
  headers: string;
  payload: string;
}

/**
 * Publishes outbox rows to Redis Streams with `XADD`, one pipeline per stream (so it also works on
 * a Cluster, where one pipeline must stay in one slot). Every entry carries the outbox id, the
 * aggregate and its sequence, so consumers can dedupe and check order.
 */
export class RedisStreamPublisher implements OutboxPublisher {
  private readonly redis: RedisClient;
  private readonly streamOf: (record: OutboxRecord) => string;
  private readonly maxLen: number | undefined;

  constructor(options: RedisStreamPublisherOptions) {
    this.redis = options.redis;
    const prefix = options.prefix ?? 'gk:';
    if (typeof prefix !== 'string') assertNonEmptyString('prefix', prefix);
    this.streamOf = options.stream ?? ((r) => `${prefix}outbox:${r.topic}`);
    this.maxLen = options.maxLen === undefined ? undefined : assertInteger('maxLen', options.maxLen, 1);
  }

  /** The stream key a record goes to. */
  streamKey(record: OutboxRecord): string {
    return this.streamOf(record);
  }

  async publish(records: readonly OutboxRecord[]): Promise<PublishOutcome> {
    const out: (Error | undefined)[] = new Array(records.length).fill(undefined);
    const byStream = new Map<string, number[]>();
    records.forEach((r, i) => {
      const key = this.streamOf(r);
      const list = byStream.get(key);
      if (list) list.push(i);
      else byStream.set(key, [i]);
    });
    await Promise.all(
      [...byStream].map(async ([stream, indexes]) => {
        const pipeline = this.redis.pipeline();
        for (const i of indexes) {
          const r = records[i] as OutboxRecord;
          const args: (string | Buffer | number)[] = [stream];
          if (this.maxLen !== undefined) args.push('MAXLEN', '~', this.maxLen);
          args.push(
            '*',
            'outboxId',
            r.id,
            'aggregateType',
            r.aggregateType,
            'aggregateId',
            r.aggregateId,
            'seq',
            String(r.seq),
            'key',
            r.key,
            'headers',
            JSON.stringify(r.headers),
            'payload',
            r.payload,
          );
          pipeline.call('XADD', ...args);
        }
        try {
          const results = (await pipeline.exec()) ?? [];
          indexes.forEach((recordIndex, j) => {
            const err = results[j]?.[0];
            out[recordIndex] = err ? err : results[j] ? undefined : new Error('XADD result missing');
          });
        } catch (e) {
          for (const i of indexes) out[i] = e instanceof Error ? e : new Error(String(e));
        }
      }),
    );
    return out;
  }
}

/** Turns a stream entry's flat `[field, value, …]` list into an object. */
export function streamFields(flat: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i] as string] = flat[i + 1] as string;
  return o;
}
