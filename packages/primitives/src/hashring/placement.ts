import { createHash } from 'node:crypto';
import { crc32 } from '../hash/index.js';

/**
 * How a ring places members and keys. Each placement fixes three things: the hash of a key, the
 * points a member occupies, and which member wins when two points collide (so a ring is a pure
 * function of its member set — except in `goCompatible`, which reproduces the seed's
 * last-added-wins map).
 */
export interface Placement {
  /** The key's position on the ring, an unsigned 32-bit integer. */
  keyHash(key: string): number;
  /**
   * Appends the points of `node` (unsigned 32-bit) to `out`. `weight` is the member's weight,
   * `totalWeight`/`memberCount` describe the whole ring (ketama scales by them).
   */
  points(node: string, weight: number, totalWeight: number, memberCount: number, out: number[]): void;
  /** True when the point set of a member depends on the other members (ketama): every change re-places every member. */
  readonly global: boolean;
  /** Tie-break on equal points: `'name'` (lowest name wins), `'first-added'` or `'last-added'`. */
  readonly ties: 'name' | 'first-added' | 'last-added';
}

/** Go's `crc32.ChecksumIEEE([]byte(s))`: the UTF-8 bytes under the same IEEE polynomial. */
const crc32Ieee = (s: string): number => crc32(s);

/** Bytes [4h, 4h+3] of `d` read little-endian, as libketama builds its points. */
function le32(d: Uint8Array, h: number): number {
  return ((d[4 * h + 3] as number) << 24) | ((d[4 * h + 2] as number) << 16) | ((d[4 * h + 1] as number) << 8) | (d[4 * h] as number);
}

/** The default placement: `vnodes × weight` points at `hash("{node}:{i}")`. */
export function mixedPlacement(hash: (s: string) => number, vnodes: number): Placement {
  return {
    keyHash: (key) => hash(key) >>> 0,
    points(node, weight, _total, _count, out) {
      const n = Math.max(1, Math.round(vnodes * weight));
      // "{node}:{i}" never collides across members: i has no ':' so the last ':' splits it.
      for (let i = 0; i < n; i++) out.push(hash(`${node}:${i}`) >>> 0);
    },
    global: false,
    ties: 'name',
  };
}

/** The seed's ring (seed L4160–4186): `vnodes × weight` points at CRC32 IEEE of `"{node}:{i}"`, key at CRC32 of the key. */
export function goPlacement(vnodes: number): Placement {
  return {
    keyHash: crc32Ieee,
    points(node, weight, _total, _count, out) {
      const n = Math.max(1, Math.round(vnodes * weight));
      for (let i = 0; i < n; i++) out.push(crc32Ieee(`${node}:${i}`));
    },
    global: false,
    // Go's `circle[hash] = node` keeps the last writer; the duplicated entry in `sorted` maps to it.
    ties: 'last-added',
  };
}

/**
 * libketama (and node `hashring`): `floor(weight / totalWeight × vnodes × memberCount)` MD5
 * digests of `"{node}-{k}"`, 4 little-endian points per digest; the key at the first 4 bytes of
 * MD5(key), little-endian.
 */
export function ketamaPlacement(vnodes: number): Placement {
  const md5 = (s: string): Uint8Array => createHash('md5').update(s).digest();
  return {
    keyHash: (key) => le32(md5(key), 0) >>> 0,
    points(node, weight, total, count, out) {
      // Left-to-right double arithmetic, exactly as hashring computes it.
      const digests = Math.floor((weight / total) * vnodes * count);
      for (let k = 0; k < digests; k++) {
        const d = md5(`${node}-${k}`);
        for (let h = 0; h < 4; h++) out.push(le32(d, h) >>> 0);
      }
    },
    global: true,
    ties: 'first-added',
  };
}
