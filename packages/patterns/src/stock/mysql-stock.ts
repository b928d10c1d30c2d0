import { type Clock, sleep, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { DuplicateStockOperationError, InsufficientStockError, OptimisticConflictError, StockNotFoundError } from './errors.js';
import type { StockItem, StockLevels } from './redis-stock.js';

/** A SKU's row in `product_stocks`. */
export interface MysqlStockLevels extends StockLevels {
  /** Optimistic-lock version, bumped by every write of the optimistic strategy. */
  version: number;
  /** Redis mutations applied to this row by {@link MysqlStock.applyDelta} (`ops` is the same figure). */
  syncedOps: number;
}

/** Where a MySQL strategy runs: its own transaction (default) or the caller's (`conn`). */
export interface InTransaction {
  /**
   * A connection with a transaction the caller opened; the deduction joins it and the caller
   * commits or rolls back (e.g. together with the order INSERT). Without it, the strategy opens,
   * commits and rolls back its own transaction on a pooled connection.
   */
  conn?: PoolConnection;
}

/** Options of {@link MysqlStock}. */
export interface MysqlStockOptions {
  /** Extra attempts of the optimistic strategy after a version conflict (default 3, as the seed). */
  maxRetries?: number;
  /** Upper bound of the random pause before an optimistic retry (default 10 ms: the seed's 0–9 ms). */
  retryJitterMs?: number;
  /** Attempts of a multi-SKU deduction that hit `ER_LOCK_DEADLOCK` (default 3). */
  deadlockRetries?: number;
  clock?: Clock;
  /** Random source in [0, 1) for the retry jitter (default Math.random). */
  random?: () => number;
}

/** A change to apply to a SKU's row, e.g. one Redis mutation synced to MySQL. */
export interface StockDelta {
  /** Makes the delta idempotent: a redelivered delta with the same id changes nothing. */
  readonly opId: string;
  readonly sku: string;
  readonly available?: number;
  readonly locked?: number;
  readonly sold?: number;
  readonly total?: number;
  /**
   * True (default) when the delta mirrors one Redis mutation: `synced_ops` grows by one so
   * {@link reconcileStock} knows when every in-flight delta has landed. False for corrections.
   */
  readonly countsAsOp?: boolean;
}

const isDuplicate = (e: unknown) => (e as { code?: string })?.code === 'ER_DUP_ENTRY';
const isDeadlock = (e: unknown) => (e as { code?: string })?.code === 'ER_LOCK_DEADLOCK';

/**
 * The classic MySQL strategies against oversell, side by side on one schema
 * (`product_stocks`, `stock_logs`; migration `010_stock.sql`). Each deduction also writes a
 * `stock_logs` row in the same transaction, whose unique key `(op_id, sku, operation)` makes a
 * retried deduction with the same `opId` fail with {@link DuplicateStockOperationError} instead of
 * selling twice. All keep `available >= 0` (and the schema's CHECKs refuse anything else).
 *
 * Which to use: {@link MysqlStock.deductConditional} (one statement, no read, no undersell) unless
 * you need to read the row before deciding — then {@link MysqlStock.deductForUpdate}. The
 * optimistic strategy is here to be measured: under contention it gives up on buyers while stock
 * remains (undersell).
 */
export class MysqlStock {
  private readonly maxRetries: number;
  private readonly jitterMs: number;
  private readonly deadlockRetries: number;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(
    readonly pool: Pool,
    options: MysqlStockOptions = {},
  ) {
    this.maxRetries = assertInteger('maxRetries', options.maxRetries ?? 3, 0, 1000);
    this.jitterMs = assertInteger('retryJitterMs', options.retryJitterMs ?? 10, 0, 60_000);
    this.deadlockRetries = assertInteger('deadlockRetries', options.deadlockRetries ?? 3, 1, 100);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** Creates the SKU's row with `total` available; false (nothing changed) when it exists. */
  async init(sku: string, total: number): Promise<boolean> {
    assertNonEmptyString('sku', sku);
    assertInteger('total', total);
    const [r] = await this.pool.query<ResultSetHeader>('INSERT IGNORE INTO product_stocks (sku, total, available) VALUES (?, ?, ?)', [sku, total, total]);
    return r.affectedRows === 1;
  }

  /** The SKU's row, or null. */
  async levels(sku: string, conn?: PoolConnection): Promise<MysqlStockLevels | null> {
    assertNonEmptyString('sku', sku);
    const [rows] = await (conn ?? this.pool).query<RowDataPacket[]>(
      'SELECT available, locked, sold, total, version, synced_ops FROM product_stocks WHERE sku = ?',
      [sku],
    );
    const r = rows[0];
    if (!r) return null;
    const syncedOps = Number(r.synced_ops);
    return {
      available: Number(r.available),
      locked: Number(r.locked),
      sold: Number(r.sold),
      total: Number(r.total),
      version: Number(r.version),
      syncedOps,
      ops: syncedOps,
    };
  }

  /**
   * Pessimistic: `SELECT … FOR UPDATE` holds the row lock from the read to the commit, so buyers
   * of one SKU queue on the row. Correct and simple; throughput on a hot SKU is one transaction
   * at a time.
   */
  async deductForUpdate(sku: string, qty: number, opId: string, options: InTransaction = {}): Promise<void> {
    validate(sku, qty, opId);
    return this.inTransaction(options.conn, async (conn) => {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', [sku]);
      const row = rows[0];
      if (!row) throw new StockNotFoundError(sku);
      if (Number(row.available) < qty) throw new InsufficientStockError(sku, qty, Number(row.available));
      await conn.query('UPDATE product_stocks SET available = available - ?, sold = sold + ? WHERE sku = ?', [qty, qty, sku]);
      await this.log(conn, opId, sku, 'deduct', -qty);
    });
  }

  /**
   * Conditional UPDATE: `SET available = available - ? WHERE sku = ? AND available >= ?` and check
   * `affectedRows`. The check and the write are one statement under the row lock: no read
   * round trip, no lost update, no undersell.
   */
  async deductConditional(sku: string, qty: number, opId: string, options: InTransaction = {}): Promise<void> {
    validate(sku, qty, opId);
    return this.inTransaction(options.conn, async (conn) => {
      const [r] = await conn.query<ResultSetHeader>('UPDATE product_stocks SET available = available - ?, sold = sold + ? WHERE sku = ? AND available >= ?', [
        qty,
        qty,
        sku,
        qty,
      ]);
      if (r.affectedRows !== 1) {
        const l = await this.levels(sku, conn);
        if (!l) throw new StockNotFoundError(sku);
        throw new InsufficientStockError(sku, qty, l.available);
      }
      await this.log(conn, opId, sku, 'deduct', -qty);
    });
  }

  /**
   * Optimistic: read `available, version` without a lock, then
   * `UPDATE … SET version = version + 1 WHERE sku = ? AND version = ?`; on a conflict, pause a
   * random 0–`retryJitterMs` ms and retry up to `maxRetries` times. No lock is held between read and
   * write, but under contention most buyers lose the race and are refused while stock remains.
   * Runs in its own transactions (a retry inside a caller's REPEATABLE READ transaction would
   * re-read the same snapshot forever).
   * @throws OptimisticConflictError after `maxRetries + 1` lost races.
   */
  async deductOptimistic(sku: string, qty: number, opId: string): Promise<void> {
    validate(sku, qty, opId);
    for (let attempt = 1; ; attempt++) {
      const l = await this.levels(sku);
      if (!l) throw new StockNotFoundError(sku);
      if (l.available < qty) throw new InsufficientStockError(sku, qty, l.available);
      const won = await this.inTransaction(undefined, async (conn) => {
        const [r] = await conn.query<ResultSetHeader>(
          'UPDATE product_stocks SET available = available - ?, sold = sold + ?, version = version + 1 WHERE sku = ? AND version = ?',
          [qty, qty, sku, l.version],
        );
        if (r.affectedRows !== 1) return false;
        await this.log(conn, opId, sku, 'deduct', -qty);
        return true;
      });
      if (won) return;
      if (attempt > this.maxRetries) throw new OptimisticConflictError(sku, attempt);
      if (this.jitterMs > 0) await sleep(Math.floor(this.random() * this.jitterMs), { clock: this.clock });
    }
  }

  /**
   * Multi-SKU deduction, all or nothing: locks the rows with `FOR UPDATE` in sorted SKU order, so
   * two orders over the same SKUs always queue instead of deadlocking (locking in request order
   * can give `ER_LOCK_DEADLOCK`, error 1213); a deadlock from elsewhere is retried
   * `deadlockRetries` times when the strategy owns the transaction.
   */
  async deductManySorted(items: readonly StockItem[], opId: string, options: InTransaction = {}): Promise<void> {
    assertNonEmptyString('opId', opId);
    if (!Array.isArray(items) || items.length === 0) throw new InvalidArgumentError('items', 'a non-empty array of {sku, qty}', items);
    items.forEach((it, i) => {
      assertNonEmptyString(`items[${i}].sku`, it?.sku);
      assertInteger(`items[${i}].qty`, it.qty, 1);
    });
    const sorted = [...items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    const run = () =>
      this.inTransaction(options.conn, async (conn) => {
        for (const it of sorted) {
          const [rows] = await conn.query<RowDataPacket[]>('SELECT available FROM product_stocks WHERE sku = ? FOR UPDATE', [it.sku]);
          const row = rows[0];
          if (!row) throw new StockNotFoundError(it.sku);
          if (Number(row.available) < it.qty) throw new InsufficientStockError(it.sku, it.qty, Number(row.available));
        }
        for (const it of sorted) {
          await conn.query('UPDATE product_stocks SET available = available - ?, sold = sold + ? WHERE sku = ?', [it.qty, it.qty, it.sku]);
          await this.log(conn, opId, it.sku, 'deduct', -it.qty);
        }
      });
    if (options.conn) return run();
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (e) {
        if (!isDeadlock(e) || attempt >= this.deadlockRetries) throw e;
      }
    }
  }

  /**
   * Applies a delta once per `opId` (the sync of one Redis mutation, or a reconciliation
   * correction) and returns whether it changed the row; a redelivery returns false.
   */
  async applyDelta(delta: StockDelta, options: InTransaction = {}): Promise<boolean> {
    assertNonEmptyString('opId', delta.opId);
    assertNonEmptyString('sku', delta.sku);
    const d = {
      available: assertInteger('available', delta.available ?? 0, Number.MIN_SAFE_INTEGER),
      locked: assertInteger('locked', delta.locked ?? 0, Number.MIN_SAFE_INTEGER),
      sold: assertInteger('sold', delta.sold ?? 0, Number.MIN_SAFE_INTEGER),
      total: assertInteger('total', delta.total ?? 0, Number.MIN_SAFE_INTEGER),
    };
    const op = delta.countsAsOp === false ? 'correct' : 'sync';
    return this.inTransaction(options.conn, async (conn) => {
      try {
        await this.log(conn, delta.opId, delta.sku, op, d.available);
      } catch (e) {
        if (e instanceof DuplicateStockOperationError) return false;
        throw e;
      }
      const [r] = await conn.query<ResultSetHeader>(
        'UPDATE product_stocks SET available = available + ?, locked = locked + ?, sold = sold + ?, total = total + ?, synced_ops = synced_ops + ? WHERE sku = ?',
        [d.available, d.locked, d.sold, d.total, op === 'sync' ? 1 : 0, delta.sku],
      );
      if (r.affectedRows !== 1) throw new StockNotFoundError(delta.sku);
      return true;
    });
  }

  private async log(conn: PoolConnection, opId: string, sku: string, operation: string, quantity: number): Promise<void> {
    try {
      await conn.query('INSERT INTO stock_logs (op_id, sku, operation, quantity) VALUES (?, ?, ?, ?)', [opId, sku, operation, quantity]);
    } catch (e) {
      if (isDuplicate(e)) throw new DuplicateStockOperationError(opId, sku);
      throw e;
    }
  }

  private async inTransaction<T>(conn: PoolConnection | undefined, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    if (conn) return fn(conn);
    const c = await this.pool.getConnection();
    try {
      await c.beginTransaction();
      try {
        const out = await fn(c);
        await c.commit();
        return out;
      } catch (e) {
        await c.rollback().catch(() => {});
        throw e;
      }
    } finally {
      c.release();
    }
  }
}

function validate(sku: string, qty: number, opId: string): void {
  assertNonEmptyString('sku', sku);
  assertInteger('qty', qty, 1);
  assertNonEmptyString('opId', opId);
}
