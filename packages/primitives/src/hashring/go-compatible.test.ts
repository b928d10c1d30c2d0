import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HashRing } from './index.js';

const crc32 = (s: string): number => (zlib as unknown as { crc32(s: string): number }).crc32(s) >>> 0;

/**
 * The seed's Go ring (seed L4160–4186) transcribed line by line, with Go's semantics spelled out:
 * `circle[hash] = node` (a later Add overwrites a colliding vnode), `sorted` keeps duplicates and
 * is re-sorted on every Add, `Get` is `sort.Search` for the first `sorted[i] >= hash`, wrapping to 0.
 */
class SeedConsistentHash {
  private circle = new Map<number, string>();
  private sorted: number[] = [];
  add(node: string): void {
    for (let i = 0; i < 100; i++) {
      const hash = crc32(`${node}:${i}`);
      this.circle.set(hash, node);
      this.sorted.push(hash);
    }
    this.sorted.sort((a, b) => a - b);
  }
  get(key: string): string {
    const hash = crc32(key);
    let idx = this.sorted.length; // sort.Search: smallest i with sorted[i] >= hash, else len
    for (let lo = 0, hi = this.sorted.length; lo < hi; ) {
      const mid = (lo + hi) >> 1;
      if ((this.sorted[mid] as number) >= hash) hi = idx = mid;
      else lo = mid + 1;
    }
    if (idx === this.sorted.length) idx = 0;
    return this.circle.get(this.sorted[idx] as number) as string;
  }
}

describe('HashRing goCompatible mode', () => {
  it('hashes with CRC32 IEEE exactly as Go crc32.ChecksumIEEE (known values)', () => {
    // Reference values: Go's crc32.ChecksumIEEE([]byte(s)); "123456789" is the standard check value.
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('node-a:0')).toBe(121101500);
  });

  it('routes every key as the seed Go ring does', () => {
    const nodes = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:8080`);
    const seed = new SeedConsistentHash();
    for (const n of nodes) seed.add(n);
    const ring = new HashRing(nodes, { mode: 'goCompatible' });
    const keys = Array.from({ length: 20_000 }, (_, i) => `order:${i}`);
    expect(keys.filter((k) => ring.get(k) !== seed.get(k))).toEqual([]);
    // keys hashing exactly onto vnode points, and past the last point (wrap to 0)
    for (const n of nodes) for (let i = 0; i < 100; i += 7) expect(ring.get(`${n}:${i}`)).toBe(n);
    const d = ring.distribution();
    expect(d.every((x) => x.points === 100)).toBe(true);
  });

  it('resolves a CRC32 vnode collision like the Go map: the member added last wins, in either order', () => {
    // crc32("host-1l50fls:29") === crc32("host-e4pxxc:10") === 3574824950 (found by brute force).
    expect(crc32('host-1l50fls:29')).toBe(3574824950);
    expect(crc32('host-e4pxxc:10')).toBe(3574824950);
    for (const order of [
      ['host-1l50fls', 'host-e4pxxc'],
      ['host-e4pxxc', 'host-1l50fls'],
    ]) {
      const seed = new SeedConsistentHash();
      for (const n of order) seed.add(n);
      const ring = new HashRing(order, { mode: 'goCompatible' });
      expect(seed.get('host-1l50fls:29')).toBe(order[1]);
      expect(ring.get('host-1l50fls:29')).toBe(order[1]);
      expect(Array.from({ length: 5000 }, (_, i) => `k${i}`).filter((k) => ring.get(k) !== seed.get(k))).toEqual([]);
      // Unlike the seed, removing the winner reveals the other member's point instead of panicking.
      ring.remove(order[1] as string);
      expect(ring.get('host-1l50fls:29')).toBe(order[0]);
    }
  });

  it('refuses a custom hash (the hash is part of the format)', () => {
    expect(() => new HashRing([], { mode: 'goCompatible', hash: () => 1 })).toThrow("hash must be unset when mode is 'goCompatible'");
  });
});
