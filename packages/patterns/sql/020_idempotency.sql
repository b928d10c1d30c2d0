-- Idempotency (@gopherkit/patterns/idempotency). Times are ms since the epoch from the writer's Clock.

-- Idempotency-Key records (IETF httpapi draft), one per (caller scope, key). status: PENDING while
-- the first request runs (attempt + locked_until identify it), DONE with the stored response.
-- The DONE update can run on the business transaction's connection, so the key row and the
-- business rows commit together or not at all.
CREATE TABLE IF NOT EXISTS gk_idempotency_keys (
  scope VARCHAR(128) NOT NULL,
  idem_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  fingerprint CHAR(64) CHARACTER SET ascii NOT NULL,
  status VARCHAR(8) NOT NULL,
  attempt VARCHAR(32) NULL,
  locked_until BIGINT NOT NULL,
  response LONGBLOB NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (scope, idem_key),
  KEY ix_gk_idempotency_keys_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Orders driven by the order state machine. refund_from keeps the state a refund started from,
-- so a failed refund returns there (the seed sends every failed refund back to Shipped).
CREATE TABLE IF NOT EXISTS gk_orders (
  id VARCHAR(64) NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  amount_cents BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  refund_from VARCHAR(16) NULL,
  version BIGINT UNSIGNED NOT NULL DEFAULT 0,
  request_token VARCHAR(64) NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uk_gk_orders_user_token (user_id, request_token),
  KEY ix_gk_orders_status (status, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per state change, written in the transaction that made it.
CREATE TABLE IF NOT EXISTS gk_order_status_log (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  order_id VARCHAR(64) NOT NULL,
  from_status VARCHAR(16) NOT NULL,
  to_status VARCHAR(16) NOT NULL,
  reason VARCHAR(255) NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (id),
  KEY ix_gk_order_status_log_order (order_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Payments. status: PAYING (sent to the provider), PAID, CLOSED (order cancelled / timed out),
-- REFUNDING (money arrived for a closed payment: give it back), REFUNDED.
-- UNIQUE(trade_no) is the backstop: one provider transaction pays at most one payment.
CREATE TABLE IF NOT EXISTS gk_payments (
  payment_no VARCHAR(64) NOT NULL,
  order_id VARCHAR(64) NOT NULL,
  amount_cents BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  trade_no VARCHAR(64) NULL,
  paid_at BIGINT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (payment_no),
  UNIQUE KEY uk_gk_payments_trade_no (trade_no),
  KEY ix_gk_payments_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every callback delivery as received (verified or not) and what the handler did with it.
CREATE TABLE IF NOT EXISTS gk_payment_deliveries (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  payment_no VARCHAR(64) NULL,
  trade_no VARCHAR(64) NULL,
  verified TINYINT NOT NULL,
  outcome VARCHAR(32) NOT NULL,
  body MEDIUMTEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (id),
  KEY ix_gk_payment_deliveries_payment (payment_no, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
