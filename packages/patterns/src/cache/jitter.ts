import { assertFinite } from '@gopherkit/primitives/errors';

/**
 * Spreads a TTL uniformly over `ttlMs · (1 ± ratio)` so keys written together do not expire
 * together (the cache avalanche). `ratio` 0 returns `ttlMs` unchanged; the result is an integer ≥ 1.
 * @param random - a source of [0, 1); inject a seeded one to reproduce a run.
 */
export function jitterTtl(ttlMs: number, ratio: number, random: () => number = Math.random): number {
  assertFinite('ttlMs', ttlMs, 1);
  assertFinite('ratio', ratio, 0, 0.99);
  if (ratio === 0) return Math.round(ttlMs);
  return Math.max(1, Math.round(ttlMs * (1 - ratio + 2 * ratio * random())));
}
