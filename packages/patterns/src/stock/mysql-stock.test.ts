import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { createTestDatabase, startRedis } from '@gopherkit/testkit';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DuplicateStockOperationError,
  InsufficientStockError,
  MysqlStock,
  OptimisticConflictError,
  RedisStock,
  reconcileStock,
  StockNotFoundError,
} from './index.js';

const db = await createTestDatabase({ connectionLimit: 8 });
const server = await startRedis();
const redis = server.client();
afterAll(async () => {
  await db?.drop();
  await server.stop();
});

let n = 0;
let sku = '';
beforeEach(() => {
  sku = `s${n++}`;
});

async function assertInvariant(stock: MysqlStock, ...skus: string[]): Promise<void> {
  for (const s of skus) {
    const l = await stock.levels(s);
    expect(l, s).not.toBeNull();
    if (!l) return;
    expect(l.available + l.locked + l.sold, `${s} sum`).toBe(l.total);
    expect(l.available, `${s} available`).toBeGreaterThanOrEqual(0);
  }
}

describe.skipIf(!db)('MysqlStock strategies under 200 concurrent buyers on 8 connections', () => {
  const pool = () => {
    if (!db) throw new Error('unreachable');
    return db.pool;
  };

  for (const strategy of ['deductForUpdate', 'deductConditional'] as const) {
    it(`${strategy} sells exactly the stock, never more`, async () => {
      const stock = new MysqlStock(pool());
      await stock.init(sku, 50);
      let violations = 0;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) =>
          stock[strategy](sku, 1, `o${i}`).finally(async () => {
            const l = await stock.levels(sku); // invariant after every operation, while others run
            if (!l || l.available + l.locked + l.sold !== l.total || l.available < 0) violations++;
          }),
        ),
      );
      expect(violations).toBe(0);
      const sold = outcomes.filter((o) => o.status === 'fulfilled').length;
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(InsufficientStockError);
      expect(sold).toBe(50);
      expect(await stock.levels(sku)).toMatchObject({ available: 0, sold: 50, total: 50 });
      const [rows] = await pool().query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM stock_logs WHERE sku = ?', [sku]);
      expect(Number(rows[0]?.n)).toBe(50);
      await assertInvariant(stock, sku);
    });
  }

  it('deductOptimistic never oversells, and under contention gives up on buyers while stock remains (undersell)', async () => {
    const stock = new MysqlStock(pool(), { maxRetries: 1, retryJitterMs: 0 });
    await stock.init(sku, 150);
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => stock.deductOptimistic(sku, 1, `o${i}`)));
    const sold = outcomes.filter((o) => o.status === 'fulfilled').length;
    const conflicts = outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof OptimisticConflictError).length;
    const l = await stock.levels(sku);
    expect(l?.sold).toBe(sold);
    expect(sold).toBeLessThanOrEqual(150);
    // 200 buyers for 150 units: every buyer refused while units remained is an undersell
    expect(conflicts).toBeGreaterThan(0);
    expect(l?.available).toBeGreaterThan(0);
    await assertInvariant(stock, sku);
  });

  it('the same opId never sells twice', async () => {
    const stock = new MysqlStock(pool());
    await stock.init(sku, 10);
    await stock.deductConditional(sku, 2, 'order-1');
    await expect(stock.deductConditional(sku, 2, 'order-1')).rejects.toThrow(DuplicateStockOperationError);
    await expect(stock.deductForUpdate(sku, 2, 'order-1')).rejects.toThrow(DuplicateStockOperationError);
    expect((await stock.levels(sku))?.available).toBe(8);
    await assertInvariant(stock, sku);
  });

  it("joins the caller's transaction: a rollback undoes the deduction", async () => {
    const stock = new MysqlStock(pool());
    await stock.init(sku, 10);
    const conn = await pool().getConnection();
    try {
      await conn.beginTransaction();
      await stock.deductConditional(sku, 3, 'o1', { conn });
      await stock.deductForUpdate(sku, 1, 'o2', { conn });
      await conn.rollback();
    } finally {
      conn.release();
    }
    expect((await stock.levels(sku))?.available).toBe(10);
  });

  it('typed errors for unknown SKUs, too little stock and bad input', async () => {
    const stock = new MysqlStock(pool());
    await stock.init(sku, 1);
    await expect(stock.deductConditional('nope', 1, 'x')).rejects.toThrow(StockNotFoundError);
    await expect(stock.deductForUpdate('nope', 1, 'x')).rejects.toThrow(StockNotFoundError);
    await expect(stock.deductOptimistic('nope', 1, 'x')).rejects.toThrow(StockNotFoundError);
    await expect(stock.deductConditional(sku, 2, 'x')).rejects.toThrow('requested 2, only 1 available');
    await expect(stock.deductConditional(sku, -1, 'x')).rejects.toThrow(InvalidArgumentError);
    await expect(stock.deductManySorted([], 'x')).rejects.toThrow(InvalidArgumentError);
    expect(() => new MysqlStock(pool(), { maxRetries: -1 })).toThrow('maxRetries must be an integer in [0, 1000], got -1');
  });

  it('multi-SKU: sorted locking never deadlocks; locking in request order does (ER_LOCK_DEADLOCK)', async () => {
    const stock = new MysqlStock(pool());
    const [a, b] = [`${sku}a`, `${sku}b`];
    await stock.init(a, 1000);
    await stock.init(b, 1000);
    // unsorted, forced interleaving: T1 locks a, T2 locks b, then each wants the other's row
    const c1 = await pool().getConnection();
    const c2 = await pool().getConnection();
    try {
      await c1.beginTransaction();
      await c2.beginTransaction();
      await c1.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', [a]);
      await c2.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', [b]);
      const r = await Promise.allSettled([
        c1.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', [b]),
        c2.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', [a]),
      ]);
      const codes = r.map((x) => (x.status === 'rejected' ? (x.reason as { code: string }).code : 'ok'));
      expect(codes).toContain('ER_LOCK_DEADLOCK');
    } finally {
      await c1.rollback().catch(() => {});
      await c2.rollback().catch(() => {});
      c1.release();
      c2.release();
    }
    // sorted: 60 orders alternating [a,b] and [b,a], all succeed, no deadlock surfaces
    const orders = Array.from({ length: 60 }, (_, i) =>
      stock.deductManySorted(
        i % 2
          ? [
              { sku: a, qty: 1 },
              { sku: b, qty: 2 },
            ]
          : [
              { sku: b, qty: 2 },
              { sku: a, qty: 1 },
            ],
        `m${i}`,
      ),
    );
    await Promise.all(orders);
    expect(await stock.levels(a)).toMatchObject({ available: 940, sold: 60 });
    expect(await stock.levels(b)).toMatchObject({ available: 880, sold: 120 });
    await assertInvariant(stock, a, b);
    // all or nothing
    await expect(
      stock.deductManySorted(
        [
          { sku: a, qty: 1 },
          { sku: b, qty: 5000 },
        ],
        'big',
      ),
    ).rejects.toThrow(InsufficientStockError);
    expect((await stock.levels(a))?.available).toBe(940);
  });

  it('deductManySorted sells the last units of every SKU, and refuses one more', async () => {
    const stock = new MysqlStock(pool());
    const [a, b] = [`${sku}a`, `${sku}b`];
    await stock.init(a, 2);
    await stock.init(b, 3);
    await stock.deductManySorted(
      [
        { sku: b, qty: 3 },
        { sku: a, qty: 2 },
      ],
      'all',
    );
    expect(await stock.levels(a)).toMatchObject({ available: 0, sold: 2 });
    expect(await stock.levels(b)).toMatchObject({ available: 0, sold: 3 });
    await expect(stock.deductManySorted([{ sku: a, qty: 1 }], 'one-more')).rejects.toThrow(InsufficientStockError);
    await assertInvariant(stock, a, b);
  });

  it('applyDelta is idempotent per opId', async () => {
    const stock = new MysqlStock(pool());
    await stock.init(sku, 10);
    const delta = { opId: 'sync-1', sku, available: -2, sold: 2 };
    const applied = await Promise.all([stock.applyDelta(delta), stock.applyDelta(delta), stock.applyDelta(delta)]);
    expect(applied.filter(Boolean)).toHaveLength(1);
    expect(await stock.levels(sku)).toMatchObject({ available: 8, sold: 2, syncedOps: 1 });
    await assertInvariant(stock, sku);
  });
});

describe.skipIf(!db)('reconcileStock', () => {
  it('waits for in-flight syncs, corrects real drift in MySQL once, and never writes Redis', async () => {
    if (!db) return;
    const mysql = new MysqlStock(db.pool);
    const rs = new RedisStock(redis, { prefix: `rec${process.pid}:${sku}:` });
    await mysql.init(sku, 100);
    await rs.init(sku, 100);
    // 5 sales in Redis; their sync deltas are still in flight
    const deltas = [];
    for (let i = 0; i < 5; i++) {
      await rs.deduct(sku, 1);
      deltas.push({ opId: `sale-${i}`, sku, available: -1, sold: 1 });
    }
    let [r] = await reconcileStock([sku], { redis: rs, mysql, correct: true });
    expect(r).toMatchObject({ status: 'in-flight', inFlight: 5, corrected: false });
    expect((await mysql.levels(sku))?.available).toBe(100); // not "corrected" while syncs are in flight
    expect((await rs.levels(sku))?.available).toBe(95); // Redis untouched: the seed would reset it to 100 and resell 5
    // 4 syncs land, one is lost for good (then a redelivery of another one: idempotent)
    for (const d of deltas.slice(0, 4)) await mysql.applyDelta(d);
    await mysql.applyDelta(deltas[0] as (typeof deltas)[0]);
    [r] = await reconcileStock([sku], { redis: rs, mysql });
    expect(r).toMatchObject({ status: 'in-flight', inFlight: 1 });
    // the lost delta is declared lost: count it as synced without its effect → real drift
    await mysql.applyDelta({ opId: 'sale-4-lost', sku });
    [r] = await reconcileStock([sku], { redis: rs, mysql, correct: false });
    expect(r).toMatchObject({ status: 'drift', diff: { available: -1, sold: 1, locked: 0, total: 0 }, corrected: false });
    const both = await Promise.all([reconcileStock([sku], { redis: rs, mysql, correct: true }), reconcileStock([sku], { redis: rs, mysql, correct: true })]);
    expect(both.flat().filter((x) => x.corrected)).toHaveLength(1);
    [r] = await reconcileStock([sku], { redis: rs, mysql });
    expect(r).toMatchObject({ status: 'in-sync', diff: { available: 0, sold: 0 } });
    expect(await mysql.levels(sku)).toMatchObject({ available: 95, sold: 5 });
    await assertInvariant(mysql, sku);
    expect((await reconcileStock(['ghost'], { redis: rs, mysql }))[0]?.status).toBe('missing');
  });

  it('redis-behind (MySQL synced more ops than Redis made: Redis lost data) is reported, never corrected', async () => {
    if (!db) return;
    const mysql = new MysqlStock(db.pool);
    const rs = new RedisStock(redis, { prefix: `rec${process.pid}:${sku}:` });
    await mysql.init(sku, 100);
    await rs.init(sku, 100);
    await rs.deduct(sku, 1);
    await mysql.applyDelta({ opId: 'sale-0', sku, available: -1, sold: 1 });
    // a second sale was synced, then Redis failed over and lost it
    await mysql.applyDelta({ opId: 'sale-1', sku, available: -1, sold: 1 });
    const [r] = await reconcileStock([sku], { redis: rs, mysql, correct: true });
    expect(r).toMatchObject({ status: 'redis-behind', inFlight: -1, corrected: false });
    expect(await mysql.levels(sku)).toMatchObject({ available: 98, sold: 2, syncedOps: 2 });
    expect((await rs.levels(sku))?.available).toBe(99);
  });

  it('reads MySQL before Redis: a sale and its sync landing between the two reads look in flight, never redis-behind', async () => {
    if (!db) return;
    const prefix = `rec${process.pid}:${sku}:`;
    const plainRedis = new RedisStock(redis, { prefix });
    const plainMysql = new MysqlStock(db.pool);
    await plainMysql.init(sku, 100);
    await plainRedis.init(sku, 100);
    let reads = 0;
    // right after whichever side is read first, one sale happens in Redis and its sync lands in MySQL
    const race = async () => {
      await plainRedis.deduct(sku, 1);
      await plainMysql.applyDelta({ opId: 'sale-between', sku, available: -1, sold: 1 });
    };
    class RacingMysql extends MysqlStock {
      override async levels(s: string, conn?: PoolConnection) {
        const l = await super.levels(s, conn);
        if (reads++ === 0) await race();
        return l;
      }
    }
    class RacingRedis extends RedisStock {
      override async levels(s: string) {
        const l = await super.levels(s);
        if (reads++ === 0) await race();
        return l;
      }
    }
    const [r] = await reconcileStock([sku], { redis: new RacingRedis(redis, { prefix }), mysql: new RacingMysql(db.pool), correct: true });
    expect(r).toMatchObject({ status: 'in-flight', inFlight: 1, corrected: false });
    expect(reads).toBe(2);
    const [again] = await reconcileStock([sku], { redis: plainRedis, mysql: plainMysql });
    expect(again).toMatchObject({ status: 'in-sync' });
  });
});
