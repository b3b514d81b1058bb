"""Pre-trade risk, products and the ledger as scenario tables, on both implementations.

Instruments (see `tests.engine.harness`): TEST is cash equity (delivery CNC or intraday
MIS at 20% margin), reference 100.00, band 90.00-110.00, market protection 3%; FUT is a
future (MIS or NRML, lots of 25). Each scenario lists what happens before, the command, the
events that matter to it (the `show` prefixes), and the accounts afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from engine.commands import CommandBatch, Deposit, KillSwitch, SquareOff
from engine.core import Core
from engine.fastbook.book import FastBook
from engine.layout import E_KIND, E_OID, EV_ACCEPTED
from engine.sequencer import DAY_NS, SYNTHETIC_ORDER_IDS, Sequencer, order_shard, shard_order_ids
from engine.types import KillScope, Product, StpMode
from portfolio.arena import A_EQUITY, A_UNREAL, views
from risk.fast import FastRisk
from tests.engine.harness import Harness, lines

ALL = ("ACCEPTED", "REJECTED", "TRADE", "CANCELLED", "EXPIRED", "AMENDED", "LEDGER", "MARGIN",
       "KILL", "DAY", "LIMITS")
MONEY = ("REJECTED", "LEDGER", "MARGIN")


@dataclass(frozen=True)
class Scenario:
    title: str
    before: str
    command: str
    events: str
    accounts: dict[int, str] = field(default_factory=dict)
    show: tuple[str, ...] = ALL
    positions: dict[int, str] = field(default_factory=dict)
    maintenance_bps: int = 5_000


SCENARIOS = [
    Scenario(
        "a delivery buy blocks its full value; buying power is cash minus blocked",
        before="DEPOSIT acct=1 250.00",
        command="""
            BUY 100.00 x 3 #a cnc
            BUY 100.00 x 2 #b cnc
            BUY 90.00 x 1 #c cnc
        """,
        events="""
            REJECTED #a INSUFFICIENT_FUNDS
            ACCEPTED #b BUY LIMIT 100.00 x 2
            REJECTED #c INSUFFICIENT_FUNDS
        """,
        accounts={1: "cash 250.00 blocked 200.00 margin 0.00"},
    ),
    Scenario(
        "an intraday order blocks 20% margin, shorting allowed",
        before="DEPOSIT acct=1 100.00",
        command="""
            SELL 100.00 x 5 #a mis
            SELL 100.00 x 1 #b mis
        """,
        events="""
            ACCEPTED #a SELL LIMIT 100.00 x 5
            REJECTED #b INSUFFICIENT_FUNDS
        """,
        accounts={1: "cash 100.00 blocked 100.00 margin 0.00"},
    ),
    Scenario(
        "a fill moves margin from blocked to held; closing the position needs no margin",
        before="""
            DEPOSIT acct=1 100.00
            DEPOSIT acct=2 1000.00
            SELL 100.00 x 5 #s mis acct=1
            BUY 100.00 x 5 #b mis acct=2
        """,
        command="BUY 100.00 x 5 #close mis acct=1",
        events="ACCEPTED #close BUY LIMIT 100.00 x 5",
        accounts={1: "cash 100.00 blocked 0.00 margin 100.00",
                  2: "cash 1000.00 blocked 0.00 margin 100.00"},
        positions={1: "net -5 avg 100.00 realised 0.00"},
    ),
    Scenario(
        "a delivery sell needs holdings not already being sold",
        before="""
            DEPOSIT acct=1 1000.00
            DEPOSIT acct=2 1000.00
            SELL 100.00 x 2 #s mis acct=2
            BUY 100.00 x 2 #b cnc acct=1
        """,
        command="""
            SELL 105.00 x 3 #x cnc acct=1
            SELL 105.00 x 2 #y cnc acct=1
            SELL 105.00 x 1 #z cnc acct=1
        """,
        events="""
            REJECTED #x NO_HOLDINGS
            ACCEPTED #y SELL LIMIT 105.00 x 2
            REJECTED #z NO_HOLDINGS
        """,
        accounts={1: "cash 800.00 blocked 0.00 margin 0.00"},
    ),
    Scenario(
        "products follow the segment: delivery for equity, carry-forward for futures",
        before="DEPOSIT acct=1 100000.00",
        command="""
            BUY 100.00 x 1 #a nrml
            BUY 200.00 x 25 #b cnc instr=FUT
            BUY 200.00 x 25 #c nrml instr=FUT
        """,
        events="""
            REJECTED #a PRODUCT_NOT_ALLOWED
            REJECTED #b PRODUCT_NOT_ALLOWED
            ACCEPTED #c BUY LIMIT 200.00 x 25
        """,
        accounts={1: "cash 100000.00 blocked 600.00 margin 0.00"},
    ),
    Scenario(
        "maximum order value and open orders are per account",
        before="""
            DEPOSIT acct=1 10000.00
            LIMITS acct=1 max_value=300.00 max_open=2
        """,
        command="""
            BUY 100.00 x 4 #a cnc
            BUY 100.00 x 3 #b cnc
            BUY 99.00 x 1 #c cnc
            BUY 98.00 x 1 #d cnc
        """,
        events="""
            REJECTED #a MAX_ORDER_VALUE
            ACCEPTED #b BUY LIMIT 100.00 x 3
            ACCEPTED #c BUY LIMIT 99.00 x 1
            REJECTED #d MAX_OPEN_ORDERS
        """,
        show=("ACCEPTED", "REJECTED"),
    ),
    Scenario(
        "position limits count every open order as if it filled",
        before="""
            DEPOSIT acct=1 10000.00
            LIMITS acct=1 max_long=5 max_short=4
        """,
        command="""
            BUY 99.00 x 3 #a mis
            BUY 99.00 x 3 #b mis
            SELL 101.00 x 5 #c mis
            SELL 101.00 x 4 #d mis
        """,
        events="""
            ACCEPTED #a BUY LIMIT 99.00 x 3
            REJECTED #b POSITION_LIMIT
            REJECTED #c POSITION_LIMIT
            ACCEPTED #d SELL LIMIT 101.00 x 4
        """,
        show=("ACCEPTED", "REJECTED"),
    ),
    Scenario(
        "the order rate is throttled per account by command time",
        before="""
            DEPOSIT acct=1 10000.00
            LIMITS acct=1 rate=2
        """,
        command="""
            BUY 99.00 x 1 #a
            BUY 99.00 x 1 #b
            BUY 99.00 x 1 #c
        """,
        events="""
            ACCEPTED #a BUY LIMIT 99.00 x 1
            ACCEPTED #b BUY LIMIT 99.00 x 1
            REJECTED #c THROTTLED
        """,
        show=("ACCEPTED", "REJECTED"),
    ),
    Scenario(
        "a kill switch blocks new orders and can cancel the resting ones",
        before="""
            DEPOSIT acct=1 10000.00
            BUY 99.00 x 1 #a cnc acct=1
        """,
        command="""
            KILL ACCOUNT target=1 cancel
            BUY 99.00 x 1 #b cnc acct=1
            KILL ACCOUNT target=1 off
            BUY 99.00 x 1 #c cnc acct=1
        """,
        events="""
            KILL ACCOUNT target=1 on
            CANCELLED #a 1 KILL_SWITCH
            REJECTED #b KILL_SWITCH_ACCOUNT
            KILL ACCOUNT target=1 off
            ACCEPTED #c BUY LIMIT 99.00 x 1
        """,
        accounts={1: "cash 10000.00 blocked 99.00 margin 0.00"},
    ),
    Scenario(
        "the global and instrument kill switches",
        before="DEPOSIT acct=1 10000.00",
        command="""
            KILL INSTRUMENT instr=TEST
            BUY 99.00 x 1 #a
            KILL INSTRUMENT instr=TEST off
            KILL GLOBAL
            BUY 99.00 x 1 #b
        """,
        events="""
            KILL INSTRUMENT target=0 on
            REJECTED #a KILL_SWITCH_INSTRUMENT
            KILL INSTRUMENT target=0 off
            KILL GLOBAL target=0 on
            REJECTED #b KILL_SWITCH_GLOBAL
        """,
    ),
    Scenario(
        "a market order needs funds at its protection price (last 100.00 + 3%)",
        before="DEPOSIT acct=1 510.00",
        command="""
            BUY MARKET x 5 #a cnc
            DEPOSIT acct=1 5.00
            BUY MARKET x 5 #b cnc
        """,
        events="""
            REJECTED #a INSUFFICIENT_FUNDS
            LEDGER acct=1 DEPOSIT BANK->CLIENT 5.00
            ACCEPTED #b BUY MARKET MKT x 5
            EXPIRED #b 5 MARKET_REMAINDER
        """,
        accounts={1: "cash 515.00 blocked 0.00 margin 0.00"},
    ),
    Scenario(
        "a delivery fill debits its value and releases the rest of the block",
        before="""
            DEPOSIT acct=1 505.00
            DEPOSIT acct=2 1000.00
            SELL 100.00 x 5 #s mis acct=2
        """,
        command="BUY 101.00 x 5 #b cnc acct=1",
        events="""
            ACCEPTED #b BUY LIMIT 101.00 x 5
            TRADE 5 @ 100.00 buy=#b(0) sell=#s(0)
            LEDGER acct=1 TRADE_VALUE CLIENT->CLEARING 500.00
        """,
        accounts={1: "cash 5.00 blocked 0.00 margin 0.00",
                  2: "cash 1000.00 blocked 0.00 margin 100.00"},
        positions={1: "none"},
    ),
    Scenario(
        "cancels and amendments release and re-block; an amendment is checked for funds",
        before="""
            DEPOSIT acct=1 300.00
            BUY 100.00 x 2 #a cnc
        """,
        command="""
            AMEND #a qty=3
            AMEND #a qty=4
            CANCEL #a
        """,
        events="""
            AMENDED #a 100.00 x 3 leaves=3 lost
            REJECTED #a INSUFFICIENT_FUNDS
            CANCELLED #a 3 USER
        """,
        accounts={1: "cash 300.00 blocked 0.00 margin 0.00"},
    ),
    Scenario(
        "an intraday round trip realises its profit in cash",
        before="""
            DEPOSIT acct=1 1000.00
            DEPOSIT acct=2 1000.00
            DEPOSIT acct=3 1000.00
            SELL 100.00 x 10 #s mis acct=2
            BUY 100.00 x 10 #b mis acct=1
            BUY 101.00 x 10 #c mis acct=3
        """,
        command="SELL 101.00 x 10 #x mis acct=1",
        events="""
            TRADE 10 @ 101.00 buy=#c(0) sell=#x(0)
            LEDGER acct=1 REALISED_PNL CLEARING->CLIENT 10.00
        """,
        show=("TRADE", "LEDGER"),
        accounts={1: "cash 1010.00 blocked 0.00 margin 0.00"},
    ),
    Scenario(
        "a withdrawal cannot take blocked or margin money",
        before="""
            DEPOSIT acct=1 1000.00
            BUY 100.00 x 5 #a cnc
        """,
        command="""
            WITHDRAW acct=1 600.00
            WITHDRAW acct=1 500.00
            WITHDRAW acct=1 0.00
        """,
        events="""
            REJECTED #0 WITHDRAWAL_EXCEEDS_FREE_CASH
            LEDGER acct=1 WITHDRAWAL CLIENT->BANK 500.00
            REJECTED #0 AMOUNT_INVALID
        """,
        accounts={1: "cash 500.00 blocked 500.00 margin 0.00"},
    ),
    Scenario(
        "marking to market raises and clears margin calls",
        maintenance_bps=8_000,
        before="""
            DEPOSIT acct=1 100.00
            DEPOSIT acct=2 100000.00
            DEPOSIT acct=3 1000.00
            SELL 100.00 x 5 #s mis acct=1
            BUY 100.00 x 5 #b mis acct=2
        """,
        command="""
            SELL 105.00 x 1 #s3 mis acct=2
            BUY 105.00 x 1 #b3 mis acct=3
            MARK
            SELL 100.00 x 1 #s4 mis acct=2
            BUY 100.00 x 1 #b4 mis acct=3
            MARK
        """,
        events="""
            MARGIN_CALL acct=1 equity=75.00 maintenance=80.00
            MARGIN_CLEARED acct=1 equity=100.00 maintenance=80.00
        """,
        show=("MARGIN",),
    ),
    Scenario(
        "square-off cancels open intraday orders and closes positions at market",
        before="""
            DEPOSIT acct=1 1000.00
            DEPOSIT acct=2 1000.00
            DEPOSIT acct=3 3000.00
            SELL 100.00 x 10 #s mis acct=2
            BUY 100.00 x 10 #b mis acct=1
            BUY 95.00 x 1 #open mis acct=1
            BUY 99.00 x 20 #bid cnc acct=3
        """,
        command="SQUARE_OFF MIS",
        events="""
            CANCELLED #open 1 SQUARE_OFF
            TRADE 10 @ 99.00 buy=#bid(10) sell=#281474976710657(0)
            LEDGER acct=3 TRADE_VALUE CLIENT->CLEARING 990.00
            LEDGER acct=1 REALISED_PNL CLIENT->CLEARING 10.00
            EXPIRED #281474976710658 10 MARKET_REMAINDER
        """,
        show=("CANCELLED", "TRADE", "LEDGER", "EXPIRED"),
        positions={1: "net 0 avg - realised -10.00", 2: "net -10 avg 100.00 realised 0.00"},
    ),
    Scenario(
        "the end of the day posts each account's charges and closes the day",
        before="""
            DEPOSIT acct=1 100000.00
            DEPOSIT acct=2 100000.00
            SELL 200.00 x 100 #s mis acct=2 instr=FUT
        """,
        command="""
            BUY 200.00 x 100 #b mis acct=1 instr=FUT
            EOD
        """,
        events="""
            LEDGER acct=1 CHARGES CLIENT->BROKERAGE 6.00
            LEDGER acct=1 CHARGES CLIENT->EXCHANGE 0.37
            LEDGER acct=1 CHARGES CLIENT->SEBI 0.02
            LEDGER acct=1 CHARGES CLIENT->STAMP 0.40
            LEDGER acct=1 CHARGES CLIENT->GST 1.15
            LEDGER acct=2 CHARGES CLIENT->BROKERAGE 6.00
            LEDGER acct=2 CHARGES CLIENT->STT 4.00
            LEDGER acct=2 CHARGES CLIENT->EXCHANGE 0.37
            LEDGER acct=2 CHARGES CLIENT->SEBI 0.02
            LEDGER acct=2 CHARGES CLIENT->GST 1.15
            DAY_CLOSED 20231115 charged=2
        """,
        show=("LEDGER", "DAY", "REJECTED"),
    ),
]


def harness(book: str, scenario: Scenario) -> Harness:
    return Harness(book, risk=True, maintenance_bps=scenario.maintenance_bps)


@pytest.mark.parametrize("book", ["reference", "fast"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.title for s in SCENARIOS])
def test_risk_scenario(scenario: Scenario, book: str) -> None:
    h = harness(book, scenario)
    h.run(scenario.before)
    shown = [e for e in h.run(scenario.command) if e.startswith(scenario.show)]
    assert shown == lines(scenario.events)
    for acct, expected in scenario.accounts.items():
        assert h.account(acct) == expected, f"account {acct}"
    for acct, expected in scenario.positions.items():
        assert h.position(acct) == expected, f"position of account {acct}"


def test_both_implementations_end_every_scenario_in_the_same_state() -> None:
    for scenario in SCENARIOS:
        states = []
        for book in ("reference", "fast"):
            h = harness(book, scenario)
            h.run(scenario.before)
            h.run(scenario.command)
            states.append(h.core.state_hash())
        assert states[0] == states[1], scenario.title


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_a_day_closes_once(book: str) -> None:
    h = Harness(book, risk=True)
    h.run("""
        DEPOSIT acct=1 1000.00
        EOD
    """)
    h.clock.now -= DAY_NS  # back to the day just closed
    assert h.run("EOD") == ["REJECTED #0 DAY_ALREADY_CLOSED"]
    h.clock.next_day()  # the harness moved a day on after each EOD: now two days on
    assert h.run("EOD") == ["DAY_CLOSED 20231117 charged=0"]



@pytest.mark.parametrize("book", ["reference", "fast"])
def test_after_the_intraday_square_off_mis_orders_may_only_reduce(book: str) -> None:
    h = Harness(book, risk=True)
    h.run("""
        DEPOSIT acct=1 10000.00
        DEPOSIT acct=2 10000.00
        SELL 100.00 x 5 #s mis acct=2
        BUY 100.00 x 5 #b mis acct=1
        SQUARE_OFF MIS
    """)  # nobody to trade with: the closing orders expire and both positions stay open
    out = h.run("""
        BUY 99.00 x 1 #open mis acct=1
        SELL 101.00 x 5 #close mis acct=1
        SELL 101.00 x 6 #flip mis acct=1
        AMEND #close qty=6
        AMEND #close qty=4
        BUY 99.00 x 1 #cnc cnc acct=1
    """)
    verdicts = [line.split()[:3] for line in out
                if line.startswith(("ACCEPTED", "REJECTED", "AMENDED"))]
    assert verdicts == [
        ["REJECTED", "#open", "INTRADAY_CUTOFF"],  # would open more
        ["ACCEPTED", "#close", "SELL"],  # only closes the position
        ["REJECTED", "#flip", "INTRADAY_CUTOFF"],  # the position is already being closed
        ["REJECTED", "#close", "INTRADAY_CUTOFF"],  # growing the order would open more
        ["AMENDED", "#close", "101.00"],  # shrinking is always allowed
        ["ACCEPTED", "#cnc", "BUY"],  # delivery is not intraday
    ]
    h.clock.next_day()
    assert h.run("BUY 99.00 x 1 #tomorrow mis acct=1")[0].startswith("ACCEPTED #tomorrow")


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_a_new_trigger_moves_a_stop_market_orders_block(book: str) -> None:
    h = Harness(book, risk=True)
    h.run("""
        DEPOSIT acct=1 10000.00
        DEPOSIT acct=2 10000.00
        BUY SL-M x 10 #stop cnc acct=1 trig=101.00
        BUY SL-M x 10 #fresh cnc acct=2 trig=105.00
    """)
    before = h.account(1)
    assert h.run("AMEND #stop trig=105.00")[0].startswith("AMENDED #stop")
    assert h.account(1) != before
    assert h.account(1) == h.account(2)  # blocked as if placed with the new trigger


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_a_cluster_shards_square_off_orders_have_ids_that_name_the_shard(book: str) -> None:
    h = Harness(book, risk=True, order_id_base=shard_order_ids(3))
    h.run("""
        DEPOSIT acct=1 10000.00
        DEPOSIT acct=2 10000.00
        SELL 100.00 x 5 #s mis acct=2
        BUY 100.00 x 5 #b mis acct=1
    """)
    events = h.submit([SquareOff(int(Product.MIS))])
    closing = [int(oid) for oid in events[events[:, E_KIND] == EV_ACCEPTED, E_OID]]
    assert len(closing) == 2  # one closing order per open position
    assert all(oid > SYNTHETIC_ORDER_IDS for oid in closing)
    assert [order_shard(oid) for oid in closing] == [3, 3]
    # shard 0 numbers its own SYNTHETIC_ORDER_IDS + 1, + 2: no id is shared between shards
    assert closing == [SYNTHETIC_ORDER_IDS + shard_order_ids(3) + n for n in (1, 2)]


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_the_mark_reaches_the_highest_account_in_use_also_after_a_restore(book: str) -> None:
    # The mark passes over the accounts that ever had cash, credit or a position, not the
    # arena's whole capacity: the last account of the arena must still be marked, and an
    # image loaded into a new core must bring that bound with it.
    top = 15  # the harness sizes the arena for 16 accounts
    h = Harness(book, risk=True, maintenance_bps=8_000)
    h.run(f"""
        DEPOSIT acct={top} 100.00
        DEPOSIT acct=2 100000.00
        DEPOSIT acct=3 1000.00
        SELL 100.00 x 5 #s mis acct={top}
        BUY 100.00 x 5 #b mis acct=2
        SELL 105.00 x 1 #s3 mis acct=2
        BUY 105.00 x 1 #b3 mis acct=3
    """)
    called = f"MARGIN_CALL acct={top} equity=75.00 maintenance=80.00"
    restored = Core.from_image(h.core.image(), book=book)
    assert [line for line in h.run("MARK") if "MARGIN" in line] == [called]
    h.core, h.sequencer = restored, Sequencer(restored.last_seq + 1, h.clock)
    assert [line for line in h.run("MARK") if "MARGIN" in line] == [called]


def test_the_mark_brings_the_equity_of_an_account_with_cash_only_up_to_date() -> None:
    # Cash alone, no position: the account is marked too (its equity is its cash), by a
    # core that saw the deposit and by one loaded from an image taken after it.
    h = Harness("fast", risk=True)
    h.run("DEPOSIT acct=15 250.00")
    restored = Core.from_image(h.core.image(), book="fast")
    for core in (h.core, restored):
        h.core, h.sequencer = core, Sequencer(core.last_seq + 1, h.clock)
        h.run("MARK")
        assert isinstance(core.risk, FastRisk)
        accts = views(core.risk.arena)[1]
        assert (int(accts[15, A_EQUITY]), int(accts[15, A_UNREAL])) == (25_000, 0)


def test_an_account_side_smaller_than_the_book_is_refused_and_changes_nothing() -> None:
    # Its order rows are the book's slots: a book that can hold more orders than it has rows
    # must be refused before anything runs, not written past the end of the table.
    book = FastBook(max_orders=1 << 10, max_accounts=8,
                    stp_default=int(StpMode.CANCEL_INCOMING), levels=1 << 12)
    small = FastRisk(8, 64, 5_000, 0, max_orders=1 << 9, max_instruments=8)
    rows = Sequencer(1, lambda: 1).stamp(CommandBatch.of([Deposit(0, 100)])).rows
    before = small.arena.copy()
    with pytest.raises(ValueError, match="fewer orders than the book"):
        small.process(book, rows)
    assert np.array_equal(small.arena, before)
    enough = FastRisk(8, 64, 5_000, 0, max_orders=1 << 10, max_instruments=8)
    assert len(enough.process(book, rows)) == 1


def test_a_kill_switch_on_an_account_that_never_traded_is_in_the_state_and_its_image() -> None:
    # The account side's canonical state covers the accounts whose rows ever changed: a kill
    # switch on an account above every funded one changes its row too.
    states = []
    for book in ("reference", "fast"):
        h = Harness(book, risk=True)
        h.submit([Deposit(1, 100_000), KillSwitch(KillScope.ACCOUNT, target=12)])
        restored = Core.from_image(h.core.image(), book=book)
        assert restored.state_hash() == h.core.state_hash()
        in_state = {int(row[0]) for row in h.core.risk.state().accounts}
        assert in_state == {1, 12}
        states.append(h.core.state_hash())
    assert states[0] == states[1]
