"""ExecutionReports against an independent account of the same events: random orders,
cancels and amendments run through a core with no event loop; after every batch, the last
report of each order must agree with the gateway's own order records (`AccountFeeds`), and
the reports must add up (fills to CumQty, CumQty + LeavesQty to OrderQty while open)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commands import Amend, Cancel, Command, CommandBatch, NewOrder
from engine.types import Side, TimeInForce
from gateway.fix.reports import Reports
from gateway.private import AccountFeeds
from tests.engine.harness import Harness

STATUS = {"OPEN": "0", "PARTIALLY_FILLED": "1", "FILLED": "2", "CANCELLED": "4",
          "EXPIRED": "C", "REJECTED": "8"}

orders = st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 3),
                   st.integers(1, 20), st.integers(-2, 4),  # mostly crossing
                   st.sampled_from([TimeInForce.DAY, TimeInForce.DAY, TimeInForce.IOC]))
steps = st.lists(st.one_of(
    st.tuples(st.just("new"), orders),
    st.tuples(st.just("cancel"), st.integers(0, 40)),
    st.tuples(st.just("amend"), st.tuples(st.integers(0, 40), st.integers(1, 25),
                                          st.integers(-4, 4)))), min_size=1, max_size=60)


def fields_of(body: list[tuple[int, object]] | bytes) -> dict[int, str]:
    """A report's fields by tag, whether the body is still fields or already encoded."""
    if isinstance(body, bytes):
        pairs = [part.split("=", 1) for part in body.decode("latin-1").split("\x01")[:-1]]
        return {int(tag): value for tag, value in pairs}
    return {tag: str(value) for tag, value in body}


def paise(offset: int) -> int:
    return 10_000 + 5 * offset  # TEST trades at 100.00 on a 0.05 grid


@settings(max_examples=100, deadline=None)
@given(steps)
def test_reports_agree_with_the_order_records(script: list[tuple[str, object]]) -> None:
    h = Harness()
    feeds = AccountFeeds(h.core)
    reports = Reports(lambda: [s.symbol for s in h.core.specs], watched=lambda a: True,
                      exec_prefix="t")
    last: dict[int, dict[int, str]] = {}
    fills: dict[int, int] = {}
    placed: list[tuple[int, int]] = []  # (order id, account)
    for n, (kind, arg) in enumerate(script):
        command: Command
        if kind == "new":
            side, account, qty, offset, tif = arg  # type: ignore[misc]
            command = NewOrder(account=account, instrument=0, side=side, qty=qty,
                               price=paise(offset if side == Side.BUY else -offset), tif=tif,
                               client_order_id=f"c{n}")
        elif not placed:
            continue
        elif kind == "cancel":
            oid, account = placed[int(arg) % len(placed)]  # type: ignore[call-overload]
            command = Cancel(account, order_id=oid)
        else:
            pick, qty, offset = arg  # type: ignore[misc]
            oid, account = placed[pick % len(placed)]
            command = Amend(account, order_id=oid, qty=qty, price=paise(offset))
        batch = h.sequencer.stamp(CommandBatch.of([command]))
        rows = h.core.apply(batch).tolist()
        feeds.apply(batch, rows)
        for r in reports.apply(batch, rows):
            body = fields_of(r.body)
            oid = int(body[37])
            last[oid] = body
            if body[150] == "F":
                fills[oid] = fills.get(oid, 0) + int(body[32])
            if body[150] == "0":
                placed.append((oid, r.account))
    for oid, body in last.items():
        record = feeds.order(int(body[1]), oid)
        assert record is not None
        assert body[39] == STATUS[record.status], (body, record)
        assert int(body[14]) == record.filled == fills.get(oid, 0)
        assert int(body[151]) == record.leaves
        if record.status in ("OPEN", "PARTIALLY_FILLED"):
            assert int(body[14]) + int(body[151]) == int(body[38]) == record.qty
        if record.filled:
            assert abs(float(body[6]) * 100 - record.average_price) <= 0.5
