import { InvalidArgumentError } from '../errors/index.js';
import { bloomLocations } from './locations.js';
import { type BloomSize, resolveSize } from './options.js';
import { estimateItems } from './sizing.js';

/** Largest in-memory filter: 2^34 bits (2 GiB), beyond what one Uint8Array reliably allocates. */
const MAX_MEMORY_BITS = 2 ** 34;
const MAGIC = 0x474b4246; // "GKBF"
const FORMAT_VERSION = 1;
/** Bytes of the {@link BloomFilter.serialize} header: magic(4) version(1) reserved(1) k(2) m(8). */
export const SERIALIZED_HEADER_BYTES = 16;

const BIT_COUNT = new Uint8Array(256).map((_, i) => {
  let c = 0;
  for (let v = i; v; v &= v - 1) c++;
  return c;
});

/**
 * An in-memory Bloom filter: "definitely absent" or "probably present", in a fixed amount of
 * memory, with no false negatives. Bits are numbered as Redis `SETBIT` numbers them (bit 0 is the
 * most significant bit of byte 0), so {@link BloomFilter.bytes} can be loaded into a
 * {@link RedisBloomFilter} and back without conversion.
 *
 * Items can be added, never removed; past `expectedItems` the false-positive rate climbs (watch
 * {@link BloomFilter.currentFalsePositiveRate} and rebuild bigger).
 *
 * @example
 * ```ts
 * const seen = new BloomFilter({ expectedItems: 1_000_000, falsePositiveRate: 0.01 });
 * seen.add('user:42');
 * seen.has('user:42'); // true
 * seen.has('user:43'); // false (or, 1% of the time, true)
 * ```
 */
export class BloomFilter {
  /** m: number of bits. */
  readonly bits: number;
  /** k: bit positions per item. */
  readonly hashes: number;
  private readonly data: Uint8Array;
  private readonly positions: Float64Array;
  private setBits = 0;

  constructor(size: BloomSize) {
    const { bits, hashes } = resolveSize(size, MAX_MEMORY_BITS);
    this.bits = bits;
    this.hashes = hashes;
    this.data = new Uint8Array(Math.ceil(bits / 8));
    this.positions = new Float64Array(hashes);
  }

  /**
   * The bitmap itself (bit i = `bytes[i >> 3] & (0x80 >> (i & 7))`), exactly what Redis `GET`
   * returns for a bitmap written with `SETBIT`. Live view: do not write to it.
   */
  get bytes(): Uint8Array {
    return this.data;
  }

  /** Adds `key` (strings are hashed as UTF-8); returns true if it was certainly not present before. */
  add(key: string | Uint8Array): boolean {
    const pos = bloomLocations(key, this.bits, this.hashes, this.positions);
    const data = this.data;
    let fresh = false;
    for (let i = 0; i < this.hashes; i++) {
      const p = pos[i]!;
      const byte = Math.floor(p / 8);
      const mask = 0x80 >>> (p % 8);
      const v = data[byte]!;
      if ((v & mask) === 0) {
        data[byte] = v | mask;
        this.setBits++;
        fresh = true;
      }
    }
    return fresh;
  }

  /** Adds every key; returns how many were certainly new. */
  addAll(keys: Iterable<string | Uint8Array>): number {
    let n = 0;
    for (const k of keys) if (this.add(k)) n++;
    return n;
  }

  /** False: `key` was never added. True: it probably was (false positive with the current rate). */
  has(key: string | Uint8Array): boolean {
    const pos = bloomLocations(key, this.bits, this.hashes, this.positions);
    const data = this.data;
    for (let i = 0; i < this.hashes; i++) {
      const p = pos[i]!;
      if ((data[Math.floor(p / 8)]! & (0x80 >>> (p % 8))) === 0) return false;
    }
    return true;
  }

  /** Estimated number of distinct items added, from the fraction of set bits: −(m/k)·ln(1 − X/m). */
  estimatedCount(): number {
    return estimateItems(this.bits, this.hashes, this.setBits);
  }

  /** The false-positive rate right now, (X/m)^k — what a `has()` of a never-added key risks. */
  currentFalsePositiveRate(): number {
    return (this.setBits / this.bits) ** this.hashes;
  }

  /** Number of set bits (X). */
  get bitsSet(): number {
    return this.setBits;
  }

  /** Clears every bit. */
  clear(): void {
    this.data.fill(0);
    this.setBits = 0;
  }

  /**
   * A self-describing binary snapshot: a 16-byte header (`GKBF`, format version, k, m) followed by
   * {@link BloomFilter.bytes}. Restore with {@link BloomFilter.deserialize}.
   */
  serialize(): Uint8Array {
    const out = new Uint8Array(SERIALIZED_HEADER_BYTES + this.data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC);
    view.setUint8(4, FORMAT_VERSION);
    view.setUint16(6, this.hashes);
    view.setUint32(8, Math.floor(this.bits / 2 ** 32));
    view.setUint32(12, this.bits >>> 0);
    out.set(this.data, SERIALIZED_HEADER_BYTES);
    return out;
  }

  /** Restores a filter from {@link BloomFilter.serialize} output; rejects anything else with a typed error. */
  static deserialize(bytes: Uint8Array): BloomFilter {
    if (!(bytes instanceof Uint8Array) || bytes.length < SERIALIZED_HEADER_BYTES) {
      throw new InvalidArgumentError('bytes', `a serialized BloomFilter (at least ${SERIALIZED_HEADER_BYTES} bytes)`, bytes);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0) !== MAGIC) throw new InvalidArgumentError('bytes', 'a serialized BloomFilter starting with "GKBF"', bytes);
    const version = view.getUint8(4);
    if (version !== FORMAT_VERSION) throw new InvalidArgumentError('bytes', `format version ${FORMAT_VERSION}`, `version ${version}`);
    const hashes = view.getUint16(6);
    const bits = view.getUint32(8) * 2 ** 32 + view.getUint32(12);
    const filter = new BloomFilter({ bits, hashes });
    const body = bytes.subarray(SERIALIZED_HEADER_BYTES);
    if (body.length !== filter.data.length) {
      throw new InvalidArgumentError('bytes', `${filter.data.length} bitmap bytes after the header for m=${bits}`, `${body.length} bytes`);
    }
    filter.load(body);
    return filter;
  }

  /** Builds a filter of the given size over a raw bitmap (e.g. from Redis `GET`); shorter input is zero-padded, as Redis does. */
  static fromBytes(size: BloomSize, bitmap: Uint8Array): BloomFilter {
    const filter = new BloomFilter(size);
    if (bitmap.length > filter.data.length) {
      throw new InvalidArgumentError('bitmap', `at most ${filter.data.length} bytes for m=${filter.bits}`, `${bitmap.length} bytes`);
    }
    filter.load(bitmap);
    return filter;
  }

  private load(bitmap: Uint8Array): void {
    this.data.fill(0);
    this.data.set(bitmap);
    const tail = this.bits % 8;
    if (tail !== 0) {
      const last = this.data.length - 1;
      this.data[last] = this.data[last]! & ((0xff << (8 - tail)) & 0xff); // bits past m are never set
    }
    let x = 0;
    for (let i = 0; i < this.data.length; i++) x += BIT_COUNT[this.data[i]!]!;
    this.setBits = x;
  }
}
