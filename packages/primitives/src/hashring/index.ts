/**
 * Consistent hashing: a {@link HashRing} with virtual nodes, weights, replica sets and bounded
 * loads, in three placements (a well-mixed default, libketama-compatible, and the seed's Go CRC32
 * ring bit for bit), plus {@link jumpHash} for numbered shards.
 *
 * Rules: adding or removing one of n members moves about 1/n of the keys and never more than the
 * keys that member gains or loses; the ring never throws on scale-up or scale-down, and lookups
 * on an empty ring return `undefined`; the placement depends only on the member set (not on the
 * order members joined), except in `goCompatible` mode, which copies the seed's last-added-wins
 * collision rule.
 * @module
 */
export { HashRing, type HashRingMode, type HashRingOptions, type RingShare, type WeightedNode } from './hash-ring.js';
export { jumpHash } from './jump-hash.js';
