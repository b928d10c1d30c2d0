import { createTestDatabase, startRedis } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { DelayQueue } from '../delayqueue/index.js';
import { cancelPendingOrder, orderTimeoutHandler, RedisStock } from './index.js';

const db = await createTestDatabase({ connectionLimit: 8 });
const server = await startRedis();
const redis = server.client();
afterAll(async () => {
  await db?.drop();
  await server.stop();
});

function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (check()) {
        clearInterval(t);
        resolve();
      }
    }, 2);
  });
}

describe.skipIf(!db)('order timeout: DelayQueue + guarded cancel + release', () => {
  it('cancels every unpaid order exactly once and returns its stock, despite crashed workers; paid orders keep theirs', async () => {
    if (!db) return;
    const pool = db.pool;
    const prefix = `ot${process.pid}:`;
    const stock = new RedisStock(redis, { prefix });
    await stock.init('sku', 100);
    const ids = Array.from({ length: 60 }, (_, i) => `order-${i}`);
    const q = new DelayQueue(redis, { prefix, name: 'order-timeout', visibilityTimeoutMs: 200 });
    for (const id of ids) {
      await stock.reserve(id, [{ sku: 'sku', qty: 1 }], 60_000);
      await pool.query('INSERT INTO stock_orders (id) VALUES (?)', [id]);
      await q.schedule(id, Date.now() - 1);
    }
    // 10 orders are paid before their timeout fires
    const paid = ids.slice(0, 10);
    for (const id of paid) {
      await pool.query("UPDATE stock_orders SET status = 'PAID' WHERE id = ? AND status = 'PENDING'", [id]);
      await stock.confirm(id);
    }
    // crash 1: a worker claims 15 items and dies without acking
    const crashed = await new DelayQueue(server.client(), { prefix, name: 'order-timeout', visibilityTimeoutMs: 200 }).claim(15);
    expect(crashed).toHaveLength(15);
    // crash 2: a worker commits the cancel of 5 more items, then dies before releasing and acking
    const halfDone = await new DelayQueue(server.client(), { prefix, name: 'order-timeout', visibilityTimeoutMs: 200 }).claim(5);
    for (const j of halfDone) await cancelPendingOrder(pool)(j.id);

    const handler = orderTimeoutHandler({ stock, pool });
    const acked = new Set<string>();
    let deliveries = 0;
    const workers = Array.from({ length: 3 }, () =>
      new DelayQueue(server.client(), { prefix, name: 'order-timeout', visibilityTimeoutMs: 200 }).process(
        async (job) => {
          deliveries++;
          await handler(job);
        },
        { concurrency: 4, pollIntervalMs: 10 },
      ),
    );
    for (const w of workers) w.on('done', (j) => acked.add(j.id));
    await until(() => acked.size === ids.length);
    await Promise.all(workers.map((w) => w.close()));

    expect(deliveries).toBeGreaterThanOrEqual(ids.length - 20);
    const [rows] = await pool.query<RowDataPacket[]>('SELECT id, status, cancel_count FROM stock_orders');
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    for (const id of ids) {
      const r = byId.get(id);
      if (paid.includes(id)) expect(r).toMatchObject({ status: 'PAID', cancel_count: 0 });
      else expect(r).toMatchObject({ status: 'CANCELLED', cancel_count: 1 });
    }
    const l = await stock.levels('sku');
    expect(l).toMatchObject({ available: 90, locked: 0, sold: 10, total: 100 });
    for (const id of ids.slice(10)) expect(await stock.orderState(id)).toBe('released');
    expect(await q.size()).toEqual({ waiting: 0, processing: 0 });
  });

  it('a timeout for a paid order changes nothing', async () => {
    if (!db) return;
    const stock = new RedisStock(redis, { prefix: `ot2${process.pid}:` });
    await stock.init('sku', 5);
    await stock.reserve('p1', [{ sku: 'sku', qty: 2 }], 60_000);
    await db.pool.query("INSERT INTO stock_orders (id, status) VALUES ('p1', 'PAID')");
    await stock.confirm('p1');
    const handler = orderTimeoutHandler({ stock, pool: db.pool });
    expect(await handler({ id: 'p1', attempt: 1 })).toEqual({ outcome: 'not-pending', released: false });
    expect(await handler({ id: 'p1', attempt: 2 })).toEqual({ outcome: 'not-pending', released: false });
    expect(await stock.levels('sku')).toMatchObject({ available: 3, sold: 2, locked: 0 });
    expect(() => orderTimeoutHandler({ stock })).toThrow('options must be an object with `cancel` or `pool`');
  });

  it('an order cancelled elsewhere: the first delivery leaves the stock alone, a redelivery releases it once', async () => {
    if (!db) return;
    const stock = new RedisStock(redis, { prefix: `ot3${process.pid}:` });
    await stock.init('sku', 5);
    await stock.reserve('c1', [{ sku: 'sku', qty: 2 }], 60_000);
    await db.pool.query("INSERT INTO stock_orders (id, status) VALUES ('c1', 'CANCELLED')");
    const handler = orderTimeoutHandler({ stock, pool: db.pool });
    expect(await handler({ id: 'c1', attempt: 1 })).toEqual({ outcome: 'already-cancelled', released: false });
    expect(await stock.levels('sku')).toMatchObject({ available: 3, locked: 2 });
    // attempt 2: the first delivery may have crashed between its cancel and its release
    expect(await handler({ id: 'c1', attempt: 2 })).toEqual({ outcome: 'already-cancelled', released: true });
    expect(await handler({ id: 'c1', attempt: 3 })).toEqual({ outcome: 'already-cancelled', released: false });
    expect(await stock.levels('sku')).toMatchObject({ available: 5, locked: 0, sold: 0 });
    const [rows] = await db.pool.query<RowDataPacket[]>("SELECT cancel_count FROM stock_orders WHERE id = 'c1'");
    expect(Number(rows[0]?.cancel_count)).toBe(0);
  });
});
