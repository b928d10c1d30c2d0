import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { BloomFilter, bloomFalsePositiveRate, bloomLocations, bloomParameters } from './index.js';

describe('sizing', () => {
  it('follows m = ⌈−n·ln p/(ln 2)²⌉, k = round(m/n·ln 2) (seed L3671: 1e6 at 1% → 9,585,059 bits, k = 7)', () => {
    expect(bloomParameters(1_000_000, 0.01)).toEqual({ bits: 9_585_059, hashes: 7 });
    expect(bloomParameters(10_000, 0.001)).toEqual({ bits: 143_776, hashes: 10 });
    expect(bloomParameters(1, 0.5).hashes).toBeGreaterThanOrEqual(1);
    expect(bloomFalsePositiveRate(9_585_059, 7, 1_000_000)).toBeCloseTo(0.01004, 4);
  });

  it('rejects bad sizes with messages that say what is allowed', () => {
    expect(() => bloomParameters(0, 0.01)).toThrow('expectedItems must be an integer >= 1, got 0');
    expect(() => bloomParameters(10, 0)).toThrow('falsePositiveRate must be a number in (0, 1), e.g. 0.01, got 0');
    expect(() => bloomParameters(10, 1)).toThrow(InvalidArgumentError);
    expect(() => new BloomFilter({ bits: 0, hashes: 3 })).toThrow('bits must be an integer in [1, 17179869184], got 0');
    expect(() => new BloomFilter({ bits: 100, hashes: 0 })).toThrow('hashes must be an integer in [1, 100], got 0');
    const both = { bits: 100, hashes: 3, expectedItems: 10, falsePositiveRate: 0.1 };
    expect(() => new BloomFilter(both)).toThrow(/not both or neither/);
    // @ts-expect-error neither form
    expect(() => new BloomFilter({})).toThrow(InvalidArgumentError);
  });

  it('accepts an explicit (m, k)', () => {
    const f = new BloomFilter({ bits: 1001, hashes: 3 });
    expect([f.bits, f.hashes, f.bytes.length]).toEqual([1001, 3, 126]);
  });
});

describe('bit layout', () => {
  it('bit i is the (i mod 8)-th most significant bit of byte ⌊i/8⌋, as Redis SETBIT numbers bits', () => {
    const f = new BloomFilter({ bits: 64, hashes: 2 });
    f.add('x');
    const pos = Array.from(bloomLocations('x', 64, 2, new Float64Array(2)));
    const expected = new Uint8Array(8);
    for (const p of pos) expected[p >> 3]! |= 0x80 >> (p & 7);
    expect(f.bytes).toEqual(expected);
  });

  it('locations are Kirsch–Mitzenmacher steps (a + i·b) mod m, all in range', () => {
    const pos = bloomLocations('some key', 1_000_003, 8, new Float64Array(8));
    const step = (pos[1]! - pos[0]! + 1_000_003) % 1_000_003;
    for (let i = 1; i < 8; i++) expect(pos[i]).toBe((pos[i - 1]! + step) % 1_000_003);
    for (const p of pos) expect(Number.isInteger(p) && p >= 0 && p < 1_000_003).toBe(true);
    // a huge m (beyond 2^32) still yields exact integer positions
    for (const p of bloomLocations('k', 2 ** 36 + 7, 5, new Float64Array(5))) expect(Number.isInteger(p) && p < 2 ** 36 + 7).toBe(true);
  });
});

describe('BloomFilter', () => {
  it('add/has/addAll: never a false negative, estimatedCount close to the truth', () => {
    const f = new BloomFilter({ expectedItems: 5000, falsePositiveRate: 0.01 });
    expect(f.has('a')).toBe(false);
    expect(f.add('a')).toBe(true);
    expect(f.add('a')).toBe(false); // already present
    expect(f.has('a')).toBe(true);
    const keys = Array.from({ length: 4999 }, (_, i) => `k${i}`);
    expect(f.addAll(keys)).toBeGreaterThan(4900);
    for (const k of keys) expect(f.has(k)).toBe(true);
    expect(Math.abs(f.estimatedCount() - 5000)).toBeLessThan(100);
    expect(f.currentFalsePositiveRate()).toBeGreaterThan(0.005);
    expect(f.currentFalsePositiveRate()).toBeLessThan(0.015);
    expect(f.has(new TextEncoder().encode('a'))).toBe(true); // bytes and their UTF-8 string are the same key
    f.clear();
    expect([f.has('a'), f.bitsSet, f.estimatedCount()]).toEqual([false, 0, 0]);
  });

  it('the false-positive rate climbs past expectedItems (why to watch currentFalsePositiveRate)', () => {
    const f = new BloomFilter({ expectedItems: 1000, falsePositiveRate: 0.01 });
    for (let i = 0; i < 3000; i++) f.add(`over${i}`);
    expect(f.currentFalsePositiveRate()).toBeGreaterThan(0.2);
  });

  it('serialize/deserialize round-trips bit for bit and rejects foreign input', () => {
    const f = new BloomFilter({ bits: 12_345, hashes: 4 });
    for (let i = 0; i < 500; i++) f.add(`s${i}`);
    const bytes = f.serialize();
    const g = BloomFilter.deserialize(bytes);
    expect([g.bits, g.hashes, g.bitsSet]).toEqual([12_345, 4, f.bitsSet]);
    expect(g.bytes).toEqual(f.bytes);
    for (let i = 0; i < 500; i++) expect(g.has(`s${i}`)).toBe(true);
    expect(() => BloomFilter.deserialize(new Uint8Array(3))).toThrow(InvalidArgumentError);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => BloomFilter.deserialize(bad)).toThrow(/starting with "GKBF"/);
    expect(() => BloomFilter.deserialize(bytes.subarray(0, bytes.length - 1))).toThrow('1544 bitmap bytes after the header for m=12345');
    const v2 = bytes.slice();
    v2[4] = 2;
    expect(() => BloomFilter.deserialize(v2)).toThrow('bytes must be format version 1, got "version 2"');
  });

  it('fromBytes zero-pads a short bitmap (Redis trims trailing zero bytes) and clears bits past m', () => {
    const f = BloomFilter.fromBytes({ bits: 20, hashes: 1 }, new Uint8Array([0xff, 0xff, 0xff]));
    expect(f.bitsSet).toBe(20); // the last 4 bits of byte 2 are past m = 20
    expect(BloomFilter.fromBytes({ bits: 64, hashes: 1 }, new Uint8Array([1])).bitsSet).toBe(1);
    expect(() => BloomFilter.fromBytes({ bits: 8, hashes: 1 }, new Uint8Array(2))).toThrow(InvalidArgumentError);
  });
});

describe('false-positive rate (statistical, fixed keys)', () => {
  // Measured on never-inserted keys against the formula for the filter's actual (m, k).
  // Tolerance: 5 standard deviations of a binomial count, plus 10% relative for the formula's
  // own approximation; and the measured rate must stay below 1.25·p (the target the user asked for).
  it.each([
    [10_000, 0.01, 100_000],
    [10_000, 0.001, 400_000],
    [100_000, 0.01, 100_000],
    [100_000, 0.001, 400_000],
  ])('n=%i p=%f over %i probes', (n, p, probes) => {
    const f = new BloomFilter({ expectedItems: n, falsePositiveRate: p });
    for (let i = 0; i < n; i++) f.add(`member:${n}:${i}`);
    for (let i = 0; i < n; i++) if (!f.has(`member:${n}:${i}`)) throw new Error(`false negative for member:${n}:${i}`);
    let fp = 0;
    for (let i = 0; i < probes; i++) if (f.has(`absent:${n}:${i}`)) fp++;
    const expected = bloomFalsePositiveRate(f.bits, f.hashes, n);
    const sigma = Math.sqrt(probes * expected * (1 - expected));
    expect(Math.abs(fp - probes * expected)).toBeLessThan(5 * sigma + 0.1 * probes * expected);
    expect(fp / probes).toBeLessThan(1.25 * p);
    expect(fp).toBeGreaterThan(0); // a filter that answers "absent" for everything would pass the bound above
  });
});
