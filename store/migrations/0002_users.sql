-- Accounts and their API keys as the core's registry knows them (projected), and the users
-- who log in with a password (the REST API's), linked to an account.

CREATE SCHEMA IF NOT EXISTS users;

CREATE TABLE users.accounts (
    account      integer PRIMARY KEY,
    name         text NOT NULL,
    created_seq  bigint NOT NULL,
    created_ts   bigint NOT NULL
);
CREATE UNIQUE INDEX accounts_by_name ON users.accounts (lower(name));

CREATE TABLE users.api_keys (
    account      integer NOT NULL REFERENCES users.accounts,
    key_number   integer NOT NULL,         -- the registry's number, as events carry it
    key_id       text NOT NULL UNIQUE,     -- the public id (gwk_...)
    label        text NOT NULL,
    scopes       integer NOT NULL,         -- bit set: 1 read, 2 trade, 4 admin
    active       boolean NOT NULL,
    added_seq    bigint NOT NULL,
    revoked_seq  bigint,
    PRIMARY KEY (account, key_number)
);
