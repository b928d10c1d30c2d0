import { assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { RedisStock } from './redis-stock.js';

/** What the guarded cancel found. */
export type CancelOutcome =
  /** This call moved the order PENDING → CANCELLED. */
  | 'cancelled'
  /** Someone (an earlier delivery, the user) had already cancelled it. */
  | 'already-cancelled'
  /** The order is no longer pending (paid, shipped…) or does not exist: leave it alone. */
  | 'not-pending';

/** Options of {@link orderTimeoutHandler}. */
export interface OrderTimeoutOptions {
  /** Reservations to release when an order is cancelled. */
  stock: RedisStock;
  /**
   * The guarded cancel. Default: `UPDATE stock_orders SET status = 'CANCELLED' … WHERE id = ? AND
   * status = 'PENDING'` on `pool`. The order state machine of `@gopherkit/patterns/idempotency`
   * plugs in here; whatever it is, it must change the row only from the pending state.
   */
  cancel?: (orderId: string) => Promise<CancelOutcome>;
  /** Pool for the default `cancel` (table `stock_orders`, migration 010). */
  pool?: Pool;
}

/** Result of one timeout delivery. */
export interface OrderTimeoutResult {
  readonly outcome: CancelOutcome;
  /** True when this delivery returned the order's locked stock. */
  readonly released: boolean;
}

/**
 * The default guarded cancel on `stock_orders`: only a PENDING row changes, so a payment that
 * committed first wins and a redelivered timeout changes nothing.
 */
export function cancelPendingOrder(pool: Pool): (orderId: string) => Promise<CancelOutcome> {
  return async (orderId) => {
    const [r] = await pool.query<ResultSetHeader>(
      "UPDATE stock_orders SET status = 'CANCELLED', cancel_count = cancel_count + 1 WHERE id = ? AND status = 'PENDING'",
      [orderId],
    );
    if (r.affectedRows === 1) return 'cancelled';
    const [rows] = await pool.query<RowDataPacket[]>('SELECT status FROM stock_orders WHERE id = ?', [orderId]);
    return rows[0]?.status === 'CANCELLED' ? 'already-cancelled' : 'not-pending';
  };
}

/**
 * Builds the handler for order-timeout items of a `DelayQueue` (`@gopherkit/patterns/delayqueue`):
 * cancel the order with a guarded update, and release its reserved stock only when that update
 * changed the row — a paid order keeps its stock. On a redelivery (`attempt > 1`) of an order
 * that is already cancelled it releases too, because the earlier delivery may have crashed
 * between its commit and its release; release is idempotent, so this never returns stock twice.
 * If every delivery is lost, {@link ReservationSweeper} releases the stock at the reservation
 * deadline (timeout + grace).
 */
export function orderTimeoutHandler(options: OrderTimeoutOptions): (job: { id: string; attempt: number }) => Promise<OrderTimeoutResult> {
  const cancel =
    options.cancel ??
    (options.pool
      ? cancelPendingOrder(options.pool)
      : (() => {
          throw new InvalidArgumentError('options', 'an object with `cancel` or `pool`', options);
        })());
  return async (job) => {
    assertNonEmptyString('job.id', job.id);
    const outcome = await cancel(job.id);
    const release = outcome === 'cancelled' || (outcome === 'already-cancelled' && job.attempt > 1);
    const released = release ? (await options.stock.release(job.id)).applied : false;
    return { outcome, released };
  };
}
