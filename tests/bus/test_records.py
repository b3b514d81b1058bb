"""The records of a batch, without a broker: names that do not depend on how commands were
batched, and one-minute candles closed by the first trade of a later minute."""

from __future__ import annotations

from bus import schemas
from bus.records import MINUTE, Records
from engine.commands import CommandBatch, NewOrder
from engine.types import Side
from tests.engine.harness import Harness


def trade_pair(i: int, price: int = 10_000) -> list[NewOrder]:
    return [NewOrder(account=1, instrument=0, side=Side.SELL, qty=2, price=price,
                     client_order_id=f"s{i}"),
            NewOrder(account=2, instrument=0, side=Side.BUY, qty=2, price=price,
                     client_order_id=f"b{i}")]


def run(h: Harness, records: Records, commands: list, at: int | None = None) -> list:
    if at is not None:
        h.clock.now = at
    batch = h.sequencer.stamp(CommandBatch.of(commands))
    return records.build(batch, h.core.apply(batch).tolist())


def test_names_do_not_depend_on_batching() -> None:
    commands = [c for i in range(6) for c in trade_pair(i, 10_000 + 5 * (i % 2))]
    one, many = Harness(), Harness()
    together = run(one, Records(one.core), commands)
    apart = [r for c in commands for r in run(many, Records(many.core), [c])]
    assert [(r.topic, r.seq, r.index) for r in together] == [
        (r.topic, r.seq, r.index) for r in apart]
    executed = [r.message for r in together if r.topic == "orders.executed"]
    assert [(m.client_order_id, m.side, m.liquidity, m.leaves) for m in executed[:2]] == [
        ("b0", "BUY", "taker", 0), ("s0", "SELL", "maker", 0)]
    assert {r.index for r in together if r.topic == "orders.executed"} == {0, 1}


def test_candles_close_on_the_next_minute_and_after_a_restart_are_marked() -> None:
    h = Harness()
    records = Records(h.core)
    base = 1_800_000_000 * 1_000_000_000 // MINUTE * MINUTE
    run(h, records, trade_pair(0, 10_000), at=base + 1_000)
    run(h, records, trade_pair(1, 10_050), at=base + 2_000)
    closed = [r.message for r in run(h, records, trade_pair(2, 10_020), at=base + MINUTE)
              if isinstance(r.message, schemas.CandleClosed)]
    (bar,) = closed
    assert (bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trades,
            bar.complete) == (base, 10_000, 10_050, 10_000, 10_050, 4, 2, True)
    restarted = Records(h.core, started_ts=-1)  # knows nothing of this minute's first trade
    run(h, restarted, trade_pair(3, 10_030), at=base + MINUTE + 5)
    (late,) = [r.message for r in run(h, restarted, trade_pair(4, 10_000),
                                      at=base + 2 * MINUTE)
               if isinstance(r.message, schemas.CandleClosed)]
    assert (late.start, late.volume, late.complete) == (base + MINUTE, 2, False)
