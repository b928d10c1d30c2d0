import { hmacSha256Verifier, OrderStateMachine, PaymentCallbackHandler } from '@gopherkit/patterns/idempotency';
import type { Redis } from 'ioredis';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { defineDemo } from './harness/demo.js';

/**
 * 重复支付 / payment callbacks: providers deliver the same notification many times, concurrently,
 * late, and after our own failures.
 *
 * Seed contrast (forced, same result every run):
 * - "handled" marker before the transaction (seed v1-B, L7459–7511: `SETNX payment:callback:{txn}`
 *   then the DB work): the first delivery fails mid-transaction, the provider retries, the marker
 *   says "done", the retry is ACKed — the money is taken and the order stays unpaid forever.
 * - unconditional updates (seed `handlePaymentSuccess`, L9812–9875): a late callback for an
 *   order the timeout already cancelled sets it PAID again (revived, its stock long released).
 *
 * Fixed (`PaymentCallbackHandler`): 10 concurrent deliveries + 1 stale failure → exactly one
 * payment→PAID, one order→PAID, one status-log row, 11 delivery-log rows; a failure mid-transaction
 * → the retry still pays; a late payment for a cancelled order → REFUNDING, order stays CANCELLED.
 */
const SECRET = 'demo-provider-secret-0123456789';
const DUPLICATES = 10;

export default defineDemo({
  description:
    'Payment callbacks: 10 concurrent duplicates + a stale failure pay once; a failed first delivery is retried and pays (the seed marker-first version loses it); a late payment refunds instead of reviving a cancelled order',
  async run(d) {
    const db = await d.mysql({ connectionLimit: 12 });
    const redis = (await d.redis()).client();
    const pool = db.pool;
    const verifier = hmacSha256Verifier(SECRET);
    let seq = 0;
    const newOrder = async () => {
      const orderId = `O${++seq}`;
      const paymentNo = `P${seq}`;
      await pool.query("INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, 'u', 1999, 'PENDING', 0, 0)", [orderId]);
      await pool.query("INSERT INTO gk_payments (payment_no, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, 'PAYING', 0, 0)", [
        paymentNo,
        orderId,
      ]);
      return { orderId, paymentNo };
    };
    const delivery = (paymentNo: string, status = 'SUCCESS', tradeNo = `T-${paymentNo}`) => {
      const body = JSON.stringify({ payment_no: paymentNo, trade_no: tradeNo, amount: '19.99', status });
      return { body, signature: verifier.sign(body) };
    };
    const snapshot = async (orderId: string, paymentNo: string) => {
      const one = async (sql: string, arg: string) => ((await pool.query<RowDataPacket[]>(sql, [arg]))[0][0] ?? {}) as Record<string, unknown>;
      return {
        order: (await one('SELECT status FROM gk_orders WHERE id = ?', orderId)).status as string,
        payment: (await one('SELECT status FROM gk_payments WHERE payment_no = ?', paymentNo)).status as string,
        paidLogs: Number((await one("SELECT COUNT(*) AS n FROM gk_order_status_log WHERE order_id = ? AND to_status = 'PAID'", orderId)).n),
        deliveries: Number((await one('SELECT COUNT(*) AS n FROM gk_payment_deliveries WHERE payment_no = ?', paymentNo)).n),
      };
    };
    const rows: Record<string, unknown>[] = [];

    // --- seed: marker before the transaction
    {
      const { orderId, paymentNo } = await newOrder();
      const seed = seedMarkerFirst(pool, redis);
      const first = await seed(paymentNo, `T-${paymentNo}`, true).catch((e: Error) => `error: ${e.message}`);
      const retry = await seed(paymentNo, `T-${paymentNo}`, false);
      const s = await snapshot(orderId, paymentNo);
      d.check(retry === 'ACK' && s.order === 'PENDING' && s.payment === 'PAYING', 'seed marker-first: the retry is ACKed and the order stays unpaid forever');
      rows.push({
        scenario: 'first delivery fails mid-transaction',
        variant: 'seed (SETNX marker first)',
        deliveries: `${first} → ${retry}`,
        order: s.order,
        payment: s.payment,
      });
    }
    // --- seed: unconditional updates revive a cancelled order
    {
      const { orderId, paymentNo } = await newOrder();
      await new OrderStateMachine().cancelUnpaid(pool)(orderId);
      await pool.query("UPDATE gk_payments SET status = 'PAID', trade_no = ? WHERE payment_no = ?", [`T-${paymentNo}`, paymentNo]);
      await pool.query("UPDATE gk_orders SET status = 'PAID' WHERE id = ?", [orderId]);
      const s = await snapshot(orderId, paymentNo);
      d.check(s.order === 'PAID', 'seed unconditional update: a late callback revives the cancelled order as PAID');
      rows.push({
        scenario: 'late payment, order already cancelled',
        variant: 'seed (unconditional UPDATE)',
        deliveries: 'ACK',
        order: `${s.order} (revived)`,
        payment: s.payment,
      });
    }

    // --- fixed: 10 concurrent duplicates + 1 stale failure
    const handler = new PaymentCallbackHandler({ pool, verifier });
    {
      const { orderId, paymentNo } = await newOrder();
      const results = await Promise.all([
        ...Array.from({ length: DUPLICATES }, () => handler.handlePaymentCallback(delivery(paymentNo))),
        handler.handlePaymentCallback(delivery(paymentNo, 'FAILED', `T-${paymentNo}-old`)),
      ]);
      const s = await snapshot(orderId, paymentNo);
      const paid = results.filter((r) => r.outcome === 'paid').length;
      d.check(paid === 1 && s.order === 'PAID' && s.payment === 'PAID', `fixed: exactly one delivery paid (got ${paid}); order and payment PAID`);
      d.check(s.paidLogs === 1, `fixed: one status-log row for →PAID (got ${s.paidLogs})`);
      d.check(s.deliveries === DUPLICATES + 1, `fixed: every delivery logged (${s.deliveries} of ${DUPLICATES + 1})`);
      d.check(
        results.every((r) => r.ack),
        'fixed: every verified delivery ACKed (after the commit, or as a duplicate)',
      );
      const outcomes: Record<string, number> = {};
      for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      rows.push({
        scenario: `${DUPLICATES} concurrent duplicates + 1 stale failure`,
        variant: 'PaymentCallbackHandler',
        deliveries: Object.entries(outcomes)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
        order: s.order,
        payment: s.payment,
      });
    }
    // --- fixed: first delivery fails mid-transaction
    {
      const { orderId, paymentNo } = await newOrder();
      let failNext = true;
      const flaky = new PaymentCallbackHandler({
        pool,
        verifier,
        inTransaction: async () => {
          if (failNext) {
            failNext = false;
            throw new Error('connection lost');
          }
        },
      });
      const first = await flaky.handlePaymentCallback(delivery(paymentNo)).then(
        (r) => r.outcome,
        (e: Error) => `error: ${e.message} (no ACK)`,
      );
      const retry = await flaky.handlePaymentCallback(delivery(paymentNo));
      const s = await snapshot(orderId, paymentNo);
      d.check(retry.outcome === 'paid' && s.order === 'PAID' && s.payment === 'PAID', 'fixed: after a failed first delivery the provider retry pays');
      rows.push({
        scenario: 'first delivery fails mid-transaction',
        variant: 'PaymentCallbackHandler',
        deliveries: `${first} → ${retry.outcome}`,
        order: s.order,
        payment: s.payment,
      });
    }
    // --- fixed: late payment for a cancelled order
    {
      const { orderId, paymentNo } = await newOrder();
      await new OrderStateMachine().cancelUnpaid(pool)(orderId);
      const r = await handler.handlePaymentCallback(delivery(paymentNo));
      const s = await snapshot(orderId, paymentNo);
      d.check(
        r.outcome === 'refund' && s.order === 'CANCELLED' && s.payment === 'REFUNDING',
        'fixed: a late payment goes to REFUNDING; the order stays CANCELLED',
      );
      rows.push({
        scenario: 'late payment, order already cancelled',
        variant: 'PaymentCallbackHandler',
        deliveries: r.outcome,
        order: s.order,
        payment: s.payment,
      });
    }
    d.table(rows);
    return 'seed: marker-first loses a retried payment, unconditional update revives a cancelled order; handler: 1 PAID of 11 deliveries, retry after failure pays, late payment refunded';
  },
});

/** The seed's v1-B shape: SETNX "handled" first, then the transaction (unconditional updates). */
function seedMarkerFirst(pool: Pool, redis: Redis) {
  return async (paymentNo: string, tradeNo: string, failInTransaction: boolean): Promise<string> => {
    const fresh = await redis.set(`demo:pc:${process.pid}:payment:callback:${tradeNo}`, '1', 'EX', 86_400, 'NX');
    if (fresh === null) return 'ACK'; // "already handled"
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.query("UPDATE gk_payments SET status = 'PAID', trade_no = ? WHERE payment_no = ?", [tradeNo, paymentNo]);
      if (failInTransaction) throw new Error('connection lost');
      await conn.query("UPDATE gk_orders o JOIN gk_payments p ON p.order_id = o.id SET o.status = 'PAID' WHERE p.payment_no = ?", [paymentNo]);
      await conn.commit();
      return 'ACK';
    } catch (e) {
      await conn.rollback();
      throw e;
    } finally {
      conn.release();
    }
  };
}
