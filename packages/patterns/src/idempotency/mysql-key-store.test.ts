import { randomUUID } from 'node:crypto';
import { ManualClock } from '@gopherkit/primitives/clock';
import { createTestDatabase } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from '../outbox/index.js';
import { InProgressError, StaleAttemptError } from './errors.js';
import { describeKeyStoreContract } from './key-store.contract.js';
import { requestFingerprint, type StoredResponse } from './key-store.js';
import { MysqlIdempotencyKeyStore } from './mysql-key-store.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());

if (db) {
  describeKeyStoreContract('MysqlIdempotencyKeyStore', {
    makeStore: ({ maxResponseBytes }) => new MysqlIdempotencyKeyStore(db.pool, { maxResponseBytes }),
  });
}

describe.skipIf(!db)('MysqlIdempotencyKeyStore in the business transaction', () => {
  const pool = db?.pool as NonNullable<typeof db>['pool'];
  const fp = requestFingerprint({ method: 'POST', path: '/orders', body: '{"sku":"A"}' });
  const created = (id: string): StoredResponse => ({ status: 201, headers: { location: `/orders/${id}` }, body: Buffer.from(JSON.stringify({ id })) });
  const orderCount = async (id: string) => {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM gk_orders WHERE id = ?', [id]);
    return Number(rows[0]?.n);
  };
  const insertOrder = (conn: { query: typeof pool.query }, id: string) =>
    conn.query("INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, 'u', 1999, 'PENDING', 0, 0)", [id]);

  it('commit: the order row and the DONE key commit together; a replay returns the response without running again', async () => {
    const store = new MysqlIdempotencyKeyStore(pool);
    const key = randomUUID();
    const id = `o-${key}`;
    let runs = 0;
    const handler = async (conn: Parameters<Parameters<typeof store.execute>[3]>[0]) => {
      runs++;
      await insertOrder(conn, id);
      return created(id);
    };
    const first = await store.execute('u', key, fp, handler);
    const second = await store.execute('u', key, fp, handler);
    expect(first.replayed).toBe(false);
    expect(second.replayed).toBe(true);
    expect(second.response.body.equals(first.response.body)).toBe(true);
    expect(runs).toBe(1);
    expect(await orderCount(id)).toBe(1);
  });

  it('rollback: a failure after the order insert leaves neither the order nor a DONE key, and the retry runs cleanly', async () => {
    const store = new MysqlIdempotencyKeyStore(pool);
    const key = randomUUID();
    const id = `o-${key}`;
    await expect(
      store.execute('u', key, fp, async (conn) => {
        await insertOrder(conn, id);
        throw new Error('payment service down');
      }),
    ).rejects.toThrow('payment service down');
    expect(await orderCount(id)).toBe(0);
    const [keys] = await pool.query<RowDataPacket[]>('SELECT status FROM gk_idempotency_keys WHERE scope = ? AND idem_key = ?', ['u', key]);
    expect(keys).toHaveLength(0);
    const retry = await store.execute('u', key, fp, async (conn) => {
      await insertOrder(conn, id);
      return created(id);
    });
    expect(retry.replayed).toBe(false);
    expect(await orderCount(id)).toBe(1);
  });

  it('key row, order row and outbox row commit together, or none of them does', async () => {
    const store = new MysqlIdempotencyKeyStore(pool);
    const outbox = new Outbox();
    const outboxRows = async (id: string) => {
      const [r] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM gk_outbox WHERE aggregate_type = 'order' AND aggregate_id = ?", [id]);
      return Number(r[0]?.n);
    };
    const key = randomUUID();
    const id = `o-${key}`;
    const attemptOnce = (fail: boolean) =>
      store.execute('u', key, fp, async (conn) => {
        await insertOrder(conn, id);
        await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: id, topic: 'order.created', payload: JSON.stringify({ id }) });
        if (fail) throw new Error('crash before commit');
        return created(id);
      });
    await expect(attemptOnce(true)).rejects.toThrow('crash before commit');
    expect([await orderCount(id), await outboxRows(id)]).toEqual([0, 0]);
    expect((await attemptOnce(false)).replayed).toBe(false);
    expect((await attemptOnce(false)).replayed).toBe(true);
    expect([await orderCount(id), await outboxRows(id)]).toEqual([1, 1]);
  });

  it('an attempt whose lease expired and was taken over cannot commit its order (StaleAttemptError, rolled back)', async () => {
    const clock = new ManualClock(9_000_000);
    const store = new MysqlIdempotencyKeyStore(pool, { clock, lockTtlMs: 1_000 });
    const key = randomUUID();
    const slowId = `slow-${key}`;
    let takeover: Promise<unknown> | undefined;
    const slow = store.execute('u', key, fp, async (conn) => {
      await insertOrder(conn, slowId);
      await clock.advance(1_000); // the slow request outlives its lease...
      takeover = store.begin('u', key, fp); // ...and a retry takes the key over
      await takeover;
      return created(slowId);
    });
    await expect(slow).rejects.toThrow(StaleAttemptError);
    expect(await takeover).toMatchObject({ kind: 'started' });
    expect(await orderCount(slowId)).toBe(0);
  });

  it('a crash between begin and commit (no abort) rolls the order back; after lockTtlMs exactly one of 8 concurrent retries takes over', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MysqlIdempotencyKeyStore(pool, { clock, lockTtlMs: 5_000 });
    const key = randomUUID();
    const id = `o-${key}`;
    const b = await store.begin('u', key, fp);
    const conn = await pool.getConnection();
    await conn.beginTransaction();
    await insertOrder(conn, id);
    conn.destroy(); // the process died: the server rolls the transaction back
    await expect(store.begin('u', key, fp)).rejects.toThrow(InProgressError);
    await clock.advance(5_000);
    const retries = await Promise.allSettled(Array.from({ length: 8 }, () => store.begin('u', key, fp)));
    const startedAttempts = retries.filter((r) => r.status === 'fulfilled' && r.value.kind === 'started');
    expect(startedAttempts).toHaveLength(1);
    expect(retries.filter((r) => r.status === 'rejected' && r.reason instanceof InProgressError)).toHaveLength(7);
    expect(b.kind).toBe('started');
    expect(await orderCount(id)).toBe(0);
  });

  it('8 concurrent executes with one key (separate connections): the handler runs once, the rest get 409 or the replay', async () => {
    const store = new MysqlIdempotencyKeyStore(pool);
    const key = randomUUID();
    const id = `o-${key}`;
    let runs = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        store.execute('u', key, fp, async (conn) => {
          runs++;
          await insertOrder(conn, id);
          return created(id);
        }),
      ),
    );
    expect(runs).toBe(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(InProgressError);
      else expect(JSON.parse(r.value.response.body.toString())).toEqual({ id });
    }
    expect(await orderCount(id)).toBe(1);
  });

  it('retention: expired keys act as unknown and purgeExpired deletes them', async () => {
    const clock = new ManualClock(5_000_000);
    const store = new MysqlIdempotencyKeyStore(pool, { clock, retentionMs: 60_000 });
    const key = randomUUID();
    const b = await store.begin('purge', key, fp);
    if (b.kind !== 'started') throw new Error('expected started');
    await store.complete('purge', key, b.attempt, created('x'));
    expect((await store.begin('purge', key, fp)).kind).toBe('replay');
    await clock.advance(60_000);
    // expired but not yet purged: a new request with another body starts fresh instead of 422
    const other = requestFingerprint({ method: 'POST', path: '/orders', body: 'other' });
    const again = await store.begin('purge', key, other);
    expect(again.kind).toBe('started');
    await clock.advance(60_000);
    expect(await store.purgeExpired()).toBeGreaterThanOrEqual(1);
    const [rows] = await pool.query<RowDataPacket[]>('SELECT 1 FROM gk_idempotency_keys WHERE scope = ? AND idem_key = ?', ['purge', key]);
    expect(rows).toHaveLength(0);
  });

  it('rejects a scope longer than the column with a typed error', async () => {
    const store = new MysqlIdempotencyKeyStore(pool);
    await expect(store.begin('s'.repeat(129), randomUUID(), fp)).rejects.toThrow(/scope must be at most 128 characters/);
  });
});
