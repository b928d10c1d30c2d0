import { GopherkitError } from '@gopherkit/primitives/errors';

/** Every coupon of the template has been issued. */
export class CouponSoldOutError extends GopherkitError {
  constructor(readonly templateId: string) {
    super('ERR_COUPON_SOLD_OUT', `coupon template ${JSON.stringify(templateId)} is sold out`);
  }
}

/** The user already holds `limit` coupons of the template. */
export class CouponLimitReachedError extends GopherkitError {
  constructor(
    readonly templateId: string,
    readonly userId: string,
    readonly limit: number,
  ) {
    super(
      'ERR_COUPON_LIMIT_REACHED',
      `user ${JSON.stringify(userId)} already holds ${limit} coupon(s) of template ${JSON.stringify(templateId)}, the per-user limit`,
    );
  }
}

/** The template's stock is not in Redis and no `initialStock` loader was given to create it. */
export class CouponNotInitialisedError extends GopherkitError {
  constructor(readonly templateId: string) {
    super('ERR_COUPON_NOT_INITIALISED', `coupon template ${JSON.stringify(templateId)} has no stock in Redis; call init() or pass initialStock`);
  }
}
