/**
 * Oversell-proof stock: Redis Lua scripts (deduct, multi-SKU deduct, reserve/confirm/release with
 * a terminal marker, idempotent restock, a sweeper for unsettled reservations), the MySQL
 * strategies side by side (FOR UPDATE, optimistic version, conditional UPDATE, sorted multi-SKU
 * locking), the order-timeout handler and Redis↔MySQL reconciliation by idempotent deltas.
 *
 * Invariant after every operation, per SKU: `available + locked + sold === total`, `available >= 0`.
 * @module
 */
export {
  DuplicateStockOperationError,
  InsufficientStockError,
  OptimisticConflictError,
  type OrderStockState,
  OrderStockStateError,
  ReservationNotFoundError,
  StockNotFoundError,
} from './errors.js';
export { type InTransaction, MysqlStock, type MysqlStockLevels, type MysqlStockOptions, type StockDelta } from './mysql-stock.js';
export { type CancelOutcome, cancelPendingOrder, type OrderTimeoutOptions, type OrderTimeoutResult, orderTimeoutHandler } from './order-timeout.js';
export { type DriftStatus, type ReconcileOptions, reconcileStock, type StockDrift } from './reconcile.js';
export {
  type DeductManyResult,
  MAX_ORDER_ITEMS,
  RedisStock,
  type RedisStockOptions,
  type ReserveResult,
  type RestockResult,
  type SettleResult,
  type StockItem,
  type StockLevels,
} from './redis-stock.js';
export { ReservationSweeper, type ReservationSweeperEvents, type ReservationSweeperOptions } from './sweeper.js';
