"""FIX 4.4 tag=value framing: finding whole messages in a byte stream, checking them, and
building them. No I/O, no regular expressions.

A message is ``8=FIX.4.4<SOH>9=<BodyLength><SOH>35=<MsgType><SOH>...10=<CheckSum><SOH>``.
BodyLength counts the bytes after the SOH that ends field 9 up to and including the SOH
before ``10=``; CheckSum is the sum of every byte before ``10=``, modulo 256, as three digits.

`Framer.feed` takes bytes as they arrive and yields what it finds: a `Message`, or a
`Garbled` for bytes that cannot be a message (a wrong BeginString, a BodyLength that is not a
number or points past a trailer that is not there, a bad checksum). Garbled input is skipped
up to the next ``8=FIX`` so one broken message never desynchronises the stream; the session
layer ignores garbled messages (the FIX rule) and recovers the gap with a ResendRequest. A
BodyLength is never trusted beyond ``max_body`` bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zlib import adler32

SOH = b"\x01"
BEGIN = b"8=FIX.4.4\x019="
MAX_BODY = 64 * 1024
# A message body: its fields, or (ExecutionReports, built per order) already encoded.
Fields = list[tuple[int, Any]]
Body = Fields | bytes
# Adler-32's low half is 1 + the byte sum modulo 65521: exact for 256 bytes at a time
# (255 * 256 + 1 < 65521), so zlib sums a message in C, six times faster than sum().
_EXACT_SUM_BYTES = 256


def checksum(data: bytes | memoryview) -> int:
    """The FIX CheckSum of ``data``: the sum of its bytes, modulo 256."""
    if len(data) <= _EXACT_SUM_BYTES:
        return ((adler32(data) & 0xFFFF) - 1) & 0xFF
    view = memoryview(data)
    total = 0
    for start in range(0, len(view), _EXACT_SUM_BYTES):
        total += (adler32(view[start:start + _EXACT_SUM_BYTES]) & 0xFFFF) - 1
    return total & 0xFF


@dataclass
class Message:
    """A framed, checksummed message: its fields in order (tag, value as text)."""

    fields: list[tuple[int, str]]
    raw: bytes = b""
    _index: dict[int, str] | None = field(default=None, repr=False)

    @property
    def msg_type(self) -> str:
        return self.fields[2][1] if len(self.fields) > 2 else ""

    @property
    def index(self) -> dict[int, str]:
        """Each tag's value (the first, where a tag repeats)."""
        if self._index is None:
            # built in one call: later pairs overwrite earlier ones, so the fields go in
            # reversed and the first of a repeated tag wins
            self._index = dict(reversed(self.fields))
        return self._index

    def get(self, tag: int, default: str | None = None) -> str | None:
        # the field read directly: a message takes a dozen gets, and each one through the
        # property would cost about 50 ns more
        index = self._index
        if index is None:
            index = self.index
        return index.get(tag, default)

    def __contains__(self, tag: int) -> bool:
        return self.get(tag) is not None

    def duplicates(self) -> list[int]:
        """Tags that appear more than once (no repeating groups in this subset)."""
        if len(self.index) == len(self.fields):
            return []
        seen: set[int] = set()
        twice = []
        for t, _ in self.fields:
            if t in seen:
                twice.append(t)
            seen.add(t)
        return twice


@dataclass(frozen=True)
class Garbled:
    reason: str
    raw: bytes


class Framer:
    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[Message | Garbled]:
        self._buffer += data
        while True:
            found = self._next()
            if found is None:
                return
            yield found

    def _next(self) -> Message | Garbled | None:
        buf = self._buffer
        start = buf.find(b"8=")
        if start < 0:
            if len(buf) > 1:
                del buf[:-1]  # keep a possible "8" that "=" may follow
            return None
        if start:
            junk = bytes(buf[:start])
            del buf[:start]
            return Garbled("bytes before BeginString", junk)
        if len(buf) < len(BEGIN):
            return None if BEGIN.startswith(bytes(buf)) else self._skip("wrong BeginString")
        if not buf.startswith(BEGIN):
            return self._skip("wrong BeginString")
        end_of_length = buf.find(SOH, len(BEGIN))
        if end_of_length < 0:
            return None if len(buf) - len(BEGIN) <= 7 else self._skip("BodyLength too long")
        digits = bytes(buf[len(BEGIN):end_of_length])
        if not digits.isdigit():
            return self._skip("BodyLength is not a number")
        length = int(digits)
        if length > self.max_body:
            return self._skip("BodyLength above the limit")
        body_start = end_of_length + 1
        trailer = body_start + length
        total = trailer + 7  # "10=NNN" + SOH
        if len(buf) < total:
            # A BodyLength too long would swallow the next message while waiting for bytes
            # that never come: another message starting inside the claimed body means this
            # one is broken.
            if buf.find(b"\x018=FIX.4.4\x01", body_start) >= 0:
                return self._skip("wrong BodyLength")
            return None
        if buf[trailer:trailer + 3] != b"10=" or buf[total - 1:total] != SOH:
            return self._skip("wrong BodyLength")
        given = bytes(buf[trailer + 3:total - 1])
        raw = bytes(buf[:total])
        if not given.isdigit() or int(given) != checksum(memoryview(raw)[:trailer]):
            del buf[:total]
            return Garbled("bad CheckSum", raw)
        del buf[:total]
        fields = _fields(raw[:trailer])
        if fields is None:
            return Garbled("a field is not tag=value", raw)
        return Message(fields, raw)

    def _skip(self, reason: str) -> Garbled:
        """Drop the broken start and everything up to the next possible message."""
        buf = self._buffer
        nxt = buf.find(b"8=FIX", 1)
        cut = nxt if nxt > 0 else len(buf)
        junk = bytes(buf[:cut])
        del buf[:cut]
        return Garbled(reason, junk)


def _fields(data: bytes) -> list[tuple[int, str]] | None:
    """The fields of a checksummed message; None if one is not ``tag=value`` with a tag of
    digits that does not start with 0. Values are text as sent (bytes above 127 as Latin-1)."""
    out: list[tuple[int, str]] = []
    append = out.append
    text = data.decode("latin-1")
    # A tag that is empty or starts with 0 shows as "=" or "0" at the start or after an SOH:
    # one search for the whole message instead of a test per field.
    if text[:1] in ("0", "=") or "\x010" in text or "\x01=" in text:
        return None
    for part in text.split("\x01")[:-1]:
        tag, eq, value = part.partition("=")
        # Latin-1 has no decimal digits beyond 0-9, so isdecimal() also means ASCII here.
        if not eq or not tag.isdecimal():
            return None
        append((int(tag), value))
    return out


def encode(msg_type: str, header: list[tuple[int, object]],
           body: list[tuple[int, object]]) -> bytes:
    """A whole message: BeginString, BodyLength, MsgType, then the header and body fields in
    the order given, then the CheckSum."""
    return frame(msg_type, field_bytes(header), field_bytes(body))


def field_bytes(fields: list[tuple[int, object]]) -> bytes:
    """Fields as ``tag=value<SOH>...`` (booleans as Y/N)."""
    # booleans tested inline: a call per field costs more than the formatting
    return "".join([f"{t}={('Y' if v else 'N') if v is True or v is False else v}\x01"
                    for t, v in fields]).encode("latin-1")


def frame(msg_type: str, header: bytes, body: bytes) -> bytes:
    """BeginString, BodyLength and MsgType around encoded header and body fields, and the
    CheckSum after them."""
    inner = b"35=" + msg_type.encode() + SOH + header + body
    head = b"8=FIX.4.4\x019=%d\x01" % len(inner)
    return head + inner + b"10=%03d\x01" % ((checksum(head) + checksum(inner)) & 0xFF)

