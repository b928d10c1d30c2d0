import { createTestDatabase, startRedis } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Outbox, OutboxRelay, RedisStreamPublisher, streamFields } from '../outbox/index.js';
import { Inbox, StreamConsumer, type StreamMessage } from './index.js';

const server = await startRedis();
const redis = server.client();
const db = await createTestDatabase();
afterAll(async () => {
  await db?.drop();
  await server.stop();
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Entries of group `g` delivered but not yet acknowledged (XPENDING summary form). */
const pendingCount = async (stream: string) => ((await redis.xpending(stream, 'g')) as [number])[0];

describe('StreamConsumer (real Redis)', () => {
  it('delivers per key in order across keys in parallel and XACKs after the handler', async () => {
    const stream = 'sc1:s';
    for (let s = 1; s <= 5; s++) for (let k = 0; k < 10; k++) await redis.xadd(stream, '*', 'aggregateId', `o${k}`, 'seq', String(s));
    const got: string[] = [];
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'c1',
      blockMs: 50,
      concurrency: 4,
      handler: async (m) => {
        await new Promise((r) => setTimeout(r, Number(m.fields.seq) % 3));
        got.push(`${m.fields.aggregateId}#${m.fields.seq}`);
      },
    });
    await c.start();
    await until(() => got.length === 50, '50 messages');
    await c.stop();
    for (let k = 0; k < 10; k++) expect(got.filter((g) => g.startsWith(`o${k}#`))).toEqual([1, 2, 3, 4, 5].map((s) => `o${k}#${s}`));
    const pending = (await redis.xpending(stream, 'g')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('takes over entries a crashed consumer read but never acknowledged (XAUTOCLAIM)', async () => {
    const stream = 'sc2:s';
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await redis.xadd(stream, '*', 'aggregateId', 'a', 'n', '1');
    await redis.xadd(stream, '*', 'aggregateId', 'b', 'n', '2');
    // "crashed" consumer: read both, then died before XACK
    const read = await redis.xreadgroup('GROUP', 'g', 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>');
    expect((read as unknown[][])[0]?.[1]).toHaveLength(2);
    const got: string[] = [];
    const claimed: number[] = [];
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'heir',
      blockMs: 20,
      claimIdleMs: 100,
      claimIntervalMs: 50,
      handler: (m) => void got.push(m.fields.n as string),
    });
    c.on('claimed', (n) => claimed.push(n));
    await c.start();
    await until(() => got.length === 2, 'claimed messages');
    await c.stop();
    expect(got.sort()).toEqual(['1', '2']);
    expect(claimed.reduce((a, b) => a + b, 0)).toBe(2);
    expect(await pendingCount(stream)).toBe(0);
  });

  it('parks a poison message to the dead-letter stream, parks later messages of its key behind it, and acks them all', async () => {
    const stream = 'sc3:s';
    await redis.xadd(stream, '*', 'aggregateId', 'a', 'n', '1');
    await redis.xadd(stream, '*', 'aggregateId', 'a', 'n', '2');
    await redis.xadd(stream, '*', 'aggregateId', 'b', 'n', '3');
    const applied: string[] = [];
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'c',
      blockMs: 20,
      retry: { maxAttempts: 2, backoff: { baseMs: 1, maxMs: 1 } },
      handler: (m) => {
        if (m.fields.n === '1') throw new Error('cannot parse');
        applied.push(m.fields.n as string);
      },
    });
    await c.start();
    await until(async () => (await redis.xlen(`${stream}:dead`)) === 2 && applied.length === 1, 'parking');
    await c.stop();
    expect(applied).toEqual(['3']);
    const dead = (await redis.xrange(`${stream}:dead`, '-', '+')).map(([, f]) => streamFields(f));
    expect(dead.map((d) => [d.n, d.deadReason, d.deadError])).toEqual([
      ['1', 'failed', 'cannot parse'],
      ['2', 'blocked', 'cannot parse'],
    ]);
    expect([...c.parkedKeys.keys()]).toEqual(['a']);
    expect(await pendingCount(stream)).toBe(0);
  });

  it('acknowledges only after the handler finished: while it runs the entry is still pending', async () => {
    const stream = 'sc4:s';
    await redis.xadd(stream, '*', 'aggregateId', 'a', 'n', '1');
    const pendingDuringHandler: number[] = [];
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'c',
      blockMs: 20,
      handler: async () => {
        pendingDuringHandler.push(await pendingCount(stream));
      },
    });
    await c.start();
    await until(async () => pendingDuringHandler.length === 1 && (await pendingCount(stream)) === 0, 'the ack');
    await c.stop();
    expect(pendingDuringHandler).toEqual([1]); // a crash inside the handler leaves it for XAUTOCLAIM
  });

  it('an entry whose parking failed (dead-letter XADD refused) is not acknowledged: it stays pending for XAUTOCLAIM', async () => {
    const stream = 'sc5:s';
    await redis.set('sc5:dead', 'not a stream'); // XADD to it fails with WRONGTYPE
    await redis.xadd(stream, '*', 'aggregateId', 'a', 'n', '1');
    const errors: Error[] = [];
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'c',
      deadLetterStream: 'sc5:dead',
      blockMs: 20,
      retry: { maxAttempts: 1 },
      handler: () => {
        throw new Error('poison');
      },
    });
    c.on('error', (e) => errors.push(e));
    await c.start();
    await until(() => errors.some((e) => /WRONGTYPE/.test(e.message)), 'the parking error');
    await c.stop();
    expect(await pendingCount(stream)).toBe(1);
  });

  it('XAUTOCLAIM takes only entries idle for claimIdleMs: a live consumer keeps the entries it is working on', async () => {
    const stream = 'sc6:s';
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await redis.xadd(stream, '*', 'aggregateId', 'a', 'n', '1');
    await redis.xreadgroup('GROUP', 'g', 'busy-consumer', 'COUNT', 10, 'STREAMS', stream, '>'); // read just now, still working
    const got: string[] = [];
    let claimRounds = 0;
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'other',
      blockMs: 10,
      claimIdleMs: 60_000,
      claimIntervalMs: 1,
      handler: (m) => void got.push(m.fields.n as string),
    });
    const xautoclaim = redis.call.bind(redis);
    vi.spyOn(redis, 'call').mockImplementation(((...args: Parameters<typeof redis.call>) => {
      if (args[0] === 'XAUTOCLAIM') claimRounds++;
      return xautoclaim(...args);
    }) as typeof redis.call);
    try {
      await c.start();
      await until(() => claimRounds >= 3, 'a few claim rounds');
      await c.stop();
    } finally {
      vi.restoreAllMocks();
    }
    expect(got).toEqual([]);
    const pending = (await redis.xpending(stream, 'g', '-', '+', 10)) as [string, string, number, number][];
    expect(pending.map((p) => p[1])).toEqual(['busy-consumer']);
  });

  it('one claim round pages through every stuck entry (cursor), not just the first batchSize', async () => {
    const stream = 'sc7:s';
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    for (let i = 1; i <= 5; i++) await redis.xadd(stream, '*', 'aggregateId', `k${i}`, 'n', String(i));
    await redis.xreadgroup('GROUP', 'g', 'dead-consumer', 'COUNT', 10, 'STREAMS', stream, '>');
    await new Promise((r) => setTimeout(r, 20));
    const got: string[] = [];
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'g',
      consumer: 'heir',
      blockMs: 20,
      batchSize: 2,
      claimIdleMs: 1,
      claimIntervalMs: 3_600_000, // one claim round only
      handler: (m) => void got.push(m.fields.n as string),
    });
    await c.start();
    await until(() => got.length === 5, 'all five stuck entries', 3_000);
    await c.stop();
    expect(got.sort()).toEqual(['1', '2', '3', '4', '5']);
  });
});

describe.skipIf(!db)('outbox → relay → Redis Streams → consumer + inbox (real MySQL and Redis)', () => {
  it('applies every event exactly once even when the relay publishes duplicates', async () => {
    const pool = db!.pool;
    await pool.query('CREATE TABLE t_order_state (id VARCHAR(32) PRIMARY KEY, steps INT NOT NULL, last_seq INT NOT NULL)');
    const outbox = new Outbox();
    const conn = await pool.getConnection();
    for (let s = 0; s < 3; s++) {
      for (let o = 0; o < 10; o++) {
        await conn.beginTransaction();
        await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: `o${o}`, topic: 'orders', payload: `step${s}` });
        await conn.commit();
      }
    }
    conn.release();
    const real = new RedisStreamPublisher({ redis, prefix: 'e2e:' });
    // A flaky publisher: every message is written twice (as after a relay crash between XADD and the mark).
    const publisher = {
      publish: async (recs: Parameters<typeof real.publish>[0]) => {
        await real.publish(recs);
        return real.publish(recs);
      },
    };
    const relay = new OutboxRelay({ pool, publisher, pollIntervalMs: 5, maxPollIntervalMs: 20 }).start();
    const inbox = new Inbox();
    let duplicates = 0;
    let outOfOrder = 0;
    const handler = async (m: StreamMessage) => {
      const r = await inbox.process(pool, 'order-projection', m.fields.outboxId as string, async (c) => {
        const seq = Number(m.fields.seq);
        const [rows] = await c.query<RowDataPacket[]>('SELECT last_seq FROM t_order_state WHERE id = ? FOR UPDATE', [m.fields.aggregateId]);
        if (Number(rows[0]?.last_seq ?? 0) !== seq - 1) outOfOrder++;
        await c.query('INSERT INTO t_order_state VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE steps = steps + 1, last_seq = VALUES(last_seq)', [
          m.fields.aggregateId,
          seq,
        ]);
      });
      if (r.duplicate) duplicates++;
    };
    const consumer = new StreamConsumer({ redis, stream: 'e2e:outbox:orders', group: 'proj', consumer: 'c1', blockMs: 20, handler });
    await consumer.start();
    await until(async () => {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT COALESCE(SUM(steps), 0) AS n FROM t_order_state');
      return Number(rows[0]?.n) === 30 && duplicates === 30;
    }, 'all events applied');
    await relay.stop();
    await consumer.stop();
    const [rows] = await pool.query<RowDataPacket[]>('SELECT MIN(steps) AS lo, MAX(steps) AS hi FROM t_order_state');
    expect(rows[0]).toMatchObject({ lo: 3, hi: 3 });
    expect(duplicates).toBe(30);
    expect(outOfOrder).toBe(0);
  });
});

describe.skipIf(!db)('StreamConsumer with the inbox option (real MySQL and Redis)', () => {
  it('writes through the inbox transaction: duplicates are acked without a second run, a failed try rolls back and retries', async () => {
    const pool = db?.pool as NonNullable<typeof db>['pool'];
    await pool.query('CREATE TABLE sc_applied (outbox_id VARCHAR(64) PRIMARY KEY, times INT NOT NULL)');
    const stream = 'sc-inbox:s';
    // 30 events, every third published twice (a relay that crashed after XADD), one that fails once
    for (let i = 0; i < 30; i++) {
      await redis.xadd(stream, '*', 'outboxId', `e${i}`, 'aggregateId', `a${i % 5}`);
      if (i % 3 === 0) await redis.xadd(stream, '*', 'outboxId', `e${i}`, 'aggregateId', `a${i % 5}`);
    }
    let failOnce = true;
    let runs = 0;
    let duplicates = 0;
    const c = new StreamConsumer({
      redis,
      stream,
      group: 'billing',
      consumer: 'c1',
      blockMs: 50,
      retry: { maxAttempts: 3, backoff: { baseMs: 1, maxMs: 5 } },
      inbox: { inbox: new Inbox(), db: pool },
      handler: async (m, tx) => {
        runs++;
        await tx?.query('INSERT INTO sc_applied VALUES (?, 1) ON DUPLICATE KEY UPDATE times = times + 1', [m.fields.outboxId]);
        if (m.fields.outboxId === 'e7' && failOnce) {
          failOnce = false;
          throw new Error('transient'); // the insert above must roll back with the inbox row
        }
      },
    });
    c.on('duplicate', () => duplicates++);
    await c.start();
    await until(async () => Number((await redis.xpending(stream, 'billing'))[0]) === 0 && duplicates === 10, 'all acked');
    await c.stop();
    const [rows] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n, SUM(times <> 1) AS twice FROM sc_applied');
    expect(Number(rows[0]?.n)).toBe(30);
    expect(Number(rows[0]?.twice)).toBe(0);
    expect(duplicates).toBe(10);
    expect(runs).toBe(31); // 30 events + the failed first try of e7; duplicates never ran
  });

  it('refuses an inbox option without an Inbox and a pool', () => {
    expect(
      () => new StreamConsumer({ redis, stream: 's', group: 'g', consumer: 'c', handler: () => {}, inbox: { inbox: {} as never, db: {} as never } }),
    ).toThrow('inbox must be an object with an `inbox` (Inbox) and a mysql2 `db` pool');
  });
});
