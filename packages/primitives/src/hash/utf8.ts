const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/**
 * Encodes `input` as UTF-8 into a shared scratch buffer (grown on demand) and returns a view of
 * the encoded bytes. The view is only valid until the next call: hashing reads it at once, and
 * reusing one buffer keeps the hot path (Bloom filter add/has, ring lookups) allocation-free.
 * `Uint8Array` input is returned as is.
 */
export function utf8Bytes(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') return input;
  // A UTF-16 code unit encodes to at most 3 UTF-8 bytes.
  if (input.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(input.length * 3, scratch.length * 2));
  const { written } = encoder.encodeInto(input, scratch);
  return scratch.subarray(0, written);
}
