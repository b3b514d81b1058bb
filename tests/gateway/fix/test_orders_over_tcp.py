"""Order entry over a real TCP connection: new orders, fills against another session's
orders, replace, cancel, status, mass cancel, refusals, and the drop copy."""

from __future__ import annotations

from gateway.client import Client
from gateway.fix.codec import Message
from tests.gateway.fix.conftest import FixMarket, order


def report(msg: Message) -> dict[int, str]:
    assert msg.msg_type == "8", msg.fields
    return dict(msg.fields)


async def test_an_order_is_acknowledged_and_fills_against_another_session(
        market: FixMarket) -> None:
    alice, bob = await market.client("ALICE"), await market.client("BOB")
    await alice.send("D", order("a1", side=1, qty=10, price="1410.00"))
    new = report(await alice.expect("8"))
    assert (new[150], new[39], new[11], new[151], new[14]) == ("0", "0", "a1", "10", "0")
    await bob.send("D", order("b1", side=2, qty=4, price="1410.00"))
    bob_new, bob_fill = report(await bob.expect("8")), report(await bob.expect("8"))
    assert (bob_new[150], bob_fill[150], bob_fill[39]) == ("0", "F", "2")
    fill = report(await alice.expect("8"))
    assert (fill[150], fill[39], fill[32], fill[31], fill[14], fill[151], fill[6]) == (
        "F", "1", "4", "1410.00", "4", "6", "1410")
    await alice.close()
    await bob.close()


async def test_replace_cancel_and_status(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    await alice.send("D", order("r1", qty=10, price="1400.00"))
    assert report(await alice.expect("8"))[150] == "0"
    await alice.send("G", [(41, "r1"), *order("r2", qty=15, price="1401.00")])
    replaced = report(await alice.expect("8"))
    assert (replaced[150], replaced[39], replaced[11], replaced[41], replaced[38],
            replaced[44]) == ("5", "0", "r2", "r1", "15", "1401.00")
    await alice.send("H", [(11, "r2"), (55, "RELIANCE"), (54, 1)])
    status = report(await alice.expect("8"))
    assert (status[150], status[39], status[151], status[44]) == ("I", "0", "15", "1401.00")
    await alice.send("F", [(41, "r2"), (11, "r3"), (55, "RELIANCE"), (54, 1), (60, "x")])
    # TransactTime is not checked as a time here; the cancel goes through
    cancelled = report(await alice.expect("8"))
    assert (cancelled[150], cancelled[39], cancelled[11], cancelled[41], cancelled[151]) == (
        "4", "4", "r3", "r2", "0")
    await alice.send("F", [(41, "r2"), (11, "r4"), (55, "RELIANCE"), (54, 1), (60, "x")])
    too_late = dict((await alice.expect("9")).fields)
    assert (too_late[102], too_late[434], too_late[39]) == ("0", "1", "4")
    await alice.send("F", [(41, "nope"), (11, "r5"), (55, "RELIANCE"), (54, 1), (60, "x")])
    unknown = dict((await alice.expect("9")).fields)
    assert unknown[102] == "1"
    await alice.send("H", [(11, "nope"), (55, "RELIANCE"), (54, 1)])
    missing = report(await alice.expect("8"))
    assert (missing[150], missing[39]) == ("I", "8")
    await alice.close()


async def test_refusals_name_the_fault(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    cases = [
        (order("x1", symbol="NOSUCH"), "1", "UNKNOWN_INSTRUMENT"),
        (order("x2", price="1410.03"), "99", "PRICE_OFF_TICK"),  # off the 0.05 grid: core
        (order("x3", price="1410.001"), "99", "PRICE_OFF_TICK"),  # finer than paise: here
        (order("x4", qty=0), "13", "QTY_INVALID"),
        (order("x5", price="99999.00"), "99", "PRICE_OUTSIDE_BAND"),
        (order("x6", ord_type="P"), "11", "INVALID_FIELD"),
        (order("bad id!"), "99", "INVALID_FIELD"),
    ]
    for body, reason, code in cases:
        await alice.send("D", body)
        rejected = report(await alice.expect("8"))
        assert (rejected[150], rejected[39], rejected[103]) == ("8", "8", reason), rejected
        assert rejected[58].startswith(code), rejected[58]
    await alice.send("D", order("dup"))
    assert report(await alice.expect("8"))[150] == "0"
    await alice.send("D", order("dup"))
    duplicate = report(await alice.expect("8"))
    assert (duplicate[150], duplicate[103]) == ("8", "6")
    await alice.close()


async def test_a_buy_that_crosses_many_orders_reports_each_fill(market: FixMarket) -> None:
    alice, bob = await market.client("ALICE"), await market.client("BOB")
    for i, price in enumerate(("1410.00", "1410.50", "1411.00")):
        await bob.send("D", order(f"s{i}", side=2, qty=5, price=price))
        assert report(await bob.expect("8"))[150] == "0"
    await alice.send("D", order("big", side=1, qty=12, price="1411.00"))
    reports = [report(await alice.expect("8")) for _ in range(4)]
    assert [r[150] for r in reports] == ["0", "F", "F", "F"]
    assert [(r[32], r[31], r[14], r[151]) for r in reports[1:]] == [
        ("5", "1410.00", "5", "7"), ("5", "1410.50", "10", "2"), ("2", "1411.00", "12", "0")]
    # (5 x 1410 + 5 x 1410.5 + 2 x 1411) / 12
    assert reports[-1][6] == "1410.375"
    assert reports[-1][39] == "2"
    await alice.close()
    await bob.close()


async def test_ioc_remainder_expires_and_market_orders_work(market: FixMarket) -> None:
    alice, bob = await market.client("ALICE"), await market.client("BOB")
    await bob.send("D", order("m1", side=2, qty=3, price="1410.00"))
    await bob.expect("8")
    await alice.send("D", order("ioc", qty=5, price="1410.00", extra=[(59, "3")]))
    kinds = [report(await alice.expect("8")) for _ in range(3)]
    await alice.send("D", order("mkt", qty=1, ord_type="1"))  # nothing left to sell
    market_order = [report(await alice.expect("8")) for _ in range(2)]
    assert [r[150] for r in market_order] == ["0", "C"]
    # the unfilled rest of an IOC expires, as on the WebSocket API (and Binance's FIX)
    assert [(r[150], r[39]) for r in kinds] == [("0", "0"), ("F", "1"), ("C", "C")]
    assert kinds[-1][14] == "3"
    assert kinds[-1][151] == "0"
    await alice.close()
    await bob.close()


async def test_mass_cancel_and_the_desk_session_trades_two_accounts(market: FixMarket) -> None:
    desk = await market.client("DESK")
    await desk.send("D", order("d1", price="1400.00"))  # two accounts, no Account(1)
    refused = report(await desk.expect("8"))
    assert (refused[150], refused[103]) == ("8", "15")
    for name, account in (("d2", "alice"), ("d3", "bob"), ("d4", "alice")):
        await desk.send("D", order(name, price="1400.00", extra=[(1, account)]))
        assert report(await desk.expect("8"))[150] == "0"
    await desk.send("q", [(11, "mc1"), (530, 7), (60, "x"), (1, "alice")])
    got = [await desk.next() for _ in range(3)]
    kinds = sorted((m.msg_type, m.get(150) or m.get(531)) for m in got)
    assert kinds == [("8", "4"), ("8", "4"), ("r", "7")]
    mass = next(m for m in got if m.msg_type == "r")
    assert mass.get(533) == "2"
    await desk.send("q", [(11, "mc2"), (530, 7), (60, "x"), (1, "alice")])
    idle = await desk.expect("r")  # nothing left to cancel: still answered, with 0
    assert (idle.get(11), idle.get(531), idle.get(533)) == ("mc2", "7", "0")
    await desk.send("H", [(11, "d3"), (55, "RELIANCE"), (54, 1), (1, "bob")])
    assert report(await desk.expect("8"))[39] == "0"  # bob's order is still open
    await desk.close()


async def test_the_drop_copy_sees_every_report_of_its_accounts_and_may_not_trade(
        market: FixMarket) -> None:
    copy = await market.client("COPY")
    alice, bob = await market.client("ALICE"), await market.client("BOB")
    await alice.send("D", order("c1", qty=2, price="1410.00"))
    await alice.expect("8")
    await bob.send("D", order("c2", side=2, qty=2, price="1410.00"))
    await bob.expect("8")
    seen = [report(await copy.expect("8")) for _ in range(2)]
    assert [(r[11], r[150]) for r in seen] == [("c1", "0"), ("c1", "F")]  # not bob's
    assert report(await alice.expect("8"))[150] == "F"
    # orders from the WebSocket API are copied too, and a FIX session can cancel them
    assert market.gateway is not None
    assert market.alice is not None
    ws = await Client.connect(f"ws://127.0.0.1:{market.gateway.port}/")
    await ws.login(market.alice.key_id, market.alice.secret)
    placed = await ws.request("place", symbol="RELIANCE", side="buy", qty=3, price=140000,
                              client_order_id="ws1")
    copied = report(await copy.expect("8"))
    assert (copied[11], copied[150], copied[37]) == ("ws1", "0", str(placed["order_id"]))
    await alice.send("F", [(41, "ws1"), (11, "c4"), (55, "RELIANCE"), (54, 1), (60, "x")])
    cancelled = report(await alice.expect("8"))
    assert (cancelled[150], cancelled[11], cancelled[41]) == ("4", "c4", "ws1")
    assert report(await copy.expect("8"))[150] == "4"
    await ws.close()
    await copy.send("D", order("c3"))
    refused = await copy.expect("j")
    assert (refused.get(380), refused.get(372)) == ("6", "D")
    for client in (copy, alice, bob):
        await client.close()
