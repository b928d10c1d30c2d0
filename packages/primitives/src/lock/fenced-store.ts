import { assertInteger, assertNonEmptyString } from '../errors/index.js';
import { loadScript, type RedisClient, type RedisKeyOptions } from '../redis/index.js';
import { StaleFenceError } from './errors.js';

const fencedWrite = loadScript<number>(new URL('./fenced-write.lua', import.meta.url), 1, 'lock-fenced-write');

/**
 * The resource side of fencing (Kleppmann's "storage that checks tokens"): a tiny Redis-backed
 * key/value store that remembers the newest fencing token each key was written with and refuses
 * writes carrying an older one. A holder that stalled past its TTL (GC pause, frozen VM) still
 * believes it holds the lock; its write arrives with an older `lease.fence` than the new
 * holder's and is rejected atomically, in the same Lua step that would have applied it.
 *
 * It is an example of the pattern for any store you control: a SQL row can do the same with
 * `UPDATE … SET v = ?, fence = ? WHERE id = ? AND fence <= ?` and a check of affected rows.
 */
export class FencedStore {
  private readonly prefix: string;

  constructor(
    private readonly client: RedisClient,
    options: RedisKeyOptions = {},
  ) {
    this.prefix = options.prefix ?? 'gk:';
  }

  /**
   * Writes `value` under `key` if `fence` is at least the newest token seen for `key`; rejects
   * with {@link StaleFenceError} otherwise. Equal tokens are accepted (one holder may write
   * several times).
   */
  async write(key: string, value: string, fence: number): Promise<void> {
    assertNonEmptyString('key', key);
    assertInteger('fence', fence, 1);
    const newer = await fencedWrite.run(this.client, [this.hashKey(key)], [fence, value]);
    if (newer !== 0) throw new StaleFenceError(key, fence, newer);
  }

  /** The current value and the token it was written with, or `null` when never written. */
  async read(key: string): Promise<{ value: string; fence: number } | null> {
    assertNonEmptyString('key', key);
    const [value, fence] = await this.client.hmget(this.hashKey(key), 'value', 'fence');
    return value == null || fence == null ? null : { value, fence: Number(fence) };
  }

  private hashKey(key: string): string {
    return `${this.prefix}fenced:${key}`;
  }
}
