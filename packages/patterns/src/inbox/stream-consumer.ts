import { type Clock, sleep, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { RedisClient } from '@gopherkit/primitives/redis';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { type BackoffOptions, type KeyedOutcome, KeyedQueue, type ParkInfo } from '../keyedqueue/index.js';
import { Inbox } from './inbox.js';

/** One stream entry handed to the handler. */
export interface StreamMessage {
  readonly stream: string;
  /** Stream entry id (`ms-seq`). */
  readonly id: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Options for {@link StreamConsumer}. */
export interface StreamConsumerOptions {
  /** Used for XACK, XAUTOCLAIM and dead-letter XADD; blocking reads use a duplicate of it. */
  redis: RedisClient;
  stream: string;
  group: string;
  /** This instance's consumer name in the group (unique per process). */
  consumer: string;
  /**
   * Processes one message; throw to retry it in place. Make it idempotent: give the runner an
   * `inbox`, and it gets the inbox transaction's connection as `tx` to write through.
   */
  handler: (message: StreamMessage, tx: PoolConnection | undefined) => unknown;
  /**
   * Runs every message through {@link Inbox.process} on `db`: the handler's writes and the inbox
   * row commit in one transaction, a duplicate delivery is acknowledged without running the
   * handler again (event `duplicate`). `consumer` names the inbox consumer (default: the group);
   * `messageIdOf` picks the id duplicates share (default: field `outboxId`, else `messageId`,
   * else the entry id — a relay that republishes after a crash writes a new entry id, so an
   * outbox event must carry its own id).
   */
  inbox?: { inbox: Inbox; db: Pool; consumer?: string; messageIdOf?: (message: StreamMessage) => string };
  /** Ordering key (default: field `aggregateId`, else `key`, else the entry id = no ordering). */
  keyOf?: (message: StreamMessage) => string;
  /** Version gate for the keyed queue: messages not newer than the last applied for their key are dropped. */
  versionOf?: (message: StreamMessage) => number;
  /** Where parked messages go (default `${stream}:dead`). */
  deadLetterStream?: string;
  /** Keys processed at once (default 16). */
  concurrency?: number;
  /** Tries per message before it is parked (default 3). */
  retry?: { maxAttempts?: number; backoff?: BackoffOptions };
  /** Entries read per XREADGROUP / XAUTOCLAIM (default 100). */
  batchSize?: number;
  /** XREADGROUP BLOCK, ms (default 1 000): also the worst-case delay of {@link StreamConsumer.stop}. */
  blockMs?: number;
  /** Pending entries idle this long (their consumer died before XACK) are claimed, ms (default 30 000). */
  claimIdleMs?: number;
  /** How often to look for such entries, ms (default 5 000). */
  claimIntervalMs?: number;
  clock?: Clock;
}

/** Events of {@link StreamConsumer}. */
export interface StreamConsumerEvents {
  processed: (message: StreamMessage, outcome: KeyedOutcome) => void;
  /** A message was moved to the dead-letter stream. */
  parked: (message: StreamMessage, info: ParkInfo) => void;
  /** Stuck entries taken over from a dead consumer. */
  claimed: (count: number) => void;
  /** The inbox had already processed this message: acknowledged without running the handler. */
  duplicate: (message: StreamMessage) => void;
  error: (error: Error) => void;
}

type Entry = [id: string, fields: string[]];

function toObject(flat: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i] as string] = flat[i + 1] as string;
  return o;
}

/**
 * A Redis Streams consumer-group runner: `XREADGROUP` → a {@link KeyedQueue} (serial per key,
 * parallel across keys, retry in place, park to a dead-letter stream without overtaking) →
 * `XACK` only after the handler returned (after its transaction committed). Entries a crashed
 * consumer read but never acknowledged are taken over with `XAUTOCLAIM` after `claimIdleMs`, so a
 * message is lost neither by a crash nor by a failing handler (the seed's skip-on-error loop
 * loses it, seed L4311–4314). Delivery is at-least-once; with the `inbox` option the effect is
 * exactly-once (the inbox row commits with the handler's writes).
 *
 * Backpressure: the next batch is read once the current one has settled, so memory stays bounded
 * by `batchSize`; a key that is retrying holds up the next read for at most its retry budget.
 */
export class StreamConsumer implements AsyncDisposable {
  private readonly o: Required<Pick<StreamConsumerOptions, 'stream' | 'group' | 'consumer' | 'deadLetterStream'>> & {
    batchSize: number;
    blockMs: number;
    claimIdleMs: number;
    claimIntervalMs: number;
  };
  private readonly redis: RedisClient;
  private readonly handler: StreamConsumerOptions['handler'];
  private readonly keyOf: (m: StreamMessage) => string;
  private readonly queue: KeyedQueue<StreamMessage>;
  private readonly clock: Clock;
  private readonly listeners: { [K in keyof StreamConsumerEvents]: Set<StreamConsumerEvents[K]> } = {
    processed: new Set(),
    parked: new Set(),
    claimed: new Set(),
    duplicate: new Set(),
    error: new Set(),
  };
  private reader: RedisClient | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private lastClaim = Number.NEGATIVE_INFINITY;

  constructor(options: StreamConsumerOptions) {
    if (!options?.redis) throw new InvalidArgumentError('redis', 'an ioredis client', options?.redis);
    if (typeof options.handler !== 'function') throw new InvalidArgumentError('handler', 'a function', options.handler);
    const stream = assertNonEmptyString('stream', options.stream);
    this.o = {
      stream,
      group: assertNonEmptyString('group', options.group),
      consumer: assertNonEmptyString('consumer', options.consumer),
      deadLetterStream: assertNonEmptyString('deadLetterStream', options.deadLetterStream ?? `${stream}:dead`),
      batchSize: assertInteger('batchSize', options.batchSize ?? 100, 1),
      blockMs: assertInteger('blockMs', options.blockMs ?? 1000, 1),
      claimIdleMs: assertInteger('claimIdleMs', options.claimIdleMs ?? 30_000, 1),
      claimIntervalMs: assertInteger('claimIntervalMs', options.claimIntervalMs ?? 5000, 1),
    };
    this.redis = options.redis;
    this.handler = options.handler;
    this.keyOf = options.keyOf ?? ((m) => m.fields.aggregateId || m.fields.key || m.id);
    this.clock = options.clock ?? systemClock;
    const ib = options.inbox;
    if (ib !== undefined && (!(ib?.inbox instanceof Inbox) || typeof ib.db?.getConnection !== 'function'))
      throw new InvalidArgumentError('inbox', 'an object with an `inbox` (Inbox) and a mysql2 `db` pool', ib);
    const inboxConsumer = ib ? assertNonEmptyString('inbox.consumer', ib.consumer ?? this.o.group) : '';
    const messageIdOf = ib?.messageIdOf ?? ((m: StreamMessage) => m.fields.outboxId || m.fields.messageId || m.id);
    const run = ib
      ? async (m: StreamMessage) => {
          const r = await ib.inbox.process(ib.db, inboxConsumer, messageIdOf(m), (tx) => this.handler(m, tx));
          if (r.duplicate) this.emit('duplicate', m);
          return r.duplicate ? undefined : r.value; // the handler's STALE reaches the keyed queue
        }
      : (m: StreamMessage) => this.handler(m, undefined);
    this.queue = new KeyedQueue<StreamMessage>({
      handler: run,
      park: async (m, info) => {
        await this.redis.xadd(
          this.o.deadLetterStream,
          '*',
          ...Object.entries(m.fields).flat(),
          'deadFrom',
          m.stream,
          'deadId',
          m.id,
          'deadReason',
          info.reason,
          'deadError',
          String((info.error as Error)?.message ?? info.error).slice(0, 500),
        );
        this.emit('parked', m, info);
      },
      concurrency: options.concurrency,
      retry: options.retry,
      versionOf: options.versionOf,
      clock: this.clock,
    });
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof StreamConsumerEvents>(event: K, listener: StreamConsumerEvents[K]): () => void {
    const set = this.listeners[event] as Set<StreamConsumerEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit<K extends keyof StreamConsumerEvents>(event: K, ...args: Parameters<StreamConsumerEvents[K]>): void {
    for (const fn of this.listeners[event]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch {
        // listeners must not break the consumer
      }
    }
  }

  /** The keyed queue's parked keys (unpark them after replaying the dead-letter stream). */
  get parkedKeys(): Map<string, unknown> {
    return this.queue.parkedKeys();
  }

  /** Lets a parked key flow again. */
  unpark(key: string): boolean {
    return this.queue.unpark(key);
  }

  /** Creates the group if needed (from the start of the stream) and starts consuming. Idempotent. */
  async start(): Promise<void> {
    if (this.loop) return;
    try {
      await this.redis.xgroup('CREATE', this.o.stream, this.o.group, '0', 'MKSTREAM');
    } catch (e) {
      if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
    }
    this.reader = this.redis.duplicate() as RedisClient;
    this.loop ??= this.run();
  }

  /** Stops reading, lets in-flight messages finish and acknowledges them. Resolves within about `blockMs`. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.queue.close();
    this.reader?.disconnect();
    this.reader = undefined;
  }

  /** Same as {@link StreamConsumer.stop}. */
  close(): Promise<void> {
    return this.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.clock.now() - this.lastClaim >= this.o.claimIntervalMs) {
          this.lastClaim = this.clock.now();
          await this.claimStuck();
        }
        const res = (await (this.reader as RedisClient).xreadgroup(
          'GROUP',
          this.o.group,
          this.o.consumer,
          'COUNT',
          this.o.batchSize,
          'BLOCK',
          this.o.blockMs,
          'STREAMS',
          this.o.stream,
          '>',
        )) as [string, Entry[]][] | null;
        if (res) await this.dispatch(res[0]?.[1] ?? []);
      } catch (e) {
        if (this.stopping) break;
        this.emit('error', e instanceof Error ? e : new Error(String(e)));
        await sleep(100, { clock: this.clock }); // Redis down: do not spin
      }
    }
  }

  private async claimStuck(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.redis.call(
        'XAUTOCLAIM',
        this.o.stream,
        this.o.group,
        this.o.consumer,
        this.o.claimIdleMs,
        cursor,
        'COUNT',
        this.o.batchSize,
      )) as [string, (Entry | null)[]];
      const live = entries.filter((e): e is Entry => Array.isArray(e) && Array.isArray(e[1]));
      if (live.length > 0) {
        this.emit('claimed', live.length);
        await this.dispatch(live);
      }
      cursor = next;
    } while (cursor !== '0-0' && !this.stopping);
  }

  private async dispatch(entries: readonly Entry[]): Promise<void> {
    await Promise.all(
      entries.map(async ([id, flat]) => {
        const message: StreamMessage = { stream: this.o.stream, id, fields: toObject(flat) };
        try {
          const outcome = await this.queue.push(this.keyOf(message), message);
          await this.redis.xack(this.o.stream, this.o.group, id);
          this.emit('processed', message, outcome);
        } catch (e) {
          // Not acknowledged: the entry stays pending and XAUTOCLAIM retries it later.
          this.emit('error', e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
  }
}
