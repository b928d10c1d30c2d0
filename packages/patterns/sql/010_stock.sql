-- Stock per SKU for @gopherkit/patterns/stock. Quantities are whole units; the four counters
-- always satisfy available + locked + sold = total, enforced by the database, not by callers.
-- `version` serves the optimistic strategy; `synced_ops` counts the Redis mutations applied to this
-- row (see reconcileStock), so drift is judged only once every in-flight delta has landed.
CREATE TABLE IF NOT EXISTS product_stocks (
  sku VARCHAR(64) NOT NULL,
  total BIGINT NOT NULL,
  available BIGINT NOT NULL,
  locked BIGINT NOT NULL DEFAULT 0,
  sold BIGINT NOT NULL DEFAULT 0,
  version BIGINT UNSIGNED NOT NULL DEFAULT 0,
  synced_ops BIGINT NOT NULL DEFAULT 0,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (sku),
  CONSTRAINT chk_product_stocks_available CHECK (available >= 0),
  CONSTRAINT chk_product_stocks_locked CHECK (locked >= 0),
  CONSTRAINT chk_product_stocks_sold CHECK (sold >= 0),
  CONSTRAINT chk_product_stocks_sum CHECK (available + locked + sold = total)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per stock movement. The unique key makes every movement idempotent per operation id
-- (an order id, a restock id, a reconciliation run): a retried deduction or a redelivered sync
-- delta hits the key and changes nothing.
CREATE TABLE IF NOT EXISTS stock_logs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  op_id VARCHAR(128) NOT NULL,
  sku VARCHAR(64) NOT NULL,
  operation VARCHAR(16) NOT NULL,
  quantity BIGINT NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uk_stock_logs_op (op_id, sku, operation),
  KEY idx_stock_logs_sku (sku, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The minimal order row the reservation timeout cancels with a guarded update
-- (WHERE status = 'PENDING'); cancel_count exposes a double cancel. The idempotency module's order
-- state machine supersedes this table for full order lifecycles.
CREATE TABLE IF NOT EXISTS stock_orders (
  id VARCHAR(64) NOT NULL,
  status VARCHAR(16) NOT NULL DEFAULT 'PENDING',
  cancel_count INT NOT NULL DEFAULT 0,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY idx_stock_orders_status (status, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
