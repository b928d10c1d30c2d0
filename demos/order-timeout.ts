import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DelayQueue } from '@gopherkit/patterns/delayqueue';
import { orderTimeoutHandler, RedisStock } from '@gopherkit/patterns/stock';
import { Redis } from 'ioredis';
import { createPool, type RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * 1000 unpaid orders time out; 3 worker PROCESSES cancel them through a Redis delay queue. One
 * worker is killed (SIGKILL) at the worst moment: right after it committed a cancel and before
 * it released the stock or acked, with 7 more items claimed. Its items come back after the
 * visibility timeout and the guarded `UPDATE … WHERE status = 'PENDING'` makes every redelivery
 * harmless: 0 orders cancelled twice, 0 lost, all locked stock back, paid orders untouched.
 *
 * For contrast, the seed's worker (seed L8946–9046): ZRANGEBYSCORE, ZREM with the result ignored,
 * then an unguarded cancel. Three such workers polling at the same moment (forced: all three read
 * the batch before any removes it) cancel every order three times and release its stock three times.
 */
const ORDERS = 1000;
const PAID = 100;
const WORKERS = 3;
const VISIBILITY_MS = 1500;
const CRASH_AFTER = 150; // the crashing worker dies inside its 150th handler

const env = process.env;
if (env.GK_OT_CHILD === '1') {
  const redis = new Redis(Number(env.GK_OT_PORT), '127.0.0.1', { maxRetriesPerRequest: 1 });
  const pool = createPool({ uri: env.GK_OT_MYSQL, connectionLimit: 4, supportBigNumbers: true, bigNumberStrings: true });
  const prefix = env.GK_OT_PREFIX as string;
  const stock = new RedisStock(redis, { prefix });
  const queue = new DelayQueue(redis, { prefix, name: 'order-timeout', visibilityTimeoutMs: VISIBILITY_MS });
  const crashAfter = Number(env.GK_OT_CRASH_AFTER ?? 0);
  const handle = orderTimeoutHandler({ stock, pool });
  let handled = 0;
  const worker = queue.process(
    async (job) => {
      handled++;
      if (crashAfter > 0 && handled === crashAfter) {
        // injected crash: commit the cancel, then die before the release and the ack
        await pool.query("UPDATE stock_orders SET status = 'CANCELLED', cancel_count = cancel_count + 1 WHERE id = ? AND status = 'PENDING'", [job.id]);
        process.kill(process.pid, 'SIGKILL');
      }
      await handle(job);
    },
    { concurrency: 8, pollIntervalMs: 10 },
  );
  worker.on('done', (job, lateness) => void redis.rpush(`${prefix}lateness`, `${job.id} ${lateness} ${job.attempt} ${process.pid}`));
  process.on('SIGTERM', async () => {
    await worker.close();
    await pool.end();
    redis.disconnect();
    process.exit(0);
  });
  await redis.incr(`${prefix}ready`);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
}

export default defineDemo({
  description: 'Order timeout: 1000 orders, 3 worker processes on a Redis delay queue, one SIGKILLed mid-cancel → 0 cancelled twice, 0 lost, lateness p50/p99',
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const db = await d.mysql({ connectionLimit: 10 });
    const prefix = `demo:ot:${process.pid}:`;
    const stock = new RedisStock(redis, { prefix });
    const queue = new DelayQueue(redis, { prefix, name: 'order-timeout', visibilityTimeoutMs: VISIBILITY_MS });
    const rnd = d.random(42);

    // --- 1000 orders: reserve 1 unit each, a PENDING row; 100 get paid before their timeout -------
    await stock.init('sku', 5000);
    const ids = Array.from({ length: ORDERS }, (_, i) => `order-${i}`);
    for (const id of ids) await stock.reserve(id, [{ sku: 'sku', qty: 1 }], 10 * 60_000);
    await db.pool.query(`INSERT INTO stock_orders (id) VALUES ${ids.map(() => '(?)').join(',')}`, ids);
    const paid = new Set<string>();
    while (paid.size < PAID) paid.add(ids[Math.floor(rnd() * ORDERS)] as string);
    for (const id of paid) {
      await db.pool.query("UPDATE stock_orders SET status = 'PAID' WHERE id = ? AND status = 'PENDING'", [id]);
      await stock.confirm(id);
    }

    // --- 3 worker processes, the first one crashes --------------------------------------------------
    const children = Array.from({ length: WORKERS }, (_, w) =>
      spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
        env: {
          ...process.env,
          GK_OT_CHILD: '1',
          GK_OT_PORT: String(server.port),
          GK_OT_PREFIX: prefix,
          GK_OT_MYSQL: db.url,
          GK_OT_CRASH_AFTER: w === 0 ? String(CRASH_AFTER) : '0',
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      }),
    );
    const exits = children.map((c) => new Promise<NodeJS.Signals | number | null>((resolve) => c.on('exit', (code, signal) => resolve(signal ?? code))));
    d.defer(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
    const readyBy = Date.now() + 60_000;
    while (Number(await redis.get(`${prefix}ready`)) < WORKERS) {
      if (Date.now() > readyBy) throw new Error('workers did not start within 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    // timeouts fall due from 1 s after the workers are up, one every 2 ms (500/s)
    const t0 = Date.now();
    await Promise.all(ids.map((id, i) => queue.schedule(id, t0 + 1000 + i * 2)));
    const deadline = Date.now() + 90_000;
    for (;;) {
      const s = await queue.size();
      const crashed = children[0]?.signalCode === 'SIGKILL';
      if (crashed && s.waiting === 0 && s.processing === 0) break;
      if (Date.now() > deadline) throw new Error(`queue did not drain within 90 s: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const drainedMs = Date.now() - (t0 + 1000);
    for (const c of children.slice(1)) c.kill('SIGTERM');
    const codes = await Promise.all(exits);

    // --- verdict -----------------------------------------------------------------------------------
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status, cancel_count, COUNT(*) AS n FROM stock_orders GROUP BY status, cancel_count');
    const count = (status: string, cc?: number) =>
      rows.filter((r) => r.status === status && (cc === undefined || Number(r.cancel_count) === cc)).reduce((s, r) => s + Number(r.n), 0);
    const twice = rows.filter((r) => Number(r.cancel_count) > 1).reduce((s, r) => s + Number(r.n), 0);
    const lost = count('PENDING');
    const entries = (await redis.lrange(`${prefix}lateness`, 0, -1)).map((l) => l.split(' '));
    const lateness = entries.map((e) => Number(e[1]));
    const redelivered = entries.filter((e) => Number(e[2]) > 1).length;
    const l = await stock.levels('sku');
    const orderStates = await Promise.all(ids.map((id) => stock.orderState(id)));

    // --- the seed's worker, 3 at once, forced to poll together --------------------------------------
    const seedZ = `${prefix}seed:order:delay:cancel`;
    const seedIds = Array.from({ length: 300 }, (_, i) => `seed-${i}`);
    await stock.init('seed-sku', 1000);
    const seedKey = stock.skuKey('seed-sku');
    await redis.hincrby(seedKey, 'available', -seedIds.length); // 1 reserved per order (seed: DECRBY available)
    await redis.hincrby(seedKey, 'locked', seedIds.length);
    await db.pool.query(`INSERT INTO stock_orders (id) VALUES ${seedIds.map(() => '(?)').join(',')}`, seedIds);
    for (const id of seedIds) await redis.zadd(seedZ, 0, id);
    const seedWorkers = [server.client(), server.client(), server.client()];
    for (;;) {
      const batches = await Promise.all(seedWorkers.map((c) => c.zrangebyscore(seedZ, 0, Date.now(), 'LIMIT', 0, 100)));
      if (batches.every((b) => b.length === 0)) break;
      await Promise.all(
        batches.map(async (batch, w) => {
          const c = seedWorkers[w] as Redis;
          for (const id of batch) {
            await c.zrem(seedZ, id); // result ignored (seed L8990)
            const [o] = await db.pool.query<RowDataPacket[]>('SELECT status FROM stock_orders WHERE id = ?', [id]);
            if (o[0]?.status !== 'PENDING' && o[0]?.status !== 'CANCELLED') continue; // seed: unlocked read, no guard on the update
            await db.pool.query("UPDATE stock_orders SET status = 'CANCELLED', cancel_count = cancel_count + 1 WHERE id = ?", [id]);
            await c.hincrby(seedKey, 'locked', -1); // RollbackPreDeduct, not keyed by order
            await c.hincrby(seedKey, 'available', 1);
          }
        }),
      );
    }
    const [seedRows] = await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM stock_orders WHERE id LIKE 'seed-%' AND cancel_count > 1");
    const seedTwice = Number(seedRows[0]?.n);
    const seedLevels = await stock.levels('seed-sku');

    d.table([
      {
        worker: 'seed: ZRANGEBYSCORE + ignored ZREM + unguarded UPDATE',
        orders: seedIds.length,
        'cancelled twice+': seedTwice,
        lost: 0,
        'locked after': seedLevels?.locked,
        'available after': seedLevels?.available,
        'lateness p50 ms': '-',
        'p99 ms': '-',
        'max ms': '-',
      },
      {
        worker: 'DelayQueue (Lua claim, lease, guarded cancel), 1 of 3 killed',
        orders: ORDERS,
        'cancelled twice+': twice,
        lost,
        'locked after': l?.locked,
        'available after': l?.available,
        'lateness p50 ms': pct(lateness, 0.5),
        'p99 ms': pct(lateness, 0.99),
        'max ms': Math.max(...lateness),
      },
    ]);
    d.log(
      `\nDelayQueue: ${count('CANCELLED', 1)} cancelled once, ${count('PAID', 0)} paid untouched, ${redelivered} redelivered after the crash (visibility ${VISIBILITY_MS} ms), drained ${drainedMs} ms after the first due time`,
    );
    d.log(`worker exits: ${codes.map(String).join(', ')} (the first was SIGKILLed inside a handler, after its cancel committed)`);
    d.log('lateness = handler start − due time; the max is a crashed worker’s item waiting out the visibility timeout');

    d.check(codes[0] === 'SIGKILL', 'the first worker must have crashed');
    d.check(twice === 0, 'no order may be cancelled twice');
    d.check(lost === 0, 'no order may stay PENDING (lost timeout)');
    d.check(count('CANCELLED') === ORDERS - PAID && count('PAID', 0) === PAID, 'exactly the unpaid orders are cancelled, paid ones untouched');
    d.check(
      !!l && l.locked === 0 && l.sold === PAID && l.available === 5000 - PAID && l.available + l.locked + l.sold === l.total,
      'all locked stock returned exactly once',
    );
    d.check(
      orderStates.every((s, i) => (paid.has(ids[i] as string) ? s === 'confirmed' : s === 'released')),
      'every reservation settled: paid → confirmed, the rest → released',
    );
    d.check(redelivered > 0, "the crashed worker's items must have been redelivered");
    d.check(seedTwice > 0, "the seed's worker must cancel orders more than once under the forced interleaving");
    return `cancelled twice=${twice}, lost=${lost}, redelivered=${redelivered}, lateness p50=${pct(lateness, 0.5)} ms p99=${pct(lateness, 0.99)} ms; seed cancelled twice=${seedTwice}/${seedIds.length}`;
  },
});
