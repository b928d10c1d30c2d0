import { assertFinite, assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import { hash32 } from '../hash/index.js';
import { goPlacement, ketamaPlacement, mixedPlacement, type Placement } from './placement.js';

/**
 * How a {@link HashRing} places members and keys.
 * - `'mixed'` (default): `vnodes × weight` points at a well-mixed 32-bit hash (MurmurHash3) of
 *   `"{node}:{i}"`; keys at the same hash. Balanced, and independent of the order members joined.
 * - `'ketama'`: libketama / node `hashring` placement (MD5, 4 points per digest, counts scaled by
 *   weight share), so a TS service routes keys exactly as a memcached client using ketama does.
 * - `'goCompatible'`: the seed's Go ring bit for bit (CRC32 IEEE of `"{node}:{i}"`, 100 points per
 *   member, last-added member wins a collision), for sharing a ring with that Go code. CRC32 is
 *   badly mixed for similar names, so this ring is visibly unbalanced; use it only for parity.
 */
export type HashRingMode = 'mixed' | 'ketama' | 'goCompatible';

/** Options of {@link HashRing}. */
export interface HashRingOptions {
  /** Placement algorithm (default `'mixed'`). */
  mode?: HashRingMode;
  /**
   * Points per unit of weight: default 160 (`'mixed'`), 100 (`'goCompatible'`, as the seed), 40
   * MD5 digests of 4 points each (`'ketama'`, as libketama). More points balance better and cost
   * memory and rebuild time, not lookup time (binary search).
   */
  vnodes?: number;
  /** Custom unsigned 32-bit string hash for `'mixed'` (default MurmurHash3 x86-32). */
  hash?: (s: string) => number;
}

/** A member and its weight, as accepted by the {@link HashRing} constructor. */
export interface WeightedNode {
  node: string;
  /** Relative capacity (default 1): a member with weight 2 owns about twice the keys. */
  weight?: number;
}

/** One row of {@link HashRing.distribution}. */
export interface RingShare {
  node: string;
  weight: number;
  /** Points the member occupies on the ring. */
  points: number;
  /** Fraction of the 2^32 key space the member owns (the arcs ending at its points). */
  share: number;
  /** Fraction it would own on a perfectly balanced ring: weight / total weight. */
  expectedShare: number;
}

interface Member {
  weight: number;
  seq: number;
  /** Cached points (non-global placements only). */
  points: Uint32Array | undefined;
}

const RANK_BITS = 2 ** 20; // packed sort key = point × 2^20 + rank, exact below 2^52
const MODES: readonly HashRingMode[] = ['mixed', 'ketama', 'goCompatible'];

/**
 * A consistent-hash ring: keys map to members so that adding or removing one member of n moves
 * only about 1/n of the keys (`hash % n` moves almost all of them).
 *
 * Never throws on scale-up or scale-down (unlike rings that pre-assign a fixed number of
 * partitions): any number of members from 0 up to 2^20 works, and lookups on an empty ring
 * return `undefined`. Changes are cheap to batch: the sorted ring is rebuilt lazily on the next
 * lookup. Lookups are a binary search over a typed array and allocate nothing.
 *
 * @example
 * ```ts
 * const ring = new HashRing(['cache-a', 'cache-b', { node: 'cache-c', weight: 2 }]);
 * ring.get('user:42');            // 'cache-c'
 * ring.getN('user:42', 2);        // two distinct members, for replication
 * ring.add('cache-d');            // ~1/4 of keys move to cache-d, none move elsewhere
 * ```
 */
export class HashRing {
  readonly mode: HashRingMode;
  private readonly placement: Placement;
  private readonly members = new Map<string, Member>();
  private seq = 0;
  private dirty = false;
  private names: string[] = [];
  private points = new Uint32Array(0);
  private owners = new Uint32Array(0);
  private seen = new Uint32Array(0);
  private stamp = 0;

  constructor(nodes: Iterable<string | WeightedNode> = [], options: HashRingOptions = {}) {
    const mode = options.mode ?? 'mixed';
    if (!MODES.includes(mode)) throw new InvalidArgumentError('mode', `one of ${MODES.map((m) => `'${m}'`).join(', ')}`, mode);
    if (options.hash !== undefined) {
      if (typeof options.hash !== 'function') throw new InvalidArgumentError('hash', 'a function (string) => uint32', options.hash);
      if (mode !== 'mixed') throw new InvalidArgumentError('hash', `unset when mode is '${mode}' (its hash is part of the format)`, 'a function');
    }
    const vnodes = assertInteger('vnodes', options.vnodes ?? (mode === 'mixed' ? 160 : mode === 'goCompatible' ? 100 : 40), 1, 100_000);
    this.mode = mode;
    this.placement =
      mode === 'ketama' ? ketamaPlacement(vnodes) : mode === 'goCompatible' ? goPlacement(vnodes) : mixedPlacement(options.hash ?? hash32, vnodes);
    for (const n of nodes) {
      if (typeof n === 'string') this.add(n);
      else this.add(n?.node, n?.weight);
    }
  }

  /** Number of members. */
  get size(): number {
    return this.members.size;
  }

  /** Member names, in the order they were added. */
  nodes(): string[] {
    return [...this.members.keys()];
  }

  /** True when `node` is a member. */
  has(node: string): boolean {
    return this.members.has(node);
  }

  /**
   * Adds `node`, or changes its weight if it is already a member (re-adding with the same weight
   * is a no-op: a membership refresh from service discovery moves no keys).
   */
  add(node: string, weight = 1): this {
    assertNonEmptyString('node', node);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) throw new InvalidArgumentError('weight', 'a finite number > 0', weight);
    const m = this.members.get(node);
    if (m !== undefined && m.weight === weight) return this;
    if (m === undefined && this.members.size >= RANK_BITS) throw new InvalidArgumentError('node', `one of at most ${RANK_BITS} members`, node);
    this.members.set(node, { weight, seq: m?.seq ?? this.seq++, points: undefined });
    this.dirty = true;
    return this;
  }

  /** Removes `node`; returns false if it was not a member. Only the keys it owned move. */
  remove(node: string): boolean {
    const removed = this.members.delete(node);
    if (removed) this.dirty = true;
    return removed;
  }

  /** The member that owns `key`, or `undefined` when the ring is empty. */
  get(key: string): string | undefined {
    if (this.dirty) this.rebuild();
    const n = this.points.length;
    if (n === 0) return undefined;
    const i = this.search(this.placement.keyHash(key));
    return this.names[this.owners[i === n ? 0 : i] as number];
  }

  /**
   * Up to `n` distinct members for `key`, owner first, then the next distinct members clockwise:
   * the replica set for storing a key on several members. Returns all members when `n` exceeds
   * the ring size.
   */
  getN(key: string, n: number): string[] {
    assertInteger('n', n);
    const out: string[] = [];
    if (n === 0) return out;
    this.walk(key, (node) => {
      out.push(node);
      return out.length >= n;
    });
    return out;
  }

  /**
   * The first member clockwise from `key` that `accept`s, visiting each member once, in ring
   * order; `undefined` if none does. Lets a caller skip unhealthy or full members while keeping
   * keys as close to their owner as possible.
   */
  getMatching(key: string, accept: (node: string) => boolean): string | undefined {
    let found: string | undefined;
    this.walk(key, (node) => {
      if (!accept(node)) return false;
      found = node;
      return true;
    });
    return found;
  }

  /**
   * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2017): the first
   * member clockwise from `key` whose load is below its capacity
   * `⌈(totalLoad + 1) × weight / totalWeight × (1 + epsilon)⌉`, so after the caller counts the new
   * key no member holds more than `⌈average × (1 + epsilon)⌉` (weighted). Hot keys spill to the
   * next members instead of overloading their owner; with low load every key goes to its owner.
   *
   * `loadOf` reports each member's current load (e.g. in-flight requests or assigned keys, an
   * integer ≥ 0); it is called once per member, so a call costs O(members).
   */
  getBounded(key: string, loadOf: (node: string) => number, epsilon = 0.25): string | undefined {
    assertFinite('epsilon', epsilon, 0);
    if (this.dirty) this.rebuild();
    let total = 0;
    let totalWeight = 0;
    const loads = new Map<string, number>();
    for (const [node, m] of this.members) {
      const load = loadOf(node);
      loads.set(node, load);
      total += load;
      totalWeight += m.weight;
    }
    return this.getMatching(key, (node) => {
      const w = (this.members.get(node) as Member).weight;
      const fair = (((total + 1) * w) / totalWeight) * (1 + epsilon);
      return (loads.get(node) as number) < Math.ceil(fair - fair * 1e-12); // 6600.000000000001 is 6600
    });
  }

  /**
   * How the key space is split: points and owned share per member next to the share a perfectly
   * balanced ring would give, so skew (e.g. the CRC32 ring's) is visible without sampling keys.
   */
  distribution(): RingShare[] {
    if (this.dirty) this.rebuild();
    const n = this.points.length;
    const arcs = new Float64Array(this.names.length);
    const counts = new Uint32Array(this.names.length);
    for (let i = 0; i < n; i++) {
      const prev = i === 0 ? (this.points[n - 1] as number) - 2 ** 32 : (this.points[i - 1] as number);
      const r = this.owners[i] as number;
      arcs[r] = (arcs[r] as number) + (this.points[i] as number) - prev;
      counts[r] = (counts[r] as number) + 1;
    }
    let totalWeight = 0;
    for (const m of this.members.values()) totalWeight += m.weight;
    return this.names.map((node, r) => {
      const weight = (this.members.get(node) as Member).weight;
      return { node, weight, points: counts[r] as number, share: (arcs[r] as number) / 2 ** 32, expectedShare: weight / totalWeight };
    });
  }

  /** Visits distinct members clockwise from `key` until `visit` returns true or all were seen. */
  private walk(key: string, visit: (node: string) => boolean): void {
    if (this.dirty) this.rebuild();
    const n = this.points.length;
    if (n === 0) return;
    if (++this.stamp === 0xffffffff) {
      this.seen.fill(0);
      this.stamp = 1;
    }
    const stamp = this.stamp; // a nested walk (from inside `visit`) takes its own stamp
    const members = this.names.length;
    let distinct = 0;
    let i = this.search(this.placement.keyHash(key));
    for (let step = 0; step < n && distinct < members; step++, i++) {
      const r = this.owners[i >= n ? i - n : i] as number;
      if (this.seen[r] === stamp) continue;
      this.seen[r] = stamp;
      distinct++;
      if (visit(this.names[r] as string)) return;
    }
  }

  /** Index of the first point >= h (the points length when h is past the last point). */
  private search(h: number): number {
    const p = this.points;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((p[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private rebuild(): void {
    const entries = [...this.members.entries()];
    const { ties, global } = this.placement;
    if (ties === 'name') entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    else entries.sort(([, a], [, b]) => (ties === 'first-added' ? a.seq - b.seq : b.seq - a.seq));
    let totalWeight = 0;
    for (const [, m] of entries) totalWeight += m.weight;
    const scratch: number[] = [];
    let count = 0;
    const perMember: Uint32Array[] = [];
    for (const [node, m] of entries) {
      let pts = global ? undefined : m.points;
      if (pts === undefined) {
        scratch.length = 0;
        this.placement.points(node, m.weight, totalWeight, entries.length, scratch);
        pts = Uint32Array.from(scratch);
        if (!global) m.points = pts;
      }
      perMember.push(pts);
      count += pts.length;
    }
    const packed = new Float64Array(count);
    let k = 0;
    for (let r = 0; r < perMember.length; r++) {
      for (const p of perMember[r] as Uint32Array) packed[k++] = p * RANK_BITS + r;
    }
    packed.sort();
    this.points = new Uint32Array(count);
    this.owners = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const v = packed[i] as number;
      const r = v % RANK_BITS;
      this.owners[i] = r;
      this.points[i] = (v - r) / RANK_BITS;
    }
    this.names = entries.map(([node]) => node);
    this.seen = new Uint32Array(entries.length);
    this.stamp = 0;
    this.dirty = false;
  }
}
