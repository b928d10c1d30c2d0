import { type Clock, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, GopherkitError, InvalidArgumentError } from '@gopherkit/primitives/errors';
import { hashTag, isNoScriptError, loadScript, type RedisClient, type RedisKeyOptions } from '@gopherkit/primitives/redis';
import { InsufficientStockError, type OrderStockState, OrderStockStateError, orderState, ReservationNotFoundError, StockNotFoundError } from './errors.js';

/** One line of an order: `qty` units (an integer >= 1) of `sku`. */
export interface StockItem {
  readonly sku: string;
  readonly qty: number;
}

/** A SKU's counters. `available + locked + sold === total` after every operation. */
export interface StockLevels {
  available: number;
  locked: number;
  sold: number;
  total: number;
  /** Mutations applied to this SKU so far; {@link reconcileStock} compares it with MySQL's `synced_ops`. */
  ops: number;
}

/** Options of {@link RedisStock}. */
export interface RedisStockOptions extends RedisKeyOptions {
  /**
   * Redis Cluster hash tag shared by every key of this store (default `"stock"`). Multi-SKU
   * scripts need all their keys in one slot, so one store = one slot = one cluster node: choose
   * a tag per warehouse or per shard and create one store per tag to spread load; an order can
   * only span SKUs of one store.
   */
  tag?: string;
  /**
   * How long finished order records (confirmed, released, deducted) and restock markers are kept
   * so retries stay idempotent (default 7 days). Reservations in progress never expire.
   */
  recordRetentionMs?: number;
  /** Time source for reservation deadlines (default `systemClock`). */
  clock?: Clock;
}

/** Result of {@link RedisStock.deductMany}. */
export interface DeductManyResult {
  /** Units left per SKU right after this order's deduction (the first call's figures on a retry). */
  readonly remaining: Readonly<Record<string, number>>;
  /** True when the order id had already been deducted: nothing changed this time. */
  readonly duplicate: boolean;
}

/** Result of {@link RedisStock.reserve}. */
export interface ReserveResult {
  /** True when the order id was already reserved (or confirmed): nothing changed this time. */
  readonly duplicate: boolean;
  /** State the order's stock is in after the call: `reserved`, or `confirmed` for a late retry. */
  readonly state: OrderStockState;
}

/** Result of {@link RedisStock.confirm} and {@link RedisStock.release}. */
export interface SettleResult {
  /** True when this call moved the stock; false for a repeat (idempotent no-op). */
  readonly applied: boolean;
  /**
   * For release: what was undone — `reserved` (locked → available), `deducted` (sold → available),
   * or `null` when nothing was ever reserved under this id (a marker is written so a late reserve
   * for it is refused). For confirm: `reserved` when applied, `null` on a repeat.
   */
  readonly undone: OrderStockState | null;
}

/** Result of {@link RedisStock.restock}. */
export interface RestockResult {
  /** False when this operation id was already applied (duplicate delivery): nothing changed. */
  readonly applied: boolean;
  readonly available: number;
}

const DAY = 86_400_000;

const scripts = {
  init: loadScript<number>(new URL('./init.lua', import.meta.url), 1, 'stock-init'),
  deduct: loadScript<[number, number]>(new URL('./deduct.lua', import.meta.url), 1, 'stock-deduct'),
  reserve: loadScript<(number | string)[]>(new URL('./reserve.lua', import.meta.url), 0, 'stock-reserve'),
  deductMany: loadScript<(number | string)[]>(new URL('./deduct-many.lua', import.meta.url), 0, 'stock-deduct-many'),
  confirm: loadScript<[number, string]>(new URL('./confirm.lua', import.meta.url), 2, 'stock-confirm'),
  release: loadScript<[number, string]>(new URL('./release.lua', import.meta.url), 2, 'stock-release'),
  sweep: loadScript<string[]>(new URL('./sweep.lua', import.meta.url), 1, 'stock-sweep'),
  restock: loadScript<[number, number]>(new URL('./restock.lua', import.meta.url), 2, 'stock-restock'),
};

/** Variable-key scripts: `loadScript` fixes the key count, so these go through EVALSHA directly. */
type EvalClient = {
  evalsha(sha: string, n: number, ...args: (string | number)[]): Promise<unknown>;
  eval(lua: string, n: number, ...args: (string | number)[]): Promise<unknown>;
};
async function runVariadic<R>(client: RedisClient, script: { sha: string; lua: string }, keys: string[], args: (string | number)[]): Promise<R> {
  const c = client as unknown as EvalClient;
  try {
    return (await c.evalsha(script.sha, keys.length, ...keys, ...args)) as R;
  } catch (e) {
    if (!isNoScriptError(e)) throw e;
    return (await c.eval(script.lua, keys.length, ...keys, ...args)) as R;
  }
}

/** Most SKUs one multi-SKU order may carry (keeps one script call short: Redis runs it alone). */
export const MAX_ORDER_ITEMS = 100;

function validateItems(items: readonly StockItem[]): void {
  if (!Array.isArray(items) || items.length === 0 || items.length > MAX_ORDER_ITEMS) {
    throw new InvalidArgumentError('items', `a non-empty array of at most ${MAX_ORDER_ITEMS} {sku, qty}`, items);
  }
  const seen = new Set<string>();
  items.forEach((it, i) => {
    assertNonEmptyString(`items[${i}].sku`, it?.sku);
    assertInteger(`items[${i}].qty`, it.qty, 1);
    if (seen.has(it.sku)) throw new InvalidArgumentError(`items[${i}].sku`, 'unique within the order (merge the quantities)', it.sku);
    seen.add(it.sku);
  });
}

/**
 * Oversell-proof stock in Redis: every operation is one Lua script, so a check and its write can
 * never interleave with another buyer's. Per SKU the store keeps `available`, `locked`, `sold`
 * and `total`, with `available + locked + sold === total` and `available >= 0` after every call.
 *
 * Two ways to sell: {@link RedisStock.deduct} / {@link RedisStock.deductMany} sell at once;
 * {@link RedisStock.reserve} locks stock for an unpaid order, then {@link RedisStock.confirm}
 * (paid) or {@link RedisStock.release} (cancelled / timed out) settles it exactly once, even when
 * both race. {@link RedisStock.sweepExpired} returns reservations nobody settled.
 *
 * @example
 * ```ts
 * const stock = new RedisStock(redis, { prefix: 'shop:', tag: 'wh1' });
 * await stock.init('sku-1', 100);
 * await stock.reserve('order-42', [{ sku: 'sku-1', qty: 2 }], 15 * 60_000 + 60_000);
 * await stock.confirm('order-42'); // after payment
 * ```
 */
export class RedisStock {
  readonly prefix: string;
  readonly tag: string;
  private readonly base: string;
  private readonly retentionMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly redis: RedisClient,
    options: RedisStockOptions = {},
  ) {
    this.prefix = options.prefix ?? 'gk:';
    if (this.prefix.includes('{') || this.prefix.includes('}'))
      throw new InvalidArgumentError('prefix', 'free of braces (the hash tag comes from `tag`)', this.prefix);
    this.tag = options.tag ?? 'stock';
    this.base = `${this.prefix}stock:${hashTag(assertNonEmptyString('tag', this.tag))}:`;
    this.retentionMs = assertInteger('recordRetentionMs', options.recordRetentionMs ?? 7 * DAY, 1000);
    this.clock = options.clock ?? systemClock;
  }

  /** Key of a SKU's counters hash. */
  skuKey(sku: string): string {
    return `${this.base}sku:${sku}`;
  }
  private orderKey(orderId: string): string {
    return `${this.base}order:${orderId}`;
  }
  private get deadlinesKey(): string {
    return `${this.base}deadlines`;
  }

  /**
   * Creates a SKU with `total` units available; returns false and changes nothing when it
   * already exists, so a warm-up running during a sale never resets live counters.
   */
  async init(sku: string, total: number): Promise<boolean> {
    assertNonEmptyString('sku', sku);
    assertInteger('total', total);
    return (await scripts.init.run(this.redis, [this.skuKey(sku)], [total])) === 1;
  }

  /** The SKU's counters, or null when it does not exist. */
  async levels(sku: string): Promise<StockLevels | null> {
    assertNonEmptyString('sku', sku);
    const v = await this.redis.hmget(this.skuKey(sku), 'available', 'locked', 'sold', 'total', 'ops');
    if (v[0] === null) return null;
    const [available, locked, sold, total, ops] = v.map(Number) as [number, number, number, number, number];
    return { available, locked, sold, total, ops };
  }

  /**
   * Sells `qty` units of one SKU and returns how many are left. Not idempotent (use
   * {@link RedisStock.deductMany} with an order id when the caller may retry).
   * @throws StockNotFoundError when the SKU does not exist; InsufficientStockError when fewer than `qty` are available.
   */
  async deduct(sku: string, qty: number): Promise<number> {
    assertNonEmptyString('sku', sku);
    assertInteger('qty', qty, 1);
    const [status, value] = await scripts.deduct.run(this.redis, [this.skuKey(sku)], [qty]);
    if (status === -1) throw new StockNotFoundError(sku);
    if (status === -2) throw new InsufficientStockError(sku, qty, value);
    return value;
  }

  /**
   * Sells every item of an order, all or nothing, once per `orderId`: a retry returns the first
   * call's result and changes nothing. {@link RedisStock.release} undoes it (compensation).
   * @throws StockNotFoundError / InsufficientStockError naming the first SKU that fails (nothing changed);
   *   OrderStockStateError when the id was used for a reservation or already released.
   */
  async deductMany(items: readonly StockItem[], orderId: string): Promise<DeductManyResult> {
    validateItems(items);
    assertNonEmptyString('orderId', orderId);
    const keys = [this.orderKey(orderId), ...items.map((i) => this.skuKey(i.sku))];
    const r = await runVariadic<(number | string)[]>(this.redis, scripts.deductMany, keys, [
      this.retentionMs,
      ...items.map((i) => i.sku),
      ...items.map((i) => i.qty),
    ]);
    const status = r[0];
    if (status === -1) throw new StockNotFoundError((items[Number(r[1]) - 1] as StockItem).sku);
    if (status === -2) {
      const it = items[Number(r[1]) - 1] as StockItem;
      throw new InsufficientStockError(it.sku, it.qty, Number(r[2]));
    }
    if (status === -3) throw new OrderStockStateError(orderId, orderState(String(r[1])), 'deduct');
    const remaining: Record<string, number> = {};
    items.forEach((it, i) => {
      remaining[it.sku] = Number(r[i + 1]);
    });
    return { remaining, duplicate: status === 2 };
  }

  /**
   * Locks stock for an unpaid order (available → locked), all or nothing, once per `orderId`.
   * `ttlMs` is how long the reservation may stay unsettled before {@link RedisStock.sweepExpired}
   * releases it: make it the order timeout plus a grace period, so the timeout handler normally
   * releases first and the sweeper only catches what a crashed handler left behind. The record
   * itself never expires while reserved, so locked stock cannot leak.
   * @throws StockNotFoundError / InsufficientStockError (nothing changed); OrderStockStateError
   *   when the id was already released (a reserve arriving after its cancel) or deducted.
   */
  async reserve(orderId: string, items: readonly StockItem[], ttlMs: number): Promise<ReserveResult> {
    assertNonEmptyString('orderId', orderId);
    validateItems(items);
    assertInteger('ttlMs', ttlMs, 1);
    const keys = [this.orderKey(orderId), this.deadlinesKey, ...items.map((i) => this.skuKey(i.sku))];
    const deadline = Math.ceil(this.clock.now() + ttlMs);
    const r = await runVariadic<(number | string)[]>(this.redis, scripts.reserve, keys, [
      orderId,
      deadline,
      ...items.map((i) => i.sku),
      ...items.map((i) => i.qty),
    ]);
    const status = r[0];
    if (status === 1) return { duplicate: false, state: 'reserved' };
    if (status === 2) return { duplicate: true, state: orderState(String(r[1])) };
    if (status === -1) throw new StockNotFoundError((items[Number(r[1]) - 1] as StockItem).sku);
    if (status === -2) {
      const it = items[Number(r[1]) - 1] as StockItem;
      throw new InsufficientStockError(it.sku, it.qty, Number(r[2]));
    }
    if (status === -3) throw new OrderStockStateError(orderId, orderState(String(r[1])), 'reserve');
    throw new GopherkitError('ERR_STOCK_SCRIPT', `stock-reserve returned ${JSON.stringify(r)}`);
  }

  /**
   * Settles a paid order: locked → sold for each of its SKUs, read inside the script. Exactly
   * one of confirm/release ever applies to an order; a repeat confirm returns `applied: false`.
   * @throws ReservationNotFoundError when nothing was reserved under `orderId`;
   *   OrderStockStateError (`state: 'released'`) when the timeout or a cancel won the race —
   *   the caller must refund, the stock is already back on sale.
   */
  async confirm(orderId: string): Promise<SettleResult> {
    assertNonEmptyString('orderId', orderId);
    const [status, state] = await scripts.confirm.run(this.redis, [this.orderKey(orderId), this.deadlinesKey], [orderId, `${this.base}sku:`, this.retentionMs]);
    if (status === 1) return { applied: true, undone: 'reserved' };
    if (status === 2) return { applied: false, undone: null };
    if (status === -1) throw new ReservationNotFoundError(orderId);
    throw new OrderStockStateError(orderId, orderState(state), 'confirm');
  }

  /**
   * Gives an order's stock back: a reservation (locked → available) or a
   * {@link RedisStock.deductMany} sale (sold → available). Idempotent; releasing an id that
   * was never reserved writes a marker so a reserve arriving later for it is refused (null
   * compensation and hanging, as in dtm's barrier).
   * @throws OrderStockStateError (`state: 'confirmed'`) when the order was already paid.
   */
  async release(orderId: string): Promise<SettleResult> {
    assertNonEmptyString('orderId', orderId);
    const [status, prev] = await scripts.release.run(this.redis, [this.orderKey(orderId), this.deadlinesKey], [orderId, `${this.base}sku:`, this.retentionMs]);
    if (status === 1) return { applied: true, undone: orderState(prev) };
    if (status === 2 || status === 0) return { applied: false, undone: null };
    throw new OrderStockStateError(orderId, orderState(prev), 'release');
  }

  /** Where an order's stock stands, or null when the store has no record of the id. */
  async orderState(orderId: string): Promise<OrderStockState | null> {
    assertNonEmptyString('orderId', orderId);
    const s = await this.redis.hget(this.orderKey(orderId), 'state');
    return s === null ? null : orderState(s);
  }

  /**
   * Adds `qty` units (to `available` and `total`) once per `opId`: a redelivered restock (a
   * supplier delivery, a returned item) changes nothing the second time.
   * @throws StockNotFoundError when the SKU does not exist.
   */
  async restock(sku: string, qty: number, opId: string): Promise<RestockResult> {
    assertNonEmptyString('sku', sku);
    assertInteger('qty', qty, 1);
    assertNonEmptyString('opId', opId);
    const [status, available] = await scripts.restock.run(this.redis, [this.skuKey(sku), `${this.base}op:${opId}`], [qty, this.retentionMs]);
    if (status === -1) throw new StockNotFoundError(sku);
    return { applied: status === 1, available };
  }

  /**
   * Releases up to `limit` reservations whose `ttlMs` has passed unsettled and returns their
   * order ids. Run it periodically ({@link ReservationSweeper}); safe from several processes.
   */
  async sweepExpired(limit = 100): Promise<string[]> {
    assertInteger('limit', limit, 1, 10_000);
    return scripts.sweep.run(
      this.redis,
      [this.deadlinesKey],
      [Math.floor(this.clock.now()), limit, `${this.base}sku:`, `${this.base}order:`, this.retentionMs],
    );
  }
}
