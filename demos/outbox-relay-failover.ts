import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Inbox, StreamConsumer } from '@gopherkit/patterns/inbox';
import { Outbox } from '@gopherkit/patterns/outbox';
import type { RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';
import type { RelayPlan } from './outbox-children/relay-child.js';

/**
 * Three outbox relays (separate processes) publish 1000 events (100 orders × 10) to Redis Streams
 * while: relay-2 is SIGKILLed right after publishing a batch it had not yet marked (its lease
 * expires and the others take the rows over → duplicates), and the broker is unreachable for the
 * relays for 5 s (a TCP proxy drops every connection; publishes fail and back off with jitter).
 * A consumer applies each event through the inbox and checks the per-order sequence.
 */

const ORDERS = 100;
const EVENTS_PER_ORDER = 10;
const TOTAL = ORDERS * EVENTS_PER_ORDER;
const OUTAGE_MS = 5000;
const childScript = fileURLToPath(new URL('./outbox-children/relay-child.ts', import.meta.url));

/** A TCP proxy in front of Redis that can be cut (every connection dropped and refused) and restored. */
async function cuttableProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

interface Relay {
  child: ChildProcess;
  crashed: Promise<number>;
}

function startRelay(plan: RelayPlan): Relay {
  const child = spawn(process.execPath, [...process.execArgv, childScript], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, GK_RELAY_CHILD: JSON.stringify(plan) },
  });
  const crashed = new Promise<number>((resolve) => {
    child.on('message', (m: { crashed?: string; records?: number }) => {
      if (m.crashed) {
        child.kill('SIGKILL');
        resolve(m.records ?? 0);
      }
    });
  });
  return { child, crashed };
}

function stopRelay(r: Relay): Promise<{ relayId: string; published: number; failures: number } | null> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return Promise.resolve(null);
  return new Promise((resolve) => {
    r.child.on('message', (m: { stats?: { relayId: string; published: number; failures: number } }) => m.stats && resolve(m.stats));
    r.child.on('exit', () => resolve(null));
    r.child.send({ stop: true });
  });
}

export default defineDemo({
  description:
    'Outbox relay failover: 3 relay processes, one SIGKILLed mid-batch, broker unreachable for 5 s; 0 lost, per-order sequence kept, duplicates absorbed by the inbox',
  async run(d) {
    const db = await d.mysql({ connectionLimit: 12 });
    const server = await d.redis();
    const redis = server.client();
    const pool = db.pool;
    const proxy = await cuttableProxy(server.port);
    d.defer(() => proxy.close());
    await pool.query('CREATE TABLE fo_orders (id VARCHAR(16) PRIMARY KEY, last_seq INT NOT NULL, applied INT NOT NULL)');
    // Rows exist up front so the consumer's SELECT … FOR UPDATE locks a row, not a gap (no insert deadlocks).
    await pool.query(`INSERT INTO fo_orders VALUES ${Array.from({ length: ORDERS }, (_, o) => `('o${o}', 0, 0)`).join(',')}`);

    // Consumer: inbox + per-order sequence check, directly on Redis (only the relays lose the broker).
    const inbox = new Inbox();
    let duplicates = 0;
    let outOfOrder = 0;
    let applied = 0;
    const consumer = new StreamConsumer({
      redis,
      stream: 'failover:outbox:orders',
      group: 'fulfilment',
      consumer: 'c1',
      blockMs: 50,
      concurrency: 8,
      retry: { maxAttempts: 10, backoff: { baseMs: 20, maxMs: 500 } },
      handler: async (m) => {
        const r = await inbox.process(pool, 'fulfilment', m.fields.outboxId as string, async (c) => {
          const seq = Number(m.fields.seq);
          const [rows] = await c.query<RowDataPacket[]>('SELECT last_seq FROM fo_orders WHERE id = ? FOR UPDATE', [m.fields.aggregateId]);
          if (Number(rows[0]?.last_seq ?? 0) !== seq - 1) outOfOrder++;
          await c.query('UPDATE fo_orders SET last_seq = ?, applied = applied + 1 WHERE id = ?', [seq, m.fields.aggregateId]);
        });
        if (r.duplicate) duplicates++;
        else applied++;
      },
    });
    let parked = 0;
    consumer.on('parked', () => parked++);
    await consumer.start();
    d.defer(() => consumer.stop());

    const plan = (relayId: string, crashAfterBatches = 0): RelayPlan => ({ mysqlUrl: db.url, redisUrl: proxy.url, relayId, crashAfterBatches });
    const relays = [startRelay(plan('relay-1')), startRelay(plan('relay-2', 2)), startRelay(plan('relay-3'))];
    d.defer(() => {
      for (const r of relays) r.child.kill('SIGKILL');
    });

    // Producer: 4 writers, each event in its own business transaction.
    const outbox = new Outbox();
    const started = Date.now();
    const producing = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let e = 0; e < EVENTS_PER_ORDER; e++) {
          for (let o = w; o < ORDERS; o += 4) {
            const conn = await pool.getConnection();
            try {
              await conn.beginTransaction();
              await outbox.enqueue(conn, {
                aggregateType: 'order',
                aggregateId: `o${o}`,
                topic: 'orders',
                payload: JSON.stringify({ order: o, event: e + 1 }),
              });
              await conn.commit();
            } finally {
              conn.release();
            }
          }
        }
      }),
    );

    const killedBatch = await relays[1]?.crashed;
    const killedAt = Date.now() - started;
    d.log(`t=${killedAt} ms  relay-2 SIGKILLed after publishing a batch of ${killedBatch} it never marked`);
    proxy.cut();
    const cutAt = Date.now() - started;
    d.log(`t=${cutAt} ms  broker unreachable for the relays`);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    proxy.restore();
    d.log(`t=${Date.now() - started} ms  broker back`);
    await producing;
    d.log(`t=${Date.now() - started} ms  all ${TOTAL} events committed`);

    // Drained = every event applied AND every outbox row marked AND every stream entry handled.
    // Stopping at "applied" alone raced the killed relay's unmarked batch: its lease expires during
    // the outage, and its republish (the duplicate the inbox must absorb) may still be in backoff.
    const drained = async () =>
      applied >= TOTAL && (await outbox.stats(pool)).pending === 0 && applied + duplicates >= (await redis.xlen('failover:outbox:orders'));
    const deadline = Date.now() + 60_000;
    while (!(await drained()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const drainedAt = Date.now() - started;
    const stats = (await Promise.all(relays.map(stopRelay))).filter((s) => s !== null);
    const outboxStats = await outbox.stats(pool);
    const [perOrder] = await pool.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS orders, SUM(applied) AS applied, MIN(applied) AS lo, MAX(applied) AS most FROM fo_orders',
    );
    const row = perOrder[0] as RowDataPacket;
    const entries = await redis.xlen('failover:outbox:orders');

    d.table([
      ...stats.map((s) => ({ relay: s.relayId, published: s.published, 'failed publishes (retried)': s.failures })),
      { relay: 'relay-2 (killed)', published: '?', 'failed publishes (retried)': '?' },
    ]);
    d.table([
      {
        enqueued: TOTAL,
        'stream entries': entries,
        applied,
        'duplicates absorbed': duplicates,
        lost: TOTAL - Number(row.applied ?? 0),
        'out of order': outOfOrder,
        'dead rows': outboxStats.dead,
        'parked by consumer': parked,
        'drained at ms': drainedAt,
      },
    ]);
    d.check(Number(row.applied) === TOTAL && applied === TOTAL, 'every committed event must be applied (0 lost)');
    d.check(Number(row.most) === EVENTS_PER_ORDER && Number(row.lo) === EVENTS_PER_ORDER, 'every order must have applied its 10 events exactly once');
    d.check(outOfOrder === 0, 'events of one order must be applied in sequence');
    d.check(duplicates > 0 && entries > TOTAL, 'the killed relay and the outage should have produced duplicates (absorbed by the inbox)');
    d.check(outboxStats.pending === 0 && outboxStats.dead === 0, 'the outbox must be fully published');
    return `${TOTAL} events, relay killed mid-batch + ${OUTAGE_MS / 1000} s broker outage: lost=${TOTAL - Number(row.applied ?? 0)}, out-of-order=${outOfOrder}, duplicates absorbed=${duplicates}, drained in ${(drainedAt / 1000).toFixed(1)} s`;
  },
});
