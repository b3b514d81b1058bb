"""The core around the books: sequencing, instrument commands, codecs and state identity."""

from __future__ import annotations

import numpy as np
import pytest

from engine import events as ev
from engine.codes import RejectCode
from engine.commands import (
    AddInstrument,
    Amend,
    Cancel,
    CancelAll,
    CommandBatch,
    Deposit,
    EndOfDay,
    Mark,
    NewOrder,
    SetPhase,
    SetReference,
    decode_extras,
    encode_extras,
)
from engine.core import Core, CoreConfig, SequenceError
from engine.instruments import demo_instruments
from engine.sequencer import CountingClock, Sequencer
from engine.types import OrderType, Phase, Side, StpMode, TimeInForce
from tests.engine.harness import FUT, TEST


def core_with(book: str = "fast", **config: int) -> tuple[Core, Sequencer]:
    core = Core(CoreConfig(book=book, max_orders=64, max_accounts=8, initial_levels=2048,
                           risk=False, **config))
    return core, Sequencer(1, CountingClock())


def apply(core: Core, sequencer: Sequencer, *commands: object) -> list[ev.Event]:
    return ev.decode(core.apply(sequencer.stamp(CommandBatch.of(list(commands)))))


def test_a_batch_out_of_sequence_is_refused_before_anything_changes() -> None:
    core, sequencer = core_with()
    apply(core, sequencer, AddInstrument(TEST))
    stale = Sequencer(1, CountingClock()).stamp(CommandBatch.of([SetPhase(0, Phase.HALTED)]))
    digest = core.state_hash()
    with pytest.raises(SequenceError):
        core.apply(stale)
    gap = Sequencer(5, CountingClock()).stamp(CommandBatch.of([SetPhase(0, Phase.HALTED)]))
    with pytest.raises(SequenceError):
        core.apply(gap)
    assert core.state_hash() == digest
    assert core.last_seq == 1


def test_instrument_definitions_are_validated() -> None:
    core, sequencer = core_with(max_instruments=2)
    bad_tick = TEST.with_reference(10_003)
    out = apply(core, sequencer, AddInstrument(TEST), AddInstrument(TEST),
                AddInstrument(bad_tick), AddInstrument(FUT),
                AddInstrument(demo_instruments()[0]))
    assert isinstance(out[0], ev.InstrumentAdded)
    assert (out[0].band_lo, out[0].band_hi, out[0].levels) == (9_000, 11_000, 401)
    assert [e.code for e in out[1:3]] == [RejectCode.DUPLICATE_SYMBOL,
                                          RejectCode.INVALID_INSTRUMENT_SPEC]
    assert isinstance(out[3], ev.InstrumentAdded)
    assert out[4].code == RejectCode.CAPACITY_INSTRUMENTS
    assert core.instrument_id("FUT") == 1


@pytest.mark.parametrize("book", ["fast", "reference"])
def test_a_new_reference_price_rebases_a_closed_empty_book(book: str) -> None:
    core, sequencer = core_with(book)
    apply(core, sequencer, AddInstrument(TEST))
    resting = apply(core, sequencer, NewOrder(1, 0, Side.BUY, 1, price=9_500))
    assert isinstance(resting[0], ev.Accepted)
    refused = apply(core, sequencer, SetReference(0, 20_000))
    assert refused[0].code == RejectCode.BOOK_NOT_EMPTY
    apply(core, sequencer, SetPhase(0, Phase.CLOSED))
    rebased = apply(core, sequencer, SetReference(0, 20_000))
    assert (rebased[0].band_lo, rebased[0].band_hi) == (18_000, 22_000)
    apply(core, sequencer, SetPhase(0, Phase.CONTINUOUS))
    # The old band is gone and the new one works, on the wider ladder too.
    out = apply(core, sequencer, NewOrder(1, 0, Side.BUY, 1, price=9_500),
                NewOrder(1, 0, Side.BUY, 1, price=21_950))
    assert out[0].code == RejectCode.PRICE_OUTSIDE_BAND
    assert isinstance(out[1], ev.Accepted)


def test_both_books_reach_the_same_hash_and_an_image_round_trips() -> None:
    commands = [AddInstrument(TEST), AddInstrument(FUT)]
    commands += [NewOrder(i % 4, 0, Side(i % 2), 1 + i % 3, price=9_900 + 5 * (i % 9),
                          client_order_id=f"c{i}") for i in range(40)]
    commands += [Amend(1, client_order_id="c5", qty=1), Cancel(2, client_order_id="c6"),
                 CancelAll(3, 0)]
    hashes = []
    for book in ("fast", "reference"):
        core, sequencer = core_with(book)
        apply(core, sequencer, *commands)
        hashes.append(core.state_hash())
        image = core.image()
        for other in ("fast", "reference"):
            assert Core.from_image(image, book=other).state_hash() == hashes[-1]
    assert hashes[0] == hashes[1]


def test_commands_survive_encoding() -> None:
    commands = [
        NewOrder(3, 1, Side.SELL, 50, price=20_010, type=OrderType.SL, tif=TimeInForce.IOC,
                 trigger=20_020, disclosed=0, post_only=False, stp=StpMode.CANCEL_BOTH,
                 client_order_id="x-1"),
        Cancel(2, order_id=17), Cancel(2, client_order_id="abc"),
        Amend(1, order_id=9, price=10_000, qty=5, trigger=0, disclosed=-1),
        CancelAll(4), SetPhase(1, Phase.HALTED), AddInstrument(TEST), SetReference(0, 10_500),
    ]
    batch = CommandBatch.of(commands)
    assert batch.commands() == commands
    assert decode_extras(encode_extras(batch.extras)) == batch.extras
    assert batch.marks == ([0, 2], [6, 7])
    assert CommandBatch(batch.rows, batch.extras).marks == batch.marks


def test_event_rows_decode_to_structs_and_back_to_the_same_fields() -> None:
    core, sequencer = core_with()
    rows = core.apply(sequencer.stamp(CommandBatch.of([
        AddInstrument(TEST), NewOrder(1, 0, Side.SELL, 5, price=10_000),
        NewOrder(2, 0, Side.BUY, 3, price=10_000)])))
    decoded = ev.decode(rows)
    trade = next(e for e in decoded if isinstance(e, ev.Traded))
    assert (trade.price, trade.qty, trade.buy_account, trade.sell_account) == (10_000, 3, 2, 1)
    assert np.all(rows[:, 1] >= 1)  # every event carries the seq of its command
    assert [e.seq for e in decoded] == sorted(e.seq for e in decoded)


def test_the_fast_book_grows_its_ladders_without_losing_the_book() -> None:
    from engine.fastbook.integrity import audit

    commands = [AddInstrument(TEST)]
    commands += [NewOrder(i % 4, 0, Side(i % 2), 2, price=9_950 + 10 * (i % 2) + 5 * (i % 7))
                 for i in range(30)]
    commands += [NewOrder(5, 0, Side.BUY, 3, type=OrderType.SL_M, trigger=10_200),
                 NewOrder(6, 0, Side.SELL, 3, type=OrderType.SL, price=9_700, trigger=9_800),
                 SetPhase(0, Phase.HALTED), SetPhase(0, Phase.PRE_OPEN),
                 NewOrder(7, 0, Side.BUY, 4, type=OrderType.MARKET)]
    commands += [AddInstrument(demo_instruments()[8])]  # NIFTY futures: 48,701 levels
    commands += [SetPhase(1, Phase.CONTINUOUS), NewOrder(1, 1, Side.BUY, 75, price=2_435_000)]
    hashes = []
    for book in ("fast", "reference"):
        core = Core(CoreConfig(book=book, max_orders=64, max_accounts=8, initial_levels=1024,
                               risk=False))
        apply(core, Sequencer(1, CountingClock()), *commands)
        hashes.append(core.state_hash())
        if book == "fast":
            assert core.book.arena.size > 2 * 48_701 * 8  # the level table was regrown
            assert audit(core.book.arena) == []
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_client_order_ids_restart_after_the_day_closes_within_one_batch(book: str) -> None:
    core = Core(CoreConfig(book=book, max_orders=64, max_accounts=8, initial_levels=2048))
    sequencer = Sequencer(1, CountingClock())
    apply(core, sequencer, AddInstrument(TEST), SetPhase(0, Phase.CONTINUOUS),
          Deposit(1, 10_000_000))
    order = NewOrder(1, 0, Side.BUY, 1, price=9_900, client_order_id="a")
    out = apply(core, sequencer, order, order, EndOfDay(), order)
    kinds = [(type(e).__name__, getattr(e, "code", None)) for e in out
             if not isinstance(e, ev.BookChanged)]
    assert kinds == [("Accepted", None), ("Rejected", RejectCode.DUPLICATE_CLIENT_ORDER_ID),
                     ("DayClosed", None), ("Accepted", None)]
    last = [e for e in out if isinstance(e, ev.Accepted)][-1]
    assert core.order_id_for(1, "a") == last.order_id


def test_one_coalesced_batch_ends_where_its_parts_end() -> None:
    """Replay joins journaled batches; that must not change what they did."""
    parts = [
        [AddInstrument(TEST), SetPhase(0, Phase.CONTINUOUS), Deposit(1, 10_000_000)],
        [NewOrder(1, 0, Side.BUY, 1, price=9_900, client_order_id="a")],
        [EndOfDay(), Mark()],
        [NewOrder(1, 0, Side.BUY, 2, price=9_905, client_order_id="a"),
         Cancel(1, client_order_id="a")],
    ]
    config = CoreConfig(max_orders=64, max_accounts=8, initial_levels=2048)
    live, joined = Core(config), Core(config)
    sequencer = Sequencer(1, CountingClock())
    stamped = [sequencer.stamp(CommandBatch.of(part)) for part in parts]
    for batch in stamped:
        live.apply(CommandBatch(batch.rows.copy(), list(batch.extras)))
    joined.apply(CommandBatch(np.concatenate([b.rows for b in stamped]),
                              [e for b in stamped for e in b.extras]))
    assert joined.state_hash() == live.state_hash()
    assert joined.order_id_for(1, "a") == live.order_id_for(1, "a") is not None
