import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { createTestDatabase } from '@gopherkit/testkit';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConcurrentTransitionError,
  canTransition,
  IllegalTransitionError,
  ORDER_STATUSES,
  OrderStateMachine,
  type OrderStatus,
} from './order-state-machine.js';

const db = await createTestDatabase();
afterAll(() => db?.drop());

describe('order transition table', () => {
  it('terminal states have no exits; a refund can start from PAID, SHIPPED and COMPLETED (the seed diagram misses two)', () => {
    for (const t of ['CANCELLED', 'REFUNDED', 'REVIEWED'] as const) for (const s of ORDER_STATUSES) expect(canTransition(t, s)).toBe(false);
    for (const s of ['PAID', 'SHIPPED', 'COMPLETED'] as const) expect(canTransition(s, 'REFUNDING')).toBe(true);
    for (const s of ORDER_STATUSES) expect(canTransition(s, s)).toBe(false);
  });
});

describe.skipIf(!db)('OrderStateMachine (MySQL)', () => {
  const pool = db?.pool as NonNullable<typeof db>['pool'];
  const sm = new OrderStateMachine();
  const newOrder = async (status: OrderStatus = 'PENDING') => {
    const id = randomUUID();
    await pool.query('INSERT INTO gk_orders (id, user_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, ?, 0, 0)', [id, 'u', status]);
    return id;
  };
  const status = async (id: string) => {
    const [r] = await pool.query<RowDataPacket[]>('SELECT status FROM gk_orders WHERE id = ?', [id]);
    return r[0]?.status as OrderStatus;
  };
  const logs = async (id: string) => {
    const [r] = await pool.query<RowDataPacket[]>('SELECT from_status, to_status, reason FROM gk_order_status_log WHERE order_id = ? ORDER BY id', [id]);
    return r.map((x) => `${x.from_status}->${x.to_status}`);
  };

  it('a legal transition changes the row and writes one log row in the same transaction; a rollback undoes both', async () => {
    const id = await newOrder();
    const conn = await pool.getConnection();
    await conn.beginTransaction();
    expect(await sm.transition(conn, id, ['PENDING', 'PAYING'], 'PAID', 'callback')).toEqual({ orderId: id, from: 'PENDING', to: 'PAID' });
    await conn.rollback();
    expect(await status(id)).toBe('PENDING');
    expect(await logs(id)).toEqual([]);
    await conn.beginTransaction();
    await sm.transition(conn, id, ['PENDING'], 'PAID', 'callback');
    await conn.commit();
    conn.release();
    expect(await status(id)).toBe('PAID');
    expect(await logs(id)).toEqual(['PENDING->PAID']);
  });

  it('undeclared transitions are refused before any SQL; so are orders outside `from`', async () => {
    const id = await newOrder('CANCELLED');
    await expect(sm.transition(pool, id, ['CANCELLED'], 'PAID', 'late')).rejects.toThrow(IllegalTransitionError);
    const e = await sm.transition(pool, id, ['PENDING', 'PAYING'], 'PAID', 'late payment').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IllegalTransitionError);
    expect((e as IllegalTransitionError).current).toBe('CANCELLED');
    expect(await status(id)).toBe('CANCELLED'); // not revived
    await expect(sm.transition(pool, 'missing', ['PENDING'], 'PAID', 'x')).rejects.toThrow(/does not exist/);
    await expect(sm.transition(pool, id, [], 'PAID', 'x')).rejects.toThrow(InvalidArgumentError);
    await expect(sm.transition(pool, id, ['PENDING'], 'SHIPPING' as OrderStatus, 'x')).rejects.toThrow(/to must be one of/);
  });

  it("mysql2's FOUND_ROWS default: an UPDATE to the state a row already has reports affectedRows=1, which is why the guard excludes the target", async () => {
    const id = await newOrder('PAID');
    const [r] = await pool.query<ResultSetHeader>("UPDATE gk_orders SET status = 'PAID' WHERE id = ?", [id]);
    expect(r.affectedRows).toBe(1); // matched, not changed: a naive guard would call this a successful payment
    expect(r.changedRows).toBe(0);
    await expect(sm.transition(pool, id, ['PENDING', 'PAYING'], 'PAID', 'dup')).rejects.toThrow(IllegalTransitionError);
  });

  it('8 concurrent transactions race PENDING→PAID and PENDING→CANCELLED: exactly one wins, the rest get typed errors, one log row', async () => {
    const id = await newOrder();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, async (_, i) => {
        const conn = await pool.getConnection();
        try {
          await conn.beginTransaction();
          const r = await sm.transition(conn, id, ['PENDING'], i % 2 ? 'PAID' : 'CANCELLED', `racer ${i}`);
          await conn.commit();
          return r;
        } catch (e) {
          await conn.rollback();
          throw e;
        } finally {
          conn.release();
        }
      }),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason instanceof ConcurrentTransitionError || r.reason instanceof IllegalTransitionError).toBe(true);
    expect(await logs(id)).toHaveLength(1);
    expect(await status(id)).toBe((won[0] as PromiseFulfilledResult<{ to: OrderStatus }>).value.to);
  });

  it('a lost race between read and guarded UPDATE is a ConcurrentTransitionError naming the winner state', async () => {
    const id = await newOrder();
    const loser = await pool.getConnection();
    await loser.beginTransaction();
    await loser.query('SELECT status FROM gk_orders WHERE id = ?', [id]); // snapshot says PENDING
    await sm.transition(pool, id, ['PENDING'], 'CANCELLED', 'timeout'); // autocommit winner
    const e = await sm.transition(loser, id, ['PENDING', 'PAYING'], 'PAID', 'callback').catch((x: unknown) => x);
    await loser.rollback();
    loser.release();
    expect(e).toBeInstanceOf(ConcurrentTransitionError);
    expect((e as ConcurrentTransitionError).current).toBe('CANCELLED');
  });

  it('a race that leaves the order in `from` is followed, not lost: a timeout-cancel of PENDING|PAYING still cancels after PENDING → PAYING', async () => {
    const id = await newOrder();
    const cancel = await pool.getConnection();
    await cancel.beginTransaction();
    await cancel.query('SELECT status FROM gk_orders WHERE id = ?', [id]); // snapshot says PENDING
    await sm.transition(pool, id, ['PENDING'], 'PAYING', 'user opened the cashier'); // commits meanwhile
    const r = await sm.transition(cancel, id, ['PENDING', 'PAYING'], 'CANCELLED', 'payment timeout');
    await cancel.commit();
    cancel.release();
    expect(r).toEqual({ orderId: id, from: 'PAYING', to: 'CANCELLED' });
    expect(await status(id)).toBe('CANCELLED');
    expect(await logs(id)).toEqual(['PENDING->PAYING', 'PAYING->CANCELLED']);
  });

  it('a failed refund returns to the state it started from (SHIPPED here, COMPLETED there), logged both ways', async () => {
    for (const start of ['SHIPPED', 'COMPLETED'] as const) {
      const id = await newOrder(start);
      await sm.transition(pool, id, [start], 'REFUNDING', 'user asked');
      expect(await sm.failRefund(pool, id, 'provider refused')).toEqual({ orderId: id, from: 'REFUNDING', to: start });
      expect(await status(id)).toBe(start);
      expect(await logs(id)).toEqual([`${start}->REFUNDING`, `REFUNDING->${start}`]);
      await expect(sm.failRefund(pool, id, 'again')).rejects.toThrow(IllegalTransitionError);
    }
  });

  it('failRefund is guarded too: a refund that completed between its read and its UPDATE is not undone', async () => {
    const id = await newOrder('PAID');
    await sm.transition(pool, id, ['PAID'], 'REFUNDING', 'user asked');
    const loser = await pool.getConnection();
    try {
      await loser.beginTransaction();
      await loser.query('SELECT status FROM gk_orders WHERE id = ?', [id]); // snapshot says REFUNDING
      await sm.transition(pool, id, ['REFUNDING'], 'REFUNDED', 'provider confirmed'); // autocommit winner
      const e = await sm.failRefund(loser, id, 'provider refused (late)').catch((x: unknown) => x);
      await loser.rollback();
      expect(e).toBeInstanceOf(ConcurrentTransitionError);
      expect((e as ConcurrentTransitionError).current).toBe('REFUNDED');
    } finally {
      loser.release();
    }
    expect(await status(id)).toBe('REFUNDED');
    expect(await logs(id)).toEqual(['PAID->REFUNDING', 'REFUNDING->REFUNDED']);
  });

  it('cancelUnpaid (the order-timeout cancel): cancels once, closes the open payment, reports repeats and paid orders', async () => {
    const cancel = sm.cancelUnpaid(pool);
    const id = await newOrder('PAYING');
    await pool.query("INSERT INTO gk_payments (payment_no, order_id, amount_cents, status, created_at, updated_at) VALUES (?, ?, 1999, 'PAYING', 0, 0)", [
      `p-${id}`,
      id,
    ]);
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => cancel(id)));
    expect(outcomes.filter((o) => o === 'cancelled')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'already-cancelled')).toHaveLength(3);
    const [p] = await pool.query<RowDataPacket[]>('SELECT status FROM gk_payments WHERE order_id = ?', [id]);
    expect(p[0]?.status).toBe('CLOSED');
    const paid = await newOrder('PAID');
    expect(await cancel(paid)).toBe('not-pending');
    expect(await status(paid)).toBe('PAID');
  });
});
