import { assertInteger, assertNonEmptyString, GopherkitError, InvalidArgumentError } from '../errors/index.js';
import { hashTag, loadScript, type RedisClient, type RedisKeyOptions, type RedisScript, type ScriptArg } from '../redis/index.js';
import { BloomFilter } from './bloom-filter.js';
import { bloomLocations } from './locations.js';
import { type BloomSize, resolveSize } from './options.js';
import { estimateItems } from './sizing.js';

/** Redis caps a string at 512 MiB = 2^32 bits; a shard is at most that. */
const MAX_SHARD_BITS = 2 ** 32;
/** Bytes moved per SETRANGE/GETRANGE when loading or exporting, to keep each command small. */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** Items per Lua call in addAll. */
const ADD_BATCH = 256;

const addUrl = new URL('./bloom-add.lua', import.meta.url);
const hasUrl = new URL('./bloom-has.lua', import.meta.url);
const scripts = new Map<string, RedisScript<number>>();
/** One script object per key count (same Lua, same SHA), since a script declares its number of keys. */
function script(url: URL, keys: number): RedisScript<number> {
  const id = `${url.href}#${keys}`;
  let s = scripts.get(id);
  if (s === undefined) scripts.set(id, (s = loadScript<number>(url, keys)));
  return s;
}

/** The filter in Redis was created with a different size (m, k) than this client's. */
export class BloomParametersMismatchError extends GopherkitError {
  constructor(message: string) {
    super('ERR_BLOOM_PARAMETERS_MISMATCH', message);
  }
}

/** Options of {@link RedisBloomFilter}: a size plus where it lives. */
export type RedisBloomFilterOptions = BloomSize &
  RedisKeyOptions & {
    /** The filter's name; keys are `<prefix>bloom:{<name>}:<shard>` and `…:meta`. */
    name: string;
    /**
     * Bits per Redis key. Default and maximum 2^32 (Redis's 512 MiB string limit); a larger filter
     * spans several keys. Must be a multiple of 8. All clients of one filter must agree.
     */
    shardBits?: number;
  };

/**
 * A Bloom filter shared by every process through Redis: a bitmap string (several, beyond 512 MiB)
 * with exactly the bit layout of the in-memory {@link BloomFilter}, so one can be loaded into the
 * other. Each `add`/`has` is one Lua call (positions are computed client-side, bits set or tested
 * with `SETBIT`/`GETBIT` server-side). Every shard key shares one hash tag, so the filter works on
 * Redis Cluster. A meta key records (m, k): a client configured with another size gets
 * {@link BloomParametersMismatchError} instead of silently corrupting the filter.
 *
 * @example
 * ```ts
 * const ids = new RedisBloomFilter(redis, { name: 'product-ids', expectedItems: 1e6, falsePositiveRate: 0.01 });
 * await ids.add('sku:42');
 * if (!(await ids.has(sku))) return notFound(); // definitely absent: skip the database
 * ```
 */
export class RedisBloomFilter {
  /** m: number of bits. */
  readonly bits: number;
  /** k: bit positions per item. */
  readonly hashes: number;
  /** Bits per shard key. */
  readonly shardBits: number;
  /** The bitmap keys, shard 0 first. */
  readonly keys: readonly string[];
  /** The key recording "m:k". */
  readonly metaKey: string;
  private readonly params: string;
  private readonly positions: Float64Array;
  private readonly allKeys: string[];

  constructor(
    private readonly redis: RedisClient,
    options: RedisBloomFilterOptions,
  ) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'an object with name and a size', options);
    const { name, prefix = 'gk:', shardBits = MAX_SHARD_BITS, ...size } = options;
    assertNonEmptyString('name', name);
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix', 'a string', prefix);
    const { bits, hashes } = resolveSize(size as BloomSize);
    assertInteger('shardBits', shardBits, 8, MAX_SHARD_BITS);
    if (shardBits % 8 !== 0) throw new InvalidArgumentError('shardBits', 'a multiple of 8 (shards split on byte boundaries)', shardBits);
    this.bits = bits;
    this.hashes = hashes;
    this.shardBits = shardBits;
    const base = `${prefix}bloom:${hashTag(name)}:`;
    this.keys = Array.from({ length: Math.ceil(bits / shardBits) }, (_, i) => `${base}${i}`);
    this.metaKey = `${base}meta`;
    this.allKeys = [this.metaKey, ...this.keys];
    this.params = `${bits}:${hashes}`;
    this.positions = new Float64Array(hashes);
  }

  /** Adds `key`; resolves true if it was certainly not present before. One Lua call. */
  async add(key: string | Uint8Array): Promise<boolean> {
    const args: ScriptArg[] = [this.params, this.hashes];
    this.pushPositions(key, args);
    return (await this.run(addUrl, args)) === 1;
  }

  /** Adds every key, in Lua calls of 256 items; resolves how many were certainly new. */
  async addAll(keys: Iterable<string | Uint8Array>): Promise<number> {
    let added = 0;
    let args: ScriptArg[] = [this.params, this.hashes];
    let batched = 0;
    for (const k of keys) {
      this.pushPositions(k, args);
      if (++batched === ADD_BATCH) {
        added += await this.run(addUrl, args);
        args = [this.params, this.hashes];
        batched = 0;
      }
    }
    if (batched > 0) added += await this.run(addUrl, args);
    return added;
  }

  /** False: certainly never added. True: probably added. One Lua call. */
  async has(key: string | Uint8Array): Promise<boolean> {
    const args: ScriptArg[] = [this.params];
    this.pushPositions(key, args);
    return (await this.run(hasUrl, args)) === 1;
  }

  /** Set bits (X), by `BITCOUNT` over every shard. */
  async bitsSet(): Promise<number> {
    const counts = await Promise.all(this.keys.map((k) => this.redis.bitcount(k)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Estimated number of distinct items added: −(m/k)·ln(1 − X/m). */
  async estimatedCount(): Promise<number> {
    return estimateItems(this.bits, this.hashes, await this.bitsSet());
  }

  /** The false-positive rate right now, (X/m)^k. */
  async currentFalsePositiveRate(): Promise<number> {
    return ((await this.bitsSet()) / this.bits) ** this.hashes;
  }

  /** Deletes the filter (every shard and the meta key). */
  async clear(): Promise<void> {
    await this.redis.del(...this.allKeys);
  }

  /**
   * Replaces the Redis filter's contents with an in-memory filter of the same size (e.g. one
   * rebuilt offline from the database). Not atomic: concurrent readers may see a partly loaded
   * filter, so load under a new `name` and switch readers over when done.
   */
  async load(filter: BloomFilter): Promise<void> {
    if (filter.bits !== this.bits || filter.hashes !== this.hashes) {
      throw new BloomParametersMismatchError(`cannot load a filter with m:k=${filter.bits}:${filter.hashes} into one with m:k=${this.params}`);
    }
    await this.clear();
    const bytes = filter.bytes;
    const shardBytes = this.shardBits / 8;
    for (let s = 0; s < this.keys.length; s++) {
      const shard = bytes.subarray(s * shardBytes, Math.min(bytes.length, (s + 1) * shardBytes));
      for (let off = 0; off < shard.length; off += CHUNK_BYTES) {
        const chunk = shard.subarray(off, Math.min(shard.length, off + CHUNK_BYTES));
        await this.redis.setrange(this.keys[s]!, off, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
    }
    await this.redis.set(this.metaKey, this.params);
  }

  /** Copies the Redis filter into a new in-memory {@link BloomFilter} (bit for bit). */
  async export(): Promise<BloomFilter> {
    await this.checkParams();
    const out = new Uint8Array(Math.ceil(this.bits / 8));
    const shardBytes = this.shardBits / 8;
    for (let s = 0; s < this.keys.length; s++) {
      const start = s * shardBytes;
      const len = Math.min(out.length - start, shardBytes);
      for (let off = 0; off < len; off += CHUNK_BYTES) {
        const end = Math.min(len, off + CHUNK_BYTES) - 1;
        const chunk = await this.redis.getrangeBuffer(this.keys[s]!, off, end);
        out.set(chunk, start + off); // shorter than asked when the string ends early: the rest is zeros
      }
    }
    return BloomFilter.fromBytes({ bits: this.bits, hashes: this.hashes }, out);
  }

  private async checkParams(): Promise<void> {
    const params = await this.redis.get(this.metaKey);
    if (params !== null && params !== this.params) {
      throw new BloomParametersMismatchError(`filter exists with m:k=${params}, caller has ${this.params}`);
    }
  }

  private pushPositions(key: string | Uint8Array, args: ScriptArg[]): void {
    const pos = bloomLocations(key, this.bits, this.hashes, this.positions);
    const shardBits = this.shardBits;
    for (let i = 0; i < this.hashes; i++) {
      const p = pos[i]!;
      const shard = Math.floor(p / shardBits);
      args.push(shard, p - shard * shardBits);
    }
  }

  private async run(url: URL, args: ScriptArg[]): Promise<number> {
    try {
      return await script(url, this.allKeys.length).run(this.redis, this.allKeys, args);
    } catch (e) {
      if (e instanceof Error && e.message.includes('BLOOMPARAMS')) throw new BloomParametersMismatchError(e.message.replace(/^.*BLOOMPARAMS /, ''));
      throw e;
    }
  }
}
