-- Users who log in with a password (projected from the registry; never the password or its
-- hash: the core keeps the hash, the REST API checks it).

CREATE TABLE users.users (
    username     text PRIMARY KEY,
    account      integer NOT NULL,        -- -1: none (a risk officer, say)
    role         text NOT NULL,           -- trader, risk_officer, admin, partner
    active       boolean NOT NULL,
    created_seq  bigint NOT NULL,
    updated_seq  bigint NOT NULL
);
CREATE INDEX users_by_account ON users.users (account);
