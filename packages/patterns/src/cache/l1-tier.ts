import { assertInteger } from '@gopherkit/primitives/errors';

/** One entry of the in-process tier. @internal */
export interface L1Entry {
  /** The decoded value, or `undefined` for a cached "not found". */
  readonly value: unknown;
  readonly negative: boolean;
  /** Clock ms after which the entry is stale (kept for outages, served only when Redis is unreachable). */
  readonly freshUntil: number;
}

/**
 * The L1 tier: a size-bounded LRU map (a `Map` re-inserted on hit keeps recency order). Entries
 * past their TTL are not dropped: they stay until evicted by size, so that during a Redis outage
 * the cache can still serve the last known value (marked stale) instead of calling the loader.
 * @internal
 */
export class L1Tier {
  private readonly map = new Map<string, L1Entry>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    this.maxEntries = assertInteger('l1.maxEntries', maxEntries, 1);
  }

  get(key: string): L1Entry | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry;
  }

  set(key: string, entry: L1Entry): void {
    this.map.delete(key);
    this.map.set(key, entry);
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
