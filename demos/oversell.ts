import { InsufficientStockError, MysqlStock, OptimisticConflictError, RedisStock, reconcileStock, type StockDelta } from '@gopherkit/patterns/stock';
import { LockBusyError, RedisLock } from '@gopherkit/primitives/lock';
import type { Redis } from 'ioredis';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * 超卖 (oversell): stock 100, 10,000 buyers, one row per strategy.
 *
 * The naive rows read the stock, then write `stock - 1`. Real concurrent buyers interleave
 * between those two steps at random; here the interleaving is forced so the failure is the same on
 * every run: buyers arrive in waves of WAVE, and every buyer of a wave reads before any of them
 * writes (as WAVE requests landing within one round trip would). Every other strategy runs with
 * CONCURRENCY buyers in flight and no forced pauses: they must never oversell.
 */
const STOCK = 100;
const BUYERS = 10_000;
const WAVE = 10;
const CONCURRENCY = 100;
const REDIS_CLIENTS = 4;
const MYSQL_CONNECTIONS = 20;

type Outcome = 'sold' | 'out' | 'gave-up';

interface Run {
  strategy: string;
  buyers: number;
  sold: number;
  /** buyers refused for contention (conflict, lock busy) rather than sold out */
  gaveUp: number;
  left: number;
  ms: number;
  latencies: number[];
}

/** Runs `buyers` calls of `buy`, at most `concurrency` at once; records per-buyer latency. */
async function crowd(buyers: number, concurrency: number, buy: (i: number) => Promise<Outcome>): Promise<Omit<Run, 'strategy' | 'left'>> {
  const latencies: number[] = [];
  let next = 0;
  let sold = 0;
  let gaveUp = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < buyers) {
        const i = next++;
        const t0 = performance.now();
        const o = await buy(i);
        latencies.push(performance.now() - t0);
        if (o === 'sold') sold++;
        else if (o === 'gave-up') gaveUp++;
      }
    }),
  );
  return { buyers, sold, gaveUp, ms: performance.now() - started, latencies };
}

/** The naive read-then-write, in waves: every buyer of a wave reads, then every one writes. */
async function waves(
  buyers: number,
  read: (i: number) => Promise<number>,
  write: (i: number, seen: number) => Promise<void>,
): Promise<Omit<Run, 'strategy' | 'left'>> {
  const latencies: number[] = [];
  let sold = 0;
  const started = performance.now();
  for (let w = 0; w < buyers; w += WAVE) {
    const ids = Array.from({ length: Math.min(WAVE, buyers - w) }, (_, k) => w + k);
    const t0 = performance.now();
    const seen = await Promise.all(ids.map(read));
    await Promise.all(
      ids.map(async (i, k) => {
        const s = seen[k] as number;
        if (s <= 0) return;
        await write(i, s);
        sold++;
      }),
    );
    const dt = performance.now() - t0;
    for (const _ of ids) latencies.push(dt);
  }
  return { buyers, sold, gaveUp: 0, ms: performance.now() - started, latencies };
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? 0;
}

export default defineDemo({
  description:
    'Oversell (超卖): stock 100, up to 10,000 buyers — naive GET→SET and DB read-then-write oversell; FOR UPDATE, optimistic, conditional UPDATE, Redis lock, Lua never do',
  async run(d) {
    const server = await d.redis();
    const clients: Redis[] = Array.from({ length: REDIS_CLIENTS }, () => server.client());
    const client = (i: number) => clients[i % REDIS_CLIENTS] as Redis;
    const prefix = `demo:oversell:${process.pid}:`;
    const runs: Run[] = [];

    // --- naive Redis GET → SET ---------------------------------------------------------------
    {
      const key = `${prefix}naive`;
      await clients[0]?.set(key, STOCK);
      const r = await waves(
        BUYERS,
        async (i) => Number(await client(i).get(key)),
        async (i, seen) => {
          await client(i).set(key, seen - 1);
        },
      );
      runs.push({ strategy: 'naive GET→SET (Redis)', ...r, left: Number(await clients[0]?.get(key)) });
    }

    // --- Redis lock + GET/DECRBY ---------------------------------------------------------------
    {
      const key = `${prefix}locked`;
      await clients[0]?.set(key, STOCK);
      const locks = clients.map((c) => new RedisLock(c, { prefix }));
      const r = await crowd(BUYERS, CONCURRENCY, async (i) => {
        let lease: Awaited<ReturnType<RedisLock['acquire']>>;
        try {
          lease = await (locks[i % REDIS_CLIENTS] as RedisLock).acquire('lock:sku', { ttlMs: 5000, retry: { attempts: 50, delayMs: 2, jitterMs: 3 } });
        } catch (e) {
          if (e instanceof LockBusyError) return 'gave-up';
          throw e;
        }
        try {
          const stock = Number(await client(i).get(key));
          if (stock < 1) return 'out';
          await client(i).decrby(key, 1);
          return 'sold';
        } finally {
          await lease.release();
        }
      });
      runs.push({ strategy: 'Redis lock + GET/DECRBY', ...r, left: Number(await clients[0]?.get(key)) });
    }

    // --- Lua (RedisStock.deduct) ----------------------------------------------------------------
    const stores = clients.map((c) => new RedisStock(c, { prefix }));
    {
      await stores[0]?.init('lua', STOCK);
      const r = await crowd(BUYERS, CONCURRENCY, async (i) => {
        try {
          await (stores[i % REDIS_CLIENTS] as RedisStock).deduct('lua', 1);
          return 'sold';
        } catch (e) {
          if (e instanceof InsufficientStockError) return 'out';
          throw e;
        }
      });
      const l = await stores[0]?.levels('lua');
      d.check(!!l && l.available + l.locked + l.sold === l.total && l.available >= 0, 'Lua: available + locked + sold == total, available >= 0');
      runs.push({ strategy: 'Lua script', ...r, left: l?.available ?? -1 });
    }

    // --- MySQL ----------------------------------------------------------------------------------
    let pool: Pool | undefined;
    let deadlockLine = '';
    const reconcileTable: Record<string, unknown>[] = [];
    try {
      pool = (await d.mysql({ connectionLimit: MYSQL_CONNECTIONS })).pool;
    } catch (e) {
      d.log(`MySQL rows skipped: ${(e as Error).message}\n`);
      // outside CI the Redis rows still teach the point; in CI every row must run
      if (process.env.CI === 'true') d.check(false, 'CI=true: the MySQL strategies must run, but no MySQL answered');
    }
    if (pool) {
      const db = pool;
      const mysql = new MysqlStock(db);
      // naive DB read-then-write: SELECT, then UPDATE with the value computed in the app
      await mysql.init('naive-db', STOCK);
      const naive = await waves(
        BUYERS,
        async () => {
          const [rows] = await db.query<RowDataPacket[]>('SELECT available FROM product_stocks WHERE sku = ?', ['naive-db']);
          return Number(rows[0]?.available);
        },
        async (i, seen) => {
          await db.query<ResultSetHeader>('UPDATE product_stocks SET available = ?, sold = ? WHERE sku = ?', [seen - 1, STOCK - seen + 1, 'naive-db']);
          await db.query('INSERT INTO stock_logs (op_id, sku, operation, quantity) VALUES (?, ?, ?, ?)', [`b${i}`, 'naive-db', 'deduct', -1]);
        },
      );
      runs.push({ strategy: 'naive read-then-write (MySQL)', ...naive, left: (await mysql.levels('naive-db'))?.available ?? -1 });

      const strategies = [
        ['SELECT … FOR UPDATE', 'for-update', (sku: string, i: number) => mysql.deductForUpdate(sku, 1, `b${i}`)],
        ['optimistic version (3 retries)', 'optimistic', (sku: string, i: number) => mysql.deductOptimistic(sku, 1, `b${i}`)],
        ['conditional UPDATE', 'conditional', (sku: string, i: number) => mysql.deductConditional(sku, 1, `b${i}`)],
      ] as const;
      for (const [name, sku, deduct] of strategies) {
        await mysql.init(sku, STOCK);
        const r = await crowd(BUYERS, CONCURRENCY, async (i) => {
          try {
            await deduct(sku, i);
            return 'sold';
          } catch (e) {
            if (e instanceof InsufficientStockError) return 'out';
            if (e instanceof OptimisticConflictError) return 'gave-up';
            throw e;
          }
        });
        const l = await mysql.levels(sku);
        d.check(!!l && l.available + l.locked + l.sold === l.total && l.available >= 0, `${name}: available + locked + sold == total, available >= 0`);
        const [logs] = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM stock_logs WHERE sku = ?', [sku]);
        d.check(Number(logs[0]?.n) === r.sold, `${name}: one stock_logs row per sale`);
        runs.push({ strategy: name, ...r, left: l?.available ?? -1 });
      }

      // multi-SKU locking order: request order deadlocks, sorted order does not
      await mysql.init('dl-a', 1000);
      await mysql.init('dl-b', 1000);
      const [c1, c2] = await Promise.all([db.getConnection(), db.getConnection()]);
      let deadlocks = 0;
      try {
        await c1.beginTransaction();
        await c2.beginTransaction();
        await c1.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', ['dl-a']);
        await c2.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', ['dl-b']);
        const r = await Promise.allSettled([
          c1.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', ['dl-b']),
          c2.query('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', ['dl-a']),
        ]);
        deadlocks = r.filter((x) => x.status === 'rejected' && (x.reason as { code?: string }).code === 'ER_LOCK_DEADLOCK').length;
      } finally {
        await c1.rollback().catch(() => {});
        await c2.rollback().catch(() => {});
        c1.release();
        c2.release();
      }
      const sorted = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) =>
          mysql.deductManySorted(
            i % 2
              ? [
                  { sku: 'dl-a', qty: 1 },
                  { sku: 'dl-b', qty: 1 },
                ]
              : [
                  { sku: 'dl-b', qty: 1 },
                  { sku: 'dl-a', qty: 1 },
                ],
            `m${i}`,
          ),
        ),
      );
      const sortedFailed = sorted.filter((x) => x.status === 'rejected').length;
      d.check(deadlocks === 1, 'locking two SKUs in opposite orders must deadlock (ER_LOCK_DEADLOCK)');
      d.check(sortedFailed === 0, 'sorted multi-SKU locking must never fail with a deadlock');
      deadlockLine = `multi-SKU: opposite lock order → ${deadlocks} ER_LOCK_DEADLOCK; sorted order → 200 orders, ${sortedFailed} failed`;

      // reconciliation while Redis → MySQL syncs are in flight (seed L10641–10708: "MySQL wins")
      const store = stores[0] as RedisStock;
      const reconcileRun = async (sku: string, seedOverwrite: boolean) => {
        await mysql.init(sku, STOCK);
        await store.init(sku, STOCK);
        const inFlight: StockDelta[] = [];
        let sold = 0;
        const sell = async (n: number) => {
          for (let i = 0; i < n; i++) {
            try {
              await store.deduct(sku, 1);
              sold++;
              inFlight.push({ opId: `${sku}-sale-${sold}`, sku, available: -1, sold: 1 });
            } catch (e) {
              if (!(e instanceof InsufficientStockError)) throw e;
            }
          }
        };
        let rejected = 0;
        const drain = async (n: number) => {
          for (const delta of inFlight.splice(0, n)) {
            try {
              await mysql.applyDelta(delta);
            } catch (e) {
              if (!String((e as Error).message).includes('chk_product_stocks')) throw e;
              rejected++; // MySQL's CHECK (available >= 0) refuses a sale that Redis already made
            }
          }
        };
        await sell(60);
        await drain(30); // the sync consumer lags: 30 deltas still in flight
        let status = '';
        if (seedOverwrite) {
          const m = await mysql.levels(sku);
          await clients[0]?.hset(store.skuKey(sku), 'available', m?.available ?? 0, 'sold', m?.sold ?? 0, 'locked', m?.locked ?? 0);
          status = 'overwrote Redis with MySQL';
        } else {
          const [r] = await reconcileStock([sku], { redis: store, mysql, correct: true });
          status = `${r?.status} (${r?.inFlight} in flight), corrected=${r?.corrected}`;
        }
        await sell(200); // the sale goes on
        await drain(Number.MAX_SAFE_INTEGER);
        const [after] = await reconcileStock([sku], { redis: store, mysql });
        return { sold, status, rejected, after: after?.status ?? '?', mysql: await mysql.levels(sku) };
      };
      const seedRec = await reconcileRun('rec-seed', true);
      const ourRec = await reconcileRun('rec-delta', false);
      d.check(seedRec.sold > STOCK, '"MySQL wins" reconciliation during in-flight syncs must resell stock');
      d.check(ourRec.sold === STOCK && ourRec.after === 'in-sync', 'delta reconciliation must never resell, and end in sync');
      reconcileTable.push(
        {
          reconciliation: 'seed: overwrite Redis with MySQL',
          'while 30 syncs in flight': seedRec.status,
          sold: seedRec.sold,
          oversold: Math.max(0, seedRec.sold - STOCK),
          'syncs refused by CHECK': seedRec.rejected,
          'after sync': seedRec.after,
        },
        {
          reconciliation: 'reconcileStock (ops count, deltas)',
          'while 30 syncs in flight': ourRec.status,
          sold: ourRec.sold,
          oversold: Math.max(0, ourRec.sold - STOCK),
          'syncs refused by CHECK': ourRec.rejected,
          'after sync': ourRec.after,
        },
      );
    }

    const order = [
      'naive GET→SET (Redis)',
      'naive read-then-write (MySQL)',
      'SELECT … FOR UPDATE',
      'optimistic version (3 retries)',
      'conditional UPDATE',
      'Redis lock + GET/DECRBY',
      'Lua script',
    ];
    runs.sort((a, b) => order.indexOf(a.strategy) - order.indexOf(b.strategy));
    d.table(
      runs.map((r) => ({
        strategy: r.strategy,
        buyers: r.buyers,
        sold: r.sold,
        oversold: Math.max(0, r.sold - STOCK),
        undersold: Math.min(Math.max(0, STOCK - r.sold), r.gaveUp),
        'gave up': r.gaveUp,
        'left in stock': r.left,
        'ops/s': Math.round((r.buyers / r.ms) * 1000),
        'p99 ms': Number(p99(r.latencies).toFixed(2)),
      })),
    );
    d.log('\nunits sold per strategy (stock 100; past 100 = oversold):');
    d.bars(
      runs.map((r) => ({ label: r.strategy, value: r.sold })),
      { unit: ' sold' },
    );
    d.record(
      'strategies',
      runs.flatMap((r) => [
        { label: r.strategy, value: Math.min(r.sold, STOCK), group: 'sold within stock' },
        { label: r.strategy, value: Math.max(0, r.sold - STOCK), group: 'oversold (超卖)' },
      ]),
    );
    d.log(`\nbuyers: ${BUYERS} per row; the MySQL and lock rows serialise on one row or one lock.`);
    d.log(`naive rows: waves of ${WAVE} buyers each read before any writes (forced interleaving); other rows: ${CONCURRENCY} buyers in flight,`);
    d.log(
      `${REDIS_CLIENTS} Redis connections, ${MYSQL_CONNECTIONS} MySQL connections. undersold = units left unsold while buyers were turned away for contention.`,
    );
    if (deadlockLine) d.log(deadlockLine);
    if (reconcileTable.length) {
      d.log('');
      d.table(reconcileTable);
    }

    for (const r of runs) {
      const oversold = r.sold - STOCK;
      if (r.strategy.startsWith('naive')) d.check(oversold > 0, `${r.strategy} must oversell under the forced interleaving (sold ${r.sold})`);
      else d.check(oversold <= 0, `${r.strategy} must never oversell (sold ${r.sold})`);
      if (['SELECT … FOR UPDATE', 'conditional UPDATE', 'Lua script'].includes(r.strategy))
        d.check(r.sold === STOCK, `${r.strategy} must sell exactly ${STOCK} (sold ${r.sold})`);
    }
    const by = (s: string) => runs.find((r) => r.strategy === s);
    return [
      `naive redis oversold=${(by('naive GET→SET (Redis)')?.sold ?? 0) - STOCK}`,
      pool ? `naive db oversold=${(by('naive read-then-write (MySQL)')?.sold ?? 0) - STOCK}` : 'db rows skipped',
      `lua sold=${by('Lua script')?.sold}`,
      pool
        ? `for-update sold=${by('SELECT … FOR UPDATE')?.sold}, conditional sold=${by('conditional UPDATE')?.sold}, optimistic sold=${by('optimistic version (3 retries)')?.sold}`
        : '',
      `lock sold=${by('Redis lock + GET/DECRBY')?.sold}`,
    ]
      .filter(Boolean)
      .join(', ');
  },
});
