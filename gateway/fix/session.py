"""The FIX 4.4 session layer as a state machine without I/O: messages and time in, messages
to send and decisions out. The acceptor puts it on a socket; tests drive it directly.

Rules (the FIX session-level spec, as the QuickFIX acceptance scenarios test them):

* The first message must be a Logon with the expected CompIDs and valid credentials, else
  the connection is dropped. ``ResetSeqNumFlag=Y`` starts both sequences at 1.
* Every inbound message is checked in order: CompIDs (Reject 9 + Logout), SendingTime within
  ``max_skew`` of our clock, and a PossDup's OrigSendingTime not after it (Reject 10 +
  Logout), then its sequence number:
  - higher than expected: the message is kept, a ResendRequest for the gap is sent (once),
    and the kept messages are processed when the gap is filled;
  - lower, without PossDupFlag: Logout "MsgSeqNum too low, expecting X but received Y" and
    disconnect; with PossDupFlag=Y it is a duplicate and ignored (Reject 1/122 first when it
    lacks OrigSendingTime).
* Admin messages: Heartbeat; TestRequest (answered with its TestReqID); ResendRequest
  (application messages resent with PossDupFlag=Y and OrigSendingTime, runs of admin messages
  replaced by one SequenceReset-GapFill); SequenceReset (GapFill or Reset; a Reset lowering
  the sequence is Reject 5); Logout (answered, then the connection closes).
* Garbled messages never reach this layer (the framer drops them); a message with a wrong
  or missing field gets a session Reject (SessionRejectReason, RefTagID) and uses up its
  sequence number. An unknown MsgType is Reject 11; a known application message this gateway
  does not serve is a BusinessMessageReject 3.
* Heartbeats go out after ``heart_bt_int`` of silence; after that much inbound silence plus a
  margin a TestRequest goes out, and the connection is dropped if nothing comes back.

The sequence numbers and the application messages sent (for resends) are the session's
`SessionState`, which the acceptor saves after every change so a restart resumes the session.
"""

from __future__ import annotations

import calendar
import datetime
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway.fix.codec import Body, Message, field_bytes, frame

ADMIN_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})
APP_TYPES = frozenset({"D", "F", "G", "H", "q"})
KNOWN_APP_TYPES = frozenset({"8", "9", "j", "AE", "AD", "AN", "AP", "b", "c", "d", "e", "f",
                             "g", "V", "W", "X", "Y", "x", "y"})
REQUIRED = {"A": (98, 108), "1": (112,), "2": (7, 16), "4": (36,), "D": (11, 55, 54, 60, 40),
            "F": (41, 11, 55, 54, 60), "G": (41, 11, 55, 54, 60, 40), "H": (11, 55, 54),
            "q": (11, 530)}
INTEGER_TAGS = frozenset({7, 16, 34, 36, 98, 108, 530})
DECIMAL_TAGS = frozenset({38, 44, 99, 110, 111})
_REQUIRED_SETS = {msg_type: frozenset(tags) for msg_type, tags in REQUIRED.items()}
HEADER_TAGS = (8, 9, 35, 49, 56, 34, 52)


class SessionState(msgspec.Struct):
    """What survives a restart: the next sequence numbers and the application messages sent
    that a ResendRequest may ask for (their body fields as sent, ``tag=value<SOH>...``)."""

    next_in: int = 1
    next_out: int = 1
    sent: dict[int, tuple[str, str, str]] = {}  # seq -> (MsgType, body fields, SendingTime)
    day: str = ""  # the session day these numbers belong to (see the schedule)


@dataclass
class Outcome:
    """What one step produced: bytes to send, application messages to act on, and whether
    the connection must now close."""

    send: list[bytes] = field(default_factory=list)
    deliver: list[Message] = field(default_factory=list)
    close: bool = False
    reason: str = ""
    logged_on: bool = False


_last_stamp: list[object] = [-1, "", -1, ""]  # last second and its text, last ms and its


def sending_time(ns: int) -> str:
    """UTC as FIX writes it, to the millisecond: ``YYYYMMDD-HH:MM:SS.sss``."""
    ms = ns // 1_000_000
    if ms == _last_stamp[2]:
        return _last_stamp[3]  # type: ignore[return-value]
    second, rest = divmod(ms, 1_000)
    if second != _last_stamp[0]:
        _last_stamp[0] = second
        _last_stamp[1] = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(second))
    text = f"{_last_stamp[1]}.{rest:03d}"
    _last_stamp[2], _last_stamp[3] = ms, text
    return text


_day_starts: dict[str, int] = {}


# A busy session sends many messages within one millisecond, all with the same SendingTime:
# the cache answers those in a tenth of a microsecond instead of three.
@functools.lru_cache(maxsize=64)
def parse_time(text: str) -> int | None:
    """A UTCTimestamp (``YYYYMMDD-HH:MM:SS`` with up to nine decimals) as ns since the epoch;
    None if it is not one."""
    if len(text) < 17 or text[8] != "-" or text[11] != ":" or text[14] != ":":
        return None
    day = _day_starts.get(text[:8])
    if day is None:
        day = _day_start(text[:8])
        if day is None:
            return None
    hours, minutes, seconds = text[9:11], text[12:14], text[15:17]
    if not (hours.isdigit() and minutes.isdigit() and seconds.isdigit()):
        return None
    h, m, sec = int(hours), int(minutes), int(seconds)
    if h > 23 or m > 59 or sec > 60:
        return None
    fraction = text[17:]
    ns = 0
    if fraction:
        digits = fraction[1:]
        if fraction[0] != "." or not digits.isdigit() or len(digits) > 9:
            return None
        ns = int(digits.ljust(9, "0"))
    return day + ((h * 60 + m) * 60 + sec) * 1_000_000_000 + ns


def _day_start(text: str) -> int | None:
    if not text.isdigit():
        return None
    try:
        date = datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None
    start = calendar.timegm(date.timetuple()) * 1_000_000_000
    if len(_day_starts) > 64:
        _day_starts.clear()
    _day_starts[text] = start
    return start


class Session:
    """One acceptor-side session between ``our_id`` and ``their_id``."""

    def __init__(self, our_id: str, their_id: str, state: SessionState,
                 authenticate: Callable[[Message], str | None],
                 max_skew_ns: int = 120 * 1_000_000_000) -> None:
        self.our_id, self.their_id = our_id, their_id
        self.state = state
        self.authenticate = authenticate  # None if the Logon's credentials are good, else why
        self.max_skew_ns = max_skew_ns
        self.logged_on = False
        self.heart_bt_int_ns = 30 * 1_000_000_000
        self.last_in = 0
        self.last_out = 0
        self.test_request: tuple[str, int] | None = None  # (TestReqID, sent at)
        self._held: dict[int, Message] = {}  # too-high messages waiting for the gap
        self._resend_asked_from = 0  # the gap start a ResendRequest is out for
        self._header = f"49={our_id}\x0156={their_id}\x0134=".encode()

    def connect(self) -> None:
        """A new connection for this session: nothing of the last one's carries over but
        the state."""
        self.logged_on = False
        self.test_request = None
        self._held.clear()
        self._resend_asked_from = 0

    def logout(self, text: str, now: int) -> bytes:
        """Our own Logout (ending the session day, or the server stopping)."""
        self.logged_on = False
        return self.message("5", [(58, text)], now)

    # --- building ------------------------------------------------------------------------------

    def message(self, msg_type: str, body: Body, now: int,
                seq: int | None = None, poss_dup: str | None = None) -> bytes:
        """One outbound message with the next sequence number (or ``seq`` for a resend);
        application messages are kept for resends (their fields as encoded)."""
        state = self.state
        number = state.next_out if seq is None else seq
        fields = body if isinstance(body, bytes) else field_bytes(body)
        stamp = sending_time(now)
        if poss_dup is not None:
            header = b"%s%d\x0143=Y\x0152=%s\x01122=%s\x01" % (
                self._header, number, stamp.encode(), poss_dup.encode())
        else:
            header = b"%s%d\x0152=%s\x01" % (self._header, number, stamp.encode())
        if seq is None:
            if msg_type not in ADMIN_TYPES:
                state.sent[number] = (msg_type, fields.decode("latin-1"), stamp)
            state.next_out = number + 1
        self.last_out = now
        return frame(msg_type, header, fields)

    def send_app(self, msg_type: str, body: Body, now: int) -> bytes:
        return self.message(msg_type, body, now)

    # --- inbound -------------------------------------------------------------------------------

    def receive(self, msg: Message, now: int) -> Outcome:
        out = Outcome()
        self.last_in = now
        self.test_request = None
        if not self.logged_on:
            return self._first(msg, now, out)
        if not self._header_ok(msg, now, out):
            return out
        seq = int(msg.get(34) or 0)
        expected = self.state.next_in
        if msg.msg_type == "4" and msg.get(123) != "Y":  # a Reset needs no sequence checks
            return self._sequence_reset(msg, now, out, reset=True)
        if seq > expected:
            self._held[seq] = msg
            if self._resend_asked_from != expected:
                out.send.append(self.message("2", [(7, expected), (16, 0)], now))
                self._resend_asked_from = expected
            return out
        if seq < expected:
            return self._too_low(msg, seq, expected, now, out)
        self._process(msg, now, out)
        while not out.close and self.state.next_in in self._held:
            self._process(self._held.pop(self.state.next_in), now, out)
        return out

    def _first(self, msg: Message, now: int, out: Outcome) -> Outcome:
        if msg.msg_type != "A":
            out.close, out.reason = True, "the first message was not a Logon"
            return out
        if msg.get(49) != self.their_id or msg.get(56) != self.our_id:
            out.close, out.reason = True, "unknown CompIDs"
            return out
        refused = self.authenticate(msg)
        if refused is not None:
            out.send.append(self.message("5", [(58, refused)], now))
            out.close, out.reason = True, refused
            return out
        if msg.get(98) != "0":
            out.send.append(self.message("5", [(58, "EncryptMethod(98) must be 0")], now))
            out.close, out.reason = True, "bad EncryptMethod"
            return out
        interval = msg.get(108) or ""
        if not interval.isdigit() or int(interval) <= 0:
            out.send.append(self.message("5", [(58, "HeartBtInt must be a positive integer")],
                                         now))
            out.close, out.reason = True, "bad HeartBtInt"
            return out
        if msg.get(141) == "Y":
            self.state.next_in, self.state.next_out, self.state.sent = 1, 1, {}
        self.heart_bt_int_ns = int(interval) * 1_000_000_000
        seq = int(msg.get(34) or 0)
        if seq < self.state.next_in:
            return self._too_low(msg, seq, self.state.next_in, now, out)
        self.logged_on = out.logged_on = True
        reply: list[tuple[int, Any]] = [(98, 0), (108, interval)]
        if msg.get(141) == "Y":
            reply.append((141, "Y"))
        out.send.append(self.message("A", reply, now))
        if seq > self.state.next_in:  # they are ahead: ask for what we missed
            expected = self.state.next_in
            out.send.append(self.message("2", [(7, expected), (16, 0)], now))
            self._resend_asked_from = expected
            self.state.next_in = expected  # the Logon itself is recovered by the resend
        else:
            self.state.next_in = seq + 1
        return out

    def _header_ok(self, msg: Message, now: int, out: Outcome) -> bool:
        if msg.get(49) != self.their_id or msg.get(56) != self.our_id:
            self._reject(msg, 9, "CompID problem", now, out, tag=49)
            self._logout("incorrect CompID", now, out)
            return False
        stamp = parse_time(msg.get(52) or "")
        if stamp is None or abs(now - stamp) > self.max_skew_ns:
            self._reject(msg, 10, "SendingTime accuracy problem", now, out, tag=52)
            self._logout("SendingTime accuracy problem", now, out)
            return False
        if not (msg.get(34) or "").isdigit():
            out.close, out.reason = True, "MsgSeqNum missing"
            return False
        original = msg.get(122)
        if msg.get(43) == "Y" and original is not None and (
                (parse_time(original) or stamp + 1) > stamp):
            self._reject(msg, 10, "SendingTime accuracy problem: OrigSendingTime is later "
                         "than SendingTime", now, out, tag=122)
            self._logout("SendingTime accuracy problem", now, out)
            return False
        return True

    def _too_low(self, msg: Message, seq: int, expected: int, now: int,
                 out: Outcome) -> Outcome:
        if msg.get(43) == "Y":
            if msg.get(122) is None:
                self._reject(msg, 1, "Required tag missing", now, out, tag=122, use_seq=False)
            return out  # a duplicate already processed
        self._logout(f"MsgSeqNum too low, expecting {expected} but received {seq}", now, out)
        return out

    def _process(self, msg: Message, now: int, out: Outcome) -> None:
        """A message in sequence: check its fields, act on it, count it."""
        self.state.next_in += 1
        kind = msg.msg_type
        problem = self._field_problem(msg)
        if problem is not None:
            reason, tag = problem
            self._reject(msg, reason, _REASONS[reason], now, out, tag=tag, use_seq=False)
            return
        if kind == "0":
            return
        if kind == "1":
            out.send.append(self.message("0", [(112, msg.get(112))], now))
        elif kind == "2":
            self._resend(int(msg.get(7) or 0), int(msg.get(16) or 0), now, out)
        elif kind == "4":
            self._sequence_reset(msg, now, out, reset=False)
        elif kind == "5":
            out.send.append(self.message("5", [], now))
            out.close, out.reason = True, "logout"
        elif kind == "A":
            self._reject(msg, 5, "already logged on", now, out, tag=35, use_seq=False)
        elif kind == "3":
            pass
        elif kind in APP_TYPES:
            out.deliver.append(msg)
        elif kind in KNOWN_APP_TYPES:
            out.send.append(self.message("j", [(45, msg.get(34)), (372, kind), (380, 3),
                                                (58, "Unsupported Message Type")], now))
        else:
            self._reject(msg, 11, "Invalid MsgType", now, out, tag=35, use_seq=False)

    def _field_problem(self, msg: Message) -> tuple[int, int] | None:
        """(SessionRejectReason, RefTagID) of the first fault, or None."""
        if _fields_sound(msg):
            return None
        twice = [t for t in msg.duplicates() if t not in (10,)]
        if twice:
            return 13, twice[0]
        for tag, value in msg.fields:
            if value == "":
                return 4, tag
            if tag in INTEGER_TAGS and not value.lstrip("-").isdigit():
                return 6, tag
            if tag in DECIMAL_TAGS and not _is_decimal(value):
                return 6, tag
        for tag in REQUIRED.get(msg.msg_type, ()):
            if tag not in msg:
                return 1, tag
        return None

    def _resend(self, begin: int, end: int, now: int, out: Outcome) -> None:
        last = self.state.next_out - 1
        end = last if end == 0 or end > last else end
        gap_from = None
        for seq in range(begin, end + 1):
            stored = self.state.sent.get(seq)
            if stored is None:  # an admin message (or one no longer kept): gap-fill over it
                gap_from = seq if gap_from is None else gap_from
                continue
            if gap_from is not None:
                out.send.append(self._gap_fill(gap_from, seq, now))
                gap_from = None
            msg_type, body, original = stored
            out.send.append(self.message(msg_type, body.encode("latin-1"), now, seq=seq,
                                         poss_dup=original))
        if gap_from is not None:
            out.send.append(self._gap_fill(gap_from, end + 1, now))

    def _gap_fill(self, seq: int, new_seq: int, now: int) -> bytes:
        return self.message("4", [(123, "Y"), (36, new_seq)], now, seq=seq,
                            poss_dup=sending_time(now))

    def _sequence_reset(self, msg: Message, now: int, out: Outcome, reset: bool) -> Outcome:
        new = int(msg.get(36) or 0)
        if new < self.state.next_in:
            if reset:
                self._reject(msg, 5, "Value is incorrect (out of range) for this tag", now,
                             out, tag=36, use_seq=False)
            return out
        self.state.next_in = new
        while not out.close and self.state.next_in in self._held:
            self._process(self._held.pop(self.state.next_in), now, out)
        return out

    def _reject(self, msg: Message, reason: int, text: str, now: int, out: Outcome,
                tag: int | None = None, use_seq: bool = True) -> None:
        body: list[tuple[int, Any]] = [(45, msg.get(34) or 0)]
        if tag is not None:
            body.append((371, tag))
        body += [(372, msg.msg_type or "?"), (373, reason), (58, text)]
        if use_seq and (msg.get(34) or "").isdigit() and int(msg.get(34) or 0) == (
                self.state.next_in):
            self.state.next_in += 1
        out.send.append(self.message("3", body, now))

    def _logout(self, text: str, now: int, out: Outcome) -> None:
        out.send.append(self.message("5", [(58, text)], now))
        out.close, out.reason = True, text

    # --- time ----------------------------------------------------------------------------------

    def tick(self, now: int) -> Outcome:
        """Heartbeats and liveness: call it often (every 100 ms, say)."""
        out = Outcome()
        if not self.logged_on:
            return out
        interval = self.heart_bt_int_ns
        if now - self.last_out >= interval:
            out.send.append(self.message("0", [], now))
        if self.test_request is not None:
            if now - self.test_request[1] >= interval:
                out.close, out.reason = True, "no answer to a TestRequest"
        elif now - self.last_in >= interval + interval // 5:
            request_id = f"TEST-{now}"
            self.test_request = (request_id, now)
            out.send.append(self.message("1", [(112, request_id)], now))
        return out


def _fields_sound(msg: Message) -> bool:
    """No field fault at all, found with set operations over the message's index (the
    usual case); the ordered scan that names the first fault runs only when this fails."""
    index = msg.index
    if len(index) != len(msg.fields) or "" in index.values():
        return False
    for tag in INTEGER_TAGS.intersection(index):
        if not index[tag].lstrip("-").isdigit():
            return False
    for tag in DECIMAL_TAGS.intersection(index):
        if not _is_decimal(index[tag]):
            return False
    required = _REQUIRED_SETS.get(msg.msg_type)
    return required is None or required <= index.keys()


def _is_decimal(text: str) -> bool:
    whole, _, fraction = text.lstrip("-").partition(".")
    return (whole.isdigit() or (whole == "" and fraction != "")) and (
        fraction == "" or fraction.isdigit())


_REASONS = {1: "Required tag missing", 4: "Tag specified without a value",
            5: "Value is incorrect (out of range) for this tag", 6: "Incorrect data format for "
            "value", 13: "Tag appears more than once"}
