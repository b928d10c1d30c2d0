import { spawn } from 'node:child_process';
import { ManualClock } from '@gopherkit/primitives/clock';
import { createTestDatabase, startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox, OutboxRelay, RedisStreamPublisher, streamFields } from './index.js';

const db = await createTestDatabase();
const server = await startRedis();
afterAll(async () => {
  await db?.drop();
  await server.stop();
});

/** A relay in a real child process that XADDs its first batch, reports, and then waits to be SIGKILLed. */
const childCode = `
import { OutboxRelay, RedisStreamPublisher } from '@gopherkit/patterns/outbox';
import { Redis } from 'ioredis';
import { createPool } from 'mysql2/promise';
const pool = createPool({ uri: process.env.DB_URL, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true });
const redis = new Redis(process.env.REDIS_URL);
const real = new RedisStreamPublisher({ redis, prefix: 'kill:' });
const relay = new OutboxRelay({ pool, relayId: 'doomed', batchSize: 3, claimTtlMs: 60000, publisher: {
  publish: async (records) => { const out = await real.publish(records); process.send({ published: records.map((r) => r.id) }); await new Promise(() => {}); return out; },
} });
relay.start();
`;

describe.skipIf(!db)('OutboxRelay killed for real (SIGKILL, real MySQL and Redis)', () => {
  it('rows of a relay killed between publish and mark are taken over after the lease and published again; nothing is lost', async () => {
    const pool = db!.pool;
    const outbox = new Outbox();
    const conn = await pool.getConnection();
    for (let s = 0; s < 2; s++) {
      for (let a = 0; a < 3; a++) {
        await conn.beginTransaction();
        await outbox.enqueue(conn, { aggregateType: 'order', aggregateId: `k${a}`, topic: 'orders', payload: `k${a}#${s + 1}` });
        await conn.commit();
      }
    }
    conn.release();

    const child = spawn(process.execPath, ['--conditions=@gopherkit/source', '--import', 'tsx', '--input-type=module', '-e', childCode], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, DB_URL: db!.url, REDIS_URL: server.url },
    });
    const published = await new Promise<string[]>((resolve, reject) => {
      child.on('message', (m: { published: string[] }) => resolve(m.published));
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(published).toHaveLength(3);
    const claimed = (await pool.query('SELECT COUNT(*) AS n FROM gk_outbox WHERE claimed_by = ? AND status = 0', ['doomed']))[0] as { n: number }[];
    expect(Number(claimed[0]?.n)).toBe(3); // published but never marked: still pending under the dead relay's lease

    // A restarted relay: the lease is live at first, then expires (its clock jumps past the TTL).
    const clock = new ManualClock(Date.now());
    const relay = new OutboxRelay({ pool, publisher: new RedisStreamPublisher({ redis: server.client(), prefix: 'kill:' }), clock, claimTtlMs: 60_000 });
    expect((await relay.runOnce()).claimed).toBe(0);
    await clock.advance(60_001);
    expect((await relay.runOnce()).published).toBe(3); // the heads, republished (at-least-once)
    expect((await relay.runOnce()).published).toBe(3); // then the second event of each aggregate
    expect(await outbox.stats(pool)).toMatchObject({ pending: 0, published: 6 });

    const entries = (await server.client().xrange('kill:outbox:orders', '-', '+')).map(([, f]) => streamFields(f));
    expect(entries).toHaveLength(9); // 3 from the dead relay + 3 republished + 3 second events
    for (let a = 0; a < 3; a++) {
      const seqs = entries.filter((e) => e.aggregateId === `k${a}`).map((e) => Number(e.seq));
      expect(seqs).toEqual([1, 1, 2]); // a duplicate, never a reordering
    }
  }, 60_000);
});
