import * as zlib from 'node:zlib';
import { assertInteger } from '../errors/index.js';
import { utf8Bytes } from './utf8.js';

const native = (zlib as { crc32?: (data: string | Uint8Array, value?: number) => number }).crc32;

/**
 * CRC-32 (IEEE 802.3, the polynomial of zip/gzip and Go's `crc32.ChecksumIEEE`) of a string (its
 * UTF-8 bytes) or raw bytes, via Node's native `zlib.crc32` (Node ≥ 20.15). Pass a previous result
 * as `initial` to checksum data in pieces.
 *
 * It is a checksum, not a hash: its output is poorly mixed for similar keys (`"node:1"`,
 * `"node:2"`…), which is why a CRC32-based consistent-hash ring balances badly. Use it only to
 * reproduce systems that already use it; prefer {@link hash32} for new code.
 */
export function crc32(data: string | Uint8Array, initial = 0): number {
  if (initial !== 0) assertInteger('initial', initial, 0, 0xffffffff);
  if (native === undefined) throw new Error('crc32 needs Node >= 20.15 (zlib.crc32)');
  return native(typeof data === 'string' ? utf8Bytes(data) : data, initial) >>> 0;
}
