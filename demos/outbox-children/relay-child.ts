import { type OutboxRecord, OutboxRelay, RedisStreamPublisher } from '@gopherkit/patterns/outbox';
import { Redis } from 'ioredis';
import { createPool } from 'mysql2/promise';

/**
 * Child process of demos/outbox-relay-failover.ts: one outbox relay publishing to Redis Streams
 * (through the parent's cuttable proxy). With `crashAfterBatches`, it stops dead right after
 * publishing that many batches — XADD done, rows not yet marked — and the parent SIGKILLs it there.
 */
export interface RelayPlan {
  mysqlUrl: string;
  redisUrl: string;
  relayId: string;
  crashAfterBatches: number; // 0 = never
}

const plan = JSON.parse(process.env.GK_RELAY_CHILD as string) as RelayPlan;
const pool = createPool({ supportBigNumbers: true, bigNumberStrings: true, connectionLimit: 3, uri: plan.mysqlUrl });
// Fail fast while the broker is unreachable (no offline queue): the relay backs off and retries.
const redis = new Redis(plan.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
redis.on('error', () => {});
const real = new RedisStreamPublisher({ redis, prefix: 'failover:' });
let batches = 0;
const relay = new OutboxRelay({
  pool,
  relayId: plan.relayId,
  batchSize: 50,
  pollIntervalMs: 10,
  maxPollIntervalMs: 100,
  claimTtlMs: 2000,
  retry: { maxAttempts: 1000, backoff: { baseMs: 100, maxMs: 1000 } },
  publisher: {
    publish: async (records: readonly OutboxRecord[]) => {
      const out = await real.publish(records);
      if (++batches === plan.crashAfterBatches) {
        process.send?.({ crashed: plan.relayId, records: records.length });
        await new Promise(() => {}); // published, not marked: wait for SIGKILL
      }
      return out;
    },
  },
});
let published = 0;
let failures = 0;
relay.on('published', (r) => {
  published += r.length;
});
relay.on('retrying', () => {
  failures++;
});
relay.start();
process.on('message', async (m: { stop?: boolean }) => {
  if (!m.stop) return;
  await relay.stop();
  process.send?.({ stats: { relayId: plan.relayId, published, failures } });
  await pool.end();
  redis.disconnect();
  process.exit(0);
});
