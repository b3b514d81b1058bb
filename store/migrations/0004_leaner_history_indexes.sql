-- Fewer indexes on the history tables, each keyed the way it is read: every
-- index is written for every row the projector copies, and the projector's throughput is
-- bounded by PostgreSQL's work per row. Each table keeps one key that both makes rows unique
-- and serves its queries:
--   orders: (account, order_id), which lists an account's orders newest first, instead of
--          (order_id) plus an index on (account, order_id DESC);
--   order_events: an order's changes (order_id, seq, n) instead of (seq, n) plus that index;
--   fills: (order_id, trade_id), which also finds an order's fills, instead of
--          (trade_id, order_id) plus an index on order_id;
--   ledger_entries: the statement's (account, seq, n) instead of (seq, n) plus that index;
--   position_snapshots: (account, symbol, product, ts, seq), which the positions-at-a-time
--          query walks, instead of (account, symbol, product, seq) plus a ts index.
-- An order id is unique by itself, and every (seq, n) belongs to one order or one account, so
-- each new key is as unique as the old one.

ALTER TABLE trading.orders DROP CONSTRAINT orders_pkey;
DROP INDEX trading.orders_by_account;
ALTER TABLE trading.orders ADD PRIMARY KEY (account, order_id);

ALTER TABLE trading.order_events DROP CONSTRAINT order_events_pkey;
DROP INDEX trading.order_events_by_order;
ALTER TABLE trading.order_events ADD PRIMARY KEY (order_id, seq, n);

ALTER TABLE trading.fills DROP CONSTRAINT fills_pkey;
DROP INDEX trading.fills_by_order;
ALTER TABLE trading.fills ADD PRIMARY KEY (order_id, trade_id);

ALTER TABLE trading.ledger_entries DROP CONSTRAINT ledger_entries_pkey;
DROP INDEX trading.ledger_by_account;
ALTER TABLE trading.ledger_entries ADD PRIMARY KEY (account, seq, n);

ALTER TABLE trading.position_snapshots DROP CONSTRAINT position_snapshots_pkey;
DROP INDEX trading.position_snapshots_at;
ALTER TABLE trading.position_snapshots ADD PRIMARY KEY (account, symbol, product, ts, seq);
