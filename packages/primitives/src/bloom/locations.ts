import { murmur3x64_128Words } from '../hash/index.js';

const words = new Uint32Array(4);

/**
 * Writes the `hashes` bit positions of `key` in a filter of `bits` bits into `out`.
 *
 * The layout, shared by the memory and Redis backends (and stable across versions, since stored
 * filters depend on it): hash the key's UTF-8 bytes with MurmurHash3 x64-128, seed 0; take the top
 * 53 bits of each 64-bit half as a = h1 mod m and b = h2 mod m (b = 1 if that is 0, so the positions
 * never collapse onto one); position i = (a + i·b) mod m, i = 0 … k−1 (Kirsch–Mitzenmacher double
 * hashing: two hash values give k independent-enough positions). 53 bits keep every step exact in
 * a double for any m up to 2^52.
 */
export function bloomLocations(key: string | Uint8Array, bits: number, hashes: number, out: Float64Array): Float64Array {
  murmur3x64_128Words(key, 0, words);
  let a = (words[0]! * 0x200000 + (words[1]! >>> 11)) % bits;
  let b = (words[2]! * 0x200000 + (words[3]! >>> 11)) % bits;
  if (b === 0) b = 1 % bits;
  for (let i = 0; i < hashes; i++) {
    out[i] = a;
    a += b;
    if (a >= bits) a -= bits;
  }
  return out;
}
