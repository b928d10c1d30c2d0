import { ManualClock } from '@gopherkit/primitives/clock';
import { createTestDatabase } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Inbox } from './index.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());

describe.skipIf(!db)('Inbox (real MySQL)', () => {
  const pool = db!.pool;
  beforeAll(async () => {
    await pool.query('CREATE TABLE t_stock (sku VARCHAR(32) PRIMARY KEY, qty INT NOT NULL)');
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM gk_inbox');
    await pool.query('DELETE FROM t_stock');
    await pool.query("INSERT INTO t_stock VALUES ('s1', 100)");
  });
  const qty = async () => Number(((await pool.query<RowDataPacket[]>("SELECT qty FROM t_stock WHERE sku = 's1'"))[0][0] as RowDataPacket).qty);
  const deduct = (n: number) => async (conn: import('mysql2/promise').PoolConnection) => {
    await conn.query("UPDATE t_stock SET qty = qty - ? WHERE sku = 's1'", [n]);
    return n;
  };

  it('runs the handler once per (consumer, message): a redelivery is a no-op that still lets the caller ack', async () => {
    const inbox = new Inbox();
    expect(await inbox.process(pool, 'stock', 'm1', deduct(3))).toEqual({ duplicate: false, value: 3 });
    expect(await inbox.process(pool, 'stock', 'm1', deduct(3))).toEqual({ duplicate: true });
    expect(await qty()).toBe(97);
    // another consumer of the same message has its own dedupe record
    expect((await inbox.process(pool, 'audit', 'm1', async () => 'logged')).duplicate).toBe(false);
    // the record is durable: a new instance (a restarted process) still knows m1
    expect(await new Inbox().process(pool, 'stock', 'm1', deduct(3))).toEqual({ duplicate: true });
    expect(await new Inbox().seen(pool, 'stock', 'm1')).toBe(true);
  });

  it('a failing handler rolls back its writes and the inbox row, so the redelivery processes it', async () => {
    const inbox = new Inbox();
    await expect(
      inbox.process(pool, 'stock', 'm2', async (conn) => {
        await deduct(5)(conn);
        throw new Error('downstream failed');
      }),
    ).rejects.toThrow('downstream failed');
    expect(await qty()).toBe(100);
    expect(await inbox.seen(pool, 'stock', 'm2')).toBe(false);
    expect((await inbox.process(pool, 'stock', 'm2', deduct(5))).duplicate).toBe(false);
    expect(await qty()).toBe(95);
  });

  it('concurrent deliveries of one message apply the effect exactly once (the unique key serialises them)', async () => {
    const inbox = new Inbox();
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        inbox.process(pool, 'stock', 'm3', async (conn) => {
          await deduct(1)(conn);
          await new Promise((r) => setTimeout(r, 30)); // hold the transaction open so the others collide
          return 1;
        }),
      ),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await qty()).toBe(99);
  });

  it('works on a caller-provided connection and leaves it usable', async () => {
    const inbox = new Inbox();
    const conn = await pool.getConnection();
    try {
      expect((await inbox.process(conn, 'stock', 'm4', deduct(2))).duplicate).toBe(false);
      expect((await inbox.process(conn, 'stock', 'm4', deduct(2))).duplicate).toBe(true);
      await conn.query('SELECT 1');
    } finally {
      conn.release();
    }
    expect(await qty()).toBe(98);
  });

  it('purge forgets rows older than the retention', async () => {
    const clock = new ManualClock(1_000_000);
    const inbox = new Inbox({ clock, retentionMs: 1000 });
    await inbox.process(pool, 'stock', 'old', async () => {});
    await clock.advance(600);
    await inbox.process(pool, 'stock', 'new', async () => {});
    await clock.advance(600);
    expect(await inbox.purge(pool)).toBe(1);
    expect(await inbox.seen(pool, 'stock', 'old')).toBe(false);
    expect(await inbox.seen(pool, 'stock', 'new')).toBe(true);
  });

  it('rejects bad arguments with typed errors', async () => {
    const inbox = new Inbox();
    await expect(inbox.process(pool, '', 'm', async () => {})).rejects.toThrow('consumer must be a non-empty string, got ""');
    await expect(inbox.process(pool, 'c', 'x'.repeat(192), async () => {})).rejects.toThrow('messageId must be at most 191 characters');
    expect(() => new Inbox({ retentionMs: 0 })).toThrow('retentionMs must be an integer >= 1, got 0');
  });
});
