import { Inbox } from '@gopherkit/patterns/inbox';
import { Outbox, OutboxRelay, RedisStreamPublisher } from '@gopherkit/patterns/outbox';
import { createTestDatabase } from '@gopherkit/testkit';
import type { Pool } from 'mysql2/promise';
import { defineSuite } from './harness/suite.js';

/**
 * Relay throughput MySQL → Redis Streams per claim batch size (1, 100, 1000) and for 1 vs 3
 * relays, and what `outbox.enqueue` adds to a business transaction (vs the transaction alone and
 * vs a dual write that XADDs after commit). `concurrency: n` in the relay loop is measured as n
 * parallel `runOnce()` calls on one relay. Relay tasks drain a pre-filled backlog of pending rows,
 * one row per aggregate (the common case: many orders, few events each); `ranDry` in a row's extra
 * counts iterations that found fewer rows than the batch (0 means every iteration was full).
 */

const PAYLOAD = JSON.stringify({ orderId: 0, userId: 42, items: [{ sku: 'SKU-1', qty: 2, price: 1999 }], total: 3998, currency: 'EUR' });

/** Inserts `n` pending rows straight into gk_outbox (bulk, outside the measurement). */
async function fillBacklog(pool: Pool, n: number, tag: string): Promise<void> {
  const now = Date.now();
  for (let start = 0; start < n; start += 2000) {
    const rows: unknown[][] = [];
    for (let i = start; i < Math.min(n, start + 2000); i++) rows.push(['order', `${tag}-${i}`, 1, 'orders', `${tag}-${i}`, PAYLOAD, now]);
    await pool.query('INSERT INTO gk_outbox (aggregate_type, aggregate_id, seq, topic, msg_key, payload, created_at) VALUES ?', [rows]);
  }
}

export default defineSuite({
  reference: 'business tx alone (INSERT order)',
  inProcess: false,
  async setup(b) {
    // a fresh database with the shipped schema applied by migrate() (via the testkit)
    const db = await createTestDatabase({ prefix: 'gk_bench', connectionLimit: 12 });
    if (!db) throw new Error('the outbox suite needs MySQL: set MYSQL_URL or run MariaDB/MySQL on 127.0.0.1:3306');
    b.defer(() => db.drop());
    const pool = db.pool;
    const redis = (await b.redis()).client();
    await pool.query('CREATE TABLE bench_orders (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, total BIGINT NOT NULL)');
    const publisher = new RedisStreamPublisher({ redis, prefix: 'bench:', maxLen: 100_000 });
    const outbox = new Outbox();
    // The backlog is never scaled down: a relay that runs dry would overstate ops/s (batch × iterations).
    const scale = 1;

    const relayTask = (name: string, relays: number, batchSize: number, backlog: number, inFlight = 1) => {
      const rs = Array.from({ length: relays }, (_, i) => new OutboxRelay({ pool, publisher, batchSize, relayId: `bench-${i}`, retentionMs: null }));
      let ranDry = 0;
      let published = 0;
      b.add(
        name,
        async () => {
          const results = await Promise.all(rs.flatMap((r) => Array.from({ length: inFlight }, () => r.runOnce())));
          for (const r of results) {
            published += r.published;
            if (r.claimed < batchSize) ranDry++;
          }
        },
        {
          batch: relays * inFlight * batchSize,
          beforeAll: async () => {
            await pool.query('DELETE FROM gk_outbox');
            await redis.del('bench:outbox:orders');
            await fillBacklog(pool, Math.ceil(backlog * scale), name.replace(/\W+/g, ''));
          },
          afterAll: () => b.extra(name, { ranDry, published }),
        },
      );
    };

    const order = async (conn: import('mysql2/promise').PoolConnection) => conn.query('INSERT INTO bench_orders (user_id, total) VALUES (?, ?)', [42, 3998]);

    b.add('business tx alone (INSERT order)', async () => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await order(conn);
        await conn.commit();
      } finally {
        conn.release();
      }
    });
    let aggregate = 0;
    b.add('business tx + outbox.enqueue', async () => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await order(conn);
        await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: `e${aggregate++ % 1000}`, topic: 'enqueue-bench', payload: PAYLOAD });
        await conn.commit();
      } finally {
        conn.release();
      }
    });
    // The consumer side: an inbox first delivery (inbox row + business write in one transaction)
    // and a duplicate delivery (the primary key refuses it; nothing else runs).
    const inbox = new Inbox();
    let delivery = 0;
    b.add('inbox.process: first delivery (row + business write)', async () => {
      await inbox.process(pool, 'bench', `m${delivery++}`, (conn) => order(conn));
    });
    await inbox.process(pool, 'bench', 'dup', (conn) => order(conn));
    b.add('inbox.process: duplicate delivery (no-op)', async () => {
      const r = await inbox.process(pool, 'bench', 'dup', (conn) => order(conn));
      if (!r.duplicate) throw new Error('a duplicate delivery ran its handler');
    });
    b.add('business tx + XADD after commit (dual write)', async () => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await order(conn);
        await conn.commit();
      } finally {
        conn.release();
      }
      await redis.xadd('bench:dualwrite', 'MAXLEN', '~', 100_000, '*', 'payload', PAYLOAD);
    });

    relayTask('relay → Redis Streams, batch 1', 1, 1, 3_000);
    relayTask('relay → Redis Streams, batch 100', 1, 100, 30_000);
    relayTask('relay → Redis Streams, batch 1000', 1, 1000, 60_000);
    relayTask('3 relays → Redis Streams, batch 100 each', 3, 100, 60_000);
    relayTask('relay → Redis Streams, batch 250, 4 batches in flight (concurrency: 4)', 1, 250, 80_000, 4);
  },
});
