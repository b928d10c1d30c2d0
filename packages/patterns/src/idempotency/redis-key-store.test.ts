import { randomUUID } from 'node:crypto';
import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { describeKeyStoreContract } from './key-store.contract.js';
import { requestFingerprint } from './key-store.js';
import { RedisIdempotencyKeyStore } from './redis-key-store.js';

const server = await startRedis();
const redis = server.client();
const prefix = `gk:test:${process.pid}:`;
afterAll(() => server.stop());

describeKeyStoreContract('RedisIdempotencyKeyStore', {
  makeStore: ({ maxResponseBytes }) => new RedisIdempotencyKeyStore(redis, { prefix, maxResponseBytes }),
});

describe('RedisIdempotencyKeyStore specifics', () => {
  const fp = requestFingerprint({ method: 'POST', path: '/p', body: 'b' });

  it('stored responses are purged after the retention period (Redis expiry)', async () => {
    const store = new RedisIdempotencyKeyStore(redis, { prefix, retentionMs: 40 });
    const key = randomUUID();
    const b = await store.begin('t', key, fp);
    await store.complete('t', key, (b as { attempt: string }).attempt, { status: 200, headers: {}, body: Buffer.from('x') });
    expect(await redis.pttl(`${prefix}idem:key:t:${key}`)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 70));
    expect((await store.begin('t', key, fp)).kind).toBe('started');
  });

  it('a request that crashed mid-flight frees its key after lockTtlMs instead of blocking it forever', async () => {
    const store = new RedisIdempotencyKeyStore(redis, { prefix, lockTtlMs: 40 });
    const key = randomUUID();
    await store.begin('t', key, fp);
    await new Promise((r) => setTimeout(r, 70));
    expect((await store.begin('t', key, fp)).kind).toBe('started');
  });
});

describe('requestFingerprint', () => {
  it('changes with method, path or body, and ignores method case', () => {
    const base = requestFingerprint({ method: 'POST', path: '/a', body: 'x' });
    expect(requestFingerprint({ method: 'post', path: '/a', body: Buffer.from('x') })).toBe(base);
    expect(requestFingerprint({ method: 'PUT', path: '/a', body: 'x' })).not.toBe(base);
    expect(requestFingerprint({ method: 'POST', path: '/b', body: 'x' })).not.toBe(base);
    expect(requestFingerprint({ method: 'POST', path: '/a', body: 'y' })).not.toBe(base);
  });
});
