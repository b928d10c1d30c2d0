import { assertInteger, InvalidArgumentError } from '../errors/index.js';
import { murmur3x64_128Words } from '../hash/index.js';

const C_HI = 0x27bb2ee6; // 2862933555777941757 = 0x27BB2EE687B0B0FD, the paper's LCG multiplier
const C_LO = 0x87b0b0fd;
const words = new Uint32Array(4);
const MAX_U64 = (1n << 64n) - 1n;

/**
 * Jump consistent hash (Lamping & Veach, 2014): the bucket in `[0, buckets)` for `key`, with no
 * memory, near-perfect balance, and minimal movement — growing from n to n+1 buckets moves
 * exactly the keys that land in the new bucket (~1/(n+1)).
 *
 * Buckets are numbers, not names, and can only be added or removed at the end: use it for
 * numbered shards (database shards, partitions), and a {@link HashRing} when arbitrary members
 * come and go. A `bigint` key (0 ≤ key < 2^64) gives the same bucket as the paper's C++ and Go's
 * `jump.Hash(key, buckets)`; a string key is first hashed to 64 bits with MurmurHash3 x64-128.
 *
 * @param buckets - an integer in [1, 2^31 - 1] (the reference takes an int32).
 */
export function jumpHash(key: string | bigint, buckets: number): number {
  assertInteger('buckets', buckets, 1, 0x7fffffff);
  let hi: number;
  let lo: number;
  if (typeof key === 'bigint') {
    if (key < 0n || key > MAX_U64) throw new InvalidArgumentError('key', 'a bigint in [0, 2^64 - 1] or a string', key);
    hi = Number(key >> 32n);
    lo = Number(key & 0xffffffffn);
  } else if (typeof key === 'string') {
    murmur3x64_128Words(key, 0, words);
    hi = words[0] as number;
    lo = words[1] as number;
  } else {
    throw new InvalidArgumentError('key', 'a bigint in [0, 2^64 - 1] or a string', key);
  }
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key × C + 1 (mod 2^64), on 32-bit halves: lo × C_LO needs all 64 bits of its product.
    const a0 = lo & 0xffff;
    const a1 = lo >>> 16;
    const b0 = C_LO & 0xffff;
    const b1 = C_LO >>> 16;
    const mid = a0 * b1 + a1 * b0; // < 2^33
    const low = a0 * b0 + (mid % 0x10000) * 0x10000 + 1; // < 2^33, exact in a double
    const newLo = low % 0x100000000;
    const carry = Math.floor(low / 0x100000000);
    hi = (a1 * b1 + Math.floor(mid / 0x10000) + carry + Math.imul(hi, C_LO) + Math.imul(lo, C_HI)) >>> 0;
    lo = newLo;
    // j = (b + 1) × 2^31 / ((key >> 33) + 1), in float64 as the reference computes it.
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}
