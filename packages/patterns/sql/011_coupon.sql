-- Coupons for @gopherkit/patterns/coupon. Money in integer cents. issued_count is updated in the
-- same transaction as the coupon row (never asynchronously), and UNIQUE(template_id, user_id,
-- user_seq) makes a per-user limit impossible to exceed even if Redis is bypassed: user_seq is
-- the n-th coupon of this template for this user, 1..per_user_limit.
CREATE TABLE IF NOT EXISTS coupon_templates (
  id VARCHAR(64) NOT NULL,
  discount_cents BIGINT NOT NULL,
  total_count INT NOT NULL,
  issued_count INT NOT NULL DEFAULT 0,
  per_user_limit INT NOT NULL DEFAULT 1,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  CONSTRAINT chk_coupon_templates_issued CHECK (issued_count >= 0 AND issued_count <= total_count),
  CONSTRAINT chk_coupon_templates_limit CHECK (per_user_limit >= 1),
  CONSTRAINT chk_coupon_templates_discount CHECK (discount_cents >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- status: UNUSED -> LOCKED (order_id set) -> USED; LOCKED -> UNUSED only with the same order_id.
CREATE TABLE IF NOT EXISTS user_coupons (
  coupon_no VARCHAR(64) NOT NULL,
  template_id VARCHAR(64) NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  user_seq INT NOT NULL,
  status VARCHAR(8) NOT NULL DEFAULT 'UNUSED',
  order_id VARCHAR(64) NULL,
  issued_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  used_at TIMESTAMP(3) NULL,
  PRIMARY KEY (coupon_no),
  UNIQUE KEY uk_user_coupons_user_seq (template_id, user_id, user_seq),
  KEY idx_user_coupons_user (user_id, status),
  KEY idx_user_coupons_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
