-- The trading history projected from the core's events: orders and their state changes,
-- fills, ledger entries and position snapshots, plus where the projection has got to.
-- Money is integer paise, quantities integer units, times nanoseconds since the epoch (UTC).

CREATE SCHEMA IF NOT EXISTS trading;

-- How far each projection has applied the core's sequence: rows for every seq up to
-- last_seq are written, in the same transactions that moved it.
CREATE TABLE trading.projection (
    name        text PRIMARY KEY,
    last_seq    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every order as it stands now (the latest of its state changes).
CREATE TABLE trading.orders (
    order_id         bigint PRIMARY KEY,   -- the seq of the command that placed it
    account          integer NOT NULL,
    client_order_id  text NOT NULL,
    symbol           text NOT NULL,
    side             text NOT NULL,
    type             text NOT NULL,
    tif              text NOT NULL,
    product          text NOT NULL,
    price            bigint NOT NULL,
    trigger          bigint NOT NULL,
    qty              bigint NOT NULL,
    filled           bigint NOT NULL,
    leaves           bigint NOT NULL,
    average_price    bigint NOT NULL,
    status           text NOT NULL,
    reason           text NOT NULL,
    created_ts       bigint NOT NULL,
    updated_ts       bigint NOT NULL,
    seq              bigint NOT NULL       -- the seq of the command that last changed it
);
CREATE INDEX orders_by_account ON trading.orders (account, order_id DESC);
CREATE INDEX orders_by_client_id ON trading.orders (account, client_order_id);
CREATE INDEX orders_open ON trading.orders (account)
    WHERE status IN ('OPEN', 'TRIGGER_PENDING', 'PARTIALLY_FILLED');

-- Each state change of an order, as the orders channel sends it: (seq, n) orders them.
CREATE TABLE trading.order_events (
    seq            bigint NOT NULL,
    n              integer NOT NULL,       -- position among the batch's changes
    order_id       bigint NOT NULL,
    account        integer NOT NULL,
    status         text NOT NULL,
    price          bigint NOT NULL,
    trigger        bigint NOT NULL,
    qty            bigint NOT NULL,
    filled         bigint NOT NULL,
    leaves         bigint NOT NULL,
    average_price  bigint NOT NULL,
    reason         text NOT NULL,
    ts             bigint NOT NULL,
    PRIMARY KEY (seq, n)
);
CREATE INDEX order_events_by_order ON trading.order_events (order_id, seq, n);

-- One row per side of each trade.
CREATE TABLE trading.fills (
    trade_id         bigint NOT NULL,
    order_id         bigint NOT NULL,
    account          integer NOT NULL,
    client_order_id  text NOT NULL,
    symbol           text NOT NULL,
    side             text NOT NULL,
    price            bigint NOT NULL,
    qty              bigint NOT NULL,
    liquidity        text NOT NULL,        -- maker, taker, auction
    ts               bigint NOT NULL,
    seq              bigint NOT NULL,
    PRIMARY KEY (trade_id, order_id)
);
CREATE INDEX fills_by_account ON trading.fills (account, seq DESC, trade_id DESC, order_id DESC);
CREATE INDEX fills_by_time ON trading.fills (account, ts);
CREATE INDEX fills_by_order ON trading.fills (order_id);

-- The double-entry ledger: each row moves amount paise from one ledger account to another
-- on behalf of a client account (`engine.types.LedgerAccount`; 0 is the client's cash).
CREATE TABLE trading.ledger_entries (
    seq           bigint NOT NULL,
    n             integer NOT NULL,        -- position among the command's events
    account       integer NOT NULL,        -- the client account
    entry         text NOT NULL,           -- TRADE_VALUE, REALISED_PNL, CHARGES, DEPOSIT, WITHDRAWAL
    from_account  smallint NOT NULL,
    to_account    smallint NOT NULL,
    amount        bigint NOT NULL CHECK (amount >= 0),
    ref           bigint NOT NULL,         -- the trade, day or command it belongs to
    ts            bigint NOT NULL,
    balance       bigint NOT NULL,         -- the client's cash after this entry
    PRIMARY KEY (seq, n)
);
CREATE INDEX ledger_by_account ON trading.ledger_entries (account, seq, n);
CREATE INDEX ledger_by_time ON trading.ledger_entries (account, ts);

-- Every position row of an account after each batch that touched the account.
CREATE TABLE trading.position_snapshots (
    account        integer NOT NULL,
    symbol         text NOT NULL,
    product        text NOT NULL,
    seq            bigint NOT NULL,
    ts             bigint NOT NULL,
    net            bigint NOT NULL,
    average_price  bigint NOT NULL,
    basis          bigint NOT NULL,
    realised       bigint NOT NULL,
    margin         bigint NOT NULL,
    open_buy       bigint NOT NULL,
    open_sell      bigint NOT NULL,
    day_buy_qty    bigint NOT NULL,
    day_sell_qty   bigint NOT NULL,
    overnight      bigint NOT NULL,
    PRIMARY KEY (account, symbol, product, seq)
);
CREATE INDEX position_snapshots_at ON trading.position_snapshots (account, symbol, product, ts);
