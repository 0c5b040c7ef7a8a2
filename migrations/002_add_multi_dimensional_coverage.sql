-- 002: coverage is a product of three dimensions, coverage type x chain x stablecoin, and the
-- risk desk needs the exposure of each product.

ALTER TABLE policies ADD COLUMN IF NOT EXISTS chain TEXT NOT NULL DEFAULT 'ton';
ALTER TABLE policies ADD COLUMN IF NOT EXISTS stablecoin TEXT NOT NULL DEFAULT 'USDT';

CREATE INDEX IF NOT EXISTS policies_active_product_idx
    ON policies (coverage_type, chain, stablecoin) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS product_exposure (
    coverage_type    TEXT           NOT NULL,
    chain            TEXT           NOT NULL,
    stablecoin       TEXT           NOT NULL,
    active_policies  INTEGER        NOT NULL DEFAULT 0 CHECK (active_policies >= 0),
    total_coverage   NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (total_coverage >= 0),
    max_exposure     NUMERIC(39, 0) NOT NULL CHECK (max_exposure >= 0),  -- risk limit for the product
    updated_at       TIMESTAMPTZ    NOT NULL DEFAULT now(),
    PRIMARY KEY (coverage_type, chain, stablecoin)
);
