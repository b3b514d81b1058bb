"""FIX framing against an independent implementation (simplefix): what we encode it reads,
what it encodes we read, in any chunking; broken input is skipped without losing the next
message."""

from __future__ import annotations

import simplefix
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.fix.codec import Framer, Garbled, Message, checksum, encode

HEADER = [(49, "CLIENT"), (56, "GRIDWORKS"), (34, 7), (52, "20261201-10:00:00.000")]
printable = st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="=")
values = st.text(alphabet=printable, min_size=1, max_size=20)
# ordinary tags (simplefix reads some others, such as raw-data lengths, specially)
TAGS = [11, 14, 17, 37, 38, 39, 40, 41, 44, 54, 55, 58, 59, 60, 99, 112, 150, 151, 5000, 6000]
bodies = st.lists(st.tuples(st.sampled_from(TAGS), values), max_size=12)


def theirs(msg_type: str, fields: list[tuple[int, object]]) -> bytes:
    message = simplefix.FixMessage()
    message.append_pair(8, "FIX.4.4")
    message.append_pair(35, msg_type)
    for tag, value in fields:
        message.append_pair(tag, value)
    return message.encode()


def parse_all(data: bytes, chunks: list[int] | None = None) -> list[Message | Garbled]:
    framer, out, pos = Framer(), [], 0
    for size in chunks or [len(data)]:
        out += list(framer.feed(data[pos:pos + size]))
        pos += size
    out += list(framer.feed(data[pos:]))
    return out


@given(bodies)
def test_simplefix_reads_what_we_encode(body: list[tuple[int, str]]) -> None:
    data = encode("D", HEADER, body)
    parser = simplefix.FixParser()
    parser.append_buffer(data)
    parsed = parser.get_message()
    assert parsed is not None
    assert parsed.get(35) == b"D"
    assert [(int(t), v.decode()) for t, v in parsed.pairs][3:-1] == [
        (t, str(v)) for t, v in HEADER + body]
    assert data == theirs("D", [*HEADER, *body])  # byte for byte, checksum included


@settings(max_examples=150)
@given(st.lists(bodies, min_size=1, max_size=5), st.lists(st.integers(1, 40), max_size=60))
def test_we_read_what_simplefix_encodes_in_any_chunks(messages: list, chunks: list[int]) -> None:
    data = b"".join(theirs("8", [*HEADER, *body]) for body in messages)
    found = parse_all(data, chunks)
    assert all(isinstance(m, Message) for m in found)
    assert [[(t, v) for t, v in m.fields][7:] for m in found] == [  # type: ignore[union-attr]
        [(t, v) for t, v in body] for body in messages]


def test_broken_messages_are_skipped_and_the_next_one_is_read() -> None:
    good = encode("0", HEADER, [])
    bad_checksum = good[:-4] + b"999\x01"
    short_length = good.replace(b"9=", b"9=1", 1)
    wrong_version = good.replace(b"FIX.4.4", b"FIX.4.2")
    huge = b"8=FIX.4.4\x019=99999999\x0135=0\x01"
    not_a_number = b"8=FIX.4.4\x019=1x\x0135=0\x01"
    for broken in (bad_checksum, short_length, wrong_version, huge, not_a_number,
                   b"garbage\x01" + b"38=5\x01"):
        found = parse_all(broken + good)
        assert isinstance(found[0], Garbled), broken
        assert isinstance(found[-1], Message), (broken, found)
        assert found[-1].raw == good


def test_a_message_waits_for_its_last_byte() -> None:
    good = encode("1", HEADER, [(112, "ping")])
    framer = Framer()
    assert list(framer.feed(good[:-1])) == []
    (message,) = framer.feed(good[-1:])
    assert isinstance(message, Message)
    assert message.msg_type == "1"
    assert message.get(112) == "ping"
    assert message.get(49) == "CLIENT"


def test_booleans_and_duplicates() -> None:
    data = encode("D", HEADER, [(43, True), (11, "a"), (11, "b")])
    (message,) = parse_all(data)
    assert isinstance(message, Message)
    assert message.get(43) == "Y"
    assert message.duplicates() == [11]


@settings(max_examples=100)
@given(st.lists(st.tuples(st.binary(max_size=30).map(lambda b: b.replace(b"8", b"x")), bodies),
                min_size=1, max_size=6), st.lists(st.integers(1, 25), max_size=40))
def test_messages_survive_junk_between_them(parts: list, chunks: list[int]) -> None:
    data = b"".join(junk + encode("8", HEADER, body) for junk, body in parts)
    found = [m for m in parse_all(data, chunks) if isinstance(m, Message)]
    assert [m.fields[7:] for m in found] == [[(t, str(v)) for t, v in body] for _, body in parts]


@given(st.binary(max_size=2_000))
def test_the_checksum_is_the_byte_sum_modulo_256(data: bytes) -> None:
    assert checksum(data) == sum(data) % 256
    assert checksum(memoryview(data)) == sum(data) % 256


def test_the_checksum_is_exact_at_its_largest_sums() -> None:
    # All bytes 0xFF around the sizes where the sum is taken in one piece or in several.
    for n in (0, 1, 255, 256, 257, 511, 512, 513, 64 * 1024):
        assert checksum(b"\xff" * n) == 255 * n % 256, n
