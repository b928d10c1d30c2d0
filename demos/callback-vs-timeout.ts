import { DelayQueue } from '@gopherkit/patterns/delayqueue';
import { hmacSha256Verifier, OrderStateMachine, PaymentCallbackHandler } from '@gopherkit/patterns/idempotency';
import { orderTimeoutHandler, RedisStock } from '@gopherkit/patterns/stock';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * The payment callback races the order-timeout cancel, 1000 rounds (seeded random head start for
 * either side, 25 rounds in flight at once). Each order reserved 1 unit of stock in Redis.
 *
 * Seed shape (forced interleaving, 100 rounds): the timeout reads the order without a lock
 * (PENDING), the callback commits PAID with unconditional updates and confirms the stock, then
 * the timeout's unguarded `UPDATE … SET status = Cancelled WHERE id = ?` lands (seed L8946–9046,
 * L9812–9875): every order ends CANCELLED with its payment PAID and its stock sold — a mix.
 *
 * Fixed: `OrderStateMachine.cancelUnpaid` (guarded PENDING|PAYING → CANCELLED, payment → CLOSED)
 * behind `orderTimeoutHandler`, run by a `DelayQueue` worker (each round schedules the order's
 * timeout as due), and `PaymentCallbackHandler` (guarded → PAID, late payment →
 * REFUNDING). Invariant per order: PAID ⇔ payment PAID ⇔ stock confirmed (sold), or CANCELLED ⇔
 * payment REFUNDING (late payment refunded) ⇔ stock released. Never a mix; stock totals balance.
 */
const ROUNDS = 1000;
const SEED_ROUNDS = 100;
const IN_FLIGHT = 25;
const SEED = 20261124;

export default defineDemo({
  description:
    'Payment callback vs timeout cancel, 1000 seeded races: every order ends PAID+sold or CANCELLED+released+refunded, never a mix (the unguarded seed version mixes every forced round)',
  async run(d) {
    const db = await d.mysql({ connectionLimit: 20 });
    const redis = (await d.redis()).client();
    const pool = db.pool;
    const prefix = `demo:cvt:${process.pid}:`;
    const stock = new RedisStock(redis, { prefix });
    const verifier = hmacSha256Verifier('demo-provider-secret-0123456789');
    const rand = d.random(SEED);
    const sm = new OrderStateMachine();
    const errors: string[] = [];
    const handler = new PaymentCallbackHandler({ pool, verifier });
    const timeout = orderTimeoutHandler({ stock, cancel: sm.cancelUnpaid(pool) });
    // the timeout side runs as it does in production: a DelayQueue worker calling orderTimeoutHandler
    const queue = new DelayQueue(redis, { prefix, name: 'order-timeout', visibilityTimeoutMs: 30_000 });
    const timedOut = new Map<string, () => void>();
    const worker = queue.process((job) => timeout(job), { concurrency: IN_FLIGHT, pollIntervalMs: 1 });
    worker.on('done', (job) => timedOut.get(job.id)?.());
    worker.on('failed', (job, e) => errors.push(`${job.id}: timeout handler ${(e as Error).message}`));
    d.defer(() => worker.close());

    const create = async (orderId: string, sku: string) => {
      await pool.query("INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, 'u', 1999, 'PENDING', 0, 0)", [orderId]);
      await pool.query("INSERT INTO gk_payments (payment_no, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, 'PAYING', 0, 0)", [
        `P-${orderId}`,
        orderId,
      ]);
      await stock.reserve(orderId, [{ sku, qty: 1 }], 3_600_000);
    };
    const callback = (orderId: string) => {
      const body = JSON.stringify({ payment_no: `P-${orderId}`, trade_no: `T-${orderId}`, amount: '19.99', status: 'SUCCESS' });
      return { body, signature: verifier.sign(body) };
    };
    const yieldTimes = (n: number) =>
      Array.from({ length: n }).reduce<Promise<void>>((p) => p.then(() => new Promise((r) => setImmediate(r))), Promise.resolve());

    // --- fixed, 1000 rounds
    const sku = 'sku-race';
    await stock.init(sku, ROUNDS);
    const t0 = Date.now();
    const heads = Array.from({ length: ROUNDS }, () => Math.floor(rand() * 24) - 4); // <0: callback waits, >0: timeout waits (the callback has more to do first)
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < ROUNDS) {
          const i = next++;
          const orderId = `R${i}`;
          await create(orderId, sku);
          const head = heads[i] as number;
          await Promise.all([
            (async () => {
              await yieldTimes(Math.max(0, -head));
              const r = await handler.handlePaymentCallback(callback(orderId));
              if (r.outcome === 'paid') await stock.confirm(orderId);
              else if (r.outcome !== 'refund') errors.push(`${orderId}: callback ${r.outcome}`);
            })(),
            (async () => {
              await yieldTimes(Math.max(0, head));
              const acked = new Promise<void>((r) => timedOut.set(orderId, r));
              await queue.schedule(orderId, Date.now()); // due now: the order's 15 minutes are up
              await acked;
              timedOut.delete(orderId);
            })(),
          ]).catch((e: Error) => errors.push(`${orderId}: ${e.message}`));
        }
      }),
    );
    const ms = Date.now() - t0;
    const fixed = await classify(pool, stock, 'R');
    const levels = await stock.levels(sku);
    d.check(errors.length === 0, `no handler errors (${errors.slice(0, 3).join('; ') || 'none'})`);
    d.check(fixed.mixed === 0, `fixed: 0 of ${ROUNDS} orders in a mixed state (got ${fixed.mixed})`);
    d.check(fixed.paid + fixed.cancelled === ROUNDS, `fixed: every order is PAID or CANCELLED (${fixed.paid} + ${fixed.cancelled})`);
    d.check(
      levels !== null && levels.sold === fixed.paid && levels.locked === 0 && levels.available === ROUNDS - fixed.paid,
      `fixed: stock balances (sold ${levels?.sold} = paid ${fixed.paid}, locked ${levels?.locked}, available ${levels?.available})`,
    );
    d.check(fixed.paid > 0 && fixed.cancelled > 0, 'both sides won some races (the race was real)');

    // --- seed shape, forced interleaving
    const seedSku = 'sku-seed';
    await stock.init(seedSku, SEED_ROUNDS);
    for (let i = 0; i < SEED_ROUNDS; i++) {
      const orderId = `S${i}`;
      await create(orderId, seedSku);
      // CancelOrderIfUnpaid step 1: read without a lock
      const [rows] = await pool.query<RowDataPacket[]>('SELECT status FROM gk_orders WHERE id = ?', [orderId]);
      // meanwhile the callback: handlePaymentSuccess with unconditional updates, then confirm the stock
      await pool.query("UPDATE gk_payments SET status = 'PAID', trade_no = ? WHERE payment_no = ?", [`T-${orderId}`, `P-${orderId}`]);
      await pool.query("UPDATE gk_orders SET status = 'PAID' WHERE id = ?", [orderId]);
      await stock.confirm(orderId);
      // CancelOrderIfUnpaid step 2: it saw PENDING, so: unguarded UPDATE, then release (refused: already sold)
      if (rows[0]?.status === 'PENDING') {
        await pool.query("UPDATE gk_orders SET status = 'CANCELLED' WHERE id = ?", [orderId]);
        await stock.release(orderId).catch(() => undefined);
      }
    }
    const seed = await classify(pool, stock, 'S');
    d.check(seed.mixed === SEED_ROUNDS, `seed (forced): every round ends mixed — CANCELLED order, PAID payment, sold stock (got ${seed.mixed}/${SEED_ROUNDS})`);

    d.table([
      {
        variant: 'seed: unlocked read + unguarded UPDATE (forced)',
        rounds: SEED_ROUNDS,
        paid_sold: seed.paid,
        cancelled_released_refunded: seed.cancelled,
        mixed: seed.mixed,
      },
      { variant: 'guarded transitions (seeded race)', rounds: ROUNDS, paid_sold: fixed.paid, cancelled_released_refunded: fixed.cancelled, mixed: fixed.mixed },
    ]);
    d.bars(
      [
        { label: 'callback won (PAID, sold)', value: fixed.paid },
        { label: 'timeout won (CANCELLED, refunded)', value: fixed.cancelled },
        { label: 'mixed', value: fixed.mixed },
      ],
      { unit: ' orders' },
    );
    d.record('outcomes', { rounds: ROUNDS, inFlight: IN_FLIGHT, seed: SEED, paid: fixed.paid, cancelled: fixed.cancelled, mixed: fixed.mixed, ms });
    return `${ROUNDS} races in ${ms} ms: paid=${fixed.paid}, cancelled+refunded=${fixed.cancelled}, mixed=${fixed.mixed}; seed forced: mixed=${seed.mixed}/${SEED_ROUNDS}`;
  },
});

/** Per order: the consistent end states, or mixed. */
async function classify(pool: Pool, stock: RedisStock, idPrefix: string): Promise<{ paid: number; cancelled: number; mixed: number }> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT o.id, o.status AS o, p.status AS p FROM gk_orders o JOIN gk_payments p ON p.order_id = o.id WHERE o.id LIKE ?',
    [`${idPrefix}%`],
  );
  let paid = 0;
  let cancelled = 0;
  let mixed = 0;
  for (const r of rows) {
    const s = await stock.orderState(r.id as string);
    if (r.o === 'PAID' && r.p === 'PAID' && s === 'confirmed') paid++;
    else if (r.o === 'CANCELLED' && r.p === 'REFUNDING' && s === 'released') cancelled++;
    else mixed++;
  }
  return { paid, cancelled, mixed };
}
