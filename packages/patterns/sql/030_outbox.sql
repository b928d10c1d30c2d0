-- Transactional outbox (@gopherkit/patterns/outbox).
-- Times are milliseconds since the epoch from the writer's Clock (so tests can drive them with a ManualClock).
-- status: 0 pending, 1 published, 2 dead (attempts exhausted; blocks its aggregate), 3 skipped by an operator.
CREATE TABLE IF NOT EXISTS gk_outbox (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  aggregate_type VARCHAR(64) NOT NULL,
  aggregate_id VARCHAR(128) NOT NULL,
  seq BIGINT UNSIGNED NOT NULL,
  topic VARCHAR(255) NOT NULL,
  msg_key VARCHAR(255) NOT NULL, -- the message key (partition key): `key` is a reserved word
  headers JSON NULL,
  payload LONGBLOB NOT NULL,
  created_at BIGINT NOT NULL,
  status TINYINT UNSIGNED NOT NULL DEFAULT 0,
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  last_error VARCHAR(1000) NULL,
  claimed_by VARCHAR(64) NULL,
  claim_expires_at BIGINT NOT NULL DEFAULT 0,
  published_at BIGINT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_gk_outbox_aggregate_seq (aggregate_type, aggregate_id, seq),
  KEY ix_gk_outbox_status_id (status, id),
  KEY ix_gk_outbox_published (status, published_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per aggregate: the last sequence number handed out. The upsert in enqueue locks this row
-- until the business transaction ends, so sequence order equals commit order within an aggregate.
CREATE TABLE IF NOT EXISTS gk_outbox_aggregate (
  aggregate_type VARCHAR(64) NOT NULL,
  aggregate_id VARCHAR(128) NOT NULL,
  last_seq BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
