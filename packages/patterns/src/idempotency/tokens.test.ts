import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { InProgressError, InvalidTokenError, StaleAttemptError } from './errors.js';
import { IdempotencyTokens } from './tokens.js';

const server = await startRedis();
const redis = server.client();
const prefix = `gk:test:${process.pid}:`;
afterAll(() => server.stop());

describe('IdempotencyTokens', () => {
  it('10 concurrent submits with one token: exactly one starts, the other 9 get InProgressError (409)', async () => {
    const tokens = new IdempotencyTokens<{ orderNo: string }>(redis, { prefix });
    const token = await tokens.issueToken('user-1');
    const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => tokens.begin('user-1', token)));
    const started = outcomes.filter((o) => o.status === 'fulfilled' && o.value.kind === 'started');
    const busy = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof InProgressError);
    expect(started).toHaveLength(1);
    expect(busy).toHaveLength(9);
    expect((busy[0] as PromiseRejectedResult).reason.httpStatus).toBe(409);
  });

  it('after DONE every duplicate gets the original result', async () => {
    const tokens = new IdempotencyTokens<{ orderNo: string }>(redis, { prefix });
    const token = await tokens.issueToken('u');
    const b = await tokens.begin('u', token);
    expect(b.kind).toBe('started');
    await tokens.complete('u', token, { orderNo: 'A-1' }, { attempt: b.kind === 'started' ? b.attempt : '' });
    const dups = await Promise.all(Array.from({ length: 5 }, () => tokens.begin('u', token)));
    for (const d of dups) expect(d).toEqual({ kind: 'done', result: { orderNo: 'A-1' } });
  });

  it('fail() returns the token to NEW: the same token can be used again (not burned before the order exists)', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix });
    const token = await tokens.issueToken('u');
    const first = await tokens.begin('u', token);
    await tokens.fail('u', token, { attempt: (first as { attempt: string }).attempt });
    const second = await tokens.begin('u', token);
    expect(second.kind).toBe('started');
  });

  it('run(): fn runs once across concurrent duplicates; a failing fn lets a retry run cleanly', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix });
    const token = await tokens.issueToken('u');
    let calls = 0;
    await expect(
      tokens.run('u', token, async () => {
        calls++;
        throw new Error('db down');
      }),
    ).rejects.toThrow('db down');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = tokens.run('u', token, async () => {
      calls++;
      await gate;
      return 'order-42';
    });
    await new Promise((r) => setTimeout(r, 20));
    const concurrent = await Promise.allSettled(Array.from({ length: 5 }, () => tokens.run('u', token, async () => `dup-${++calls}`)));
    release();
    expect(await first).toBe('order-42');
    expect(concurrent.every((c) => c.status === 'rejected' && c.reason instanceof InProgressError)).toBe(true);
    expect(await tokens.run('u', token, async () => `late-${++calls}`)).toBe('order-42');
    expect(calls).toBe(2); // the failed attempt and the successful one; no duplicate ran
  });

  it('tokens are scoped per user: another user cannot use (or replay) them', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix });
    const token = await tokens.issueToken('alice');
    await expect(tokens.begin('mallory', token)).rejects.toThrow(InvalidTokenError);
    const b = await tokens.begin('alice', token);
    await tokens.complete('alice', token, 'alice-order', { attempt: (b as { attempt: string }).attempt });
    await expect(tokens.begin('mallory', token)).rejects.toThrow(InvalidTokenError);
  });

  it('unknown and expired tokens get InvalidTokenError', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix, tokenTtlMs: 30 });
    await expect(tokens.begin('u', '0'.repeat(32))).rejects.toThrow(InvalidTokenError);
    const token = await tokens.issueToken('u');
    await new Promise((r) => setTimeout(r, 60)); // Redis expires the key itself
    await expect(tokens.begin('u', token)).rejects.toThrow(InvalidTokenError);
  });

  it('a PENDING whose lease ran out (process died) can be taken over; the stale attempt can no longer settle', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix, pendingTtlMs: 40 });
    const token = await tokens.issueToken('u');
    const crashed = await tokens.begin('u', token);
    await expect(tokens.begin('u', token)).rejects.toThrow(InProgressError);
    await new Promise((r) => setTimeout(r, 60)); // the lease is Redis TIME based
    const takeover = await tokens.begin('u', token);
    expect(takeover.kind).toBe('started');
    await expect(tokens.complete('u', token, 'stale', { attempt: (crashed as { attempt: string }).attempt })).rejects.toThrow(StaleAttemptError);
    await tokens.complete('u', token, 'fresh', { attempt: (takeover as { attempt: string }).attempt });
    expect(await tokens.begin('u', token)).toEqual({ kind: 'done', result: 'fresh' });
  });

  it('a token close to its expiry outlives the attempt that began with it (begin extends it to the lease)', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix, tokenTtlMs: 50, pendingTtlMs: 5_000 });
    const token = await tokens.issueToken('u');
    const b = await tokens.begin('u', token);
    await new Promise((r) => setTimeout(r, 120)); // past tokenTtlMs, well inside the lease
    await tokens.complete('u', token, 'order-1', { attempt: (b as { attempt: string }).attempt });
    expect(await tokens.begin('u', token)).toEqual({ kind: 'done', result: 'order-1' });
  });

  it('settling a token that is not pending is refused; bad inputs get typed errors', async () => {
    const tokens = new IdempotencyTokens<string>(redis, { prefix });
    const token = await tokens.issueToken('u');
    await expect(tokens.complete('u', token, 'x')).rejects.toThrow(StaleAttemptError);
    await expect(tokens.fail('u', '1'.repeat(32))).rejects.toThrow(InvalidTokenError);
    await expect(tokens.begin('u', 'not-a-token')).rejects.toThrow(InvalidArgumentError);
    await expect(tokens.begin('', token)).rejects.toThrow('scope must be a non-empty string');
    await expect(tokens.complete('u', token, undefined as unknown as string)).rejects.toThrow('result must be a JSON-serialisable value');
    expect(() => new IdempotencyTokens(redis, { pendingTtlMs: 0 })).toThrow(InvalidArgumentError);
  });
});
