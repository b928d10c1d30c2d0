/**
 * The behaviour every IdempotencyKeyStore must have, as one vitest suite that each store's test
 * file runs against its own backend (Redis, MySQL). Not part of the build.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InProgressError, KeyReuseError, StaleAttemptError } from './errors.js';
import { type IdempotencyKeyStore, requestFingerprint, type StoredResponse } from './key-store.js';

export interface ContractOptions {
  /** A store whose body-size limit is `maxResponseBytes`. */
  makeStore(options: { maxResponseBytes: number }): IdempotencyKeyStore | Promise<IdempotencyKeyStore>;
}

const started = (o: { kind: string; attempt?: string }) => {
  if (o.kind !== 'started' || !o.attempt) throw new Error(`expected started, got ${o.kind}`);
  return o.attempt;
};

export function describeKeyStoreContract(name: string, options: ContractOptions): void {
  describe(`${name}: Idempotency-Key store contract`, () => {
    const fp = requestFingerprint({ method: 'POST', path: '/orders', body: '{"sku":"A","qty":1}' });
    // every byte value, so a lossy text round trip would show
    const body = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    const response: StoredResponse = { status: 201, headers: { 'content-type': 'application/octet-stream', location: '/orders/42' }, body };

    it('first request runs; a replay gets the stored response byte-for-byte', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const attempt = started(await store.begin('tenant-a', key, fp));
      await store.complete('tenant-a', key, attempt, response);
      const replay = await store.begin('tenant-a', key, fp);
      expect(replay.kind).toBe('replay');
      if (replay.kind !== 'replay') return;
      expect(replay.response.status).toBe(201);
      expect(replay.response.headers).toEqual(response.headers);
      expect(Buffer.compare(replay.response.body, body)).toBe(0);
    });

    it('the same key with a different fingerprint gets KeyReuseError (422), pending or done', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const other = requestFingerprint({ method: 'POST', path: '/orders', body: '{"sku":"B","qty":9}' });
      const attempt = started(await store.begin('t', key, fp));
      const pendingErr = await store.begin('t', key, other).catch((e: unknown) => e);
      expect(pendingErr).toBeInstanceOf(KeyReuseError);
      expect((pendingErr as KeyReuseError).httpStatus).toBe(422);
      await store.complete('t', key, attempt, response);
      await expect(store.begin('t', key, other)).rejects.toThrow(KeyReuseError);
    });

    it('10 concurrent duplicates while the first runs: 1 starts, 9 get InProgressError (409)', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.begin('t', key, fp)));
      const ok = results.filter((r) => r.status === 'fulfilled' && r.value.kind === 'started');
      const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof InProgressError);
      expect(ok).toHaveLength(1);
      expect(busy).toHaveLength(9);
      expect((busy[0] as PromiseRejectedResult).reason.httpStatus).toBe(409);
    });

    it('a failed execution is not stored as success: after abort a retry runs again', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const first = started(await store.begin('t', key, fp));
      await store.abort('t', key, first);
      const second = await store.begin('t', key, fp);
      expect(second.kind).toBe('started');
    });

    it('keys are scoped per caller: the same key under another scope is independent', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const a = started(await store.begin('tenant-a', key, fp));
      await store.complete('tenant-a', key, a, response);
      const b = await store.begin('tenant-b', key, requestFingerprint({ method: 'DELETE', path: '/x' }));
      expect(b.kind).toBe('started');
    });

    it('only the attempt that began may complete; a second complete is refused', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const attempt = started(await store.begin('t', key, fp));
      await expect(store.complete('t', key, 'someone-else', response)).rejects.toThrow(StaleAttemptError);
      await store.complete('t', key, attempt, response);
      await expect(store.complete('t', key, attempt, response)).rejects.toThrow(StaleAttemptError);
    });

    it('only the attempt that began may abort: another attempt id, or an abort after complete, leaves the key alone', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      const key = randomUUID();
      const attempt = started(await store.begin('t', key, fp));
      await store.abort('t', key, 'someone-else');
      await expect(store.begin('t', key, fp)).rejects.toThrow(InProgressError); // still held by `attempt`
      await store.complete('t', key, attempt, response);
      await store.abort('t', key, attempt); // e.g. a late cleanup path
      const replay = await store.begin('t', key, fp);
      expect(replay.kind).toBe('replay');
    });

    it('bodies over the size limit are not stored; status and headers are, and the replay says so', async () => {
      const store = await options.makeStore({ maxResponseBytes: 100 });
      const key = randomUUID();
      const attempt = started(await store.begin('t', key, fp));
      await store.complete('t', key, attempt, response);
      const replay = await store.begin('t', key, fp);
      expect(replay.kind === 'replay' && replay.response).toMatchObject({ status: 201, bodyOmitted: true });
      expect(replay.kind === 'replay' && replay.response.body.length).toBe(0);
    });

    it('rejects malformed keys with a typed error', async () => {
      const store = await options.makeStore({ maxResponseBytes: 1 << 20 });
      await expect(store.begin('t', '', fp)).rejects.toThrow(/Idempotency-Key must be a non-empty string/);
      await expect(store.begin('t', 'x'.repeat(256), fp)).rejects.toThrow(/at most 255/);
      await expect(store.begin('t', 'has space', fp)).rejects.toThrow(/visible ASCII/);
    });
  });
}
