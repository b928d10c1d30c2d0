/**
 * `@gopherkit/patterns`: the classic backend patterns of Go interviews, built on
 * `@gopherkit/primitives`. Every pattern is also its own subpath export.
 * @module
 */
export * from './cache/index.js';
export * from './coupon/index.js';
export * from './delayqueue/index.js';
export * from './idempotency/index.js';
export * from './inbox/index.js';
export * from './keyedqueue/index.js';
export * from './migrate/index.js';
export * from './outbox/index.js';
export * from './stock/index.js';
