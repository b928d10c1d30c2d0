import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { jumpHash } from './index.js';

/** The paper's figure 1 on BigInt, the obvious (slow) transcription. */
function referenceJump(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}

describe('jumpHash', () => {
  it('matches golden values from the paper algorithm (testdata/make_golden.py)', () => {
    const golden = JSON.parse(readFileSync(new URL('./testdata/jump-golden.json', import.meta.url), 'utf8')) as { cases: [string, number, number][] };
    expect(golden.cases.length).toBeGreaterThan(50);
    for (const [key, buckets, want] of golden.cases) expect(jumpHash(BigInt(key), buckets)).toBe(want);
  });

  it('matches a BigInt transcription on pseudo-random 64-bit keys', () => {
    let x = 0x9e3779b97f4a7c15n;
    for (let i = 0; i < 2000; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      const buckets = 1 + (Number(x >> 40n) % 5000);
      expect(jumpHash(x, buckets)).toBe(referenceJump(x, buckets));
    }
  });

  it('balances string keys and moves only the keys of the new bucket on growth', () => {
    const keys = Array.from({ length: 50_000 }, (_, i) => `user:${i}`);
    const at10 = keys.map((k) => jumpHash(k, 10));
    const counts = new Array(10).fill(0);
    for (const b of at10) counts[b]++;
    // binomial sd of a bucket count = sqrt(50000 × 0.1 × 0.9) ≈ 67; 5 sd = 335 around 5000
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(335);
    let moved = 0;
    keys.forEach((k, i) => {
      const b = jumpHash(k, 11);
      if (b !== at10[i]) {
        moved++;
        expect(b).toBe(10);
      }
    });
    expect(moved / keys.length).toBeLessThan(1.2 / 11);
    expect(moved / keys.length).toBeGreaterThan(0.8 / 11);
  });

  it('rejects bad buckets and keys with a typed error', () => {
    expect(() => jumpHash('k', 0)).toThrow('buckets must be an integer in [1, 2147483647], got 0');
    expect(() => jumpHash('k', 1.5)).toThrow(InvalidArgumentError);
    expect(() => jumpHash(-1n, 3)).toThrow('key must be a bigint in [0, 2^64 - 1] or a string, got -1n');
    expect(() => jumpHash(2n ** 64n, 3)).toThrow(InvalidArgumentError);
    expect(() => jumpHash(42 as unknown as string, 3)).toThrow(InvalidArgumentError);
    expect(jumpHash('k', 1)).toBe(0);
  });
});
