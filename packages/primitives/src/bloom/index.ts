/**
 * Bloom filters: a compact "definitely absent / probably present" set, sized from the expected
 * item count and false-positive rate. Two backends with one bit layout: {@link BloomFilter} in
 * memory and {@link RedisBloomFilter} shared through Redis; a filter moves between them bit for bit.
 * @module
 */
export { BloomFilter } from './bloom-filter.js';
export { bloomLocations } from './locations.js';
export type { BloomSize, BloomSizeByEstimate, BloomSizeExplicit } from './options.js';
export { BloomParametersMismatchError, RedisBloomFilter, type RedisBloomFilterOptions } from './redis-bloom-filter.js';
export { type BloomParameters, bloomFalsePositiveRate, bloomParameters } from './sizing.js';
