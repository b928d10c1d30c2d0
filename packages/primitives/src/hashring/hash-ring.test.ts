import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { HashRing } from './index.js';

const SEED_NODES = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:8080`);
const keysOf = (n: number, prefix = 'key-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function countsOf(ring: HashRing, keys: readonly string[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const k of keys) {
    const n = ring.get(k) as string;
    c.set(n, (c.get(n) ?? 0) + 1);
  }
  return c;
}

function coefficientOfVariation(values: readonly number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length) / mean;
}

describe('HashRing (mixed placement)', () => {
  it('moves at most 1.2/(n+1) of 100k keys when the (n+1)-th member joins, and only onto it', () => {
    const keys = keysOf(100_000);
    for (const n of [3, 10, 25]) {
      const ring = new HashRing(Array.from({ length: n }, (_, i) => `node-${i}`));
      const before = keys.map((k) => ring.get(k));
      ring.add(`node-${n}`);
      let moved = 0;
      let movedElsewhere = 0;
      keys.forEach((k, i) => {
        const now = ring.get(k);
        if (now === before[i]) return;
        moved++;
        if (now !== `node-${n}`) movedElsewhere++;
      });
      expect(movedElsewhere).toBe(0);
      expect(moved / keys.length).toBeLessThanOrEqual(1.2 / (n + 1));
      expect(moved / keys.length).toBeGreaterThan(0.5 / (n + 1)); // the new member does take its share
    }
  });

  it('on removal moves only the keys the removed member owned', () => {
    const keys = keysOf(50_000);
    const ring = new HashRing(SEED_NODES);
    const before = keys.map((k) => ring.get(k));
    ring.remove('10.0.0.4:8080');
    const wrong = keys.filter((k, i) => (before[i] === '10.0.0.4:8080' ? ring.get(k) === before[i] : ring.get(k) !== before[i]));
    expect(wrong).toEqual([]);
    expect(before.filter((n) => n === '10.0.0.4:8080').length).toBeGreaterThan(3000);
  });

  it('balances 200k keys over the seed node set with CV below 0.13 at 160 vnodes', () => {
    // For V points per member the share of each member has CV ≈ 1/√V (a sum of V exponential
    // arcs): 0.079 at V = 160. With 10 members the measured CV is itself noisy (relative sd
    // ≈ 1/√18 ≈ 24%); over 30 hash seeds it ranged 0.046–0.108 (median 0.074). This fixed set
    // measures 0.111 (key counts) — the unlucky end of that range — so the bound is 0.13, far
    // under the 0.25 that CRC32 (goCompatible) gives on the same set.
    const keys = keysOf(200_000);
    const ring = new HashRing(SEED_NODES, { vnodes: 160 });
    const cv = coefficientOfVariation([...countsOf(ring, keys).values()]);
    expect(cv).toBeLessThan(0.13);
    const crc = coefficientOfVariation([...countsOf(new HashRing(SEED_NODES, { mode: 'goCompatible' }), keys).values()]);
    expect(crc).toBeGreaterThan(0.2);
    // more points, better balance: 1/√1000 ≈ 0.032
    expect(coefficientOfVariation([...countsOf(new HashRing(SEED_NODES, { vnodes: 1000 }), keys).values()])).toBeLessThan(0.05);
  });

  it('gives weighted members a proportional share', () => {
    const ring = new HashRing([
      { node: 'small', weight: 1 },
      { node: 'medium', weight: 2 },
      { node: 'large', weight: 4 },
    ]);
    const d = ring.distribution();
    expect(d.map((x) => x.points)).toEqual([640, 320, 160]); // large, medium, small: sorted by name
    expect(d.reduce((a, x) => a + x.share, 0)).toBeCloseTo(1, 9);
    for (const x of d) expect(Math.abs(x.share - x.expectedShare) / x.expectedShare).toBeLessThan(0.2);
    const c = countsOf(ring, keysOf(70_000));
    expect((c.get('large') as number) / (c.get('small') as number)).toBeGreaterThan(3);
  });

  it('changing a weight moves keys only to or from that member', () => {
    const keys = keysOf(50_000);
    const ring = new HashRing(SEED_NODES);
    const before = keys.map((k) => ring.get(k));
    ring.add('10.0.0.2:8080', 2); // upsert: weight 1 → 2
    const gained = keys.filter((k, i) => ring.get(k) !== before[i]);
    expect(gained.every((k) => ring.get(k) === '10.0.0.2:8080')).toBe(true);
    expect(gained.length / keys.length).toBeGreaterThan(0.05); // ~1/11 of the ring changes hands
    ring.add('10.0.0.2:8080', 1);
    expect(keys.filter((k, i) => ring.get(k) !== before[i])).toEqual([]); // back exactly
  });

  it('depends only on the member set: insertion order and remove/re-add do not change placement', () => {
    const keys = keysOf(5000);
    const a = new HashRing(SEED_NODES);
    const b = new HashRing([...SEED_NODES].reverse());
    expect(keys.filter((k) => a.get(k) !== b.get(k))).toEqual([]);
    b.remove('10.0.0.7:8080');
    b.add('10.0.0.7:8080');
    b.add('10.0.0.3:8080'); // re-adding an existing member with the same weight is a no-op
    expect(keys.filter((k) => a.get(k) !== b.get(k))).toEqual([]);
  });

  it('never throws while scaling from 0 to 200 members and back down, one at a time', () => {
    const ring = new HashRing();
    expect(ring.get('k')).toBeUndefined();
    expect(ring.getN('k', 3)).toEqual([]);
    expect(ring.getBounded('k', () => 0)).toBeUndefined();
    expect(ring.distribution()).toEqual([]);
    for (let i = 0; i < 200; i++) {
      ring.add(`n${i}`);
      expect(ring.has(ring.get(`probe-${i}`) as string)).toBe(true);
    }
    expect(ring.size).toBe(200);
    for (let i = 199; i >= 0; i--) {
      expect(ring.remove(`n${(i * 7) % 200}`) || ring.remove(`n${i}`)).toBe(true);
      const owner = ring.get(`probe-${i}`);
      if (ring.size === 0) expect(owner).toBeUndefined();
      else expect(ring.has(owner as string)).toBe(true);
    }
    expect(ring.remove('n0')).toBe(false);
  });

  it('getN returns distinct members, owner first, capped at the ring size', () => {
    const ring = new HashRing(SEED_NODES);
    for (const k of keysOf(5000)) {
      const three = ring.getN(k, 3);
      expect(new Set(three).size).toBe(3);
      expect(three[0]).toBe(ring.get(k));
    }
    expect(new Set(ring.getN('x', 50))).toEqual(new Set(SEED_NODES));
    expect(ring.getN('x', 0)).toEqual([]);
    expect(() => ring.getN('x', -1)).toThrow(InvalidArgumentError);
  });

  it('getMatching skips members the caller rejects, visiting each once, in ring order', () => {
    const ring = new HashRing(SEED_NODES);
    const visited: string[] = [];
    expect(
      ring.getMatching('k', (n) => {
        visited.push(n);
        return false;
      }),
    ).toBeUndefined();
    expect(visited).toEqual(ring.getN('k', 10));
    const owner = ring.get('k') as string;
    expect(ring.getMatching('k', (n) => n !== owner)).toBe(ring.getN('k', 2)[1]);
  });

  it('rejects bad options and arguments with typed errors', () => {
    expect(() => new HashRing([], { mode: 'md5' as 'mixed' })).toThrow("mode must be one of 'mixed', 'ketama', 'goCompatible', got \"md5\"");
    expect(() => new HashRing([], { vnodes: 0 })).toThrow('vnodes must be an integer in [1, 100000], got 0');
    expect(() => new HashRing([''])).toThrow('node must be a non-empty string, got ""');
    expect(() => new HashRing([{ node: 'a', weight: 0 }])).toThrow('weight must be a finite number > 0, got 0');
    expect(() => new HashRing([{ node: 'a', weight: Number.NaN }])).toThrow(InvalidArgumentError);
    expect(() => new HashRing([], { mode: 'ketama', hash: () => 0 })).toThrow(InvalidArgumentError);
    expect(() => new HashRing(['a']).getBounded('k', () => 0, -0.1)).toThrow('epsilon must be a finite number >= 0, got -0.1');
  });
});

describe('HashRing.getBounded (consistent hashing with bounded loads)', () => {
  it('keeps every member at or below ⌈average × (1 + ε)⌉ after each of 100k assignments', () => {
    for (const epsilon of [0, 0.1, 0.25]) {
      const ring = new HashRing(SEED_NODES);
      const load = new Map(SEED_NODES.map((n) => [n, 0]));
      let total = 0;
      let worst = 0;
      let spilled = 0;
      for (let i = 0; i < 100_000; i++) {
        // skewed keys: a tenth of the traffic is one hot key
        const key = i % 10 === 0 ? 'hot' : `key-${i}`;
        const node = ring.getBounded(key, (n) => load.get(n) as number, epsilon) as string;
        if (node !== ring.get(key)) spilled++;
        load.set(node, (load.get(node) as number) + 1);
        total++;
        const cap = Math.ceil((total / SEED_NODES.length) * (1 + epsilon));
        worst = Math.max(worst, (load.get(node) as number) - cap);
      }
      expect(worst).toBeLessThanOrEqual(0);
      expect(spilled).toBeGreaterThan(0); // the hot key had to spill
    }
  });

  it('sends every key to its owner while loads follow the weights, and caps members by weight', () => {
    const ring = new HashRing([{ node: 'a', weight: 1 }, { node: 'b', weight: 3 }, 'c']);
    const even = new Map([
      ['a', 5],
      ['b', 15],
      ['c', 5],
    ]); // proportional to weight
    const keys = keysOf(1000);
    expect(keys.filter((k) => ring.getBounded(k, (m) => even.get(m) as number) !== ring.get(k))).toEqual([]);
    const load = new Map([
      ['a', 0],
      ['b', 0],
      ['c', 0],
    ]);
    for (let i = 0; i < 10_000; i++) {
      const n = ring.getBounded('same-key', (m) => load.get(m) as number, 0.1) as string;
      load.set(n, (load.get(n) as number) + 1);
    }
    // one key, all spilled by capacity: b (weight 3 of 5) holds ≤ ⌈10000 × 3/5 × 1.1⌉
    expect(load.get('b') as number).toBeLessThanOrEqual(6600);
    expect(load.get('a') as number).toBeLessThanOrEqual(2200);
    expect((load.get('a') as number) + (load.get('b') as number) + (load.get('c') as number)).toBe(10_000);
  });
});
