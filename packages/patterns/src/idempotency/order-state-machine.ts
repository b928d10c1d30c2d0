import { type Clock, systemClock } from '@gopherkit/primitives/clock';
import { assertNonEmptyString, GopherkitError, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/**
 * Order states: the seed's second, 9-state model (seed L8521–8644) with its gaps closed
 * (Paid→Refunding and Completed→Refunding are in the table, a refund remembers where it started).
 */
export type OrderStatus = 'PENDING' | 'PAYING' | 'PAID' | 'SHIPPED' | 'COMPLETED' | 'CANCELLED' | 'REFUNDING' | 'REFUNDED' | 'REVIEWED';

/** Every order state, in lifecycle order. */
export const ORDER_STATUSES: readonly OrderStatus[] = Object.freeze([
  'PENDING',
  'PAYING',
  'PAID',
  'SHIPPED',
  'COMPLETED',
  'CANCELLED',
  'REFUNDING',
  'REFUNDED',
  'REVIEWED',
]);

/**
 * The declared transitions. `PENDING → PAID` is allowed because a provider callback may arrive
 * before the client reported "paying". `REFUNDING` goes back to the state stored in
 * `refund_from` when the refund fails ({@link OrderStateMachine.failRefund}), not to a
 * hard-coded state as in the seed. CANCELLED, REFUNDED and REVIEWED are terminal.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = Object.freeze({
  PENDING: ['PAYING', 'PAID', 'CANCELLED'],
  PAYING: ['PAID', 'CANCELLED'],
  PAID: ['SHIPPED', 'REFUNDING'],
  SHIPPED: ['COMPLETED', 'REFUNDING'],
  COMPLETED: ['REVIEWED', 'REFUNDING'],
  REFUNDING: ['REFUNDED'],
  CANCELLED: [],
  REFUNDED: [],
  REVIEWED: [],
});

/** True when the table declares `from → to`. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from]?.includes(to) ?? false;
}

/**
 * The transition is not allowed: either the table does not declare it (a programming error,
 * thrown before any SQL), or the order is in a state outside `from` (it moved on long ago:
 * e.g. a late payment for a cancelled order). `current` is the state found (null: no order).
 */
export class IllegalTransitionError extends GopherkitError {
  constructor(
    readonly orderId: string,
    readonly current: OrderStatus | null,
    readonly to: OrderStatus,
    readonly allowedFrom: readonly OrderStatus[],
  ) {
    super(
      'ERR_ORDER_ILLEGAL_TRANSITION',
      current === null
        ? `order ${orderId} does not exist (wanted → ${to})`
        : `order ${orderId} is ${current}; → ${to} is only allowed from ${allowedFrom.join('|') || 'no state'}`,
    );
  }
}

/**
 * The order was in an allowed state when read, but another transaction changed it before this
 * guarded UPDATE ran (0 rows changed): the race was lost, nothing was written. `current` is the
 * state the winner left (read with a locking read).
 */
export class ConcurrentTransitionError extends GopherkitError {
  constructor(
    readonly orderId: string,
    readonly expected: OrderStatus,
    readonly current: OrderStatus | null,
    readonly to: OrderStatus,
  ) {
    super(
      'ERR_ORDER_CONCURRENT_TRANSITION',
      `order ${orderId} changed from ${expected} to ${current ?? '(deleted)'} while moving it to ${to}; re-read and decide again`,
    );
  }
}

/** What {@link OrderStateMachine.transition} changed. */
export interface TransitionResult {
  readonly orderId: string;
  readonly from: OrderStatus;
  readonly to: OrderStatus;
}

/** Options of {@link OrderStateMachine}. */
export interface OrderStateMachineOptions {
  /** Time source for `updated_at` and the log rows (default `systemClock`). */
  clock?: Clock;
}

interface OrderRow extends RowDataPacket {
  status: OrderStatus;
  refund_from: OrderStatus | null;
}

/**
 * The order state machine on `gk_orders` / `gk_order_status_log` (migration 020), enforced by
 * conditional UPDATEs instead of the seed's `SELECT … FOR UPDATE` + version check (seed L7054–7098).
 *
 * Every method takes the caller's connection (inside its transaction), so the status change, its
 * log row and the caller's other writes (payment row, outbox row) commit together.
 */
/** How often `transition` follows an order that keeps moving between states in `from`. */
const MAX_RETRIES = 3;

export class OrderStateMachine {
  private readonly clock: Clock;

  constructor(options: OrderStateMachineOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Moves `orderId` from one of `from` to `to` with `UPDATE … WHERE id = ? AND status = <seen>`,
   * requires exactly one changed row and writes the status-log row on the same connection. When
   * the order moved between the read and the UPDATE to another state in `from`, it tries again
   * from that state (the outcome of `status IN (from)`, with an exact `from` in the log). Pass
   * a connection inside a transaction: with a bare `Pool` the update and its log row are two
   * separate autocommit statements (fine for scripts and tests, not for production paths).
   *
   * The guard never matches the target state: mysql2 connects with `FOUND_ROWS`, so
   * `affectedRows` counts *matched* rows, and an UPDATE whose guard let an order that is already
   * `to` through would report 1 changed row for a no-op.
   *
   * @throws InvalidArgumentError for an unknown state or an empty `from`;
   *   IllegalTransitionError when the table forbids a `from → to`, or the order is not in `from`;
   *   ConcurrentTransitionError when it was in `from` but another transaction moved it out of `from` first.
   */
  async transition(conn: PoolConnection | Pool, orderId: string, from: readonly OrderStatus[], to: OrderStatus, reason: string): Promise<TransitionResult> {
    assertNonEmptyString('orderId', orderId);
    assertNonEmptyString('reason', reason);
    checkStatus('to', to);
    if (!Array.isArray(from) || from.length === 0) throw new InvalidArgumentError('from', 'a non-empty array of order states', from);
    for (const f of from) {
      checkStatus('from', f);
      if (!canTransition(f, to)) throw new IllegalTransitionError(orderId, f, to, allowedFrom(to));
    }
    const [rows] = await conn.query<OrderRow[]>('SELECT status, refund_from FROM gk_orders WHERE id = ?', [orderId]);
    let seen = rows[0]?.status ?? null;
    if (seen === null || !from.includes(seen)) throw new IllegalTransitionError(orderId, seen, to, from);
    for (let retry = 0; ; retry++) {
      const now = this.clock.now();
      // refund_from remembers where a refund started, so a failed refund can return exactly there
      const [r] = await conn.query<ResultSetHeader>(
        `UPDATE gk_orders SET status = ?, refund_from = ?, version = version + 1, updated_at = ?
         WHERE id = ? AND status = ? AND status <> ?`,
        [to, to === 'REFUNDING' ? seen : null, now, orderId, seen, to],
      );
      if (r.affectedRows === 1) {
        await this.log(conn, orderId, seen, to, reason, now);
        return { orderId, from: seen, to };
      }
      // Moved since our read. Still in `from` (PENDING → PAYING under a timeout-cancel of
      // PENDING|PAYING): the transition is as legal as before, so go again from there — the guard
      // names one state so the log row records exactly where the order came from.
      const current = await currentStatus(conn, orderId);
      if (current === null || !from.includes(current) || current === to || retry >= MAX_RETRIES) {
        throw new ConcurrentTransitionError(orderId, seen, current, to);
      }
      seen = current;
    }
  }

  /**
   * A refund failed at the provider: `REFUNDING →` the state the refund started from (PAID,
   * SHIPPED or COMPLETED), with a log row.
   * @throws IllegalTransitionError when the order is not REFUNDING; ConcurrentTransitionError on a lost race.
   */
  async failRefund(conn: PoolConnection | Pool, orderId: string, reason: string): Promise<TransitionResult> {
    assertNonEmptyString('orderId', orderId);
    assertNonEmptyString('reason', reason);
    const [rows] = await conn.query<OrderRow[]>('SELECT status, refund_from FROM gk_orders WHERE id = ?', [orderId]);
    const row = rows[0];
    if (row?.status !== 'REFUNDING' || !row.refund_from)
      throw new IllegalTransitionError(orderId, row?.status ?? null, row?.refund_from ?? 'PAID', ['REFUNDING']);
    const back = row.refund_from;
    const now = this.clock.now();
    const [r] = await conn.query<ResultSetHeader>(
      "UPDATE gk_orders SET status = ?, refund_from = NULL, version = version + 1, updated_at = ? WHERE id = ? AND status = 'REFUNDING'",
      [back, now, orderId],
    );
    if (r.affectedRows !== 1) throw new ConcurrentTransitionError(orderId, 'REFUNDING', await currentStatus(conn, orderId), back);
    await this.log(conn, orderId, 'REFUNDING', back, reason, now);
    return { orderId, from: 'REFUNDING', to: back };
  }

  /**
   * The order-timeout cancel for `orderTimeoutHandler({ cancel })` of `@gopherkit/patterns/stock`:
   * in one transaction, `PENDING|PAYING → CANCELLED` and the order's open payments `PAYING →
   * CLOSED`, so a payment callback that loses the race finds a closed payment and refunds it.
   * Locks the order row before the payment rows, the same order the callback handler uses, so the
   * two never deadlock.
   */
  cancelUnpaid(pool: Pool, reason = 'payment timeout'): (orderId: string) => Promise<'cancelled' | 'already-cancelled' | 'not-pending'> {
    return async (orderId) => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        try {
          await this.transition(conn, orderId, ['PENDING', 'PAYING'], 'CANCELLED', reason);
        } catch (e) {
          await conn.rollback();
          if (e instanceof IllegalTransitionError || e instanceof ConcurrentTransitionError) {
            return e.current === 'CANCELLED' ? 'already-cancelled' : 'not-pending';
          }
          throw e;
        }
        await conn.query("UPDATE gk_payments SET status = 'CLOSED', updated_at = ? WHERE order_id = ? AND status = 'PAYING'", [this.clock.now(), orderId]);
        await conn.commit();
        return 'cancelled';
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      } finally {
        conn.release();
      }
    };
  }

  private async log(conn: PoolConnection | Pool, orderId: string, from: OrderStatus, to: OrderStatus, reason: string, now: number): Promise<void> {
    await conn.query('INSERT INTO gk_order_status_log (order_id, from_status, to_status, reason, created_at) VALUES (?, ?, ?, ?, ?)', [
      orderId,
      from,
      to,
      reason.slice(0, 255),
      now,
    ]);
  }
}

function checkStatus(name: string, s: unknown): asserts s is OrderStatus {
  if (!ORDER_STATUSES.includes(s as OrderStatus)) throw new InvalidArgumentError(name, `one of ${ORDER_STATUSES.join(', ')}`, s);
}

function allowedFrom(to: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((s) => canTransition(s, to));
}

/** A locking read: inside a transaction a plain SELECT would still show the snapshot. */
async function currentStatus(conn: PoolConnection | Pool, orderId: string): Promise<OrderStatus | null> {
  const [rows] = await conn.query<OrderRow[]>('SELECT status FROM gk_orders WHERE id = ? LOCK IN SHARE MODE', [orderId]);
  return rows[0]?.status ?? null;
}
