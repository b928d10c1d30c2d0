import { randomBytes } from 'node:crypto';
import type { RedisClient } from '@gopherkit/primitives/redis';

/**
 * Cross-process L1 invalidation over Redis pub/sub: `set`/`delete` publish the key, every other
 * instance drops it from its L1. A subscriber that reconnects may have missed messages, so each
 * reconnect clears the whole L1 (the next reads refill it from Redis).
 * @internal
 */
export class InvalidationBus {
  /** Identifies this instance's own messages, which it has already applied. */
  readonly id = randomBytes(6).toString('hex');
  private readonly subscriber: RedisClient;
  private readonly owned: boolean;
  private readonly subscribed: Promise<void>;
  private readonly onMessage: (channel: string, message: string) => void;
  private readonly onReady: () => void;
  private readonly onError: (error: unknown) => void;
  private connectedOnce = false;

  constructor(
    private readonly publisher: RedisClient,
    readonly channel: string,
    subscriber: RedisClient | undefined,
    drop: (key: string) => void,
    dropAll: () => void,
    onError: (error: unknown) => void,
  ) {
    this.owned = subscriber === undefined;
    this.subscriber = subscriber ?? (publisher.duplicate() as RedisClient);
    this.onMessage = (ch, message) => {
      if (ch !== channel) return;
      const space = message.indexOf(' ');
      if (space < 0 || message.slice(0, space) === this.id) return;
      drop(message.slice(space + 1));
    };
    this.onReady = () => {
      if (this.connectedOnce) dropAll();
      this.connectedOnce = true;
    };
    this.onError = onError;
    // An owned connection has no other listener: without this, ioredis logs every reconnect failure as unhandled.
    if (this.owned) this.subscriber.on('error', this.onError);
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('ready', this.onReady);
    if (this.subscriber.status === 'ready') this.connectedOnce = true;
    this.subscribed = this.subscriber.subscribe(channel).then(
      () => {
        this.connectedOnce = true;
      },
      (e: unknown) => onError(e),
    );
  }

  /** Resolves once the subscription is live (or failed: failures go to the error handler). */
  ready(): Promise<void> {
    return this.subscribed;
  }

  publish(key: string): Promise<unknown> {
    return this.publisher.publish(this.channel, `${this.id} ${key}`);
  }

  async close(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    this.subscriber.off('ready', this.onReady);
    if (this.owned) this.subscriber.off('error', this.onError);
    if (this.owned) {
      this.subscriber.disconnect();
      return;
    }
    await this.subscriber.unsubscribe(this.channel).catch(() => {});
  }
}
