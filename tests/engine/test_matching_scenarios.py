"""Matching rules as scenario tables: book before, command, events, book after.

Every scenario runs against both the reference book and the numba book. Instruments (see
`harness`): TEST has a 0.05 tick, lot 1, reference 100.00, band 90.00-110.00 and a 3%
market protection; FUT has lots of 25, a 0.10 tick, band 190.00-210.00, freeze 500 and
halts when a trade prints at the band edge. Accounts default to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.engine.harness import Harness, lines


@dataclass(frozen=True)
class Scenario:
    title: str
    before: str
    command: str
    events: str
    after: str
    symbol: str = "TEST"


SCENARIOS = [
    Scenario(
        "a limit order that does not cross rests",
        before="SELL 100.50 x 10 #a acct=2",
        command="BUY 100.00 x 5 #x",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 5
            BOOK BUY 100.00 5/1
        """,
        after="""
            SELL 100.50 x 10 #a
            BUY 100.00 x 5 #x
        """,
    ),
    Scenario(
        "a crossing buy takes the best price first and trades at each resting price",
        before="""
            SELL 100.50 x 10 #a acct=2
            SELL 100.10 x 5 #b acct=3
        """,
        command="BUY 100.50 x 12 #x",
        events="""
            ACCEPTED #x BUY LIMIT 100.50 x 12
            TRADE 5 @ 100.10 buy=#x(7) sell=#b(0)
            TRADE 7 @ 100.50 buy=#x(0) sell=#a(3)
            BOOK SELL 100.10 0/0
            BOOK SELL 100.50 3/1
        """,
        after="SELL 100.50 x 3 #a",
    ),
    Scenario(
        "at one price the earlier order fills first",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 100.00 x 5 #b acct=3
        """,
        command="BUY 100.00 x 7 #x",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 7
            TRADE 5 @ 100.00 buy=#x(2) sell=#a(0)
            TRADE 2 @ 100.00 buy=#x(0) sell=#b(3)
            BOOK SELL 100.00 3/1
        """,
        after="SELL 100.00 x 3 #b",
    ),
    Scenario(
        "a partly filled resting order keeps its place",
        before="""
            SELL 100.00 x 10 #a acct=2
            SELL 100.00 x 5 #b acct=3
        """,
        command="BUY 100.00 x 4 #x",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 4
            TRADE 4 @ 100.00 buy=#x(0) sell=#a(6)
            BOOK SELL 100.00 11/2
        """,
        after="""
            SELL 100.00 x 6 #a
            SELL 100.00 x 5 #b
        """,
    ),
    Scenario(
        "the unfilled part of an IOC expires",
        before="SELL 100.00 x 5 #a acct=2",
        command="BUY 100.20 x 8 #x ioc",
        events="""
            ACCEPTED #x BUY LIMIT 100.20 x 8
            TRADE 5 @ 100.00 buy=#x(3) sell=#a(0)
            EXPIRED #x 3 IOC_REMAINDER
            BOOK SELL 100.00 0/0
        """,
        after="",
    ),
    Scenario(
        "a FOK that cannot fill completely expires and touches nothing",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 100.10 x 2 #b acct=2
        """,
        command="BUY 100.10 x 8 #x fok",
        events="""
            ACCEPTED #x BUY LIMIT 100.10 x 8
            EXPIRED #x 8 FOK_UNFILLED
        """,
        after="""
            SELL 100.10 x 2 #b
            SELL 100.00 x 5 #a
        """,
    ),
    Scenario(
        "a FOK that can fill sweeps several levels",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 100.10 x 2 #b acct=2
        """,
        command="BUY 100.10 x 7 #x fok",
        events="""
            ACCEPTED #x BUY LIMIT 100.10 x 7
            TRADE 5 @ 100.00 buy=#x(2) sell=#a(0)
            TRADE 2 @ 100.10 buy=#x(0) sell=#b(0)
            BOOK SELL 100.00 0/0
            BOOK SELL 100.10 0/0
        """,
        after="",
    ),
    Scenario(
        "a FOK cannot count on quantity behind its own order when STP stops it there",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 100.00 x 5 #own acct=1
            SELL 100.00 x 5 #c acct=3
        """,
        command="BUY 100.00 x 8 #x fok",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 8
            EXPIRED #x 8 FOK_UNFILLED
        """,
        after="""
            SELL 100.00 x 5 #a
            SELL 100.00 x 5 #own
            SELL 100.00 x 5 #c
        """,
    ),
    Scenario(
        "a FOK counts only an iceberg's shown part when its refill would queue behind self",
        before="""
            SELL 100.00 x 10 #ice acct=2 dq=2
            SELL 100.00 x 5 #own acct=1
        """,
        command="BUY 100.00 x 4 #x fok",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 4
            EXPIRED #x 4 FOK_UNFILLED
        """,
        after="""
            SELL 100.00 x 10 #ice vis=2
            SELL 100.00 x 5 #own
        """,
    ),
    Scenario(
        "a FOK with STP cancel-resting skips its own order and fills",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 100.00 x 5 #own acct=1
            SELL 100.00 x 5 #c acct=3
        """,
        command="BUY 100.00 x 8 #x fok stp=resting",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 8
            TRADE 5 @ 100.00 buy=#x(3) sell=#a(0)
            CANCELLED #own 5 STP_RESTING
            TRADE 3 @ 100.00 buy=#x(0) sell=#c(2)
            BOOK SELL 100.00 2/1
        """,
        after="SELL 100.00 x 2 #c",
    ),
    Scenario(
        "a post-only order that would trade is rejected",
        before="SELL 100.00 x 5 #a acct=2",
        command="""
            BUY 100.00 x 5 #x post
            BUY 99.95 x 5 #y post
        """,
        events="""
            REJECTED #x POST_ONLY_WOULD_TRADE
            ACCEPTED #y BUY LIMIT 99.95 x 5
            BOOK BUY 99.95 5/1
        """,
        after="""
            SELL 100.00 x 5 #a
            BUY 99.95 x 5 #y
        """,
    ),
    Scenario(
        "a market order never trades beyond its protection price (last 100.00 + 3%)",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 102.00 x 5 #b acct=2
            SELL 103.50 x 5 #c acct=2
        """,
        command="BUY MARKET x 20 #m",
        events="""
            ACCEPTED #m BUY MARKET MKT x 20
            TRADE 5 @ 100.00 buy=#m(15) sell=#a(0)
            TRADE 5 @ 102.00 buy=#m(10) sell=#b(0)
            EXPIRED #m 10 MARKET_REMAINDER
            BOOK SELL 100.00 0/0
            BOOK SELL 102.00 0/0
        """,
        after="SELL 103.50 x 5 #c",
    ),
    Scenario(
        "a market order into an empty side expires",
        before="",
        command="SELL MARKET x 5 #m",
        events="""
            ACCEPTED #m SELL MARKET MKT x 5
            EXPIRED #m 5 MARKET_REMAINDER
        """,
        after="",
    ),
    Scenario(
        "only the disclosed part of an iceberg trades; its refill goes to the back",
        before="""
            SELL 100.00 x 10 #ice acct=2 dq=3
            SELL 100.00 x 4 #b acct=3
        """,
        command="BUY 100.00 x 5 #x",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 5
            TRADE 3 @ 100.00 buy=#x(2) sell=#ice(7)
            TRADE 2 @ 100.00 buy=#x(0) sell=#b(2)
            BOOK SELL 100.00 5/2
        """,
        after="""
            SELL 100.00 x 2 #b
            SELL 100.00 x 7 #ice vis=3
        """,
    ),
    Scenario(
        "an incoming iceberg trades its whole quantity, then shows only the disclosed part",
        before="SELL 100.00 x 4 #a acct=2",
        command="BUY 100.00 x 10 #ice dq=2",
        events="""
            ACCEPTED #ice BUY LIMIT 100.00 x 10
            TRADE 4 @ 100.00 buy=#ice(6) sell=#a(0)
            BOOK SELL 100.00 0/0
            BOOK BUY 100.00 2/1
        """,
        after="BUY 100.00 x 6 #ice vis=2",
    ),
    Scenario(
        "reducing quantity keeps time priority",
        before="""
            BUY 99.00 x 10 #a acct=2
            BUY 99.00 x 5 #b acct=3
        """,
        command="AMEND #a qty=6",
        events="""
            AMENDED #a 99.00 x 6 leaves=6 kept
            BOOK BUY 99.00 11/2
        """,
        after="""
            BUY 99.00 x 6 #a
            BUY 99.00 x 5 #b
        """,
    ),
    Scenario(
        "increasing quantity loses time priority",
        before="""
            BUY 99.00 x 10 #a acct=2
            BUY 99.00 x 5 #b acct=3
        """,
        command="AMEND #a qty=12",
        events="""
            AMENDED #a 99.00 x 12 leaves=12 lost
            BOOK BUY 99.00 17/2
        """,
        after="""
            BUY 99.00 x 5 #b
            BUY 99.00 x 12 #a
        """,
    ),
    Scenario(
        "a price change loses priority and may trade as the aggressor",
        before="""
            SELL 100.00 x 5 #s acct=3
            BUY 99.00 x 10 #a acct=2
        """,
        command="AMEND #a price=100.00",
        events="""
            AMENDED #a 100.00 x 10 leaves=10 lost
            TRADE 5 @ 100.00 buy=#a(5) sell=#s(0)
            BOOK BUY 99.00 0/0
            BOOK SELL 100.00 0/0
            BOOK BUY 100.00 5/1
        """,
        after="BUY 100.00 x 5 #a",
    ),
    Scenario(
        "amending a partly filled order: never at or below the filled quantity",
        before="""
            BUY 99.00 x 10 #a acct=2
            SELL 99.00 x 4 #s acct=3
        """,
        command="""
            AMEND #a qty=4
            AMEND #a qty=8
            AMEND #a price=99.00
        """,
        events="""
            REJECTED #a AMEND_QTY_BELOW_FILLED
            AMENDED #a 99.00 x 8 leaves=4 kept
            BOOK BUY 99.00 4/1
            REJECTED #a AMEND_NO_CHANGE
        """,
        after="BUY 99.00 x 4 #a",
    ),
    Scenario(
        "cancel removes the order; another account cannot cancel it",
        before="""
            BUY 99.00 x 10 #a acct=2
            BUY 99.00 x 5 #b acct=3
        """,
        command="""
            CANCEL #a acct=3
            CANCEL #a
            CANCEL #a
        """,
        events="""
            REJECTED #a ORDER_NOT_FOUND
            CANCELLED #a 10 USER
            BOOK BUY 99.00 5/1
            REJECTED #a ORDER_NOT_FOUND
        """,
        after="BUY 99.00 x 5 #b",
    ),
    Scenario(
        "cancel-all for one account and instrument leaves other accounts and instruments",
        before="""
            BUY 99.00 x 1 #a acct=2
            SELL 101.00 x 1 #b acct=2
            BUY 99.00 x 1 #c acct=3
            BUY 199.00 x 25 #f acct=2 instr=FUT
        """,
        command="CANCEL_ALL acct=2 instr=TEST",
        events="""
            CANCELLED #a 1 CANCEL_ALL
            CANCELLED #b 1 CANCEL_ALL
            BOOK BUY 99.00 1/1
            BOOK SELL 101.00 0/0
        """,
        after="BUY 99.00 x 1 #c",
    ),
    Scenario(
        "STP cancel-resting removes the own order and keeps matching",
        before="""
            SELL 100.00 x 5 #own acct=1
            SELL 100.00 x 5 #a acct=2
        """,
        command="BUY 100.00 x 7 #x stp=resting",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 7
            CANCELLED #own 5 STP_RESTING
            TRADE 5 @ 100.00 buy=#x(2) sell=#a(0)
            BOOK SELL 100.00 0/0
            BOOK BUY 100.00 2/1
        """,
        after="BUY 100.00 x 2 #x",
    ),
    Scenario(
        "STP cancel-incoming (the default) cancels the incoming remainder",
        before="""
            SELL 100.00 x 5 #own acct=1
            SELL 100.00 x 5 #a acct=2
        """,
        command="BUY 100.00 x 7 #x",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 7
            CANCELLED #x 7 STP_INCOMING
        """,
        after="""
            SELL 100.00 x 5 #own
            SELL 100.00 x 5 #a
        """,
    ),
    Scenario(
        "STP cancel-both cancels the own resting order and the incoming one",
        before="""
            SELL 100.00 x 5 #own acct=1
            SELL 100.00 x 5 #a acct=2
        """,
        command="BUY 100.00 x 7 #x stp=both",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 7
            CANCELLED #own 5 STP_RESTING
            CANCELLED #x 7 STP_INCOMING
            BOOK SELL 100.00 5/1
        """,
        after="SELL 100.00 x 5 #a",
    ),
    Scenario(
        "a buy stop-limit fires when the last price rises to its trigger",
        before="""
            SELL 100.00 x 5 #a acct=2
            SELL 100.50 x 5 #b acct=2
            BUY SL 100.50 x 3 #s acct=3 trig=100.05
        """,
        command="BUY 100.50 x 6 #x acct=4",
        events="""
            ACCEPTED #x BUY LIMIT 100.50 x 6
            TRADE 5 @ 100.00 buy=#x(1) sell=#a(0)
            TRADE 1 @ 100.50 buy=#x(0) sell=#b(4)
            TRIGGERED #s @ 100.50
            TRADE 3 @ 100.50 buy=#s(0) sell=#b(1)
            BOOK SELL 100.00 0/0
            BOOK SELL 100.50 1/1
        """,
        after="SELL 100.50 x 1 #b",
    ),
    Scenario(
        "a sell stop-market fires and trades within its protection (99.50 - 3% = 96.55)",
        before="""
            BUY 99.50 x 5 #a acct=2
            BUY 99.00 x 5 #b acct=2
            SELL SL-M x 4 #s acct=3 trig=99.50
        """,
        command="SELL 99.50 x 2 #x acct=4",
        events="""
            ACCEPTED #x SELL LIMIT 99.50 x 2
            TRADE 2 @ 99.50 buy=#a(3) sell=#x(0)
            TRIGGERED #s @ 96.55
            TRADE 3 @ 99.50 buy=#a(0) sell=#s(1)
            TRADE 1 @ 99.00 buy=#b(4) sell=#s(0)
            BOOK BUY 99.50 0/0
            BOOK BUY 99.00 4/1
        """,
        after="BUY 99.00 x 4 #b",
    ),
    Scenario(
        "stops wait while the last price stays short of their triggers",
        before="""
            SELL 100.00 x 1 #a acct=2
            SELL 100.50 x 1 #b acct=2
            SELL 101.00 x 5 #c acct=2
            BUY SL-M x 1 #s1 acct=3 trig=100.05
            BUY SL-M x 1 #s2 acct=4 trig=100.50
        """,
        command="BUY 100.00 x 1 #x acct=5",
        events="""
            ACCEPTED #x BUY LIMIT 100.00 x 1
            TRADE 1 @ 100.00 buy=#x(0) sell=#a(0)
            BOOK SELL 100.00 0/0
        """,
        after="""
            SELL 101.00 x 5 #c
            SELL 100.50 x 1 #b
            STOP BUY trig=100.05 x 1 #s1
            STOP BUY trig=100.50 x 1 #s2
        """,
    ),
    Scenario(
        "a cascade: the first stop's fill lifts the last price to the second trigger",
        before="""
            SELL 100.10 x 1 #a acct=2
            SELL 100.50 x 1 #b acct=2
            SELL 101.00 x 5 #c acct=2
            BUY SL-M x 1 #s1 acct=3 trig=100.05
            BUY SL-M x 1 #s2 acct=4 trig=100.50
        """,
        command="BUY 100.10 x 1 #x acct=5",
        events="""
            ACCEPTED #x BUY LIMIT 100.10 x 1
            TRADE 1 @ 100.10 buy=#x(0) sell=#a(0)
            TRIGGERED #s1 @ 103.10
            TRADE 1 @ 100.50 buy=#s1(0) sell=#b(0)
            TRIGGERED #s2 @ 103.50
            TRADE 1 @ 101.00 buy=#s2(0) sell=#c(4)
            BOOK SELL 100.10 0/0
            BOOK SELL 100.50 0/0
            BOOK SELL 101.00 4/1
        """,
        after="SELL 101.00 x 4 #c",
    ),
    Scenario(
        "the pre-open auction price maximises the executable quantity",
        before="""
            PHASE CLOSED
            PHASE PRE_OPEN
            BUY 101.00 x 10 #b1 acct=1
            BUY 100.00 x 10 #b2 acct=2
            SELL 99.00 x 5 #s1 acct=3
            SELL 100.00 x 10 #s2 acct=4
        """,
        command="PHASE CONTINUOUS",
        events="""
            TRADE 5 @ 100.00 buy=#b1(5) sell=#s1(0)
            TRADE 5 @ 100.00 buy=#b1(0) sell=#s2(5)
            TRADE 5 @ 100.00 buy=#b2(5) sell=#s2(0)
            AUCTION 100.00 x 15 imbalance=+5
            PHASE CONTINUOUS from PRE_OPEN PHASE_COMMAND
            BOOK BUY 101.00 0/0
            BOOK SELL 99.00 0/0
            BOOK SELL 100.00 0/0
            BOOK BUY 100.00 5/1
        """,
        after="BUY 100.00 x 5 #b2",
    ),
    Scenario(
        "auction ties on quantity and imbalance go to the price closest to the reference",
        before="""
            PHASE CLOSED
            PHASE PRE_OPEN
            BUY MARKET x 10 #mb acct=1
            SELL 99.00 x 4 #s1 acct=2
            SELL 101.00 x 4 #s2 acct=3
        """,
        command="PHASE CONTINUOUS",
        events="""
            TRADE 4 @ 101.00 buy=#mb(6) sell=#s1(0)
            TRADE 4 @ 101.00 buy=#mb(2) sell=#s2(0)
            AUCTION 101.00 x 8 imbalance=+2
            RESTATED #mb @ 101.00
            PHASE CONTINUOUS from PRE_OPEN PHASE_COMMAND
            BOOK SELL 99.00 0/0
            BOOK SELL 101.00 0/0
            BOOK BUY 101.00 2/1
        """,
        after="BUY 101.00 x 2 #mb",
    ),
    Scenario(
        "with only market orders the auction trades at the reference price",
        before="""
            PHASE CLOSED
            PHASE PRE_OPEN
            BUY MARKET x 5 #mb acct=1
            SELL MARKET x 3 #ms acct=2
        """,
        command="PHASE CONTINUOUS",
        events="""
            TRADE 3 @ 100.00 buy=#mb(2) sell=#ms(0)
            AUCTION 100.00 x 3 imbalance=+2
            RESTATED #mb @ 100.00
            PHASE CONTINUOUS from PRE_OPEN PHASE_COMMAND
            BOOK BUY 100.00 2/1
        """,
        after="BUY 100.00 x 2 #mb",
    ),
    Scenario(
        "limits are allocated before market orders; a carried market order keeps its time",
        before="""
            PHASE CLOSED
            PHASE PRE_OPEN
            BUY MARKET x 2 #m1 acct=1
            BUY 100.00 x 5 #l1 acct=2
            SELL 100.00 x 3 #s1 acct=3
        """,
        command="PHASE CONTINUOUS",
        events="""
            TRADE 3 @ 100.00 buy=#l1(2) sell=#s1(0)
            AUCTION 100.00 x 3 imbalance=+4
            RESTATED #m1 @ 100.00
            PHASE CONTINUOUS from PRE_OPEN PHASE_COMMAND
            BOOK BUY 100.00 4/2
            BOOK SELL 100.00 0/0
        """,
        after="""
            BUY 100.00 x 2 #m1
            BUY 100.00 x 2 #l1
        """,
    ),
    Scenario(
        "an auction with nothing executable trades nothing and keeps the book",
        before="""
            PHASE CLOSED
            PHASE PRE_OPEN
            BUY 99.00 x 5 #b
            SELL 101.00 x 5 #s acct=2
        """,
        command="PHASE CONTINUOUS",
        events="""
            AUCTION 0.00 x 0 imbalance=+0
            PHASE CONTINUOUS from PRE_OPEN PHASE_COMMAND
        """,
        after="""
            SELL 101.00 x 5 #s
            BUY 99.00 x 5 #b
        """,
    ),
    Scenario(
        "pre-open collects crossing orders without matching; stops and IOC wait for later",
        before="""
            PHASE CLOSED
            PHASE PRE_OPEN
            SELL 99.00 x 5 #s acct=2
        """,
        command="""
            BUY 101.00 x 5 #b
            BUY 101.00 x 5 #i ioc
            BUY SL 101.00 x 5 #t trig=100.50
        """,
        events="""
            ACCEPTED #b BUY LIMIT 101.00 x 5
            BOOK BUY 101.00 5/1
            REJECTED #i ORDER_NOT_ALLOWED_IN_PHASE
            REJECTED #t ORDER_NOT_ALLOWED_IN_PHASE
        """,
        after="""
            SELL 99.00 x 5 #s
            BUY 101.00 x 5 #b
        """,
    ),
    Scenario(
        "a trade at the band edge halts a halt-on-band instrument after the order",
        symbol="FUT",
        before="SELL 210.00 x 25 #a acct=2 instr=FUT",
        command="""
            BUY 210.00 x 50 #x instr=FUT
            BUY 200.00 x 25 #y instr=FUT
            CANCEL #x
        """,
        events="""
            ACCEPTED #x BUY LIMIT 210.00 x 50
            TRADE 25 @ 210.00 buy=#x(25) sell=#a(0)
            PHASE HALTED from CONTINUOUS BAND_HIT
            BOOK SELL 210.00 0/0
            BOOK BUY 210.00 25/1
            REJECTED #y MARKET_HALTED
            CANCELLED #x 25 USER
            BOOK BUY 210.00 0/0
        """,
        after="",
    ),
    Scenario(
        "closing expires every order, stops included; then orders are refused",
        before="""
            BUY 99.00 x 5 #a acct=2
            SELL 101.00 x 5 #b acct=3
            BUY SL 101.50 x 5 #s acct=4 trig=101.00
        """,
        command="""
            PHASE CLOSED
            BUY 99.00 x 1 #late
        """,
        events="""
            EXPIRED #a 5 END_OF_DAY
            EXPIRED #b 5 END_OF_DAY
            EXPIRED #s 5 END_OF_DAY
            PHASE CLOSED from CONTINUOUS PHASE_COMMAND
            BOOK BUY 99.00 0/0
            BOOK SELL 101.00 0/0
            REJECTED #late MARKET_CLOSED
        """,
        after="",
    ),
]


@pytest.mark.parametrize("book", ["reference", "fast"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.title for s in SCENARIOS])
def test_scenario(scenario: Scenario, book: str) -> None:
    h = Harness(book)
    h.run(scenario.before)
    assert h.run(scenario.command) == lines(scenario.events)
    assert h.book(scenario.symbol) == lines(scenario.after)


REJECTIONS = [
    ("BUY 100.02 x 1 #x", "PRICE_OFF_TICK"),
    ("BUY 110.05 x 1 #x", "PRICE_OUTSIDE_BAND"),
    ("SELL 89.95 x 1 #x", "PRICE_OUTSIDE_BAND"),
    ("BUY 100.00 x 0 #x", "QTY_INVALID"),
    ("BUY 200.00 x 30 #x instr=FUT", "QTY_NOT_LOT_MULTIPLE"),
    ("BUY 200.00 x 525 #x instr=FUT", "QTY_ABOVE_FREEZE"),
    ("BUY 100.00 x 20 #x dq=1", "DISCLOSED_QTY_INVALID"),
    ("BUY 100.00 x 20 #x dq=21", "DISCLOSED_QTY_INVALID"),
    ("BUY 200.00 x 100 #x dq=25 instr=FUT", "DISCLOSED_NOT_ALLOWED"),
    ("BUY 100.00 x 10 #x dq=5 ioc", "DISCLOSED_NOT_ALLOWED"),
    ("BUY 100.00 x 5 #x ioc post", "POST_ONLY_REQUIRES_LIMIT_DAY"),
    ("BUY SL 100.50 x 5 #x trig=101.00", "TRIGGER_LIMIT_MISMATCH"),
    ("SELL SL 99.00 x 5 #x trig=100.50", "TRIGGER_ALREADY_HIT"),
    ("BUY SL-M x 5 #x trig=100.00", "TRIGGER_ALREADY_HIT"),
    ("BUY SL-M x 5 #x trig=100.02", "TRIGGER_INVALID"),
    ("BUY 100.00 x 5 #x trig=100.50", "TRIGGER_INVALID"),
    ("BUY 100.00 x 5 #x acct=16", "ACCOUNT_INVALID"),
    ("CANCEL_ALL acct=99", "ACCOUNT_INVALID"),
    ("PHASE PRE_OPEN", "INVALID_PHASE_TRANSITION"),
]


@pytest.mark.parametrize("book", ["reference", "fast"])
@pytest.mark.parametrize(("line", "code"), REJECTIONS, ids=[c for _, c in REJECTIONS])
def test_rejection(line: str, code: str, book: str) -> None:
    h = Harness(book)
    events = h.run(line)
    assert len(events) == 1
    assert events[0].startswith("REJECTED")
    assert events[0].endswith(code)
    assert h.book("TEST") == []
    assert h.book("FUT") == []


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_duplicate_client_order_id_is_rejected_and_never_executes(book: str) -> None:
    h = Harness(book)
    h.run("SELL 100.00 x 10 #a acct=2")
    first = h.run("BUY 100.00 x 3 #x cid=abc")
    retry = h.run("BUY 100.00 x 3 #y cid=abc")
    other_account = h.run("BUY 100.00 x 3 #z cid=abc acct=3")
    assert first[1] == "TRADE 3 @ 100.00 buy=#x(0) sell=#a(7)"
    assert retry == ["REJECTED #y DUPLICATE_CLIENT_ORDER_ID"]
    assert other_account[1] == "TRADE 3 @ 100.00 buy=#z(0) sell=#a(4)"
    assert h.core.order_id_for(1, "abc") == h.labels["x"]


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_cancel_by_client_order_id(book: str) -> None:
    from engine.commands import Cancel

    h = Harness(book)
    h.run("BUY 99.00 x 5 #a cid=mine")
    events = h.render(h.submit([Cancel(1, client_order_id="mine")]))
    assert events == ["CANCELLED #a 5 USER", "BOOK BUY 99.00 0/0"]
    unknown = h.render(h.submit([Cancel(1, client_order_id="nobody")]))
    assert unknown == ["REJECTED #0 ORDER_NOT_FOUND"]


@pytest.mark.parametrize("book", ["reference", "fast"])
def test_order_capacity_is_a_clean_rejection(book: str) -> None:
    h = Harness(book, max_orders=2)
    h.run("BUY 99.00 x 1 #a\nBUY 98.00 x 1 #b")
    assert h.run("BUY 97.00 x 1 #c") == ["REJECTED #c CAPACITY_ORDERS"]
    h.run("CANCEL #a")
    assert h.run("BUY 97.00 x 1 #d")[0] == "ACCEPTED #d BUY LIMIT 97.00 x 1"
