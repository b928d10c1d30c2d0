import { murmur3x64_128Words, murmur3x86_32 } from './murmur3.js';

/**
 * A well-mixed unsigned 32-bit hash of a string (its UTF-8 bytes) or raw bytes, for hash tables,
 * sharding and consistent hashing: MurmurHash3 x86-32. Every input bit affects every output bit,
 * so similar keys (`"user:1"`, `"user:2"`) land far apart — unlike CRC32 or `String#hashCode`.
 * Stable across processes, versions and platforms. Not cryptographic.
 */
export function hash32(input: string | Uint8Array, seed = 0): number {
  return murmur3x86_32(input, seed);
}

const words = new Uint32Array(4);

/**
 * A well-mixed unsigned 64-bit hash (the first half of MurmurHash3 x64-128) as a `bigint`,
 * for when 32 bits collide too often (more than ~10^4 keys, by the birthday bound).
 */
export function hash64(input: string | Uint8Array, seed = 0): bigint {
  murmur3x64_128Words(input, seed, words);
  return (BigInt(words[0]!) << 32n) | BigInt(words[1]!);
}

/**
 * A well-mixed hash as a non-negative integer below 2^53 (the top 53 bits of {@link hash64}), for
 * code that wants plain-number arithmetic (`% n`, comparisons) with fewer collisions than 32 bits.
 */
export function hash53(input: string | Uint8Array, seed = 0): number {
  murmur3x64_128Words(input, seed, words);
  return words[0]! * 0x200000 + (words[1]! >>> 11);
}
