import { assertNonEmptyString } from '@gopherkit/primitives/errors';
import type { MysqlStock, MysqlStockLevels } from './mysql-stock.js';
import type { RedisStock, StockLevels } from './redis-stock.js';

/** How one SKU compares. */
export type DriftStatus =
  /** Same counters on both sides, every Redis mutation synced. */
  | 'in-sync'
  /** Some Redis mutations have not reached MySQL yet: counters differ by design, nothing to correct. */
  | 'in-flight'
  /** Every mutation synced, yet the counters differ: a lost or corrupted sync, corrected in MySQL when asked. */
  | 'drift'
  /** MySQL has applied more mutations than Redis made (Redis lost data, e.g. a failover): needs a human. */
  | 'redis-behind'
  /** The SKU exists on one side only. */
  | 'missing';

/** One row of the reconciliation report. */
export interface StockDrift {
  readonly sku: string;
  readonly status: DriftStatus;
  readonly redis: StockLevels | null;
  readonly mysql: MysqlStockLevels | null;
  /** Redis mutations not yet applied to MySQL (`redis.ops - mysql.syncedOps`). */
  readonly inFlight: number;
  /** redis − mysql per counter, when both exist. */
  readonly diff: { available: number; locked: number; sold: number; total: number } | null;
  /** True when this call applied a correcting delta to MySQL. */
  readonly corrected: boolean;
}

/** Options of {@link reconcileStock}. */
export interface ReconcileOptions {
  /** Redis, the selling authority. Never written by reconciliation. */
  redis: RedisStock;
  /** MySQL, the synced copy, where corrections go. */
  mysql: MysqlStock;
  /** Apply a correcting delta to MySQL for each SKU in `drift` (default false: report only). */
  correct?: boolean;
}

/**
 * Compares Redis stock (where sales happen) with MySQL (the synced copy) per SKU and reports drift.
 *
 * Why not "overwrite Redis with MySQL" (the seed's hourly job, seed L10678): while syncs are in
 * flight MySQL is behind, so overwriting puts sold units back on sale and they are sold again.
 * Here Redis is never written. Each Redis mutation is synced as one idempotent delta that bumps
 * `synced_ops`; a SKU is judged only when `synced_ops` has caught up with Redis's `ops` (MySQL is
 * read first, so a sync landing between the reads can only make the SKU look in flight, never
 * drifted). A real drift is corrected with a delta whose id is derived from the Redis op count,
 * so concurrent or repeated runs apply it once.
 */
export async function reconcileStock(skus: readonly string[], options: ReconcileOptions): Promise<StockDrift[]> {
  const out: StockDrift[] = [];
  for (const [i, sku] of skus.entries()) {
    assertNonEmptyString(`skus[${i}]`, sku);
    const mysql = await options.mysql.levels(sku);
    const redis = await options.redis.levels(sku);
    if (!mysql || !redis) {
      out.push({ sku, status: 'missing', redis, mysql, inFlight: 0, diff: null, corrected: false });
      continue;
    }
    const inFlight = redis.ops - mysql.syncedOps;
    const diff = {
      available: redis.available - mysql.available,
      locked: redis.locked - mysql.locked,
      sold: redis.sold - mysql.sold,
      total: redis.total - mysql.total,
    };
    const differs = diff.available !== 0 || diff.locked !== 0 || diff.sold !== 0 || diff.total !== 0;
    const status: DriftStatus = inFlight > 0 ? 'in-flight' : inFlight < 0 ? 'redis-behind' : differs ? 'drift' : 'in-sync';
    let corrected = false;
    if (status === 'drift' && options.correct) {
      corrected = await options.mysql.applyDelta({ opId: `reconcile:${sku}@${redis.ops}`, sku, ...diff, countsAsOp: false });
    }
    out.push({ sku, status, redis, mysql, inFlight, diff, corrected });
  }
  return out;
}
