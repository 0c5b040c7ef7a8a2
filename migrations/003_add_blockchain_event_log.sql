-- 003: an append-only log of the events our contracts emitted, as the indexer saw them, and the
-- indexer's position per contract so it resumes where it stopped.

CREATE TABLE IF NOT EXISTS blockchain_events (
    observed_at       TIMESTAMPTZ    NOT NULL,
    tx_hash           TEXT           NOT NULL,
    event_index       SMALLINT       NOT NULL CHECK (event_index >= 0),
    logical_time      BIGINT         NOT NULL CHECK (logical_time >= 0),
    contract_address  TEXT           NOT NULL,
    contract_kind     TEXT           NOT NULL
        CHECK (contract_kind IN ('pricing_oracle', 'vault', 'sure_token', 'policy_router', 'policy_shard')),
    op                BIGINT         NOT NULL CHECK (op BETWEEN 0 AND 4294967295),          -- uint32
    query_id          NUMERIC(20, 0) NOT NULL CHECK (query_id BETWEEN 0 AND 18446744073709551615),  -- uint64
    payload           JSONB          NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tx_hash, event_index, observed_at)
);
CREATE INDEX IF NOT EXISTS blockchain_events_contract_lt_idx
    ON blockchain_events (contract_address, logical_time);

CREATE TABLE IF NOT EXISTS indexer_cursors (
    contract_address  TEXT        PRIMARY KEY,
    last_logical_time BIGINT      NOT NULL CHECK (last_logical_time >= 0),
    last_tx_hash      TEXT        NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('blockchain_events', 'observed_at', if_not_exists => TRUE, migrate_data => TRUE);
    END IF;
END
$$;
