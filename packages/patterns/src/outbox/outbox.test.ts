import { ManualClock } from '@gopherkit/primitives/clock';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { createTestDatabase } from '@gopherkit/testkit';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, OutboxStateError, OutboxStatus } from './index.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());

async function inTx<R>(fn: (conn: PoolConnection) => Promise<R>): Promise<R> {
  const conn = await db!.pool.getConnection();
  try {
    await conn.beginTransaction();
    const r = await fn(conn);
    await conn.commit();
    return r;
  } catch (e) {
    await conn.rollback();
    throw e;
  } finally {
    conn.release();
  }
}

describe.skipIf(!db)('Outbox.enqueue (real MySQL)', () => {
  const pool = db!.pool;
  const clock = new ManualClock(1_700_000_000_000);
  const outbox = new Outbox({ clock });
  beforeEach(async () => {
    await pool.query('DELETE FROM gk_outbox');
    await pool.query('DELETE FROM gk_outbox_aggregate');
  });

  it('stores the message with a per-aggregate sequence starting at 1 and the key defaulting to the aggregate id', async () => {
    const a = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'o1', topic: 'orders', payload: '{"n":1}' }));
    const b = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'o1', topic: 'orders', payload: 'x', headers: { h: 'v' } }));
    const c2 = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'o2', topic: 'orders', key: 'k', payload: new Uint8Array([1, 2]) }));
    expect([a.seq, b.seq, c2.seq]).toEqual([1, 2, 1]);
    const rec = await outbox.get(pool, b.id);
    expect(rec).toMatchObject({ aggregateId: 'o1', seq: 2, key: 'o1', headers: { h: 'v' }, status: OutboxStatus.pending, createdAt: 1_700_000_000_000 });
    expect(rec?.payload.toString()).toBe('x');
    expect((await outbox.get(pool, c2.id))?.payload).toEqual(Buffer.from([1, 2]));
    expect((await outbox.get(pool, c2.id))?.key).toBe('k');
  });

  it('a rolled-back business transaction leaves no outbox row and does not consume a sequence number', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS t_orders (id VARCHAR(32) PRIMARY KEY)');
    await expect(
      inTx(async (c) => {
        await c.query('INSERT INTO t_orders VALUES (?)', ['rb1']);
        await outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'rb1', topic: 'orders', payload: 'p' });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect((await outbox.stats(pool)).pending).toBe(0);
    const [orders] = await pool.query<RowDataPacket[]>('SELECT * FROM t_orders WHERE id = ?', ['rb1']);
    expect(orders).toHaveLength(0);
    const next = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'rb1', topic: 'orders', payload: 'p' }));
    expect(next.seq).toBe(1);
  });

  it('concurrent transactions on one aggregate get gap-free sequence numbers in commit order', async () => {
    // 6 connections race; each enqueues and then commits after a random delay. Commit order must equal seq order.
    const commits: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        for (let round = 0; round < 5; round++) {
          const conn = await pool.getConnection();
          try {
            await conn.beginTransaction();
            const { seq } = await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: 'hot', topic: 'orders', payload: `${i}/${round}` });
            await new Promise((r) => setTimeout(r, (i * 7 + round * 3) % 5));
            await conn.commit();
            commits.push(seq);
          } finally {
            conn.release();
          }
        }
      }),
    );
    expect(commits).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('rejects bad messages with typed errors naming the field', async () => {
    await inTx(async (c) => {
      await expect(outbox.enqueue(c, { aggregateType: '', aggregateId: 'a', topic: 't', payload: 'p' })).rejects.toThrow(
        'message.aggregateType must be a non-empty string, got ""',
      );
      await expect(outbox.enqueue(c, { aggregateType: 'a', aggregateId: 'a', topic: 't', payload: 5 as never })).rejects.toThrow(InvalidArgumentError);
      await expect(outbox.enqueue(c, { aggregateType: 'a', aggregateId: 'x'.repeat(129), topic: 't', payload: 'p' })).rejects.toThrow(
        'message.aggregateId must be at most 128 characters',
      );
      await expect(outbox.enqueue(c, { aggregateType: 'a', aggregateId: 'a', topic: 't', payload: 'p', headers: { n: 1 as never } })).rejects.toThrow(
        'message.headers.n must be a string, got 1',
      );
    });
    await expect(outbox.retry(pool, 'abc')).rejects.toThrow('id must be an outbox id (a decimal string), got "abc"');
  });

  it('retry and skip only accept dead rows; purge keeps pending and dead rows whatever their age', async () => {
    const { id } = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'd1', topic: 'orders', payload: 'p' }));
    await expect(outbox.retry(pool, id)).rejects.toThrow(OutboxStateError);
    await expect(outbox.skip(pool, id)).rejects.toThrow(/only dead rows/);
    await pool.query('UPDATE gk_outbox SET status = ?, attempts = 5, last_error = ? WHERE id = ?', [OutboxStatus.dead, 'boom', id]);
    expect((await outbox.deadLetters(pool)).map((r) => [r.id, r.lastError, r.attempts])).toEqual([[id, 'boom', 5]]);
    await outbox.retry(pool, id);
    expect(await outbox.get(pool, id)).toMatchObject({ status: OutboxStatus.pending, attempts: 0 });
    await pool.query('UPDATE gk_outbox SET status = ? WHERE id = ?', [OutboxStatus.dead, id]);
    await outbox.skip(pool, id);
    expect((await outbox.stats(pool)).skipped).toBe(1);

    const old = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'd2', topic: 'orders', payload: 'p' }));
    await pool.query('UPDATE gk_outbox SET status = ?, published_at = ? WHERE id = ?', [OutboxStatus.published, clock.now() - 10_000, old.id]);
    await pool.query('UPDATE gk_outbox SET created_at = 0'); // ancient: the seed's 24 h cutoff would drop pending rows
    const pending = await inTx((c) => outbox.enqueue(c, { aggregateType: 'order', aggregateId: 'd3', topic: 'orders', payload: 'p' }));
    await clock.advance(1);
    expect(await outbox.purgePublished(pool, { olderThanMs: 5_000 })).toBe(1); // the skipped row was skipped just now
    expect(await outbox.get(pool, old.id)).toBeNull();
    await clock.advance(10_000);
    expect(await outbox.purgePublished(pool, { olderThanMs: 5_000 })).toBe(1);
    expect(await outbox.stats(pool)).toEqual({ pending: 1, published: 0, dead: 0, skipped: 0 });
    expect(await outbox.get(pool, pending.id)).not.toBeNull();
  });
});
