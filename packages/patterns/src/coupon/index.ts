/**
 * Flash-sale coupons: a Redis Lua issuer (per-user limit before the decrement, never over-issued,
 * a missing stock initialised with SET NX and retried) and the MySQL coupon state machine
 * UNUSED → LOCKED(order) → USED with guarded transitions.
 * @module
 */
export { CouponIssuer, type CouponIssuerOptions, type IssuedCoupon } from './coupon-issuer.js';
export { type CouponStatus, CouponStore, type CouponTemplate } from './coupon-store.js';
export { CouponLimitReachedError, CouponNotInitialisedError, CouponSoldOutError } from './errors.js';
