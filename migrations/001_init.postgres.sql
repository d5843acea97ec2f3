-- 001_init (PostgreSQL): colibri's first schema.
--
-- Every row carries the id of the engine instance that wrote it, so several
-- engines can share one database. Prices, amounts, fees and balances are
-- NUMERIC (exact; the scale written is kept: '0.10' reads back as 0.10),
-- never float. Times are Unix milliseconds. JSON documents are json (kept
-- byte for byte, unlike jsonb). Ids come from identity columns and only grow,
-- so list cursors stay valid; the primary keys are (instance_id, id), which
-- serves every per-instance list and saves an index on the write path.
--
-- Writes are idempotent so that replaying the writer's spill file is safe:
-- fills are unique per (instance, connector, market, trade id), order and
-- strategy upserts apply only if not older than the stored row, history and
-- balance rows are unique on their content.

CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    version      TEXT NOT NULL DEFAULT '',
    created_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);

CREATE TABLE strategies (
    instance_id TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    connector   TEXT NOT NULL DEFAULT '',
    market      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    config      JSON NOT NULL DEFAULT '{}',
    state       JSON NOT NULL DEFAULT '{}',
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (instance_id, id)
);

CREATE TABLE orders (
    id                BIGINT GENERATED ALWAYS AS IDENTITY,
    instance_id       TEXT NOT NULL,
    client_order_id   TEXT NOT NULL,
    exchange_order_id TEXT NOT NULL DEFAULT '',
    connector         TEXT NOT NULL,
    market            TEXT NOT NULL,
    strategy_id       TEXT NOT NULL DEFAULT '',
    side              TEXT NOT NULL,
    type              TEXT NOT NULL,
    price             NUMERIC NOT NULL,
    amount            NUMERIC NOT NULL,
    executed_base     NUMERIC NOT NULL DEFAULT 0,
    executed_quote    NUMERIC NOT NULL DEFAULT 0,
    state             TEXT NOT NULL,
    fail_reason       TEXT NOT NULL DEFAULT '',
    created_ms        BIGINT NOT NULL,
    updated_ms        BIGINT NOT NULL,
    UNIQUE (instance_id, client_order_id),
    PRIMARY KEY (instance_id, id)
);
CREATE INDEX orders_live ON orders (instance_id, id)
    WHERE state IN ('pending_create', 'open', 'partially_filled', 'pending_cancel');

CREATE TABLE order_state_history (
    id              BIGINT GENERATED ALWAYS AS IDENTITY,
    instance_id     TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    prev_state      TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    ts_ms           BIGINT NOT NULL,
    UNIQUE (instance_id, client_order_id, ts_ms, prev_state, state),
    PRIMARY KEY (instance_id, id)
);

CREATE TABLE fills (
    id                BIGINT GENERATED ALWAYS AS IDENTITY,
    instance_id       TEXT NOT NULL,
    connector         TEXT NOT NULL,
    market            TEXT NOT NULL,
    trade_id          TEXT NOT NULL,
    client_order_id   TEXT NOT NULL,
    exchange_order_id TEXT NOT NULL DEFAULT '',
    strategy_id       TEXT NOT NULL DEFAULT '',
    side              TEXT NOT NULL,
    price             NUMERIC NOT NULL,
    amount            NUMERIC NOT NULL,
    fee               NUMERIC NOT NULL,
    fee_asset         TEXT NOT NULL DEFAULT '',
    is_maker          SMALLINT NOT NULL,
    ts_ms             BIGINT NOT NULL,
    UNIQUE (instance_id, connector, market, trade_id),
    PRIMARY KEY (instance_id, id)
);
CREATE INDEX fills_by_order ON fills (instance_id, client_order_id);

CREATE TABLE balance_snapshots (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    instance_id TEXT NOT NULL,
    connector   TEXT NOT NULL,
    asset       TEXT NOT NULL,
    total       NUMERIC NOT NULL,
    available   NUMERIC NOT NULL,
    ts_ms       BIGINT NOT NULL,
    UNIQUE (instance_id, connector, asset, ts_ms),
    PRIMARY KEY (instance_id, id)
);

CREATE TABLE api_tokens (
    instance_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT NOT NULL DEFAULT 0,
    revoked_ms   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, name),
    UNIQUE (instance_id, hash)
);

CREATE TABLE backtest_runs (
    instance_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    shard_index BIGINT NOT NULL DEFAULT 0,
    shard_count BIGINT NOT NULL DEFAULT 1,
    kind        TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    data_file   TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    params      JSON NOT NULL DEFAULT '{}',
    summary     JSON NOT NULL DEFAULT '{}',
    started_ms  BIGINT NOT NULL,
    finished_ms BIGINT NOT NULL DEFAULT 0,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (instance_id, run_id, shard_index)
);

CREATE TABLE backtest_results (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    instance_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    combo       BIGINT NOT NULL,
    shard_index BIGINT NOT NULL DEFAULT 0,
    params      JSON NOT NULL DEFAULT '{}',
    metrics     JSON NOT NULL DEFAULT '{}',
    created_ms  BIGINT NOT NULL,
    UNIQUE (instance_id, run_id, combo),
    PRIMARY KEY (instance_id, id)
);
