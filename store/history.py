"""History queries over the projected tables, for the REST API and reports.

Every list is paged by a keyset cursor (the key of the last row returned), never by OFFSET,
so a page costs the same at row 10 and at row 10 million, and rows arriving meanwhile never
shift a page. Each query is served by an index that starts with the account (see the
migrations); the ledger carries each entry's running balance, written by the projector, so a
statement page needs no sum over the account's past.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from engine.layout import LA_CLIENT

MAX_PAGE = 1_000
OPEN = ("OPEN", "TRIGGER_PENDING", "PARTIALLY_FILLED")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None  # the cursor of the following page, None after the last


class CursorError(ValueError):
    """A cursor that this query did not hand out."""


def _limit(limit: int) -> int:
    return max(1, min(MAX_PAGE, limit))


def _cursor(*parts: int) -> str:
    return ".".join(str(p) for p in parts)


def _parse(cursor: str | None, parts: int) -> tuple[int, ...] | None:
    if cursor is None:
        return None
    try:
        values = tuple(int(p) for p in cursor.split("."))
    except ValueError:
        raise CursorError(f"not a cursor: {cursor!r}") from None
    if len(values) != parts:
        raise CursorError(f"not a cursor: {cursor!r}")
    return values


def _page(rows: list[asyncpg.Record], limit: int, key: tuple[str, ...]) -> Page:
    items = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, _cursor(*(items[-1][k] for k in key)) if more and items else None)


async def orders(conn: asyncpg.Connection, account: int, *, limit: int = 100,
                 cursor: str | None = None, open_only: bool = False,
                 symbol: str | None = None) -> Page:
    """The account's orders, newest first."""
    limit = _limit(limit)
    before = _parse(cursor, 1)
    rows = await conn.fetch(
        "SELECT * FROM trading.orders WHERE account = $1 "
        "AND ($2::bigint IS NULL OR order_id < $2) "
        "AND (NOT $3 OR status = ANY($4::text[])) "
        "AND ($5::text IS NULL OR symbol = $5) "
        "ORDER BY order_id DESC LIMIT $6",
        account, before[0] if before else None, open_only, list(OPEN), symbol, limit + 1)
    return _page(rows, limit, ("order_id",))


async def order(conn: asyncpg.Connection, account: int, order_id: int = 0,
                client_order_id: str = "") -> dict[str, Any] | None:
    """One order of the account, by id or client order id (the one that consumed it)."""
    if order_id:
        row = await conn.fetchrow(
            "SELECT * FROM trading.orders WHERE account = $1 AND order_id = $2",
            account, order_id)
    else:
        row = await conn.fetchrow(
            "SELECT * FROM trading.orders WHERE account = $1 AND client_order_id = $2 "
            "AND reason <> 'DUPLICATE_CLIENT_ORDER_ID' ORDER BY order_id LIMIT 1",
            account, client_order_id)
    return dict(row) if row else None


async def order_history(conn: asyncpg.Connection, account: int,
                        order_id: int) -> list[dict[str, Any]]:
    """Every state change of one of the account's orders, oldest first."""
    rows = await conn.fetch(
        "SELECT seq, status, price, trigger, qty, filled, leaves, average_price, reason, ts "
        "FROM trading.order_events WHERE order_id = $1 AND account = $2 ORDER BY seq, n",
        order_id, account)
    return [dict(r) for r in rows]


async def trades(conn: asyncpg.Connection, account: int, *, limit: int = 100,
                 cursor: str | None = None, symbol: str | None = None,
                 from_ts: int | None = None, to_ts: int | None = None) -> Page:
    """The account's fills, newest first, optionally of one symbol or a time range [from, to)."""
    limit = _limit(limit)
    before = _parse(cursor, 3)  # both sides of a self-trade share seq and trade id
    rows = await conn.fetch(
        "SELECT trade_id, order_id, client_order_id, symbol, side, price, qty, liquidity, ts, seq "
        "FROM trading.fills WHERE account = $1 "
        "AND ($2::bigint IS NULL OR (seq, trade_id, order_id) < ($2, $3, $4)) "
        "AND ($5::text IS NULL OR symbol = $5) "
        "AND ($6::bigint IS NULL OR ts >= $6) AND ($7::bigint IS NULL OR ts < $7) "
        "ORDER BY seq DESC, trade_id DESC, order_id DESC LIMIT $8",
        account, *(before or (None, None, None)), symbol, from_ts, to_ts, limit + 1)
    return _page(rows, limit, ("seq", "trade_id", "order_id"))


async def statement(conn: asyncpg.Connection, account: int, *, limit: int = 100,
                    cursor: str | None = None, from_ts: int | None = None,
                    to_ts: int | None = None) -> dict[str, Any]:
    """The account's ledger entries in time order, each with the cash balance after it, the
    opening balance of the range (the balance before its first entry) and a page cursor."""
    limit = _limit(limit)
    after = _parse(cursor, 2)
    rows = await conn.fetch(
        "SELECT seq, n, entry, from_account, to_account, amount, ref, ts, balance "
        "FROM trading.ledger_entries WHERE account = $1 "
        "AND ($2::bigint IS NULL OR (seq, n) > ($2, $3)) "
        "AND ($4::bigint IS NULL OR ts >= $4) AND ($5::bigint IS NULL OR ts < $5) "
        "ORDER BY seq, n LIMIT $6",
        account, after[0] if after else None, after[1] if after else None, from_ts, to_ts,
        limit + 1)
    page = _page(rows, limit, ("seq", "n"))
    for item in page.items:
        item["change"] = item["balance"] - _opening(item)
    opening = _opening(page.items[0]) if page.items else await balance_before(
        conn, account, from_ts)
    return {"opening_balance": opening, "entries": page.items, "next": page.next}


def _opening(entry: dict[str, Any]) -> int:
    """The balance before an entry: the client's cash moves only when it is a side."""
    amount = entry["amount"]
    signed = (amount if entry["to_account"] == LA_CLIENT else 0) - (
        amount if entry["from_account"] == LA_CLIENT else 0)
    return entry["balance"] - signed


async def balance_before(conn: asyncpg.Connection, account: int, ts: int | None) -> int:
    """The account's cash balance before ``ts`` (ns), or now when None."""
    row = await conn.fetchval(
        "SELECT balance FROM trading.ledger_entries WHERE account = $1 "
        "AND ($2::bigint IS NULL OR ts < $2) ORDER BY seq DESC, n DESC LIMIT 1", account, ts)
    return int(row or 0)


async def positions_at(conn: asyncpg.Connection, account: int, ts: int) -> list[dict[str, Any]]:
    """The account's positions as they stood at ``ts`` (ns): each row's latest snapshot at or
    before it, leaving out rows that were closed out by then."""
    rows = await conn.fetch(
        # the account's distinct (symbol, product) keys by skipping along the index
        "WITH RECURSIVE k AS ("
        "  (SELECT symbol, product FROM trading.position_snapshots WHERE account = $1 "
        "   ORDER BY symbol, product LIMIT 1) "
        "  UNION ALL "
        "  SELECT n.symbol, n.product FROM k CROSS JOIN LATERAL ("
        "    SELECT symbol, product FROM trading.position_snapshots WHERE account = $1 "
        "    AND (symbol, product) > (k.symbol, k.product) ORDER BY symbol, product LIMIT 1) n) "
        "SELECT p.* FROM k CROSS JOIN LATERAL (SELECT symbol, product, seq, ts, net, "
        "    average_price, basis, realised, margin, open_buy, open_sell, day_buy_qty, "
        "    day_sell_qty, overnight "
        "    FROM trading.position_snapshots s WHERE s.account = $1 AND s.symbol = k.symbol "
        "    AND s.product = k.product AND s.ts <= $2 ORDER BY s.ts DESC, s.seq DESC LIMIT 1) p "
        "WHERE p.net <> 0 OR p.realised <> 0 OR p.open_buy <> 0 OR p.open_sell <> 0 "
        "ORDER BY p.symbol, p.product", account, ts)
    return [dict(r) for r in rows]
