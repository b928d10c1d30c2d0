/**
 * Non-cryptographic hashes shared by the Bloom filter, consistent hashing and load balancing:
 * MurmurHash3 (x64-128 and x86-32, bit-exact with the reference implementation), general-purpose
 * well-mixed {@link hash32} / {@link hash64} / {@link hash53}, and {@link crc32} (Go's
 * `crc32.ChecksumIEEE`) for compatibility with systems that use it.
 *
 * Strings are always hashed as their UTF-8 bytes, so results match other languages.
 * @module
 */
export { crc32 } from './crc32.js';
export { type Hash128, murmur3x64_128, murmur3x64_128Words, murmur3x86_32 } from './murmur3.js';
export { hash32, hash53, hash64 } from './string-hash.js';
