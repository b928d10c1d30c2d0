import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { crc32, hash32, hash53, hash64, murmur3x64_128, murmur3x64_128Words, murmur3x86_32 } from './index.js';

/** A straightforward BigInt transcription of the reference MurmurHash3_x64_128, to cross-check every length. */
function referenceX64_128(data: Uint8Array, seed: number): [bigint, bigint] {
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
  const fmix = (k: bigint) => {
    k ^= k >> 33n;
    k = (k * 0xff51afd7ed558ccdn) & M;
    k ^= k >> 33n;
    k = (k * 0xc4ceb9fe1a85ec53n) & M;
    return k ^ (k >> 33n);
  };
  const c1 = 0x87c37b91114253d5n;
  const c2 = 0x4cf5ad432745937fn;
  const rd = (o: number, n: number) => {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[o + i]!);
    return v;
  };
  let h1 = BigInt(seed);
  let h2 = BigInt(seed);
  const nb = Math.floor(data.length / 16);
  for (let i = 0; i < nb; i++) {
    let k1 = rd(i * 16, 8);
    let k2 = rd(i * 16 + 8, 8);
    k1 = (rotl((k1 * c1) & M, 31n) * c2) & M;
    h1 ^= k1;
    h1 = (((rotl(h1, 27n) + h2) & M) * 5n + 0x52dce729n) & M;
    k2 = (rotl((k2 * c2) & M, 33n) * c1) & M;
    h2 ^= k2;
    h2 = (((rotl(h2, 31n) + h1) & M) * 5n + 0x38495ab5n) & M;
  }
  const rem = data.length % 16;
  if (rem > 8) h2 ^= (rotl((rd(nb * 16 + 8, rem - 8) * c2) & M, 33n) * c1) & M;
  if (rem > 0) h1 ^= (rotl((rd(nb * 16, Math.min(rem, 8)) * c1) & M, 31n) * c2) & M;
  const len = BigInt(data.length);
  h1 ^= len;
  h2 ^= len;
  h1 = (h1 + h2) & M;
  h2 = (h2 + h1) & M;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) & M;
  h2 = (h2 + h1) & M;
  return [h1, h2];
}

/** Deterministic bytes (xorshift32) so the cross-check is reproducible. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('murmur3x64_128', () => {
  // Published vectors: Guava Murmur3Hash128Test (also used by Elasticsearch, Spark, DataSketches).
  it.each([
    [0, 0x629942693e10f867n, 0x92db0b82baeb5347n, 'hell'],
    [1, 0xa78ddff5adae8d10n, 0x128900ef20900135n, 'hello'],
    [2, 0x8a486b23f422e826n, 0xf962a2c58947765fn, 'hello '],
    [3, 0x2ea59f466f6bed8cn, 0xc610990acc428a17n, 'hello w'],
    [4, 0x79f6305a386c572cn, 0x46305aed3483b94en, 'hello wo'],
    [5, 0xc2219d213ec1f1b5n, 0xa1d8e2e0a52785bdn, 'hello wor'],
    [0, 0xe34bbc7bbc071b6cn, 0x7a433ca9c49a9347n, 'The quick brown fox jumps over the lazy dog'],
    [0, 0x658ca970ff85269an, 0x43fee3eaa68e5c3en, 'The quick brown fox jumps over the lazy cog'],
    [0, 0x738a7f3bd2633121n, undefined, 'The quick brown fox jumps over the lazy dog', 0x9747b28c],
    [0, 0, 0, ''],
    [0, 0xcbd8a7b341bd9b02n, 0x5b1e906a48ae1d19n, 'hello'],
    [0, 0x887001aea2afcfd6n, 0x1ec326364f0801b3n, '123456789012345'],
    [0, 0x4fbe5dc5c0e32cf8n, 0xc0c8e96b60c322c1n, '1234567890123456'],
    [0, 0x748617968026b77en, 0x291e6386473f7103n, '12345678901234567'],
    [0, 0x09a3b843bee83faan, 0x95c27d677efe322cn, '中文查询参数-\u{1F680}'],
  ] as const)('seed %i → %s (%s)', (seed, h1, h2, input, seedOverride?: number) => {
    const r = murmur3x64_128(input, seedOverride ?? seed);
    expect(r.h1).toBe(BigInt(h1));
    if (h2 !== undefined) expect(r.h2).toBe(BigInt(h2));
  });

  it('passes the SMHasher verification value 0x6384BA69', () => {
    // SMHasher's VerificationTest: hash {0}, {0,1}, … (lengths 0..255) with seed 256-i, concatenate
    // the 16-byte outputs, hash that with seed 0; the first 4 bytes (little-endian) must match.
    const key = new Uint8Array(256);
    const all = new Uint8Array(256 * 16);
    const view = new DataView(all.buffer);
    for (let i = 0; i < 256; i++) {
      key[i] = i;
      const w = murmur3x64_128Words(key.subarray(0, i), 256 - i);
      view.setUint32(i * 16, w[1]!, true);
      view.setUint32(i * 16 + 4, w[0]!, true);
      view.setUint32(i * 16 + 8, w[3]!, true);
      view.setUint32(i * 16 + 12, w[2]!, true);
    }
    expect(murmur3x64_128Words(all, 0)[1]).toBe(0x6384ba69);
  });

  it('matches a BigInt transcription of the reference for every tail length and many seeds', () => {
    for (let len = 0; len < 80; len++) {
      const data = bytes(len, len + 7);
      const seed = (len * 0x9e3779b1) >>> 0;
      const r = murmur3x64_128(data, seed);
      expect([r.h1, r.h2]).toEqual(referenceX64_128(data, seed));
    }
  });

  it('hashes strings as UTF-8 and the Words form reuses its output buffer', () => {
    const s = 'ключ-🔑';
    expect(murmur3x64_128(s)).toEqual(murmur3x64_128(new TextEncoder().encode(s)));
    const out = new Uint32Array(4);
    expect(murmur3x64_128Words('a', 0, out)).toBe(out);
    const long = 'x'.repeat(10_000);
    expect(murmur3x64_128(long)).toEqual(murmur3x64_128(new TextEncoder().encode(long)));
  });

  it('rejects bad seeds and output buffers with typed errors', () => {
    expect(() => murmur3x64_128('a', -1)).toThrow(InvalidArgumentError);
    expect(() => murmur3x64_128('a', 2 ** 32)).toThrow('seed must be an integer in [0, 4294967295], got 4294967296');
    expect(() => murmur3x64_128Words('a', 0, new Uint32Array(2))).toThrow('out must be a Uint32Array of length >= 4');
  });
});

describe('murmur3x86_32 / hash32', () => {
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['hello', 0, 0x248bfa47],
    ['Hello, world!', 0, 0xc0363e43],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aa', 0x9747b28c, 0x5d211726],
    ['a', 0x9747b28c, 0x7fa09ea6],
  ] as const)('%j seed %i → %i', (input, seed, expected) => {
    expect(murmur3x86_32(input, seed)).toBe(expected);
    expect(hash32(input, seed)).toBe(expected);
  });

  it('spreads sequential keys evenly over buckets', () => {
    const buckets = new Array(16).fill(0);
    for (let i = 0; i < 160_000; i++) buckets[hash32(`user:${i}`) & 15]++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500); // ~5 sigma
  });
});

describe('hash64 / hash53', () => {
  it('hash64 is h1 of murmur3x64_128; hash53 its top 53 bits', () => {
    const { h1 } = murmur3x64_128('The quick brown fox jumps over the lazy dog');
    expect(hash64('The quick brown fox jumps over the lazy dog')).toBe(h1);
    expect(hash53('The quick brown fox jumps over the lazy dog')).toBe(Number(h1 >> 11n));
    expect(Number.isSafeInteger(hash53('x'))).toBe(true);
  });
});

describe('crc32', () => {
  it('is CRC-32/IEEE (Go crc32.ChecksumIEEE)', () => {
    expect(crc32('123456789')).toBe(0xcbf43926); // the CRC catalogue check value
    expect(crc32('')).toBe(0);
    expect(crc32('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
    expect(crc32('10.0.0.1:8080:0')).toBe(zlibCrc32('10.0.0.1:8080:0') >>> 0);
  });
  it('chains over pieces and hashes strings as UTF-8', () => {
    expect(crc32('6789', crc32('12345'))).toBe(0xcbf43926);
    expect(crc32('héllo')).toBe(crc32(new TextEncoder().encode('héllo')));
  });
  it('rejects a bad initial value', () => {
    expect(() => crc32('a', -1)).toThrow(InvalidArgumentError);
  });
});
