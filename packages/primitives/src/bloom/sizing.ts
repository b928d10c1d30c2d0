import { assertFinite, assertInteger, InvalidArgumentError } from '../errors/index.js';

/** Size of a Bloom filter: `bits` (m) and `hashes` (k, bit positions per item). */
export interface BloomParameters {
  bits: number;
  hashes: number;
}

/** Largest filter this module builds: 2^37 bits (16 GiB); Redis shards it, memory needs that many bytes / 8. */
export const MAX_BLOOM_BITS = 2 ** 37;
/** More hash functions than this never pays off (k ≈ 0.7·bits-per-item; 100 would mean p ≈ 1e-30). */
export const MAX_BLOOM_HASHES = 100;

/**
 * The optimal size for `expectedItems` at `falsePositiveRate`: m = ⌈−n·ln p / (ln 2)²⌉ and
 * k = round(m/n · ln 2) (at least 1). E.g. 1e6 items at 1% → 9,585,059 bits (1.14 MiB), k = 7.
 * The rate holds only up to `expectedItems`; beyond it the filter degrades (check
 * `currentFalsePositiveRate()`).
 */
export function bloomParameters(expectedItems: number, falsePositiveRate: number): BloomParameters {
  const n = assertInteger('expectedItems', expectedItems, 1);
  const p = falsePositiveRate;
  if (typeof p !== 'number' || !(p > 0 && p < 1)) throw new InvalidArgumentError('falsePositiveRate', 'a number in (0, 1), e.g. 0.01', p);
  const bits = Math.ceil((-n * Math.log(p)) / (Math.LN2 * Math.LN2));
  const hashes = Math.max(1, Math.round((bits / n) * Math.LN2));
  return { bits: assertInteger('bits (from expectedItems, falsePositiveRate)', bits, 1, MAX_BLOOM_BITS), hashes: Math.min(hashes, MAX_BLOOM_HASHES) };
}

/**
 * The expected false-positive rate of a filter with `bits` and `hashes` after `items`
 * insertions: (1 − e^(−k·n/m))^k.
 */
export function bloomFalsePositiveRate(bits: number, hashes: number, items: number): number {
  assertInteger('bits', bits, 1, MAX_BLOOM_BITS);
  assertInteger('hashes', hashes, 1, MAX_BLOOM_HASHES);
  assertFinite('items', items, 0);
  return (1 - Math.exp((-hashes * items) / bits)) ** hashes;
}

/** Items estimated from the number of set bits X (Swamidass & Baldi): −(m/k)·ln(1 − X/m). */
export function estimateItems(bits: number, hashes: number, setBits: number): number {
  if (setBits === 0) return 0;
  if (setBits >= bits) return Number.POSITIVE_INFINITY;
  return (-bits / hashes) * Math.log(1 - setBits / bits);
}
