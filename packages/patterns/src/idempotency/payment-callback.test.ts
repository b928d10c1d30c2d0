import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '@gopherkit/testkit';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { formatCents, parseCents } from './money.js';
import { OrderStateMachine } from './order-state-machine.js';
import { PaymentCallbackHandler, type PaymentCallbackOptions } from './payment-callback.js';
import { hmacSha256Verifier } from './payment-signature.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());
const verifier = hmacSha256Verifier('test-secret-0123456789');

describe('parseCents', () => {
  it('parses decimal strings exactly, where the seed float conversion loses a cent', () => {
    expect(Math.trunc(19.99 * 100)).toBe(1998); // the seed's Yuan(19.99) / int64(amount*100)
    expect(parseCents('19.99')).toBe(1999);
    expect(parseCents('0.07')).toBe(7);
    expect(parseCents('20')).toBe(2000);
    expect(parseCents('0.5')).toBe(50);
    expect(parseCents('9999999999999.99')).toBe(999999999999999);
    expect(Number.isSafeInteger(parseCents('9999999999999.99'))).toBe(true);
    expect(formatCents(1999)).toBe('19.99');
    expect(formatCents(5)).toBe('0.05');
  });
  it('rejects everything else with a typed error saying what is allowed', () => {
    for (const bad of ['', '-1', '1.999', '1e3', ' 1', '1,000.00', '01', '.5', '1.', 'NaN', '99999999999999.00', 19.99 as unknown as string]) {
      expect(() => parseCents(bad)).toThrow(/amount must be a decimal string with at most 2 decimals/);
    }
  });
});

describe('hmacSha256Verifier', () => {
  it('accepts its own signature over the exact bytes, refuses any change or malformed signature', () => {
    const body = '{"payment_no":"P1","amount":"19.99"}';
    const sig = verifier.sign(body);
    expect(verifier.verify(body, sig)).toBe(true);
    expect(verifier.verify(Buffer.from(body), sig.toUpperCase())).toBe(true);
    expect(verifier.verify(body.replace('19.99', '0.01'), sig)).toBe(false);
    expect(verifier.verify(body, sig.slice(0, 63))).toBe(false);
    expect(verifier.verify(body, 'zz'.repeat(32))).toBe(false);
    expect(verifier.verify(body, hmacSha256Verifier('another-secret-0123456789').sign(body))).toBe(false);
    expect(() => hmacSha256Verifier('short')).toThrow(/secret must be at least 16 bytes/);
  });
});

describe.skipIf(!db)('PaymentCallbackHandler (MySQL)', () => {
  const pool = db?.pool as NonNullable<typeof db>['pool'];
  const setup = async (orderStatus = 'PENDING', paymentStatus = 'PAYING') => {
    const orderId = randomUUID();
    const paymentNo = `P${orderId.slice(0, 8)}`;
    await pool.query('INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, ?, 0, 0)', [
      orderId,
      'u',
      orderStatus,
    ]);
    await pool.query('INSERT INTO gk_payments (payment_no, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, ?, 0, 0)', [
      paymentNo,
      orderId,
      paymentStatus,
    ]);
    return { orderId, paymentNo };
  };
  const delivery = (paymentNo: string, o: { tradeNo?: string; amount?: string; status?: string } = {}) => {
    const body = JSON.stringify({ payment_no: paymentNo, trade_no: o.tradeNo ?? `T-${paymentNo}`, amount: o.amount ?? '19.99', status: o.status ?? 'SUCCESS' });
    return { body, signature: verifier.sign(body) };
  };
  const state = async (orderId: string, paymentNo: string) => {
    const [o] = await pool.query<RowDataPacket[]>('SELECT status FROM gk_orders WHERE id = ?', [orderId]);
    const [p] = await pool.query<RowDataPacket[]>('SELECT status, trade_no FROM gk_payments WHERE payment_no = ?', [paymentNo]);
    const [l] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM gk_order_status_log WHERE order_id = ? AND to_status = 'PAID'", [orderId]);
    const [d] = await pool.query<RowDataPacket[]>('SELECT outcome FROM gk_payment_deliveries WHERE payment_no = ? ORDER BY id', [paymentNo]);
    return { order: o[0]?.status, payment: p[0]?.status, tradeNo: p[0]?.trade_no, paidLogs: Number(l[0]?.n), deliveries: d.map((x) => x.outcome as string) };
  };
  const handler = (o: Partial<PaymentCallbackOptions> = {}) => new PaymentCallbackHandler({ pool, verifier, ...o });

  it('10 concurrent deliveries of one callback plus a stale failure: one PAID transition, one log row, 11 deliveries logged, all verified ones ACKed', async () => {
    const { orderId, paymentNo } = await setup();
    const h = handler();
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () => h.handlePaymentCallback(delivery(paymentNo))),
      h.handlePaymentCallback(delivery(paymentNo, { status: 'FAILED', tradeNo: 'T-old' })),
    ]);
    expect(results.filter((r) => r.outcome === 'paid')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(9);
    expect(results.every((r) => r.ack)).toBe(true);
    const s = await state(orderId, paymentNo);
    expect(s).toMatchObject({ order: 'PAID', payment: 'PAID', tradeNo: `T-${paymentNo}`, paidLogs: 1 });
    expect(s.deliveries).toHaveLength(11);
    expect(s.deliveries.filter((x) => x === 'failure-noted')).toHaveLength(1);
  });

  it('a failure inside the transaction commits nothing and is not ACKed; the provider retry then pays', async () => {
    const { orderId, paymentNo } = await setup();
    let fail = true;
    const h = handler({
      inTransaction: async () => {
        if (fail) throw new Error('connection lost mid-transaction');
      },
    });
    await expect(h.handlePaymentCallback(delivery(paymentNo))).rejects.toThrow('connection lost');
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'PENDING', payment: 'PAYING', paidLogs: 0, deliveries: ['error'] });
    fail = false;
    expect(await h.handlePaymentCallback(delivery(paymentNo))).toMatchObject({ ack: true, outcome: 'paid' });
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'PAID', payment: 'PAID', paidLogs: 1 });
  });

  it('the connection dies mid-transaction (as when the process is killed): the server rolls back, nothing is ACKed, the retry pays', async () => {
    const { orderId, paymentNo } = await setup();
    let kill = true;
    const h = handler({
      inTransaction: async (conn) => {
        if (!kill) return;
        kill = false;
        conn.destroy(); // the socket is gone: MySQL rolls the open transaction back
        await conn.query('SELECT 1'); // the next statement fails, like the commit would
      },
    });
    await expect(h.handlePaymentCallback(delivery(paymentNo))).rejects.toThrow();
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'PENDING', payment: 'PAYING', paidLogs: 0 });
    expect(await h.handlePaymentCallback(delivery(paymentNo))).toMatchObject({ ack: true, outcome: 'paid' });
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'PAID', payment: 'PAID', paidLogs: 1 });
  });

  it('a late payment for a cancelled order goes to REFUNDING; the order stays CANCELLED; redeliveries are duplicates', async () => {
    const { orderId, paymentNo } = await setup('PENDING', 'PAYING');
    expect(await new OrderStateMachine().cancelUnpaid(pool)(orderId)).toBe('cancelled');
    const effects: string[] = [];
    const h = handler({
      inTransaction: async (_c, e) => {
        effects.push(e.kind);
      },
    });
    expect(await h.handlePaymentCallback(delivery(paymentNo))).toMatchObject({ ack: true, outcome: 'refund' });
    expect(await h.handlePaymentCallback(delivery(paymentNo))).toMatchObject({ ack: true, outcome: 'duplicate' });
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'CANCELLED', payment: 'REFUNDING', paidLogs: 0 });
    expect(effects).toEqual(['refund']);
    expect(await h.markRefunded(paymentNo)).toBe(true);
    expect(await h.markRefunded(paymentNo)).toBe(false);
  });

  it('bad signatures, malformed bodies, wrong amounts and unknown payments are logged and never ACKed', async () => {
    const { orderId, paymentNo } = await setup();
    const h = handler();
    const good = delivery(paymentNo);
    expect(await h.handlePaymentCallback({ body: good.body, signature: verifier.sign('other') })).toMatchObject({ ack: false, outcome: 'bad-signature' });
    expect(await h.handlePaymentCallback(delivery(paymentNo, { amount: '19.98' }))).toMatchObject({ ack: false, outcome: 'amount-mismatch' });
    expect(await h.handlePaymentCallback(delivery(paymentNo, { amount: '19.990' }))).toMatchObject({ ack: false, outcome: 'malformed' });
    expect(await h.handlePaymentCallback(delivery('P-nope'))).toMatchObject({ ack: false, outcome: 'unknown-payment' });
    const notJson = 'payment_no=1';
    expect(await h.handlePaymentCallback({ body: notJson, signature: verifier.sign(notJson) })).toMatchObject({ ack: false, outcome: 'malformed' });
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'PENDING', payment: 'PAYING', paidLogs: 0 });
  });

  it('UNIQUE(trade_no) backstop: one provider trade cannot pay two payments', async () => {
    const a = await setup();
    const b = await setup();
    const h = handler();
    expect(await h.handlePaymentCallback(delivery(a.paymentNo, { tradeNo: 'T-shared' }))).toMatchObject({ outcome: 'paid' });
    expect(await h.handlePaymentCallback(delivery(b.paymentNo, { tradeNo: 'T-shared' }))).toMatchObject({ ack: false, outcome: 'trade-conflict' });
    expect(await state(b.orderId, b.paymentNo)).toMatchObject({ order: 'PENDING', payment: 'PAYING', paidLogs: 0 });
  });

  it('a second trade for a payment already paid by another trade is a conflict, not a duplicate: never ACKed, nothing changes', async () => {
    const { orderId, paymentNo } = await setup();
    const h = handler();
    expect(await h.handlePaymentCallback(delivery(paymentNo, { tradeNo: 'T-first' }))).toMatchObject({ ack: true, outcome: 'paid' });
    expect(await h.handlePaymentCallback(delivery(paymentNo, { tradeNo: 'T-second' }))).toMatchObject({ ack: false, outcome: 'trade-conflict' });
    expect(await h.handlePaymentCallback(delivery(paymentNo, { tradeNo: 'T-first' }))).toMatchObject({ ack: true, outcome: 'duplicate' });
    expect(await state(orderId, paymentNo)).toMatchObject({ order: 'PAID', payment: 'PAID', tradeNo: 'T-first', paidLogs: 1 });
  });

  it('callback racing the timeout cancel, 20 rounds: every order ends PAID+PAID or CANCELLED+REFUNDING, never a mix', async () => {
    const h = handler();
    const cancel = new OrderStateMachine().cancelUnpaid(pool);
    for (let i = 0; i < 20; i++) {
      const { orderId, paymentNo } = await setup('PENDING', 'PAYING');
      const [cb, to] = await Promise.all([h.handlePaymentCallback(delivery(paymentNo)), cancel(orderId)]);
      const s = await state(orderId, paymentNo);
      expect(cb.ack).toBe(true);
      if (s.order === 'PAID') expect([s.payment, cb.outcome, to]).toEqual(['PAID', 'paid', 'not-pending']);
      else expect([s.order, s.payment, cb.outcome, to]).toEqual(['CANCELLED', 'REFUNDING', 'refund', 'cancelled']);
    }
  });
});
