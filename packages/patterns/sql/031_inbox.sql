-- Idempotent consumer inbox (@gopherkit/patterns/inbox): one row per (consumer, message) processed,
-- inserted in the same transaction as the handler's writes. processed_at is ms since the epoch.
CREATE TABLE IF NOT EXISTS gk_inbox (
  consumer VARCHAR(128) NOT NULL,
  message_id VARCHAR(191) NOT NULL,
  processed_at BIGINT NOT NULL,
  PRIMARY KEY (consumer, message_id),
  KEY ix_gk_inbox_processed_at (processed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
