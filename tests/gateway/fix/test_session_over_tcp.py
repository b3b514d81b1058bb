"""The session rules over a real TCP connection to the acceptor: logon checks, gaps both
ways, resends with gap fills, garbled input, field faults, too-low numbers, a second logon,
heartbeat timeouts, the logout handshake, and a restart of the server mid-session."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.fix.session import sending_time
from gridworks.admin import Admin
from tests.gateway.fix.conftest import FixClient, FixMarket, order

SECOND = 1_000_000_000


async def test_logon_is_checked(market: FixMarket) -> None:
    not_logon = await market.client("ALICE", logon=False)
    await not_logon.send("0")
    assert await not_logon.closed() == []  # dropped without a word
    wrong = await market.client("ALICE", logon=False)
    reply = await wrong.logon([(553, "nobody"), (554, "guess")])
    assert (reply.msg_type, reply.get(58)) == ("5", "wrong Username or Password")
    await wrong.closed()
    stranger = await market.client("NOBODY", logon=False)
    await stranger.send("A", [(98, 0), (108, 30)])
    assert await stranger.closed() == []
    silent = await market.client("ALICE", logon=False)
    started = time.monotonic()
    await silent.closed(timeout=5)  # the logon timeout is 1 s here
    assert time.monotonic() - started < 4


async def test_a_second_logon_is_refused_and_the_first_session_goes_on(
        market: FixMarket) -> None:
    first = await market.client("ALICE")
    second = await market.client("ALICE", logon=False)
    await second.send("A", [(98, 0), (108, 30), *market.credentials("ALICE")])
    assert await second.closed() == []
    await first.send("1", [(112, "still-there")])
    answer = await first.expect("0", skip=())
    assert answer.get(112) == "still-there"
    await first.close()


async def test_an_inbound_gap_is_asked_for_and_filled_in_order(market: FixMarket) -> None:
    alice = await market.client("ALICE")  # its Logon was 1
    await alice.send("D", order("g4"), seq=4)  # 2 and 3 "lost"
    ask = await alice.expect("2")
    assert (ask.get(7), ask.get(16)) == ("2", "0")
    await alice.send("D", order("g2"), seq=2, extra=[(43, "Y"),
                                                     (122, sending_time(time.time_ns()))])
    await alice.send("4", [(123, "Y"), (36, 4)], seq=3, extra=[(43, "Y"), (
        122, sending_time(time.time_ns()))])
    names = [(await alice.expect("8")).get(11) for _ in range(2)]
    assert names == ["g2", "g4"]
    alice.seq = 5
    await alice.send("1", [(112, "after")])
    assert (await alice.expect("0", skip=())).get(112) == "after"
    await alice.close()


async def test_an_outbound_gap_is_resent_with_poss_dup_and_gap_fills(market: FixMarket) -> None:
    alice = await market.client("ALICE")  # server's Logon: 1
    for name in ("o1", "o2"):
        await alice.send("D", order(name, price="1400.00"))
        await alice.expect("8")  # 2 and 3
    await alice.send("1", [(112, "ping")])
    await alice.expect("0", skip=())  # 4: a heartbeat
    await alice.send("D", order("o3", price="1400.00"))
    await alice.expect("8")  # 5
    await alice.send("2", [(7, 1), (16, 0)])
    replay = [await alice.next() for _ in range(5)]
    assert [(m.msg_type, m.get(34), m.get(11) or m.get(36)) for m in replay] == [
        ("4", "1", "2"), ("8", "2", "o1"), ("8", "3", "o2"), ("4", "4", "5"), ("8", "5", "o3")]
    assert all(m.get(43) == "Y" and m.get(122) for m in replay)
    assert all(m.get(123) == "Y" for m in replay if m.msg_type == "4")
    await alice.close()


async def test_garbled_input_is_ignored_and_costs_no_sequence_number(
        market: FixMarket) -> None:
    alice = await market.client("ALICE")
    good = alice.build("1", [(112, "one")], seq=2)
    bad_checksum = good[:-4] + b"000\x01" if not good.endswith(b"000\x01") else (
        good[:-4] + b"001\x01")
    await alice.write(b"garbage before" + bad_checksum)
    longer = good.replace(b"9=", b"9=9", 1)  # a BodyLength that points past the trailer
    await alice.write(longer)
    await alice.write(good)  # the same number, now intact: it counts
    answer = await alice.expect("0", skip=())
    assert answer.get(112) == "one"
    alice.seq = 3
    await alice.send("1", [(112, "two")])
    assert (await alice.expect("0", skip=())).get(112) == "two"
    await alice.close()


async def test_field_faults_are_rejected_with_reason_and_tag(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    no_symbol = [(t, v) for t, v in order("f1") if t != 55]
    await alice.send("D", no_symbol)
    reject = await alice.expect("3")
    assert (reject.get(373), reject.get(371), reject.get(45)) == ("1", "55", "2")
    await alice.send("D", [*order("f2")[:-1], (44, "cheap")])
    reject = await alice.expect("3")
    assert (reject.get(373), reject.get(371)) == ("6", "44")
    await alice.send("ZZ")
    assert (await alice.expect("3")).get(373) == "11"
    await alice.send("AE")
    business = await alice.expect("j")
    assert (business.get(380), business.get(58)) == ("3", "Unsupported Message Type")
    await alice.send("1", [(112, "alive")])  # every fault used its number: no gap
    assert (await alice.expect("0", skip=())).get(112) == "alive"
    await alice.close()


async def test_header_faults_end_the_session(market: FixMarket) -> None:
    skewed = await market.client("ALICE")
    await skewed.send("0", sent_at=time.time_ns() - 600 * SECOND)
    got = await skewed.closed()
    assert [(m.msg_type, m.get(373)) for m in got] == [("3", "10"), ("5", None)]
    wrong_target = await market.client("BOB")
    await wrong_target.send("0", target="SOMEONE")
    got = await wrong_target.closed()
    assert [(m.msg_type, m.get(373)) for m in got] == [("3", "9"), ("5", None)]


async def test_a_number_too_low_ends_the_session_and_poss_dups_are_ignored(
        market: FixMarket) -> None:
    alice = await market.client("ALICE")
    await alice.send("0")  # 2
    await alice.send("0", seq=2, extra=[(43, "Y"), (122, sending_time(time.time_ns()))])
    await alice.send("1", [(112, "after-dup")])  # 3: the duplicate changed nothing
    assert (await alice.expect("0", skip=())).get(112) == "after-dup"
    await alice.send("0", seq=2)
    got = await alice.closed()
    assert got[-1].msg_type == "5"
    assert got[-1].get(58) == "MsgSeqNum too low, expecting 4 but received 2"


async def test_silence_brings_heartbeats_a_test_request_and_then_a_disconnect(
        market: FixMarket) -> None:
    alice = await market.client("ALICE", heart_bt_int=1)
    started = time.monotonic()
    beat = await alice.next(timeout=3)
    assert beat.msg_type == "0"
    got = await alice.closed(timeout=6)
    kinds = [m.msg_type for m in got]
    assert "1" in kinds  # a TestRequest before giving up
    assert 2 < time.monotonic() - started < 6


async def test_logout_handshake(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    await alice.send("5", [(58, "done for the day")])
    got = await alice.closed()
    assert [m.msg_type for m in got] == ["5"]
    again = await market.client("ALICE", logon=False)  # it may log on again, numbers going on
    again.seq = alice.seq
    reply = await again.logon(market.credentials("ALICE"))
    assert (reply.msg_type, reply.get(34)) == ("A", "3")
    await again.close()


async def test_reset_seq_num_flag_starts_both_sides_at_one(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    for name in ("z1", "z2"):
        await alice.send("D", order(name, price="1400.00"))
        await alice.expect("8")
    await alice.send("5")
    await alice.closed()
    fresh = await market.client("ALICE", logon=False)
    reply = await fresh.logon(market.credentials("ALICE"), reset=True)
    assert (reply.msg_type, reply.get(34), reply.get(141)) == ("A", "1", "Y")
    await fresh.close()


async def test_a_restart_in_the_middle_of_a_session(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    await alice.send("D", order("keep", qty=10, price="1410.00"))
    assert (await alice.expect("8")).get(150) == "0"  # the server's 2
    await alice.close()
    await market.stop()
    await market.start()
    bob = await market.client("BOB")
    await bob.send("D", order("hit", side=2, qty=4, price="1410.00"))
    await bob.expect("8")
    await bob.expect("8")
    # alice was away: the fill of her order was numbered and kept for her (3)
    back = await market.client("ALICE", logon=False)
    back.seq = alice.seq
    reply = await back.logon(market.credentials("ALICE"))
    assert reply.get(34) == "4"  # 3 went out while she was away
    await back.send("2", [(7, 3), (16, 3)])
    fill = await back.expect("8")
    assert (fill.get(43), fill.get(34), fill.get(150), fill.get(11), fill.get(14),
            fill.get(151)) == ("Y", "3", "F", "keep", "4", "6")
    await back.send("F", [(41, "keep"), (11, "keep-x"), (55, "RELIANCE"), (54, 1), (60, "x")])
    cancelled = await back.expect("8")
    assert (cancelled.get(150), cancelled.get(14), cancelled.get(41)) == ("4", "4", "keep")
    await back.close()
    await bob.close()


async def test_messages_are_answered_when_sent_in_one_burst(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    burst = b"".join(alice.build("D", order(f"b{i}", price="1400.00")) for i in range(50))
    await alice.write(burst)
    names = [(await alice.expect("8")).get(11) for _ in range(50)]
    assert names == [f"b{i}" for i in range(50)]
    await asyncio.sleep(0)
    await alice.close()



async def test_revoking_the_key_logs_the_session_out(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    assert market.node is not None
    assert market.alice is not None
    admin = Admin(market.node, market.node.kek)
    await admin.revoke_key(market.alice.account, market.alice.key_id)
    got = await alice.closed()
    assert [(m.msg_type, m.get(58)) for m in got] == [("5", "API_KEY_REVOKED")]
    again = await market.client("ALICE", logon=False)
    again.seq = alice.seq
    reply = await again.logon(market.credentials("ALICE"))
    assert (reply.msg_type, reply.get(58)) == ("5", "unknown or revoked API key")


async def test_the_session_day_ends_at_the_reset_time(market: FixMarket) -> None:
    alice = await market.client("ALICE")
    await alice.send("D", order("day1", price="1400.00"))
    await alice.expect("8")
    assert market.acceptor is not None
    market.acceptor.roll_days(time.time_ns())  # the same day: nothing happens
    await alice.send("1", [(112, "same-day")])
    assert (await alice.expect("0", skip=())).get(112) == "same-day"
    market.acceptor.roll_days(time.time_ns() + 86_400 * SECOND)
    got = await alice.closed()
    assert [(m.msg_type, m.get(58)) for m in got] == [("5", "end of the session day")]
    state = market.acceptor.endpoints["ALICE"].session.state
    assert (state.next_in, state.next_out, state.sent) == (1, 1, {})
    fresh = await market.client("ALICE", logon=False)  # numbering starts again at 1
    reply = await fresh.logon(market.credentials("ALICE"))
    assert (reply.msg_type, reply.get(34)) == ("A", "1")
    await fresh.close()


async def test_an_order_not_durable_at_a_crash_is_asked_for_again(
        market: FixMarket, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A crash after the acceptor read an order but before the node made it durable: the
    saved session state does not count that message yet, so the server started on what
    the crash left asks for it again, and the order is taken then, not lost."""
    alice = await market.client("ALICE")  # its Logon was 1
    assert market.node is not None
    assert market.acceptor is not None
    commit, gate = market.node._commit, asyncio.Event()

    async def held(*args: Any) -> None:  # the journal write waits for the gate
        await gate.wait()
        await commit(*args)

    market.node._commit = held  # type: ignore[method-assign]
    sent_at = time.time_ns()
    await alice.send("D", order("late"), sent_at=sent_at)  # 2
    state = market.acceptor.endpoints["ALICE"].session.state
    async with asyncio.timeout(5):
        while state.next_in < 3:  # read and handed to the node, not yet durable
            await asyncio.sleep(0.005)
    crashed = crash_image(market, tmp_path_factory)
    gate.set()
    assert (await alice.expect("8")).get(150) == "0"  # this server goes on as usual
    await alice.close()

    again, back = await resent_after_restart(market, crashed, alice, sent_at)
    try:
        taken = await back.expect("8")
        assert (taken.get(150), taken.get(11), taken.get(39)) == ("0", "late", "0")
        await back.close()
    finally:
        await again.stop()


async def test_an_order_durable_but_unreported_at_a_crash_is_told_as_it_stands(
        market: FixMarket, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A crash after the order became durable but before its ExecutionReport was saved:
    the restarted session asks for the message again, and the resent order (PossDupFlag)
    is answered with the live order's status instead of a duplicate refusal; its fill
    later reaches this session."""
    alice = await market.client("ALICE")
    assert market.node is not None
    assert market.gateway is not None
    assert market.alice is not None
    listeners = market.node.listeners
    reports = next(f for f in listeners if getattr(f, "acceptor", None) is market.acceptor)
    withheld: list[tuple[Any, Any]] = []
    listeners[listeners.index(reports)] = lambda *batch: withheld.append(batch)
    sent_at = time.time_ns()
    await alice.send("D", order("late"), sent_at=sent_at)  # 2
    feeds = market.gateway.accounts
    async with asyncio.timeout(5):
        while feeds.order(market.alice.account, 0, "late") is None:  # durable, unreported
            await asyncio.sleep(0.005)
    crashed = crash_image(market, tmp_path_factory)
    for batch in withheld:
        reports(*batch)
    assert (await alice.expect("8")).get(150) == "0"
    await alice.close()

    again, back = await resent_after_restart(market, crashed, alice, sent_at)
    try:
        told = await back.expect("8")
        assert (told.get(150), told.get(11), told.get(39), told.get(151)) == (
            "I", "late", "0", "10")
        bob = await again.client("BOB")
        await bob.send("D", order("hit", side=2, qty=4))
        fill = await back.expect("8")
        assert (fill.get(150), fill.get(11), fill.get(14), fill.get(151)) == (
            "F", "late", "4", "6")
        await bob.close()
        await back.close()
    finally:
        await again.stop()


def crash_image(market: FixMarket, factory: pytest.TempPathFactory) -> Path:
    """A copy of the data directory as it is now: what a crash at this moment leaves."""
    crashed = factory.mktemp("crashed")
    shutil.copytree(market.data_dir, crashed, dirs_exist_ok=True)
    return crashed


async def resent_after_restart(market: FixMarket, crashed: Path, client: FixClient,
                               sent_at: int) -> tuple[FixMarket, FixClient]:
    """A server started on ``crashed``, and ``client`` back on it: it is asked for its
    NewOrderSingle 2 again and resends it (PossDupFlag)."""
    again = FixMarket(crashed, alice=market.alice, bob=market.bob, hashes=market.hashes)
    await again.start()
    back = await again.client(client.comp_id, logon=False)
    back.seq = client.seq
    await back.logon(again.credentials(client.comp_id))
    ask = await back.expect("2")
    assert (ask.get(7), ask.get(16)) == ("2", "0")
    await back.send("D", order("late"), seq=2, extra=[(43, "Y"), (122, sending_time(sent_at))])
    return again, back
