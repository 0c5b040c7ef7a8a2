-- 004: dynamic pricing. The oracle keeper records every price update it submits to the
-- PricingOracle contract and whether it was confirmed on chain; policies remember the rate
-- they were sold at.

CREATE TABLE IF NOT EXISTS pricing_oracle_updates (
    submitted_at      TIMESTAMPTZ NOT NULL,
    coverage_type     TEXT        NOT NULL,
    premium_rate_bps  INTEGER     NOT NULL CHECK (premium_rate_bps BETWEEN 0 AND 10000),
    oracle_address    TEXT        NOT NULL,
    keeper_address    TEXT        NOT NULL,
    query_id          NUMERIC(20, 0) NOT NULL CHECK (query_id BETWEEN 0 AND 18446744073709551615),
    status            TEXT        NOT NULL DEFAULT 'submitted'
        CHECK (status IN ('submitted', 'confirmed', 'failed')),
    tx_hash           TEXT,
    confirmed_at      TIMESTAMPTZ,
    PRIMARY KEY (coverage_type, submitted_at),
    CHECK (status <> 'confirmed' OR (tx_hash IS NOT NULL AND confirmed_at IS NOT NULL))
);

-- The price in force per coverage type: the latest confirmed update.
CREATE OR REPLACE VIEW current_premium_rates AS
SELECT DISTINCT ON (coverage_type)
    coverage_type, premium_rate_bps, confirmed_at, tx_hash
FROM pricing_oracle_updates
WHERE status = 'confirmed'
ORDER BY coverage_type, confirmed_at DESC;

ALTER TABLE policies ADD COLUMN IF NOT EXISTS premium_rate_bps INTEGER
    CHECK (premium_rate_bps BETWEEN 0 AND 10000);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('pricing_oracle_updates', 'submitted_at', if_not_exists => TRUE, migrate_data => TRUE);
    END IF;
END
$$;
