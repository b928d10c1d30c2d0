import { GopherkitError } from '@gopherkit/primitives/errors';

/** The SKU has no stock record (never initialised, or its key was lost): nothing was changed. */
export class StockNotFoundError extends GopherkitError {
  constructor(readonly sku: string) {
    super('ERR_STOCK_NOT_FOUND', `no stock record for sku ${JSON.stringify(sku)}: initialise it before selling`);
  }
}

/** Fewer units are available than requested: nothing was changed (all-or-nothing across SKUs). */
export class InsufficientStockError extends GopherkitError {
  constructor(
    readonly sku: string,
    readonly requested: number,
    readonly available: number,
  ) {
    super('ERR_INSUFFICIENT_STOCK', `sku ${JSON.stringify(sku)}: requested ${requested}, only ${available} available`);
  }
}

/** What an order id's stock record says: reserved, confirmed (sold), released, or sold directly. */
export type OrderStockState = 'reserved' | 'confirmed' | 'released' | 'deducted';

/**
 * The order id already went another way (e.g. confirming an order whose reservation was released
 * by the timeout, or reserving an id that was released before it arrived): nothing was changed.
 * Callers branch on `state`, e.g. refund a payment that lost the race to the timeout.
 */
export class OrderStockStateError extends GopherkitError {
  constructor(
    readonly orderId: string,
    readonly state: OrderStockState,
    operation: string,
  ) {
    super('ERR_ORDER_STOCK_STATE', `cannot ${operation} order ${JSON.stringify(orderId)}: its stock is already ${state}`);
  }
}

/** confirm() found no reservation for the order id (never reserved, or its record aged out). */
export class ReservationNotFoundError extends GopherkitError {
  constructor(readonly orderId: string) {
    super('ERR_RESERVATION_NOT_FOUND', `no reservation for order ${JSON.stringify(orderId)}`);
  }
}

/** The optimistic strategy lost the version race `attempts` times in a row and gave up (undersell). */
export class OptimisticConflictError extends GopherkitError {
  constructor(
    readonly sku: string,
    readonly attempts: number,
  ) {
    super('ERR_OPTIMISTIC_CONFLICT', `sku ${JSON.stringify(sku)}: version changed under us ${attempts} time(s); gave up`);
  }
}

/** This operation id already moved this stock (the unique key on stock_logs): nothing was changed. */
export class DuplicateStockOperationError extends GopherkitError {
  constructor(
    readonly opId: string,
    readonly sku: string,
  ) {
    super('ERR_DUPLICATE_STOCK_OPERATION', `operation ${JSON.stringify(opId)} already applied to sku ${JSON.stringify(sku)}`);
  }
}

const stateNames: Record<string, OrderStockState> = { R: 'reserved', C: 'confirmed', X: 'released', D: 'deducted' };

/** Maps a script's one-letter state to its name. */
export function orderState(code: string): OrderStockState {
  const s = stateNames[code];
  if (!s) throw new GopherkitError('ERR_STOCK_SCRIPT', `unexpected order state ${JSON.stringify(code)} from a stock script`);
  return s;
}
