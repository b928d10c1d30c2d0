import { type Clock, systemClock } from '@gopherkit/primitives/clock';
import { assertNonEmptyString, GopherkitError, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { parseCents } from './money.js';
import { ConcurrentTransitionError, IllegalTransitionError, OrderStateMachine, type OrderStatus } from './order-state-machine.js';
import type { CallbackVerifier } from './payment-signature.js';

/** One delivery of a provider's asynchronous payment notification, exactly as received. */
export interface PaymentNotification {
  /** The raw body bytes (the signature covers these, not a re-serialisation). */
  readonly body: Buffer | string;
  /** The signature the provider sent (header or field). */
  readonly signature: string;
}

/** The fields the handler needs from a notification body. */
export interface PaymentNotice {
  /** Our payment number (the provider's `out_trade_no`). */
  readonly paymentNo: string;
  /** The provider's transaction id; unique per real payment. */
  readonly tradeNo: string;
  /** Amount as a decimal string, e.g. `"19.99"` (parsed to integer cents, never to a float). */
  readonly amount: string;
  /** True when the provider reports the payment succeeded. */
  readonly success: boolean;
}

/**
 * What the handler did with a delivery. `ack` says whether to answer the provider "success"
 * (it then stops retrying): only after the commit, or for a verified duplicate.
 */
export interface CallbackResult {
  readonly ack: boolean;
  readonly outcome: CallbackOutcome;
  readonly paymentNo?: string;
  readonly orderId?: string;
}

/**
 * - `paid`: this delivery moved the payment PAYING→PAID and the order →PAID (committed).
 * - `duplicate`: already applied by an earlier delivery of the same trade (ACK, nothing written).
 * - `refund`: money arrived for an order that can no longer be paid (cancelled by the timeout,
 *   or already paid by another payment): the payment went to REFUNDING, the order was not revived.
 * - `failure-noted`: the provider reports a failed payment; logged, nothing changes (a stale
 *   failure never unpays a paid order).
 * - `bad-signature`, `malformed`, `unknown-payment`, `amount-mismatch`, `trade-conflict`: not
 *   applied and not ACKed (alert on these; the provider keeps retrying).
 */
export type CallbackOutcome =
  | 'paid'
  | 'duplicate'
  | 'refund'
  | 'failure-noted'
  | 'bad-signature'
  | 'malformed'
  | 'unknown-payment'
  | 'amount-mismatch'
  | 'trade-conflict';

/** What {@link PaymentCallbackOptions.inTransaction} is told. */
export interface PaymentEffect {
  readonly kind: 'paid' | 'refund';
  readonly paymentNo: string;
  readonly orderId: string;
  readonly tradeNo: string;
  readonly amountCents: number;
}

/** Options of {@link PaymentCallbackHandler}. */
export interface PaymentCallbackOptions {
  /** Pool holding `gk_payments`, `gk_orders`, `gk_order_status_log`, `gk_payment_deliveries` (migration 020). */
  pool: Pool;
  /** Signature check; see `hmacSha256Verifier`. */
  verifier: CallbackVerifier;
  /** Body parser (default: JSON `{payment_no, trade_no, amount, status: "SUCCESS" | …}`). Throw on a malformed body. */
  parse?: (body: Buffer | string) => PaymentNotice;
  /**
   * Runs inside the transaction after the state changes (e.g. `outbox.enqueue(conn, …)` for
   * `order.paid` or a refund request), so the effect commits exactly when the payment does.
   * A throw rolls everything back and the delivery is not ACKed.
   */
  inTransaction?: (conn: PoolConnection, effect: PaymentEffect) => Promise<void>;
  /** Order state machine (default: a new one with `clock`). */
  machine?: OrderStateMachine;
  /** Time source (default `systemClock`). */
  clock?: Clock;
}

/** The notification body could not be parsed. */
export class MalformedNotificationError extends GopherkitError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('ERR_PAYMENT_MALFORMED_NOTIFICATION', `payment notification is malformed: ${reason}`, options);
  }
}

interface PaymentRow extends RowDataPacket {
  order_id: string;
  amount_cents: string | number;
  status: string;
  trade_no: string | null;
}

const PAYABLE: readonly OrderStatus[] = ['PENDING', 'PAYING'];
const MAX_ATTEMPTS = 3;

/** The default body format: JSON `{payment_no, trade_no, amount, status}`. */
export function parseJsonNotice(body: Buffer | string): PaymentNotice {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body.toString()) as Record<string, unknown>;
  } catch (e) {
    throw new MalformedNotificationError('body is not JSON', { cause: e });
  }
  for (const f of ['payment_no', 'trade_no', 'amount', 'status'] as const) {
    if (typeof j[f] !== 'string' || (j[f] as string).length === 0 || (j[f] as string).length > 64) {
      throw new MalformedNotificationError(`field ${f} must be a non-empty string of at most 64 characters`);
    }
  }
  return { paymentNo: j.payment_no as string, tradeNo: j.trade_no as string, amount: j.amount as string, success: j.status === 'SUCCESS' };
}

/**
 * Exactly-once handling of asynchronous payment notifications (支付回调), which providers deliver
 * at least once, concurrently, late, and out of order.
 *
 * Per delivery: verify the signature, log the delivery, then in ONE transaction move the order
 * `PENDING|PAYING → PAID` (guarded, with its status-log row) and the payment `PAYING → PAID`
 * (guarded, storing `trade_no`, whose UNIQUE key is the last backstop), and ACK only after the
 * commit. Nothing is marked "handled" before the commit, so a failed transaction leaves the
 * payment retryable; there is no lock that ACKs a busy delivery (seed L9743); a late payment for a
 * cancelled order goes to REFUNDING instead of reviving the order (the seed's unconditional
 * updates, seed L9812–9875, do revive it). Locks the order row before the payment row, like
 * {@link OrderStateMachine.cancelUnpaid}, so the callback and the timeout never deadlock.
 */
export class PaymentCallbackHandler {
  private readonly pool: Pool;
  private readonly verifier: CallbackVerifier;
  private readonly parse: (body: Buffer | string) => PaymentNotice;
  private readonly machine: OrderStateMachine;
  private readonly clock: Clock;
  private readonly inTransaction?: PaymentCallbackOptions['inTransaction'];

  constructor(options: PaymentCallbackOptions) {
    if (!options?.pool || !options.verifier) throw new InvalidArgumentError('options', 'an object with `pool` and `verifier`', options);
    this.pool = options.pool;
    this.verifier = options.verifier;
    this.parse = options.parse ?? parseJsonNotice;
    this.clock = options.clock ?? systemClock;
    this.machine = options.machine ?? new OrderStateMachine({ clock: this.clock });
    this.inTransaction = options.inTransaction;
  }

  /**
   * Handles one delivery. Answer the provider "success" only when `ack` is true. A thrown error
   * (database down, the `inTransaction` hook failed) means nothing was committed: answer an error
   * so the provider retries.
   */
  async handlePaymentCallback(notification: PaymentNotification): Promise<CallbackResult> {
    const body = notification.body;
    const verified = this.verifier.verify(body, notification.signature);
    let notice: PaymentNotice | undefined;
    let malformed = false;
    if (verified) {
      try {
        notice = this.parse(body);
        parseCents(notice.amount);
      } catch {
        malformed = true;
      }
    }
    const deliveryId = await this.logDelivery(body, verified, notice);
    const finish = async (r: CallbackResult): Promise<CallbackResult> => {
      await this.pool.query('UPDATE gk_payment_deliveries SET outcome = ? WHERE id = ?', [r.outcome, deliveryId]);
      return r;
    };
    if (!verified) return finish({ ack: false, outcome: 'bad-signature' });
    if (malformed || !notice) return finish({ ack: false, outcome: 'malformed' });
    try {
      return await finish(await this.apply(notice));
    } catch (e) {
      await this.pool.query("UPDATE gk_payment_deliveries SET outcome = 'error' WHERE id = ?", [deliveryId]).catch(() => {});
      throw e;
    }
  }

  private async logDelivery(body: Buffer | string, verified: boolean, notice: PaymentNotice | undefined): Promise<number> {
    const [r] = await this.pool.query<ResultSetHeader>(
      "INSERT INTO gk_payment_deliveries (payment_no, trade_no, verified, outcome, body, created_at) VALUES (?, ?, ?, 'received', ?, ?)",
      [notice?.paymentNo ?? null, notice?.tradeNo ?? null, verified ? 1 : 0, body.toString().slice(0, 60_000), this.clock.now()],
    );
    return r.insertId;
  }

  private async apply(n: PaymentNotice): Promise<CallbackResult> {
    const cents = parseCents(n.amount);
    for (let attempt = 1; ; attempt++) {
      const conn = await this.pool.getConnection();
      try {
        await conn.beginTransaction();
        const r = await this.applyIn(conn, n, cents);
        if (r === 'retry') {
          await conn.rollback();
          if (attempt < MAX_ATTEMPTS) continue;
          throw new GopherkitError(
            'ERR_PAYMENT_CONTENDED',
            `payment ${n.paymentNo}: the order kept changing under ${MAX_ATTEMPTS} attempts; retry the delivery`,
          );
        }
        if (r.outcome === 'paid' || r.outcome === 'refund') await conn.commit();
        else await conn.rollback();
        return r;
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      } finally {
        conn.release();
      }
    }
  }

  private async applyIn(conn: PoolConnection, n: PaymentNotice, cents: number): Promise<CallbackResult | 'retry'> {
    const [rows] = await conn.query<PaymentRow[]>('SELECT order_id, amount_cents, status, trade_no FROM gk_payments WHERE payment_no = ?', [n.paymentNo]);
    const p = rows[0];
    if (!p) return { ack: false, outcome: 'unknown-payment', paymentNo: n.paymentNo };
    const base = { paymentNo: n.paymentNo, orderId: p.order_id };
    if (Number(p.amount_cents) !== cents) return { ack: false, outcome: 'amount-mismatch', ...base };
    if (!n.success) return { ack: true, outcome: 'failure-noted', ...base };
    const now = this.clock.now();
    const effect = (kind: PaymentEffect['kind']): PaymentEffect => ({
      kind,
      paymentNo: n.paymentNo,
      orderId: p.order_id,
      tradeNo: n.tradeNo,
      amountCents: cents,
    });

    let orderNow: OrderStatus | null;
    try {
      await this.machine.transition(conn, p.order_id, PAYABLE, 'PAID', `payment ${n.paymentNo} trade ${n.tradeNo}`);
      const [u] = await guardedPaymentUpdate(conn, "status = 'PAID', trade_no = ?, paid_at = ?", [n.tradeNo, now, now], n.paymentNo, ['PENDING', 'PAYING']);
      if (u.affectedRows !== 1) return 'retry'; // the payment moved under us: start over
      await this.inTransaction?.(conn, effect('paid'));
      return { ack: true, outcome: 'paid', ...base };
    } catch (e) {
      if (isDuplicateTrade(e)) return { ack: false, outcome: 'trade-conflict', ...base };
      if (!(e instanceof IllegalTransitionError) && !(e instanceof ConcurrentTransitionError)) throw e;
      orderNow = e.current;
    }
    if (orderNow !== null && PAYABLE.includes(orderNow)) return 'retry'; // PENDING → PAYING raced us
    // the order is past payment: was it this trade that paid it?
    const [locked] = await conn.query<PaymentRow[]>('SELECT order_id, amount_cents, status, trade_no FROM gk_payments WHERE payment_no = ? FOR UPDATE', [
      n.paymentNo,
    ]);
    const cur = locked[0] as PaymentRow;
    if (cur.trade_no === n.tradeNo && ['PAID', 'REFUNDING', 'REFUNDED'].includes(cur.status)) return { ack: true, outcome: 'duplicate', ...base };
    if (cur.trade_no !== null && cur.trade_no !== n.tradeNo) return { ack: false, outcome: 'trade-conflict', ...base };
    // money arrived for an order that cannot take it (cancelled, or paid by another payment): refund, never revive
    try {
      const [u] = await guardedPaymentUpdate(conn, "status = 'REFUNDING', trade_no = ?, paid_at = ?", [n.tradeNo, now, now], n.paymentNo, [
        'PENDING',
        'PAYING',
        'CLOSED',
      ]);
      if (u.affectedRows !== 1) return 'retry';
    } catch (e) {
      if (isDuplicateTrade(e)) return { ack: false, outcome: 'trade-conflict', ...base };
      throw e;
    }
    await this.inTransaction?.(conn, effect('refund'));
    return { ack: true, outcome: 'refund', ...base };
  }

  /**
   * The refund of a REFUNDING payment went through at the provider (call it from the refund
   * worker, with the provider's refund confirmed): `REFUNDING → REFUNDED`. Returns false when the
   * payment was not REFUNDING (already marked, or never refunding).
   */
  async markRefunded(paymentNo: string): Promise<boolean> {
    assertNonEmptyString('paymentNo', paymentNo);
    const [r] = await this.pool.query<ResultSetHeader>(
      "UPDATE gk_payments SET status = 'REFUNDED', updated_at = ? WHERE payment_no = ? AND status = 'REFUNDING'",
      [this.clock.now(), paymentNo],
    );
    return r.affectedRows === 1;
  }
}

/** `UPDATE gk_payments SET <set>, updated_at = ? WHERE payment_no = ? AND status IN (from)`; `from` never contains the target. */
function guardedPaymentUpdate(conn: PoolConnection, set: string, args: unknown[], paymentNo: string, from: readonly string[]) {
  return conn.query<ResultSetHeader>(`UPDATE gk_payments SET ${set}, updated_at = ? WHERE payment_no = ? AND status IN (?)`, [...args, paymentNo, from]);
}

function isDuplicateTrade(e: unknown): boolean {
  return (e as { code?: string })?.code === 'ER_DUP_ENTRY';
}
