-- 002_fills_keys (SQLite): cheaper fill inserts, the figure the store's
-- benchmark measures (colibri-store-bench).
--
-- * The fills' row id is a plain INTEGER PRIMARY KEY: AUTOINCREMENT cost one
--   more table update per insert (sqlite_sequence), and its only promise,
--   never reusing the id of a deleted row, does not matter: fills are never
--   deleted, so new ids keep growing and list cursors stay valid.
-- * The unique key leads with the trade id, the column that tells rows
--   apart: an insert compares keys while descending the index, and with the
--   instance id first every comparison walked the same long prefix first.
--   The constraint is the same set of columns, so ON CONFLICT targets it as
--   before. Likewise the per-order index leads with the client order id.
-- * fills_by_instance goes: the row id order is already the time order the
--   list reads follow, and an instance's rows are found through the unique
--   index's or the row id scan's filter.
CREATE TABLE fills_new (
    id                INTEGER PRIMARY KEY,
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
    ts_ms             INTEGER NOT NULL
);
INSERT INTO fills_new (id, instance_id, connector, market, trade_id, client_order_id,
                       exchange_order_id, strategy_id, side, price, amount, fee, fee_asset,
                       is_maker, ts_ms)
    SELECT id, instance_id, connector, market, trade_id, client_order_id, exchange_order_id,
           strategy_id, side, price, amount, fee, fee_asset, is_maker, ts_ms
    FROM fills;
DROP TABLE fills;
ALTER TABLE fills_new RENAME TO fills;
CREATE UNIQUE INDEX fills_unique ON fills (trade_id, market, connector, instance_id);
CREATE INDEX fills_by_order ON fills (client_order_id, instance_id);
