-- 001_init (SQLite): colibri's first schema.
--
-- Every row carries the id of the engine instance that wrote it, so several
-- engines can share one database. Prices, amounts, fees and balances are TEXT
-- holding exact decimal strings ("0.10" stays "0.10"): never REAL, and not
-- NUMERIC either, whose affinity would turn them into binary floats. Times
-- are Unix milliseconds. JSON documents are TEXT. Row ids only grow
-- (AUTOINCREMENT), so list cursors stay valid.
--
-- Writes are idempotent so that replaying the writer's spill file is safe:
-- fills are unique per (instance, connector, market, trade id), order and
-- strategy upserts apply only if not older than the stored row, history and
-- balance rows are unique on their content.

CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    version      TEXT NOT NULL DEFAULT '',
    created_ms   INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);

CREATE TABLE strategies (
    instance_id TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    connector   TEXT NOT NULL DEFAULT '',
    market      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    config      TEXT NOT NULL DEFAULT '{}',
    state       TEXT NOT NULL DEFAULT '{}',
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, id)
);

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id       TEXT NOT NULL,
    client_order_id   TEXT NOT NULL,
    exchange_order_id TEXT NOT NULL DEFAULT '',
    connector         TEXT NOT NULL,
    market            TEXT NOT NULL,
    strategy_id       TEXT NOT NULL DEFAULT '',
    side              TEXT NOT NULL,
    type              TEXT NOT NULL,
    price             TEXT NOT NULL,
    amount            TEXT NOT NULL,
    executed_base     TEXT NOT NULL DEFAULT '0',
    executed_quote    TEXT NOT NULL DEFAULT '0',
    state             TEXT NOT NULL,
    fail_reason       TEXT NOT NULL DEFAULT '',
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    UNIQUE (instance_id, client_order_id)
);
CREATE INDEX orders_by_instance ON orders (instance_id, id);
CREATE INDEX orders_live ON orders (instance_id, id)
    WHERE state IN ('pending_create', 'open', 'partially_filled', 'pending_cancel');

CREATE TABLE order_state_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    prev_state      TEXT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    ts_ms           INTEGER NOT NULL,
    UNIQUE (instance_id, client_order_id, ts_ms, prev_state, state)
);

CREATE TABLE fills (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id       TEXT NOT NULL,
    connector         TEXT NOT NULL,
    market            TEXT NOT NULL,
    trade_id          TEXT NOT NULL,
    client_order_id   TEXT NOT NULL,
    exchange_order_id TEXT NOT NULL DEFAULT '',
    strategy_id       TEXT NOT NULL DEFAULT '',
    side              TEXT NOT NULL,
    price             TEXT NOT NULL,
    amount            TEXT NOT NULL,
    fee               TEXT NOT NULL,
    fee_asset         TEXT NOT NULL DEFAULT '',
    is_maker          INTEGER NOT NULL,
    ts_ms             INTEGER NOT NULL,
    UNIQUE (instance_id, connector, market, trade_id)
);
CREATE INDEX fills_by_instance ON fills (instance_id, id);
CREATE INDEX fills_by_order ON fills (instance_id, client_order_id);

CREATE TABLE balance_snapshots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    connector   TEXT NOT NULL,
    asset       TEXT NOT NULL,
    total       TEXT NOT NULL,
    available   TEXT NOT NULL,
    ts_ms       INTEGER NOT NULL,
    UNIQUE (instance_id, connector, asset, ts_ms)
);
CREATE INDEX balance_snapshots_by_instance ON balance_snapshots (instance_id, id);

CREATE TABLE api_tokens (
    instance_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER NOT NULL DEFAULT 0,
    revoked_ms   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, name),
    UNIQUE (instance_id, hash)
);

CREATE TABLE backtest_runs (
    instance_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    shard_index INTEGER NOT NULL DEFAULT 0,
    shard_count INTEGER NOT NULL DEFAULT 1,
    kind        TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    data_file   TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}',
    summary     TEXT NOT NULL DEFAULT '{}',
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL DEFAULT 0,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (instance_id, run_id, shard_index)
);

CREATE TABLE backtest_results (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    combo       INTEGER NOT NULL,
    shard_index INTEGER NOT NULL DEFAULT 0,
    params      TEXT NOT NULL DEFAULT '{}',
    metrics     TEXT NOT NULL DEFAULT '{}',
    created_ms  INTEGER NOT NULL,
    UNIQUE (instance_id, run_id, combo)
);
