import { assertInteger, InvalidArgumentError } from '../errors/index.js';
import { type BloomParameters, bloomParameters, MAX_BLOOM_BITS, MAX_BLOOM_HASHES } from './sizing.js';

/** Size a filter from the workload (the usual way) … */
export interface BloomSizeByEstimate {
  /** Items you expect to add; the false-positive rate holds up to this count. */
  expectedItems: number;
  /** Target false-positive rate in (0, 1), e.g. 0.01. */
  falsePositiveRate: number;
}

/** … or give the exact size (e.g. to match a filter built elsewhere). */
export interface BloomSizeExplicit {
  /** m: number of bits. */
  bits: number;
  /** k: bit positions per item. */
  hashes: number;
}

/** Either sizing form. */
export type BloomSize = BloomSizeByEstimate | BloomSizeExplicit;

/** Validates either sizing form into (m, k). */
export function resolveSize(size: BloomSize, maxBits = MAX_BLOOM_BITS): BloomParameters {
  if (size === null || typeof size !== 'object') throw new InvalidArgumentError('size', '{ expectedItems, falsePositiveRate } or { bits, hashes }', size);
  const explicit = 'bits' in size || 'hashes' in size;
  const estimate = 'expectedItems' in size || 'falsePositiveRate' in size;
  if (explicit === estimate)
    throw new InvalidArgumentError('size', 'either { expectedItems, falsePositiveRate } or { bits, hashes }, not both or neither', size);
  if (estimate) {
    const { expectedItems, falsePositiveRate } = size as BloomSizeByEstimate;
    const p = bloomParameters(expectedItems, falsePositiveRate);
    assertInteger('bits (from expectedItems, falsePositiveRate)', p.bits, 1, maxBits);
    return p;
  }
  const { bits, hashes } = size as BloomSizeExplicit;
  return { bits: assertInteger('bits', bits, 1, maxBits), hashes: assertInteger('hashes', hashes, 1, MAX_BLOOM_HASHES) };
}
