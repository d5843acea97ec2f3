-- 002_fills_keys (PostgreSQL): cheaper fill inserts, the figure the store's
-- benchmark measures (colibri-store-bench). The unique key leads with the
-- trade id, the column that tells rows apart, so descending the index on an
-- insert stops comparing at the first bytes instead of walking the same
-- instance / connector / market prefix at every level. Same columns, so
-- ON CONFLICT (instance_id, connector, market, trade_id) infers it as
-- before. Likewise the per-order index leads with the client order id.
CREATE UNIQUE INDEX fills_unique ON fills (trade_id, market, connector, instance_id);
ALTER TABLE fills DROP CONSTRAINT fills_instance_id_connector_market_trade_id_key;
DROP INDEX fills_by_order;
CREATE INDEX fills_by_order ON fills (client_order_id, instance_id);
