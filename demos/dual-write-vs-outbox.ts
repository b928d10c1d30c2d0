import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Inbox, StreamConsumer } from '@gopherkit/patterns/inbox';
import { OutboxRelay, RedisStreamPublisher } from '@gopherkit/patterns/outbox';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * 1000 order creations, with the process `kill -9`'d at seeded points of the write path.
 *
 * - **commit-then-publish** (the seed's `saveOrder` then `Send`, seed L4027–4037): a crash after
 *   the commit and before the XADD loses the event for good.
 * - **publish-in-tx** (publish from inside the transaction): a crash after the XADD and before the
 *   commit emits an event for an order that does not exist (phantom).
 * - **outbox**: the event row commits with the order; the relay (in the same, crashing, process)
 *   publishes it later; a crash after XADD and before the relay marks the row republishes it, and
 *   the consumer's inbox absorbs the duplicate. Every committed order is applied exactly once.
 *
 * Each crash point is forced: the child stops at the chosen phase, tells the parent, and the
 * parent SIGKILLs it there — so every run fails the same way.
 */

const ORDERS = 1000;
const CRASHES = 6;
const SEED = 20261124;
type Scenario = 'commit-then-publish' | 'publish-in-tx' | 'outbox';
type Phase = 'before-commit' | 'after-commit' | 'after-publish';

interface ChildPlan {
  scenario: Scenario;
  mysqlUrl: string;
  redisUrl: string;
  from: number;
  crashAt: number; // order index, or -1 for none
  phase: Phase;
}

const childScript = fileURLToPath(new URL('./outbox-children/dual-write-child.ts', import.meta.url));

function runChild(plan: ChildPlan): Promise<'crashed' | 'finished'> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [...process.execArgv, childScript], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, GK_DUAL_WRITE_CHILD: JSON.stringify(plan) },
    });
    let killed = false;
    child.on('message', () => {
      killed = true;
      child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (killed && signal === 'SIGKILL') resolve('crashed');
      else if (code === 0) resolve('finished');
      else reject(new Error(`child ${plan.scenario} exited with ${code ?? signal}`));
    });
  });
}

async function ids(pool: Pool, sql: string): Promise<Set<number>> {
  const [rows] = await pool.query<RowDataPacket[]>(sql);
  return new Set(rows.map((r) => Number(Object.values(r)[0])));
}

export default defineDemo({
  description:
    'Dual write vs outbox: kill -9 at seeded points of 1000 order creations; dual write loses or invents events, outbox + inbox applies every committed order exactly once',
  async run(d) {
    const db = await d.mysql({ connectionLimit: 10 });
    const server = await d.redis();
    const redis = server.client();
    const pool = db.pool;
    const rand = d.random(SEED);
    // Crash points: CRASHES distinct order indexes, sorted; the phase is chosen per scenario.
    const points = new Set<number>();
    while (points.size < CRASHES) points.add(50 + Math.floor(rand() * (ORDERS - 100)));
    const crashAt = [...points].sort((a, b) => a - b);
    const phases: Record<Scenario, Phase[]> = {
      'commit-then-publish': ['after-commit', 'before-commit'],
      'publish-in-tx': ['before-commit', 'after-commit'],
      outbox: ['after-commit', 'after-publish', 'before-commit'],
    };
    const rows: Record<string, unknown>[] = [];
    const result: Record<Scenario, { lost: number; phantom: number; committed: number; dup: number }> = {} as never;
    const scenarios: Scenario[] = ['commit-then-publish', 'publish-in-tx', 'outbox'];
    // The seeded plan is fixed up front; the three scenarios then run side by side (separate
    // tables and streams), each one a deterministic chain of crashing child processes.
    const plans = scenarios.map((scenario) =>
      [...crashAt, -1].map((at) => ({
        at,
        phase: at < 0 ? ('after-commit' as Phase) : (phases[scenario][Math.floor(rand() * phases[scenario].length)] as Phase),
      })),
    );
    const crashes = await Promise.all(
      scenarios.map(async (scenario, s) => {
        await pool.query(`CREATE TABLE dw_orders_${scenario.replace(/-/g, '_')} (id INT PRIMARY KEY) ENGINE=InnoDB`);
        let from = 0;
        let n = 0;
        for (const { at, phase } of plans[s] as { at: number; phase: Phase }[]) {
          const outcome = await runChild({ scenario, mysqlUrl: db.url, redisUrl: server.url, from, crashAt: at, phase });
          if (outcome === 'crashed') n++;
          from = at + 1;
        }
        return n;
      }),
    );
    for (const [s, scenario] of scenarios.entries()) {
      const table = `dw_orders_${scenario.replace(/-/g, '_')}`;
      const committed = await ids(pool, `SELECT id FROM ${table}`);
      let events: number[];
      let dup = 0;
      if (scenario === 'outbox') {
        // Restart: a fresh relay drains what the crashed processes left (expired leases included),
        // and a consumer applies each event through the inbox.
        await pool.query('CREATE TABLE dw_applied (order_id INT PRIMARY KEY, times INT NOT NULL)');
        const relay = new OutboxRelay({ pool, publisher: new RedisStreamPublisher({ redis, prefix: 'dw:' }), pollIntervalMs: 5, claimTtlMs: 500 }).start();
        const inbox = new Inbox();
        const consumer = new StreamConsumer({
          redis,
          stream: 'dw:outbox:orders',
          group: 'billing',
          consumer: 'c1',
          blockMs: 50,
          handler: async (m) => {
            const r = await inbox.process(pool, 'billing', m.fields.outboxId as string, (c) =>
              c.query('INSERT INTO dw_applied VALUES (?, 1) ON DUPLICATE KEY UPDATE times = times + 1', [Number(m.fields.aggregateId)]),
            );
            if (r.duplicate) dup++;
          },
        });
        let processed = 0;
        consumer.on('processed', () => processed++);
        await consumer.start();
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const [r] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM dw_applied');
          if (Number(r[0]?.n) >= committed.size && (await redis.xlen('dw:outbox:orders')) === processed) break;
          await new Promise((r2) => setTimeout(r2, 50));
        }
        await relay.stop();
        await consumer.stop();
        const [twice] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM dw_applied WHERE times <> 1');
        d.check(Number(twice[0]?.n) === 0, 'the inbox must apply every outbox event exactly once');
        events = [...(await ids(pool, 'SELECT order_id FROM dw_applied'))];
      } else {
        events = (await redis.xrange(`dw:${scenario}`, '-', '+')).map(([, f]) => Number(f[1]));
      }
      const eventSet = new Set(events);
      const lost = [...committed].filter((i) => !eventSet.has(i)).length;
      const phantom = [...eventSet].filter((i) => !committed.has(i)).length;
      result[scenario] = { lost, phantom, committed: committed.size, dup };
      rows.push({
        scenario,
        crashes: crashes[s],
        'orders committed': committed.size,
        'events applied': eventSet.size,
        lost,
        phantom,
        'duplicates absorbed': scenario === 'outbox' ? dup : '-',
      });
    }
    d.table(rows);
    const dual = result['commit-then-publish'];
    const inTx = result['publish-in-tx'];
    const ob = result.outbox;
    d.check(dual.lost > 0, 'commit-then-publish should lose events when killed between commit and publish');
    d.check(inTx.phantom > 0, 'publish-in-tx should emit phantom events when killed between publish and commit');
    d.check(ob.lost === 0 && ob.phantom === 0, 'the outbox must deliver every committed order and nothing else');
    return `dual write lost=${dual.lost} phantom=${inTx.phantom} (of ${CRASHES} crashes each); outbox lost=${ob.lost} phantom=${ob.phantom}, duplicates absorbed by inbox=${ob.dup}`;
  },
});
