import { assertInteger, assertNonEmptyString } from '@gopherkit/primitives/errors';
import { hashTag, loadScript, type RedisClient, type RedisKeyOptions } from '@gopherkit/primitives/redis';
import { CouponLimitReachedError, CouponNotInitialisedError, CouponSoldOutError } from './errors.js';

/** Options of {@link CouponIssuer}. */
export interface CouponIssuerOptions extends RedisKeyOptions {
  /**
   * Loads how many coupons a template still has when its Redis stock is missing (first sale,
   * eviction, restart): typically `total_count - issued_count` from MySQL. The value is written
   * with SET NX, so concurrent first callers (even in other processes) cannot overwrite each
   * other's decrements, and the issue is then retried. Within one process, concurrent callers
   * share one loader call. Without it a missing stock is a {@link CouponNotInitialisedError}.
   */
  initialStock?: (templateId: string) => Promise<number>;
}

/** A coupon handed out. */
export interface IssuedCoupon {
  readonly templateId: string;
  readonly userId: string;
  /** This user's n-th coupon of the template (1..perUserLimit): the unique key of the DB row. */
  readonly userSeq: number;
  /** Coupons of the template left after this one. */
  readonly remaining: number;
  /** `<templateId>:<userId>:<userSeq>`: stable, so a retried DB insert is idempotent. */
  readonly couponNo: string;
}

const issueScript = loadScript<[number, number, number]>(new URL('./issue.lua', import.meta.url), 2, 'coupon-issue');

/**
 * Flash-sale coupon issuing in Redis: one Lua script checks the per-user limit, then the stock,
 * then decrements, so coupons are never over-issued and no user exceeds the limit however many
 * times they click. Keys per template share a hash tag (`{templateId}`).
 */
export class CouponIssuer {
  private readonly prefix: string;
  /** In-flight initialisations per template: concurrent first callers share one loader call. */
  private readonly loading = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: CouponIssuerOptions = {},
  ) {
    this.prefix = options.prefix ?? 'gk:';
  }

  private keys(templateId: string): [string, string] {
    const base = `${this.prefix}coupon:${hashTag(templateId)}:`;
    return [`${base}stock`, `${base}users`];
  }

  /** Sets a template's stock if it has none; false (nothing changed) when it already exists. */
  async init(templateId: string, stock: number): Promise<boolean> {
    assertNonEmptyString('templateId', templateId);
    assertInteger('stock', stock);
    return (await this.redis.set(this.keys(templateId)[0], stock, 'NX')) === 'OK';
  }

  /** Coupons left in Redis, or null when the template is not initialised. */
  async remaining(templateId: string): Promise<number | null> {
    assertNonEmptyString('templateId', templateId);
    const v = await this.redis.get(this.keys(templateId)[0]);
    return v === null ? null : Number(v);
  }

  /** How many coupons of the template `userId` holds. */
  async issuedTo(templateId: string, userId: string): Promise<number> {
    return Number((await this.redis.hget(this.keys(templateId)[1], userId)) ?? 0);
  }

  private initialise(templateId: string, load: (templateId: string) => Promise<number>): Promise<void> {
    let p = this.loading.get(templateId);
    if (!p) {
      p = (async () => {
        const stock = assertInteger('initialStock() result', await load(templateId));
        await this.init(templateId, stock);
      })().finally(() => this.loading.delete(templateId));
      this.loading.set(templateId, p);
    }
    return p;
  }

  /**
   * Issues one coupon of `templateId` to `userId`, at most `perUserLimit` per user.
   * @throws CouponSoldOutError; CouponLimitReachedError; CouponNotInitialisedError (no stock, no loader).
   */
  async issueCoupon(templateId: string, userId: string, perUserLimit: number): Promise<IssuedCoupon> {
    assertNonEmptyString('templateId', templateId);
    assertNonEmptyString('userId', userId);
    assertInteger('perUserLimit', perUserLimit, 1);
    const keys = this.keys(templateId);
    for (let attempt = 0; ; attempt++) {
      const [status, remaining, seq] = await issueScript.run(this.redis, keys, [userId, perUserLimit]);
      if (status === 1) return { templateId, userId, userSeq: seq, remaining, couponNo: `${templateId}:${userId}:${seq}` };
      if (status === -2) throw new CouponSoldOutError(templateId);
      if (status === -3) throw new CouponLimitReachedError(templateId, userId, perUserLimit);
      // -1: not initialised. Load, SET NX (a concurrent initialiser may win: fine), run again.
      if (!this.options.initialStock || attempt > 0) throw new CouponNotInitialisedError(templateId);
      await this.initialise(templateId, this.options.initialStock);
    }
  }
}
