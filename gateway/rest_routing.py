"""The REST router's rules, without I/O: the tokens and page cursors that stand for every
shard together, and how the shards' pages merge into one.

A signed request is forwarded unchanged (its signature covers the path, the query and the
body), so what a shard must read differently from its neighbours travels inside one value
that every shard reads its own part of. A router's page cursor is such a value: each shard's
gateway takes its own position from it (`own_cursor`), and the router keeps the rest (which
shards are exhausted, and for a ledger statement each shard's balance at its position). A
bearer token is not signed, so the router splits its token into each shard's own.

Merged pages keep each shard's own order and interleave the shards by time: newest first
for orders and trades, oldest first for the ledger. A page takes a prefix of each shard's
remaining rows, so the next page starts exactly after what this one showed and every row
comes once. Within a shard, trades and ledger entries are in time order (time never goes
back as sequence numbers grow); orders are by id, and the core's own square-off orders have
ids above the rest, so those few sit where their id puts them.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gateway.errors import ApiError, GatewayCode

TOKEN_PREFIX = "gwc"  # a router's token: gwc~0:<shard 0's token>~1:<shard 1's token>...
DONE = "x"  # a shard with nothing more to page


class CursorError(ValueError):
    """A cursor that no router handed out."""


# --- which gateway ------------------------------------------------------------------------------

def caller_affinity(headers: dict[str, str]) -> int | None:
    """A stable number for the caller a request comes from (its API key, else its bearer
    token), or None for an anonymous one. A shard's gateways follow its log each at their
    own pace, so a caller whose requests went to them in turn could read, just after an
    acknowledged change, a gateway that has not applied it yet: sending one caller to one
    gateway (the same from every router) keeps its reads after its own writes."""
    identity = headers.get("x-gw-key") or headers.get("authorization")
    return zlib.crc32(identity.encode()) if identity else None


# --- tokens -------------------------------------------------------------------------------------

def join_tokens(parts: dict[int, str]) -> str:
    """One token for every shard's own (an empty part: that shard missed the last refresh)."""
    return "~".join([TOKEN_PREFIX, *(f"{shard}:{parts[shard]}" for shard in sorted(parts))])


def split_token(token: str, shards: Iterable[int]) -> dict[int, str]:
    """Each shard's own token in a router's token, or TOKEN_INVALID."""
    head, *rest = token.split("~")
    parts: dict[int, str] = {}
    for part in rest:
        shard, colon, own = part.partition(":")
        if not colon or not shard.isdigit():
            break
        parts[int(shard)] = own
    wanted = sorted(shards)
    if head != TOKEN_PREFIX or len(parts) != len(rest) or sorted(parts) != wanted:
        raise ApiError(GatewayCode.TOKEN_INVALID, "not a token of this cluster's routers: "
                       "log in through a router")
    return parts


# --- cursors ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Position:
    """Where one shard's rows continue: its own cursor (None: from the start), or done."""

    cursor: str | None = None
    done: bool = False
    balance: int | None = None  # a statement: the shard's balance at this position

    def encode(self, shard: int) -> str:
        text = f"{shard}_{DONE if self.done else self.cursor or ''}"
        return text if self.balance is None else f"{text}_{self.balance}"


def is_composite(cursor: str) -> bool:
    return "_" in cursor


def encode_cursor(positions: dict[int, Position]) -> str | None:
    """The router's cursor for the next page; None when every shard is done."""
    if all(p.done for p in positions.values()):
        return None
    return "~".join(positions[shard].encode(shard) for shard in sorted(positions))


def decode_cursor(cursor: str | None, shards: Iterable[int]) -> dict[int, Position]:
    """Each shard's position in a router's cursor (every shard from its start when None)."""
    wanted = sorted(shards)
    if cursor is None:
        return {shard: Position() for shard in wanted}
    positions: dict[int, Position] = {}
    for part in cursor.split("~"):
        fields = part.split("_")
        if len(fields) not in (2, 3) or not fields[0].isdigit():
            raise CursorError(f"not a cursor: {cursor!r}")
        own = fields[1]
        if own not in ("", DONE) and not all(p.isdigit() for p in own.split(".")):
            raise CursorError(f"not a cursor: {cursor!r}")
        try:
            balance = int(fields[2]) if len(fields) == 3 else None
        except ValueError:
            raise CursorError(f"not a cursor: {cursor!r}") from None
        positions[int(fields[0])] = Position(own if own not in ("", DONE) else None,
                                             own == DONE, balance)
    if sorted(positions) != wanted:
        raise CursorError(f"not a cursor of these shards: {cursor!r}")
    return positions


def own_cursor(cursor: str | None, shard: int) -> tuple[str | None, bool]:
    """For a shard's gateway: its own cursor in a router's cursor, and whether it is done.
    A plain cursor (a gateway's own) is returned as it is."""
    if cursor is None or not is_composite(cursor):
        return cursor, False
    parts = {}
    for part in cursor.split("~"):
        number, _, rest = part.partition("_")
        parts[number] = rest.partition("_")[0]
    own = parts.get(str(shard))
    if own is None:
        raise CursorError(f"the cursor has no position for shard {shard}")
    return (None, True) if own == DONE else (own or None, False)


# --- merging pages ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Paging:
    """How one paged list is ordered: the row fields of a shard's cursor and of its time."""

    key: tuple[str, ...]
    time: str
    newest_first: bool

    def cursor_of(self, row: dict[str, Any]) -> str:
        return ".".join(str(row[k]) for k in self.key)


ORDERS = Paging(("order_id",), "created_ts", newest_first=True)
TRADES = Paging(("seq", "trade_id", "order_id"), "ts", newest_first=True)
LEDGER = Paging(("seq", "n"), "ts", newest_first=False)


@dataclass(frozen=True)
class ShardPage:
    items: list[dict[str, Any]]
    next: str | None


def merge_pages(paging: Paging, pages: dict[int, ShardPage], positions: dict[int, Position],
                limit: int) -> tuple[list[tuple[int, dict[str, Any]]], dict[int, Position]]:
    """The first ``limit`` rows of the shards' pages in one order (each with its shard), and
    every shard's position after them. ``pages`` holds the shards not yet done."""
    sign = -1 if paging.newest_first else 1
    streams = [[((sign * int(row[paging.time]), k), k, row) for row in page.items]
               for k, page in pages.items()]
    taken = [(k, row) for _, k, row in heapq.merge(*streams, key=lambda t: t[0])][:limit]
    after: dict[int, Position] = {}
    for shard, before in positions.items():
        page = pages.get(shard)
        if page is None:
            after[shard] = before
            continue
        mine = [row for k, row in taken if k == shard]
        if len(mine) == len(page.items) and page.next is None:
            after[shard] = Position(done=True, balance=before.balance)
        elif mine:
            after[shard] = Position(paging.cursor_of(mine[-1]), balance=before.balance)
        else:
            after[shard] = before
    return taken, after


def merge_rows(paging: Paging, pages: dict[int, ShardPage], positions: dict[int, Position],
               limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """A page of orders or trades over every shard, each row naming its shard."""
    taken, after = merge_pages(paging, pages, positions, limit)
    return [{**row, "shard": shard} for shard, row in taken], encode_cursor(after)


def merge_statement(pages: dict[int, ShardPage], openings: dict[int, int],
                    positions: dict[int, Position], limit: int) -> dict[str, Any]:
    """A ledger statement over every shard: entries by time, each with the account's balance
    over every shard after it (and the shard's own), and the opening balance of the page.

    ``openings`` is each asked shard's balance before its page (what it answered); a shard's
    balance carried in the cursor counts first, because a shard whose cursor is at its last
    entry answers with no entries and the balance before the range."""
    running = {shard: p.balance if p.balance is not None else openings.get(shard, 0)
               for shard, p in positions.items()}
    opening = sum(running.values())
    taken, after = merge_pages(LEDGER, pages, positions, limit)
    entries = []
    for shard, row in taken:
        running[shard] = row["balance"]
        entries.append({**row, "shard": shard, "shard_balance": row["balance"],
                        "balance": sum(running.values())})
    carried = {shard: Position(p.cursor, p.done, running[shard]) for shard, p in after.items()}
    return {"opening_balance": opening, "entries": entries, "next": encode_cursor(carried)}
