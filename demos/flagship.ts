/**
 * The demos `npm run demo` runs with no arguments: the main job on the embedded Redis (MySQL rows
 * of `oversell` run when MySQL answers). One per primitive family that needs only Redis or
 * nothing, then one per pattern.
 */
export const flagship: readonly string[] = [
  'context-tree',
  'channel-rules',
  'errgroup-vs-promise-all',
  'singleflight',
  'mutex-across-await',
  'snowflake',
  'consistent-hash',
  'token-bucket',
  'circuit-breaker',
  'fencing-token',
  'cache-breakdown',
  'message-ordering',
  'coupon-flash-sale',
  'oversell',
];
