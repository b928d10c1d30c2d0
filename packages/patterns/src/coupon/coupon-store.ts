import { assertInteger, assertNonEmptyString } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { IssuedCoupon } from './coupon-issuer.js';
import { CouponSoldOutError } from './errors.js';

/** A coupon template (migration `011_coupon.sql`). Money in integer cents. */
export interface CouponTemplate {
  readonly id: string;
  readonly discountCents: number;
  readonly totalCount: number;
  readonly perUserLimit: number;
}

/** State of a user's coupon. */
export type CouponStatus = 'UNUSED' | 'LOCKED' | 'USED';

/**
 * Coupon rows in MySQL and their state machine: UNUSED → LOCKED(orderId) → USED, and
 * LOCKED → UNUSED only by the order that locked it. Every transition is one guarded UPDATE
 * (`WHERE status = … AND order_id = …`) and returns whether it applied, so a cancel racing a
 * payment can never unlock a coupon that is already used (the seed updates by id only).
 */
export class CouponStore {
  constructor(readonly pool: Pool) {}

  /** Creates a template; false when the id exists. */
  async createTemplate(t: CouponTemplate): Promise<boolean> {
    assertNonEmptyString('id', t.id);
    assertInteger('discountCents', t.discountCents);
    assertInteger('totalCount', t.totalCount);
    assertInteger('perUserLimit', t.perUserLimit, 1);
    const [r] = await this.pool.query<ResultSetHeader>(
      'INSERT IGNORE INTO coupon_templates (id, discount_cents, total_count, per_user_limit) VALUES (?, ?, ?, ?)',
      [t.id, t.discountCents, t.totalCount, t.perUserLimit],
    );
    return r.affectedRows === 1;
  }

  /** Coupons of the template not yet issued according to MySQL: an `initialStock` loader for {@link CouponIssuer}. */
  async remaining(templateId: string): Promise<number> {
    const [rows] = await this.pool.query<RowDataPacket[]>('SELECT total_count - issued_count AS n FROM coupon_templates WHERE id = ?', [templateId]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Records a coupon issued by {@link CouponIssuer} and bumps `issued_count` in the same
   * transaction (never asynchronously). Idempotent: a retry with the same coupon returns false.
   * The unique key (template, user, userSeq) keeps the per-user limit even if Redis was bypassed.
   * @throws CouponSoldOutError when MySQL's count is already at the total.
   */
  async recordIssued(coupon: IssuedCoupon, conn?: PoolConnection): Promise<boolean> {
    const c = conn ?? (await this.pool.getConnection());
    try {
      if (!conn) await c.beginTransaction();
      try {
        const [ins] = await c.query<ResultSetHeader>('INSERT IGNORE INTO user_coupons (coupon_no, template_id, user_id, user_seq) VALUES (?, ?, ?, ?)', [
          coupon.couponNo,
          coupon.templateId,
          coupon.userId,
          coupon.userSeq,
        ]);
        if (ins.affectedRows === 0) {
          if (!conn) await c.commit();
          return false;
        }
        const [up] = await c.query<ResultSetHeader>('UPDATE coupon_templates SET issued_count = issued_count + 1 WHERE id = ? AND issued_count < total_count', [
          coupon.templateId,
        ]);
        if (up.affectedRows !== 1) throw new CouponSoldOutError(coupon.templateId);
        if (!conn) await c.commit();
        return true;
      } catch (e) {
        if (!conn) await c.rollback().catch(() => {});
        throw e;
      }
    } finally {
      if (!conn) c.release();
    }
  }

  /** UNUSED → LOCKED for `orderId`. False when the coupon is not unused (locked by another order, used). */
  lock(couponNo: string, orderId: string): Promise<boolean> {
    return this.transition(couponNo, orderId, "status = 'LOCKED', order_id = ?", "status = 'UNUSED'", [orderId]);
  }

  /** LOCKED(orderId) → USED. False unless this very order holds the lock. */
  use(couponNo: string, orderId: string): Promise<boolean> {
    return this.transition(couponNo, orderId, "status = 'USED', used_at = CURRENT_TIMESTAMP(3)", "status = 'LOCKED' AND order_id = ?", [orderId]);
  }

  /** LOCKED(orderId) → UNUSED (the order was cancelled). False when used, or locked by another order. */
  unlock(couponNo: string, orderId: string): Promise<boolean> {
    return this.transition(couponNo, orderId, "status = 'UNUSED', order_id = NULL", "status = 'LOCKED' AND order_id = ?", [orderId]);
  }

  /** The coupon's status and order, or null. */
  async get(couponNo: string): Promise<{ status: CouponStatus; orderId: string | null } | null> {
    const [rows] = await this.pool.query<RowDataPacket[]>('SELECT status, order_id FROM user_coupons WHERE coupon_no = ?', [couponNo]);
    const r = rows[0];
    return r ? { status: r.status as CouponStatus, orderId: (r.order_id as string | null) ?? null } : null;
  }

  private async transition(couponNo: string, orderId: string, set: string, where: string, whereArgs: string[]): Promise<boolean> {
    assertNonEmptyString('couponNo', couponNo);
    assertNonEmptyString('orderId', orderId);
    const setArgs = set.includes('?') ? [orderId] : [];
    const [r] = await this.pool.query<ResultSetHeader>(`UPDATE user_coupons SET ${set} WHERE coupon_no = ? AND ${where}`, [
      ...setArgs,
      couponNo,
      ...(where.includes('?') ? whereArgs : []),
    ]);
    return r.affectedRows === 1;
  }
}
