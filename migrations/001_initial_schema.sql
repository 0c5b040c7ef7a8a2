-- 001: the core protocol state mirrored from chain: policies, LP deposits, vault and tranche state,
-- and the transactions that moved them. Amounts are in the token's smallest unit (nanoton or
-- 10^-6 USDT), so NUMERIC(39, 0) holds any uint128 without rounding.

-- TimescaleDB turns the time-series tables below into hypertables. It is created only where the
-- server offers it; the migration runner refuses to run without it on stacks that require it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS tranches (
    tranche_id      SMALLINT PRIMARY KEY CHECK (tranche_id BETWEEN 1 AND 6),
    token_symbol    TEXT     NOT NULL UNIQUE,
    allocation_bps  INTEGER  NOT NULL CHECK (allocation_bps BETWEEN 0 AND 10000),
    apy_min_bps     INTEGER  NOT NULL CHECK (apy_min_bps >= 0),
    apy_max_bps     INTEGER  NOT NULL,
    apy_curve       TEXT     NOT NULL
        CHECK (apy_curve IN ('flat', 'log', 'linear', 'sigmoid', 'quadratic', 'exponential')),
    lock_days       INTEGER  NOT NULL CHECK (lock_days >= 0),
    loss_priority   SMALLINT NOT NULL UNIQUE,  -- 1 absorbs losses first (EQT), 6 last (BTC)
    CHECK (apy_max_bps >= apy_min_bps)
);

INSERT INTO tranches (tranche_id, token_symbol, allocation_bps, apy_min_bps, apy_max_bps, apy_curve, lock_days, loss_priority)
VALUES
    (1, 'SURE-BTC',  2500,  400,  400, 'flat',        90, 6),
    (2, 'SURE-SNR',  2000,  650, 1000, 'log',         60, 5),
    (3, 'SURE-MEZZ', 1800,  900, 1500, 'linear',      30, 4),
    (4, 'SURE-JNR',  1500, 1250, 1600, 'sigmoid',      0, 3),
    (5, 'SURE-JNR+', 1200, 1600, 2200, 'quadratic',    0, 2),
    (6, 'SURE-EQT',  1000, 1500, 2500, 'exponential',  0, 1)
ON CONFLICT (tranche_id) DO NOTHING;

CREATE TABLE IF NOT EXISTS policies (
    policy_id        BIGINT         PRIMARY KEY CHECK (policy_id >= 0),  -- on-chain id, routed to shard id mod shard_count
    shard_id         SMALLINT       NOT NULL CHECK (shard_id >= 0),
    holder_address   TEXT           NOT NULL,
    coverage_type    TEXT           NOT NULL,
    coverage_amount  NUMERIC(39, 0) NOT NULL CHECK (coverage_amount > 0),
    premium          NUMERIC(39, 0) NOT NULL CHECK (premium >= 0),
    start_time       TIMESTAMPTZ    NOT NULL,
    expiry_time      TIMESTAMPTZ    NOT NULL,
    status           TEXT           NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'expired', 'claimed', 'cancelled')),
    tx_hash          TEXT,
    created_at       TIMESTAMPTZ    NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ    NOT NULL DEFAULT now(),
    CHECK (expiry_time > start_time)
);
CREATE INDEX IF NOT EXISTS policies_holder_idx ON policies (holder_address);
CREATE INDEX IF NOT EXISTS policies_active_expiry_idx ON policies (expiry_time) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS deposits (
    deposit_id     BIGSERIAL      PRIMARY KEY,
    lp_address     TEXT           NOT NULL,
    tranche_id     SMALLINT       NOT NULL REFERENCES tranches (tranche_id),
    amount         NUMERIC(39, 0) NOT NULL CHECK (amount > 0),
    tokens_minted  NUMERIC(39, 0) NOT NULL CHECK (tokens_minted >= 0),
    tx_hash        TEXT           NOT NULL UNIQUE,
    created_at     TIMESTAMPTZ    NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS deposits_lp_idx ON deposits (lp_address);
CREATE INDEX IF NOT EXISTS deposits_created_at_idx ON deposits (created_at);

-- Snapshots of the vault and of each tranche, written by the indexer: time series.
CREATE TABLE IF NOT EXISTS vault_state (
    observed_at     TIMESTAMPTZ    NOT NULL PRIMARY KEY,
    total_capital   NUMERIC(39, 0) NOT NULL CHECK (total_capital >= 0),
    total_coverage  NUMERIC(39, 0) NOT NULL CHECK (total_coverage >= 0),
    paused          BOOLEAN        NOT NULL
);

CREATE TABLE IF NOT EXISTS tranche_state (
    tranche_id          SMALLINT       NOT NULL REFERENCES tranches (tranche_id),
    observed_at         TIMESTAMPTZ    NOT NULL,
    capital             NUMERIC(39, 0) NOT NULL CHECK (capital >= 0),
    coverage_allocated  NUMERIC(39, 0) NOT NULL CHECK (coverage_allocated >= 0),
    token_supply        NUMERIC(39, 0) NOT NULL CHECK (token_supply >= 0),
    apy_bps             INTEGER        NOT NULL CHECK (apy_bps >= 0),
    PRIMARY KEY (tranche_id, observed_at)
);

-- Every TON transaction of our contracts that changed the state above.
CREATE TABLE IF NOT EXISTS transactions (
    tx_hash           TEXT           PRIMARY KEY,
    logical_time      BIGINT         NOT NULL CHECK (logical_time >= 0),
    account_address   TEXT           NOT NULL,
    kind              TEXT           NOT NULL
        CHECK (kind IN ('policy_purchase', 'deposit', 'withdrawal', 'claim_payout', 'premium_distribution', 'admin')),
    amount            NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (amount >= 0),
    policy_id         BIGINT         REFERENCES policies (policy_id),
    success           BOOLEAN        NOT NULL,
    created_at        TIMESTAMPTZ    NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_account_lt_idx ON transactions (account_address, logical_time);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('vault_state', 'observed_at', if_not_exists => TRUE, migrate_data => TRUE);
        PERFORM create_hypertable('tranche_state', 'observed_at', if_not_exists => TRUE, migrate_data => TRUE);
    END IF;
END
$$;
