import { assertInteger, InvalidArgumentError } from '../errors/index.js';
import { utf8Bytes } from './utf8.js';

// 64-bit arithmetic on (hi, lo) pairs of unsigned 32-bit numbers. BigInt would be simpler but is
// ~20x slower and allocates on every operation; the Bloom filter hashes on every add/has.
// Results of the helpers land in these two module-level registers to avoid allocating pairs.
// A plain object, not module-level `let`s: those pay a temporal-dead-zone check on every access.
const R = { h: 0, l: 0 };

/** (ah,al) * (bh,bl) mod 2^64 → (R.h, R.l). */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const lo = a0 * b0;
  const m1 = a1 * b0;
  const m2 = a0 * b1;
  const t = (lo >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  R.l = (((t & 0xffff) << 16) | (lo & 0xffff)) >>> 0;
  // Every term is exact in a double (< 2^53); `>>> 0` reduces mod 2^32.
  R.h = (a1 * b1 + (m1 >>> 16) + (m2 >>> 16) + (t >>> 16) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** rotl64((h,l), r) for 0 < r < 64 → (R.h, R.l). */
function rotl64(h: number, l: number, r: number): void {
  if (r >= 32) {
    const tmp = h;
    h = l;
    l = tmp;
    r -= 32;
  }
  if (r === 0) {
    R.h = h >>> 0;
    R.l = l >>> 0;
    return;
  }
  R.h = ((h << r) | (l >>> (32 - r))) >>> 0;
  R.l = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** (ah,al) + (bh,bl) mod 2^64 → (R.h, R.l). */
function add64(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  R.h = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  R.l = lo >>> 0;
}

/** MurmurHash3's 64-bit finaliser (fmix64) → (R.h, R.l). */
function fmix64(h: number, l: number): void {
  // k ^= k >>> 33
  l = (l ^ (h >>> 1)) >>> 0;
  mul64(h, l, 0xff51afd7, 0xed558ccd);
  h = R.h;
  l = (R.l ^ (h >>> 1)) >>> 0;
  mul64(h, l, 0xc4ceb9fe, 0x1a85ec53);
  h = R.h;
  l = (R.l ^ (h >>> 1)) >>> 0;
  R.h = h;
  R.l = l;
}

const C1H = 0x87c37b91;
const C1L = 0x114253d5;
const C2H = 0x4cf5ad43;
const C2L = 0x2745937f;

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/**
 * MurmurHash3 x64-128 (Austin Appleby's `MurmurHash3_x64_128`) as four unsigned 32-bit words
 * `[h1hi, h1lo, h2hi, h2lo]`, written into `out` when given. This is the allocation-free form
 * the Bloom filter uses on every call; {@link murmur3x64_128} returns the same value as bigints.
 *
 * @param input - a string (hashed as its UTF-8 bytes) or raw bytes.
 * @param seed - a 32-bit unsigned seed, as in the reference implementation (default 0).
 * @param out - reused output buffer; a new one is allocated when omitted.
 */
export function murmur3x64_128Words(input: string | Uint8Array, seed = 0, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  if (seed !== 0) assertInteger('seed', seed, 0, 0xffffffff);
  if (out.length < 4) throw new InvalidArgumentError('out', 'a Uint32Array of length >= 4', out);
  const data = utf8Bytes(input);
  const len = data.length;
  const nblocks = len >>> 4;
  let h1h = 0;
  let h1l = seed >>> 0;
  let h2h = 0;
  let h2l = seed >>> 0;

  for (let i = 0; i < nblocks; i++) {
    const o = i << 4;
    let k1l = le32(data, o);
    let k1h = le32(data, o + 4);
    let k2l = le32(data, o + 8);
    let k2h = le32(data, o + 12);

    mul64(k1h, k1l, C1H, C1L);
    rotl64(R.h, R.l, 31);
    mul64(R.h, R.l, C2H, C2L);
    k1h = R.h;
    k1l = R.l;
    h1h = (h1h ^ k1h) >>> 0;
    h1l = (h1l ^ k1l) >>> 0;
    rotl64(h1h, h1l, 27);
    add64(R.h, R.l, h2h, h2l);
    mul64(R.h, R.l, 0, 5);
    add64(R.h, R.l, 0, 0x52dce729);
    h1h = R.h;
    h1l = R.l;

    mul64(k2h, k2l, C2H, C2L);
    rotl64(R.h, R.l, 33);
    mul64(R.h, R.l, C1H, C1L);
    k2h = R.h;
    k2l = R.l;
    h2h = (h2h ^ k2h) >>> 0;
    h2l = (h2l ^ k2l) >>> 0;
    rotl64(h2h, h2l, 31);
    add64(R.h, R.l, h1h, h1l);
    mul64(R.h, R.l, 0, 5);
    add64(R.h, R.l, 0, 0x38495ab5);
    h2h = R.h;
    h2l = R.l;
  }

  const tail = nblocks << 4;
  const rem = len & 15;
  if (rem > 8) {
    let k2h = 0;
    let k2l = 0;
    for (let j = rem - 1; j >= 8; j--) {
      const byte = data[tail + j]!;
      if (j >= 12) k2h |= byte << ((j - 12) * 8);
      else k2l |= byte << ((j - 8) * 8);
    }
    mul64(k2h >>> 0, k2l >>> 0, C2H, C2L);
    rotl64(R.h, R.l, 33);
    mul64(R.h, R.l, C1H, C1L);
    h2h = (h2h ^ R.h) >>> 0;
    h2l = (h2l ^ R.l) >>> 0;
  }
  if (rem > 0) {
    let k1h = 0;
    let k1l = 0;
    for (let j = Math.min(rem, 8) - 1; j >= 0; j--) {
      const byte = data[tail + j]!;
      if (j >= 4) k1h |= byte << ((j - 4) * 8);
      else k1l |= byte << (j * 8);
    }
    mul64(k1h >>> 0, k1l >>> 0, C1H, C1L);
    rotl64(R.h, R.l, 31);
    mul64(R.h, R.l, C2H, C2L);
    h1h = (h1h ^ R.h) >>> 0;
    h1l = (h1l ^ R.l) >>> 0;
  }

  // Finalisation: the length is mixed in as a 64-bit value.
  const lenH = Math.floor(len / 0x100000000) >>> 0;
  const lenL = len >>> 0;
  h1h = (h1h ^ lenH) >>> 0;
  h1l = (h1l ^ lenL) >>> 0;
  h2h = (h2h ^ lenH) >>> 0;
  h2l = (h2l ^ lenL) >>> 0;
  add64(h1h, h1l, h2h, h2l);
  h1h = R.h;
  h1l = R.l;
  add64(h2h, h2l, h1h, h1l);
  h2h = R.h;
  h2l = R.l;
  fmix64(h1h, h1l);
  h1h = R.h;
  h1l = R.l;
  fmix64(h2h, h2l);
  h2h = R.h;
  h2l = R.l;
  add64(h1h, h1l, h2h, h2l);
  h1h = R.h;
  h1l = R.l;
  add64(h2h, h2l, h1h, h1l);
  out[0] = h1h;
  out[1] = h1l;
  out[2] = R.h;
  out[3] = R.l;
  return out;
}

/** The two 64-bit halves of a 128-bit MurmurHash3, in the reference implementation's order. */
export interface Hash128 {
  /** First 64 bits (`out[0]` of the reference `MurmurHash3_x64_128`). */
  h1: bigint;
  /** Second 64 bits (`out[1]`). */
  h2: bigint;
}

const words = new Uint32Array(4);

/**
 * MurmurHash3 x64-128 of a string (its UTF-8 bytes) or raw bytes, bit-exact with the reference
 * C++ `MurmurHash3_x64_128`, Guava's `murmur3_128` and Python's `mmh3.hash128`
 * (`mmh3.hash128(s) == h2 << 64 | h1`). Fast and well mixed; **not** cryptographic, so never use it
 * where an attacker chooses keys to force collisions.
 */
export function murmur3x64_128(input: string | Uint8Array, seed = 0): Hash128 {
  murmur3x64_128Words(input, seed, words);
  return {
    h1: (BigInt(words[0]!) << 32n) | BigInt(words[1]!),
    h2: (BigInt(words[2]!) << 32n) | BigInt(words[3]!),
  };
}

/**
 * MurmurHash3 x86-32 (`MurmurHash3_x86_32`) of a string (its UTF-8 bytes) or raw bytes: an
 * unsigned 32-bit integer, bit-exact with the reference implementation.
 */
export function murmur3x86_32(input: string | Uint8Array, seed = 0): number {
  if (seed !== 0) assertInteger('seed', seed, 0, 0xffffffff);
  const data = utf8Bytes(input);
  const len = data.length;
  const nblocks = len >>> 2;
  let h = seed >>> 0;
  for (let i = 0; i < nblocks; i++) {
    let k = le32(data, i << 2);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks << 2;
  const rem = len & 3;
  if (rem > 0) {
    let k = 0;
    if (rem === 3) k ^= data[tail + 2]! << 16;
    if (rem >= 2) k ^= data[tail + 1]! << 8;
    k ^= data[tail]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
