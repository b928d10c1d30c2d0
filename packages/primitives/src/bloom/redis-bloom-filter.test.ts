import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { BloomFilter, BloomParametersMismatchError, RedisBloomFilter } from './index.js';

const server = await startRedis();
const redis = server.client();
afterAll(() => server.stop());
let n = 0;
const prefix = () => `gk:test:${process.pid}:${n++}:`;
const keys = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag}:${i}`);

describe('RedisBloomFilter', () => {
  it('add/has/addAll with no false negatives, one bitmap key named under the prefix', async () => {
    const p = prefix();
    const f = new RedisBloomFilter(redis, { prefix: p, name: 'ids', expectedItems: 2000, falsePositiveRate: 0.01 });
    expect(f.keys).toEqual([`${p}bloom:{ids}:0`]);
    expect(await f.has('a')).toBe(false);
    expect(await f.add('a')).toBe(true);
    expect(await f.add('a')).toBe(false);
    expect(await f.has('a')).toBe(true);
    const members = keys('m', 1999);
    expect(await f.addAll(members)).toBeGreaterThan(1950);
    const answers = await Promise.all(members.map((k) => f.has(k)));
    expect(answers.every(Boolean)).toBe(true);
    expect(Math.abs((await f.estimatedCount()) - 2000)).toBeLessThan(60);
    expect(await f.currentFalsePositiveRate()).toBeLessThan(0.02);
    expect(await redis.get(f.metaKey)).toBe(`${f.bits}:${f.hashes}`);
    await f.clear();
    expect(await f.has('a')).toBe(false);
  });

  it('has the same bits as the memory filter, across shards, and loads/exports both ways (parity)', async () => {
    const size = { bits: 10_007, hashes: 5 };
    const mem = new BloomFilter(size);
    const red = new RedisBloomFilter(redis, { prefix: prefix(), name: 'parity', ...size, shardBits: 1024 }); // 10 shards
    expect(red.keys).toHaveLength(10);
    const members = keys('p', 800);
    mem.addAll(members);
    await red.addAll(members);
    // Redis → memory: identical bytes
    const exported = await red.export();
    expect(exported.bytes).toEqual(mem.bytes);
    expect(exported.bitsSet).toBe(mem.bitsSet);
    // the raw shard strings are slices of the memory bitmap (bit 0 = MSB of byte 0)
    const shard3 = await redis.getBuffer(red.keys[3]!);
    expect(new Uint8Array(shard3!)).toEqual(mem.bytes.subarray(3 * 128, 3 * 128 + shard3!.length));
    // memory → Redis: a fresh Redis filter answers exactly like the memory one
    const other = new RedisBloomFilter(redis, { prefix: prefix(), name: 'loaded', ...size, shardBits: 1024 });
    await other.load(mem);
    const probes = [...members.slice(0, 200), ...keys('q', 400)];
    const redisAnswers = await Promise.all(probes.map((k) => other.has(k)));
    expect(redisAnswers).toEqual(probes.map((k) => mem.has(k)));
    expect(await other.estimatedCount()).toBeCloseTo(mem.estimatedCount(), 6);
  });

  it('shards at 2^32 bits by default (Redis caps strings at 512 MiB) without allocating anything', () => {
    const f = new RedisBloomFilter(redis, { prefix: prefix(), name: 'huge', bits: 2 ** 34 + 1, hashes: 7 });
    expect(f.keys).toHaveLength(5);
    expect(f.shardBits).toBe(2 ** 32);
  });

  it('many concurrent writers on separate connections: every item added by anyone is found by everyone', async () => {
    const p = prefix();
    const clients = Array.from({ length: 8 }, () => server.client());
    const filters = clients.map(
      (c) => new RedisBloomFilter(c, { prefix: p, name: 'shared', expectedItems: 8000, falsePositiveRate: 0.01, shardBits: 8 * 4096 }),
    );
    await Promise.all(filters.map((f, w) => Promise.all(keys(`w${w}`, 1000).map((k) => f.add(k)))));
    for (let w = 0; w < 8; w++) {
      const reader = filters[(w + 3) % 8]!;
      const found = await Promise.all(keys(`w${w}`, 1000).map((k) => reader.has(k)));
      expect(found.every(Boolean)).toBe(true);
    }
    // the shared bitmap equals a single-process memory filter fed everything
    const mem = new BloomFilter({ expectedItems: 8000, falsePositiveRate: 0.01 });
    for (let w = 0; w < 8; w++) mem.addAll(keys(`w${w}`, 1000));
    expect((await filters[0]!.export()).bytes).toEqual(mem.bytes);
    for (const c of clients) c.disconnect();
  });

  it('a client configured with a different size gets a typed error instead of corrupting the filter', async () => {
    const p = prefix();
    const a = new RedisBloomFilter(redis, { prefix: p, name: 'f', bits: 1000, hashes: 3 });
    await a.add('x');
    const b = new RedisBloomFilter(redis, { prefix: p, name: 'f', bits: 1000, hashes: 4 });
    await expect(b.add('y')).rejects.toThrow(BloomParametersMismatchError);
    await expect(b.has('x')).rejects.toThrow('filter exists with m:k=1000:3, caller has 1000:4');
    await expect(b.export()).rejects.toThrow(BloomParametersMismatchError);
    await expect(b.load(new BloomFilter({ bits: 1000, hashes: 3 }))).rejects.toThrow('cannot load a filter with m:k=1000:3 into one with m:k=1000:4');
  });

  it('validates options', () => {
    expect(() => new RedisBloomFilter(redis, { name: '', bits: 10, hashes: 1 })).toThrow('name must be a non-empty string');
    expect(() => new RedisBloomFilter(redis, { name: 'a', bits: 100, hashes: 1, shardBits: 12 })).toThrow('shardBits must be a multiple of 8');
    expect(() => new RedisBloomFilter(redis, { name: 'a', bits: 100, hashes: 1, shardBits: 2 ** 33 })).toThrow(InvalidArgumentError);
    expect(() => new RedisBloomFilter(redis, { name: 'a{b}', bits: 100, hashes: 1 })).toThrow(/braces/);
  });
});
