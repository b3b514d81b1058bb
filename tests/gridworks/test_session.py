"""The session's automatic commands: the schedule on its own, then through a running node."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.commands import EndOfDay, Mark, NewOrder, SquareOff
from engine.types import Product, Side
from gridworks.config import ConfigError, NodeConfig, with_overrides
from gridworks.node import Node
from gridworks.session import SessionSchedule
from risk.commands import IST
from risk.state import ACCOUNT_FIELDS, POSITION_FIELDS, RiskState
from tests.gridworks.test_node import funded

MS = 1_000_000


def ist(day: int, hour: int, minute: int, second: int = 0) -> int:
    """ns since the epoch of a time in November 2026, Indian time."""
    return int(dt.datetime(2026, 11, day, hour, minute, second, tzinfo=IST).timestamp()) * 10**9


def schedule(closed_day: int = 0, **kw: object) -> SessionSchedule:
    settings: dict[str, object] = {"mark_interval_ms": 100, "square_off_at": "15:20",
                                   "end_of_day_at": "16:00", "closed_day": closed_day, **kw}
    return SessionSchedule(**settings)  # type: ignore[arg-type]


def test_marks_follow_trades_at_most_once_per_interval() -> None:
    s = schedule()
    t = ist(25, 10, 0)
    assert s.due(t, traded_since_mark=False) == []
    assert s.due(t, traded_since_mark=True) == [Mark()]
    assert s.due(t + 50 * MS, traded_since_mark=True) == []
    assert s.due(t + 100 * MS, traded_since_mark=True) == [Mark()]
    every = schedule(mark_interval_ms=0)
    assert every.mark_due(t, True)
    assert every.mark_due(t, True)
    assert not every.mark_due(t, False)
    assert schedule(mark_interval_ms=-1).due(t, traded_since_mark=True) == []


def test_square_off_then_end_of_day_once_each_per_day() -> None:
    s = schedule()
    assert s.due(ist(25, 15, 19, 59), False) == []
    assert s.due(ist(25, 15, 20), False) == [SquareOff(Product.MIS)]
    assert s.due(ist(25, 15, 40), False) == []
    assert s.due(ist(25, 16, 0), False) == [EndOfDay()]
    assert s.due(ist(25, 23, 59), False) == []
    assert s.due(ist(26, 9, 15), False) == []
    assert s.due(ist(26, 15, 21), False) == [SquareOff(Product.MIS)]


def test_a_late_start_catches_up_in_order_unless_the_day_is_closed() -> None:
    assert schedule().due(ist(25, 17, 0), True) == [Mark(), SquareOff(Product.MIS), EndOfDay()]
    assert schedule(closed_day=20261125).due(ist(25, 17, 0), False) == []
    assert schedule(square_off_at="", end_of_day_at="").due(ist(25, 17, 0), False) == []


@pytest.mark.parametrize(("settings", "message"), [
    ({"square_off_at": "3pm"}, "HH:MM"),
    ({"end_of_day_at": "25:00"}, "HH:MM"),
    ({"square_off_at": "16:30"}, "before the end of the day"),
])
def test_bad_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schedule(**settings)


def test_a_bad_time_setting_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="--square-off-at"):
        with_overrides(NodeConfig(), square_off_at="half past three")


# --- through a node -----------------------------------------------------------------------------

class ManualClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        self.now += 1
        return self.now


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def risk_state(node: Node) -> RiskState:
    assert node.core is not None
    assert node.core.risk is not None
    return node.core.risk.state()


def account(node: Node, acct: int) -> dict[str, int]:
    for row in risk_state(node).accounts.tolist():
        if row[0] == acct:
            return dict(zip(ACCOUNT_FIELDS, row, strict=True))
    return {}


def net(node: Node, acct: int, instr: int, product: Product) -> int:
    for row in risk_state(node).positions.tolist():
        p = dict(zip(POSITION_FIELDS, row, strict=True))
        if (p["acct"], p["instr"], p["product"]) == (acct, instr, product):
            return p["net"]
    return 0


def closed_day(node: Node) -> int:
    return risk_state(node).closed_day


FUT = 8  # NIFTY26DECFUT in the demo set: lot 75, tick 10


async def test_the_node_marks_squares_off_and_closes_the_day(tmp_path: Path) -> None:
    clock = ManualClock(ist(25, 15, 19))
    config = NodeConfig(data_dir=tmp_path, max_orders=4096, max_accounts=64, demo_accounts=False)
    node = Node(config, clock=clock)
    await node.start()
    try:
        await funded(node, range(1, 4))
        await node.submit([
            NewOrder(3, FUT, Side.BUY, 150, price=2_434_000, product=Product.NRML),
            NewOrder(2, FUT, Side.SELL, 75, price=2_435_000, product=Product.NRML),
            NewOrder(1, FUT, Side.BUY, 75, price=2_435_000, product=Product.MIS),
        ])
        assert net(node, 1, FUT, Product.MIS) == 75
        # The first trade was marked in the same commit: equity is known at once.
        assert account(node, 1)["equity"] == account(node, 1)["cash"]
        assert node.stats.session_commands == 1
        # A trade within the interval is marked when the interval has passed.
        await node.submit([
            NewOrder(2, FUT, Side.SELL, 75, price=2_436_000, product=Product.NRML),
            NewOrder(1, FUT, Side.BUY, 75, price=2_436_000, product=Product.MIS),
        ])
        assert node.stats.session_commands == 1
        clock.now += 200 * MS
        await until(lambda: node.stats.session_commands == 2, "the owed mark")
        assert account(node, 1)["unrealised"] == 75 * (2_436_000 - 2_435_000)
        await node.submit([NewOrder(1, FUT, Side.SELL, 75, price=2_436_000,
                                    product=Product.MIS)])  # rests: the square-off cancels it

        clock.now = ist(25, 15, 20)
        await until(lambda: net(node, 1, FUT, Product.MIS) == 0, "the intraday square-off")
        assert net(node, 3, FUT, Product.NRML) == 150  # the resting bid took it
        assert net(node, 2, FUT, Product.NRML) == -150  # carry-forward is left alone

        clock.now = ist(25, 16, 0)
        await until(lambda: closed_day(node) == 20261125, "the end of the day")
        hash_at_close = node.core.state_hash() if node.core else ""
    finally:
        await node.stop()

    clock.now = ist(25, 16, 5)  # a restart the same evening does not close the day again
    again = Node(config, clock=clock)
    await again.start()
    try:
        assert again.core is not None
        assert again.core.state_hash() == hash_at_close
        await asyncio.sleep(0.1)
        assert again.stats.session_commands == 0
    finally:
        await again.stop()
