"""The projection's rows, built without a database: against the WebSocket feeds' own order
records, which keep every finished order and copy each update."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import astuple

from engine.commands import CommandBatch
from engine.core import Core
from engine.types import Product
from gateway.private import AccountFeeds, Order
from perf.scenarios.projector import CONFIG, setup_batch, shifted_stream
from portfolio.views import position_view
from risk.state import POSITION_FIELDS
from store import shadow
from store.rows import ORDER_COLUMNS, ORDER_EVENT_COLUMNS, Rows, Tracker, _snapshot_values

COMMANDS = 6_000


def stream_batches(after: int) -> list[CommandBatch]:
    rows = shifted_stream(COMMANDS, after)
    return [CommandBatch(rows[i:i + 64], [None] * len(rows[i:i + 64]))
            for i in range(0, len(rows), 64)]


def test_rows_follow_the_feeds_order_records_and_keep_only_open_orders() -> None:
    core = Core(CONFIG)
    setup = setup_batch()
    core.apply(setup, keep_events=False)
    tracker, feeds, rows = Tracker(core), AccountFeeds(core), Rows()
    records: list[Order] = []
    for batch in stream_batches(setup.last_seq):
        events = shadow.advance(core, batch)
        tracker.add(rows, core, batch, events)
        records += [payload for _, channel, payload in feeds.apply(batch, events.tolist())
                    if channel == "orders" and isinstance(payload, Order)]

    assert len(records) > COMMANDS  # accepts, fills and cancels: more than one per command
    # an order event is the record's state after the change, stamped with its update time
    event_fields = [ORDER_COLUMNS.index("updated_ts" if c == "ts" else c)
                    for c in ORDER_EVENT_COLUMNS[:-1]]
    expected = [tuple(astuple(r)[i] for i in event_fields) for r in records]
    assert [row[:-1] for row in rows.order_events] == expected
    latest = {r.order_id: astuple(r) for r in records}
    assert rows.orders == latest
    # (seq, n) numbers each seq's changes from 0 without gaps
    numbers: dict[int, list[int]] = {}
    for row in rows.order_events:
        numbers.setdefault(row[0], []).append(row[-1])
    assert all(n == list(range(len(n))) for n in numbers.values())
    # the projection remembers open orders only; the feeds remember finished ones too
    assert set(tracker.feeds.live) == set(feeds.live)
    assert not tracker.feeds.done
    assert not tracker.feeds.by_client_id
    assert sum(len(d) for d in feeds.done.values()) > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**7, 10**7), st.integers(-10**15, 10**15),
                          st.integers(0, 10**12)), min_size=1, max_size=40))
def test_position_snapshots_value_rows_as_the_position_view_does(
        rows: list[tuple[int, int, int]]) -> None:
    """The projection values position rows in one array step; each must equal the one-row
    view the WebSocket positions channel sends (average price rounding, flat rows)."""
    table = np.zeros((len(rows), len(POSITION_FIELDS)), dtype=np.int64)
    column = {name: i for i, name in enumerate(POSITION_FIELDS)}
    for i, (net, basis, other) in enumerate(rows):
        table[i, column["acct"]] = i
        table[i, column["product"]] = int(Product.MIS)
        table[i, column["net"]], table[i, column["basis"]] = net, basis
        for name in ("realised", "margin", "open_buy", "open_sell", "day_buy_qty",
                     "day_sell_qty", "overnight"):
            table[i, column[name]] = other + column[name]
    values = _snapshot_values(table, seq=7, ts=9).tolist()
    for row, value in zip(table.tolist(), values, strict=True):
        v = position_view(row, [0])
        assert value == [7, 9, v.net, v.average_price, v.basis, v.realised, v.margin,
                         v.open_buy, v.open_sell, v.day_buy_qty, v.day_sell_qty, v.overnight]
