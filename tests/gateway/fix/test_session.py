"""The FIX session layer driven directly, step by step, with time as data: logon rules,
heartbeats and test requests, gaps both ways, resends with gap fills, sequence resets, too-low
numbers, duplicates, field faults, unsupported messages, logout, and a restart."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.fix.codec import Framer, Message, encode
from gateway.fix.session import Session, SessionState, parse_time, sending_time

SECOND = 1_000_000_000
T0 = 1_796_000_000 * SECOND


class Counterparty:
    """The client's side, building messages by hand."""

    def __init__(self) -> None:
        self.seq = 1

    def msg(self, msg_type: str, body: list[tuple[int, Any]] | None = None, now: int = T0,
            seq: int | None = None, sender: str = "CLIENT", extra: list | None = None) -> Message:
        number = self.seq if seq is None else seq
        if seq is None:
            self.seq += 1
        header = [(49, sender), (56, "GRIDWORKS"), (34, number), (52, sending_time(now)),
                  *(extra or [])]
        (message,) = Framer().feed(encode(msg_type, header, body or []))
        assert isinstance(message, Message)
        return message


def parsed(data: list[bytes]) -> list[Message]:
    out = []
    for raw in data:
        out += [m for m in Framer().feed(raw) if isinstance(m, Message)]
    return out


def session(state: SessionState | None = None, password: str = "pw") -> Session:
    def check(logon: Message) -> str | None:
        return None if logon.get(554) == password else "wrong password"
    return Session("GRIDWORKS", "CLIENT", state or SessionState(), check)


def logged_on(s: Session, c: Counterparty) -> None:
    out = s.receive(c.msg("A", [(98, 0), (108, 30), (554, "pw")]), T0)
    assert out.logged_on


def test_logon_rules() -> None:
    c = Counterparty()
    assert session().receive(c.msg("0"), T0).close  # not a Logon first
    out = session().receive(Counterparty().msg("A", [(98, 0), (108, 30), (554, "bad")]), T0)
    assert out.close
    assert parsed(out.send)[0].get(58) == "wrong password"
    assert session().receive(Counterparty().msg("A", [(98, 0), (108, 30), (554, "pw")],
                                                sender="OTHER"), T0).close
    s, c = session(), Counterparty()
    out = s.receive(c.msg("A", [(98, 0), (108, 30), (554, "pw")]), T0)
    (reply,) = parsed(out.send)
    assert (reply.msg_type, reply.get(108), reply.get(34)) == ("A", "30", "1")
    assert s.state.next_in == 2
    again = s.receive(c.msg("A", [(98, 0), (108, 30), (554, "pw")]), T0)
    assert parsed(again.send)[0].msg_type == "3"  # a second Logon on the session


def test_reset_seq_num_flag_starts_both_sides_at_one() -> None:
    s = session(SessionState(next_in=50, next_out=70))
    out = s.receive(Counterparty().msg("A", [(98, 0), (108, 5), (554, "pw"), (141, "Y")]), T0)
    (reply,) = parsed(out.send)
    assert (reply.get(34), reply.get(141)) == ("1", "Y")
    assert (s.state.next_in, s.state.next_out) == (2, 2)


def test_heartbeats_test_requests_and_silence() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    assert s.tick(T0 + 10 * SECOND).send == []
    (beat,) = parsed(s.tick(T0 + 30 * SECOND).send)
    assert beat.msg_type == "0"
    sent = parsed(s.tick(T0 + 37 * SECOND).send)
    assert [m.msg_type for m in sent] == ["1"]  # inbound silence: a TestRequest
    assert s.tick(T0 + 67 * SECOND).close  # and no answer
    s2, c2 = session(), Counterparty()
    logged_on(s2, c2)
    (answer,) = parsed(s2.receive(c2.msg("1", [(112, "ARE-YOU-THERE")]), T0).send)
    assert (answer.msg_type, answer.get(112)) == ("0", "ARE-YOU-THERE")


def test_a_gap_is_asked_for_and_filled_in_order() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    c.seq = 5  # messages 2-4 are lost
    out = s.receive(c.msg("D", order("o5")), T0)
    (ask,) = parsed(out.send)
    assert (ask.msg_type, ask.get(7), ask.get(16)) == ("2", "2", "0")
    assert out.deliver == []
    assert s.receive(c.msg("D", order("o6")), T0).send == []  # asked once
    resent = [c.msg("D", order("o2"), seq=2, extra=[(43, "Y"), (122, sending_time(T0))]),
              c.msg("4", [(123, "Y"), (36, 5)], seq=3, extra=[(43, "Y"),
                                                               (122, sending_time(T0))])]
    delivered = [m for r in resent for m in s.receive(r, T0).deliver]
    assert [m.get(11) for m in delivered] == ["o2", "o5", "o6"]
    assert s.state.next_in == 7


def test_too_low_duplicates_and_poss_dup_without_orig_sending_time() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    s.receive(c.msg("0"), T0)
    duplicate = c.msg("0", seq=2, extra=[(43, "Y"), (122, sending_time(T0))])
    assert s.receive(duplicate, T0).send == []  # already processed: ignored
    missing = c.msg("0", seq=2, extra=[(43, "Y")])
    (reject,) = parsed(s.receive(missing, T0).send)
    assert (reject.msg_type, reject.get(373), reject.get(371)) == ("3", "1", "122")
    low = s.receive(c.msg("0", seq=2), T0)
    (logout,) = parsed(low.send)
    assert logout.get(58) == "MsgSeqNum too low, expecting 3 but received 2"
    assert low.close


def test_resend_request_replays_application_messages_and_gap_fills_admin_ones() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)  # we sent Logon as 1
    s.send_app("8", [(37, "1"), (11, "a")], T0)  # 2
    s.send_app("8", [(37, "2"), (11, "b")], T0)  # 3
    s.tick(T0 + 30 * SECOND)  # 4: a heartbeat
    s.send_app("8", [(37, "3"), (11, "c")], T0 + 30 * SECOND)  # 5
    out = parsed(s.receive(c.msg("2", [(7, 1), (16, 0)], now=T0 + 31 * SECOND),
                           T0 + 31 * SECOND).send)
    assert [(m.msg_type, m.get(34), m.get(36) or m.get(11)) for m in out] == [
        ("4", "1", "2"), ("8", "2", "a"), ("8", "3", "b"), ("4", "4", "5"), ("8", "5", "c")]
    assert all(m.get(43) == "Y" and m.get(122) for m in out)
    assert out[0].get(123) == "Y"
    assert out[1].get(122) == sending_time(T0)
    assert s.state.next_out == 6  # resends use their own numbers


def test_sequence_reset() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    out = s.receive(c.msg("4", [(36, 1)], seq=9), T0)  # a Reset to a lower number
    (reject,) = parsed(out.send)
    assert (reject.get(373), reject.get(371)) == ("5", "36")
    s.receive(c.msg("4", [(36, 40)], seq=9), T0)
    assert s.state.next_in == 40


@pytest.mark.parametrize(("change", "reason"), [
    ({"sender": "OTHER"}, "9"), ({"now": T0 - 600 * SECOND}, "10")])
def test_header_faults_reject_and_log_out(change: dict, reason: str) -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    out = s.receive(c.msg("0", **change), T0)
    sent = parsed(out.send)
    assert [(m.msg_type, m.get(373)) for m in sent] == [("3", reason), ("5", None)]
    assert out.close


def test_field_faults_and_unsupported_messages() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    body = [(t, v) for t, v in order("x") if t != 11]
    (reject,) = parsed(s.receive(c.msg("D", body), T0).send)
    assert (reject.get(373), reject.get(371), reject.get(372)) == ("1", "11", "D")
    lots = [(t, "lots" if t == 38 else v) for t, v in order("y")]
    (bad_number,) = parsed(s.receive(c.msg("D", lots), T0).send)
    assert (bad_number.get(373), bad_number.get(371)) == ("6", "38")
    (twice,) = parsed(s.receive(c.msg("D", [*order("z"), (38, 6)]), T0).send)
    assert (twice.get(373), twice.get(371)) == ("13", "38")
    (unknown,) = parsed(s.receive(c.msg("ZZ"), T0).send)
    assert (unknown.get(373), unknown.get(372)) == ("11", "ZZ")
    (business,) = parsed(s.receive(c.msg("V"), T0).send)
    assert (business.msg_type, business.get(380), business.get(372)) == ("j", "3", "V")
    assert s.state.next_in == 7  # every faulty message used up its number


def test_logout_handshake() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    out = s.receive(c.msg("5", [(58, "bye")]), T0)
    assert [m.msg_type for m in parsed(out.send)] == ["5"]
    assert out.close


def test_a_restarted_session_carries_on() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    s.send_app("8", [(37, "1")], T0)
    saved = SessionState(**{f: getattr(s.state, f) for f in ("next_in", "next_out", "sent")})
    again = session(saved)
    out = again.receive(c.msg("A", [(98, 0), (108, 30), (554, "pw")]), T0)
    (reply,) = parsed(out.send)
    assert reply.get(34) == "3"
    replay = parsed(again.receive(c.msg("2", [(7, 2), (16, 2)]), T0).send)
    assert [(m.msg_type, m.get(37)) for m in replay] == [("8", "1")]


def order(cl_ord_id: str) -> list[tuple[int, Any]]:
    return [(11, cl_ord_id), (55, "RELIANCE"), (54, 1), (60, sending_time(T0)), (38, 5),
            (40, 2), (44, "1410.00")]


def test_logon_needs_encrypt_method_zero() -> None:
    out = session().receive(Counterparty().msg("A", [(98, 1), (108, 30), (554, "pw")]), T0)
    assert out.close
    assert parsed(out.send)[0].get(58) == "EncryptMethod(98) must be 0"


def test_a_poss_dup_sent_before_it_was_first_sent_is_refused() -> None:
    s, c = session(), Counterparty()
    logged_on(s, c)
    later = sending_time(T0 + 5 * SECOND)
    out = s.receive(c.msg("0", extra=[(43, "Y"), (122, later)]), T0)
    assert [(m.msg_type, m.get(373), m.get(371)) for m in parsed(out.send)] == [
        ("3", "10", "122"), ("5", None, None)]
    assert out.close


@pytest.mark.parametrize(("text", "ns"), [
    ("20261201-10:00:00", 0), ("20261201-10:00:00.5", 500_000_000),
    ("20261201-10:00:00.123", 123_000_000), ("20261201-10:00:00.123456789", 123_456_789)])
def test_sending_times_parse_to_the_nanosecond(text: str, ns: int) -> None:
    base = 1_796_119_200 * SECOND  # 2026-12-01 10:00:00 UTC
    assert parse_time(text) == base + ns


@pytest.mark.parametrize("text", [
    "", "20261201", "20261301-10:00:00", "20261201-24:00:00", "20261201-10:61:00",
    "20261201 10:00:00", "20261201-10:00:00.", "20261201-10:00:00.1234567890",
    "2026120a-10:00:00", "20261201-10:00:0x"])
def test_malformed_sending_times_are_refused(text: str) -> None:
    assert parse_time(text) is None


def test_sending_time_round_trips_to_the_millisecond() -> None:
    for ns in (T0, T0 + 999_999_999, T0 + 1_000_000, T0 + 86_399 * SECOND + 1):
        assert parse_time(sending_time(ns)) == ns - ns % 1_000_000
