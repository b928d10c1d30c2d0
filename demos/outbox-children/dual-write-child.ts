import { Outbox, type OutboxRecord, OutboxRelay, RedisStreamPublisher } from '@gopherkit/patterns/outbox';
import { Redis } from 'ioredis';
import { createPool } from 'mysql2/promise';

/**
 * Child process of demos/dual-write-vs-outbox.ts: creates orders from `from` to ORDERS-1 with one of
 * the three write paths, and stops dead at the planned crash point (the parent SIGKILLs it there).
 * Kept apart from the demo so a child loads only what it needs (each crash costs one process start).
 */

const ORDERS = 1000;
type Scenario = 'commit-then-publish' | 'publish-in-tx' | 'outbox';
type Phase = 'before-commit' | 'after-commit' | 'after-publish';

export interface ChildPlan {
  scenario: Scenario;
  mysqlUrl: string;
  redisUrl: string;
  from: number;
  crashAt: number; // order index, or -1 for none
  phase: Phase;
}

async function childMain(plan: ChildPlan): Promise<void> {
  const pool = createPool({ supportBigNumbers: true, bigNumberStrings: true, connectionLimit: 3, uri: plan.mysqlUrl });
  const redis = new Redis(plan.redisUrl);
  const crashHere = async (i: number, phase: Phase) => {
    if (i !== plan.crashAt || phase !== plan.phase) return;
    process.send?.({ crashPoint: i, phase });
    await new Promise(() => {}); // wait for SIGKILL
  };
  const table = `dw_orders_${plan.scenario.replace(/-/g, '_')}`;
  const stream = `dw:${plan.scenario}`;
  let relay: OutboxRelay | undefined;
  const outbox = new Outbox();
  if (plan.scenario === 'outbox') {
    const real = new RedisStreamPublisher({ redis, prefix: 'dw:' });
    relay = new OutboxRelay({
      pool,
      batchSize: 50,
      pollIntervalMs: 5,
      maxPollIntervalMs: 20,
      claimTtlMs: 500,
      publisher: {
        publish: async (records: readonly OutboxRecord[]) => {
          const out = await real.publish(records);
          for (const r of records) {
            await crashHere(Number(r.aggregateId), 'after-publish'); // XADD done, row not yet marked published
          }
          return out;
        },
      },
    }).start();
  }
  for (let i = plan.from; i < ORDERS; i++) {
    const conn = await pool.getConnection();
    await conn.beginTransaction();
    await conn.query(`INSERT INTO ${table} (id) VALUES (?)`, [i]);
    if (plan.scenario === 'publish-in-tx') await redis.xadd(stream, '*', 'orderId', String(i));
    if (plan.scenario === 'outbox') await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: String(i), topic: 'orders', payload: `order ${i}` });
    await crashHere(i, 'before-commit');
    await conn.commit();
    conn.release();
    await crashHere(i, 'after-commit');
    if (plan.scenario === 'commit-then-publish') await redis.xadd(stream, '*', 'orderId', String(i));
    if (relay && i === plan.crashAt && plan.phase === 'after-publish') {
      // The relay publishes this order and stops dead inside its publisher, where the parent
      // SIGKILLs the process. Nothing after this order may commit meanwhile (the parent restarts
      // from the next one), so this loop stops here too instead of waking on the publish.
      relay.nudge();
      await new Promise(() => {});
    }
  }
  await relay?.stop();
  await pool.end();
  redis.disconnect();
  process.exit(0);
}

await childMain(JSON.parse(process.env.GK_DUAL_WRITE_CHILD as string) as ChildPlan);
