"""The REST router's rules without I/O: tokens and cursors for every shard together, and
history pages merged across shards, checked against a plain reference (every shard's rows
sorted by time) by paging through random shards to the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import ApiError
from gateway.rest_routing import (
    LEDGER,
    ORDERS,
    TRADES,
    CursorError,
    Paging,
    Position,
    ShardPage,
    caller_affinity,
    decode_cursor,
    encode_cursor,
    join_tokens,
    merge_rows,
    merge_statement,
    own_cursor,
    split_token,
)


def test_a_router_token_holds_every_shards_own() -> None:
    token = join_tokens({1: "eyJ.b.c", 0: "eyJ.a.b"})
    assert token == "gwc~0:eyJ.a.b~1:eyJ.b.c"
    assert split_token(token, [0, 1]) == {0: "eyJ.a.b", 1: "eyJ.b.c"}
    assert split_token(join_tokens({0: "", 1: "t"}), [0, 1]) == {0: "", 1: "t"}
    for bad in ("eyJ.a.b", "gwc~0:a", "gwc~0:a~2:b", "gwc~0:a~x:b", "nope~0:a~1:b",
                "gwc~0:a~1:b~1:c"):
        with pytest.raises(ApiError) as refused:
            split_token(bad, [0, 1])
        assert refused.value.code.name == "TOKEN_INVALID", bad


def test_each_shard_reads_its_own_position_in_a_router_cursor() -> None:
    positions = {0: Position("17.3"), 1: Position(done=True), 2: Position()}
    cursor = encode_cursor(positions)
    assert cursor == "0_17.3~1_x~2_"
    assert decode_cursor(cursor, [0, 1, 2]) == positions
    assert own_cursor(cursor, 0) == ("17.3", False)
    assert own_cursor(cursor, 1) == (None, True)
    assert own_cursor(cursor, 2) == (None, False)
    assert own_cursor("17.3", 5) == ("17.3", False)  # a gateway's own cursor, as it is
    assert own_cursor(None, 0) == (None, False)
    with pytest.raises(CursorError):
        own_cursor(cursor, 3)
    ledger = {0: Position("9.1", balance=-250), 1: Position(done=True, balance=100)}
    assert decode_cursor(encode_cursor(ledger), [0, 1]) == ledger
    assert encode_cursor({0: Position(done=True), 1: Position(done=True)}) is None
    assert decode_cursor(None, [0, 1]) == {0: Position(), 1: Position()}
    for bad in ("0_1~0_2", "0_1", "0_a~1_x", "0_1_z~1_x", "0_1~1_x~2_", "zz", "0_1_2_3~1_",
                "17.3"):
        with pytest.raises(CursorError):
            decode_cursor(bad, [0, 1])


# --- paging through random shards against a reference ---------------------------------------

class Shard:
    """A shard's rows and its keyset paging, as its history queries page them."""

    def __init__(self, shard: int, rows: list[dict[str, Any]], paging: Paging) -> None:
        self.shard = shard
        self.paging = paging
        self.rows = sorted(rows, key=self.key, reverse=paging.newest_first)

    def key(self, row: dict[str, Any]) -> tuple[int, ...]:
        return tuple(row[k] for k in self.paging.key)

    def page(self, cursor: str | None, limit: int) -> ShardPage:
        rows = self.rows
        if cursor is not None:
            at = tuple(int(p) for p in cursor.split("."))
            rows = [r for r in rows if (self.key(r) < at if self.paging.newest_first
                                        else self.key(r) > at)]
        more = len(rows) > limit
        return ShardPage(rows[:limit], self.paging.cursor_of(rows[limit - 1]) if more else None)


def shard_rows(shard: int, times: list[int], paging: Paging) -> list[dict[str, Any]]:
    """Rows whose time never goes back as their sequence grows, as in a shard's log."""
    rows, now = [], 0
    for seq, step in enumerate(times, start=1):
        now += step
        rows.append({"seq": seq, "n": 0, "trade_id": seq, "order_id": shard * 10**12 + seq,
                     "created_ts": now, "ts": now, "amount": step})
    return rows


timelines = st.lists(st.lists(st.integers(0, 3), max_size=25), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(timelines, st.integers(1, 7), st.sampled_from([ORDERS, TRADES]), st.randoms())
def test_merged_pages_show_every_row_once_newest_first(timeline: list[list[int]], limit: int,
                                                       paging: Paging, rnd: Random) -> None:
    shards = {k: Shard(k, shard_rows(k, times, paging), paging)
              for k, times in enumerate(timeline)}
    in_time = rnd.random() < 0.7
    if not in_time:  # rows whose key is not in time order (the core's own orders) page too
        for shard in shards.values():
            for row in shard.rows:
                row["ts"] = row["created_ts"] = rnd.randrange(100)
    seen: list[tuple[int, int]] = []
    cursor: str | None = None
    for _ in range(200):
        positions = decode_cursor(cursor, shards)
        pages = {k: shards[k].page(p.cursor, limit) for k, p in positions.items() if not p.done}
        rows, cursor = merge_rows(paging, pages, positions, limit)
        assert len(rows) <= limit
        assert cursor is None or len(rows) == limit
        seen += [(row["shard"], row["seq"]) for row in rows]
        if cursor is None:
            break
    for k, shard in shards.items():  # every row once, each shard's in its own order
        assert [seq for s, seq in seen if s == k] == [row["seq"] for row in shard.rows]
    assert len(seen) == sum(len(s.rows) for s in shards.values())
    if in_time:
        everything = sorted(((-row["ts"], k, -row["seq"]) for k, s in shards.items()
                             for row in s.rows))
        assert seen == [(k, -seq) for _, k, seq in everything]


@settings(max_examples=150, deadline=None)
@given(timelines, st.integers(1, 7), st.lists(st.integers(-500, 500), min_size=4, max_size=4))
def test_a_merged_statement_carries_the_balance_over_every_shard(
        timeline: list[list[int]], limit: int, openings: list[int]) -> None:
    shards = {}
    for k, times in enumerate(timeline):
        rows = shard_rows(k, times, LEDGER)
        balance = openings[k]
        for row in rows:
            balance += row["amount"]
            row["balance"] = balance
        shards[k] = Shard(k, rows, LEDGER)

    def opening(k: int, page: ShardPage) -> int:  # as the query answers: before its first
        return page.items[0]["balance"] - page.items[0]["amount"] if page.items else (
            shards[k].rows[-1]["balance"] if shards[k].rows else openings[k])

    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    first_opening = None
    for _ in range(200):
        positions = decode_cursor(cursor, shards)
        pages = {k: shards[k].page(p.cursor, limit) for k, p in positions.items() if not p.done}
        statement = merge_statement(pages, {k: opening(k, p) for k, p in pages.items()},
                                    positions, limit)
        if first_opening is None:
            first_opening = statement["opening_balance"]
        entries += statement["entries"]
        cursor = statement["next"]
        if cursor is None:
            break
    assert first_opening == sum(openings[k] for k in shards)
    reference = sorted(((row["ts"], k, row["seq"], row) for k, s in shards.items()
                        for row in s.rows), key=lambda t: t[:3])
    assert [(e["shard"], e["seq"]) for e in entries] == [(k, seq) for _, k, seq, _ in reference]
    total = sum(openings[k] for k in shards)
    for entry in entries:
        total += entry["amount"]
        assert entry["balance"] == total
        assert entry["shard_balance"] == shards[entry["shard"]].rows[entry["seq"] - 1]["balance"]


def test_one_caller_goes_to_one_gateway_from_every_router() -> None:
    """Read-your-writes through routers: all of a caller's requests pick the same gateway
    of a shard, in every router process (a per-process string hash would not)."""
    callers = [{"x-gw-key": f"gwk_{n:04d}", "x-gw-nonce": f"n{n}"} for n in range(20)]
    here = [caller_affinity(c) for c in callers]
    assert None not in here
    assert {pick % 2 for pick in here} == {0, 1}  # type: ignore[operator]  # both are used
    elsewhere = subprocess.run(
        [sys.executable, "-c", "import json, sys; from gateway.rest_routing import "
         "caller_affinity; print(json.dumps([caller_affinity(c) for c in "
         "json.loads(sys.argv[1])]))", json.dumps(callers)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "7"})
    assert json.loads(elsewhere.stdout) == here
    bearer = {"authorization": "Bearer gwc~0:abc~1:def"}
    assert caller_affinity(bearer) == caller_affinity({**bearer, "accept": "*/*"})
    assert caller_affinity({"content-type": "application/json"}) is None  # takes turns
