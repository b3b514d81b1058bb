"""The WebSocket envelope and its two encodings.

Requests ``{"id", "op", "args"}``; replies ``{"id", "ok": true, "result"}`` or
``{"id", "ok": false, "error": {"code", "number", "message"}}``; pushes
``{"ch", "seq", "ts", "data"}``. A frame carries one object, or an array of objects when
several were due for the connection at once (one write instead of many). JSON text frames by
default; ``?format=msgpack`` on the URL switches the connection to msgpack binary frames.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gateway.errors import ApiError, ErrorBody, GatewayCode

Format = Literal["json", "msgpack"]
MAX_FRAME = 64 * 1024


class Request(msgspec.Struct, forbid_unknown_fields=True):
    id: int | str
    op: str
    args: dict[str, Any] = {}


class Reply(msgspec.Struct, omit_defaults=True):
    id: int | str | None
    ok: bool
    result: Any = None
    error: ErrorBody | None = None


class Push(msgspec.Struct, omit_defaults=True):
    ch: str
    seq: int
    ts: int  # when the core accepted the command that caused it (ns since the epoch)
    data: Any
    snapshot: bool = False  # the channel's whole state as of ``seq``, not an update


MAX_BATCH = 100  # requests in one array frame

_JSON_REQUEST = msgspec.json.Decoder(Request | list[Request])
_MSGPACK_REQUEST = msgspec.msgpack.Decoder(Request | list[Request])
_JSON = msgspec.json.Encoder()
_MSGPACK = msgspec.msgpack.Encoder()
_ANY_JSON = msgspec.json.Decoder()
_ANY_MSGPACK = msgspec.msgpack.Decoder()


class BadFrameError(ApiError):
    """A frame that is not a request; ``request_id`` is its id when one could be read."""

    def __init__(self, code: GatewayCode, message: str = "",
                 request_id: int | str | None = None) -> None:
        super().__init__(code, message)
        self.request_id = request_id


def decode_requests(frame: bytes | str, fmt: Format, max_frame: int = MAX_FRAME) -> list[Request]:
    """The request in a frame, or the requests of an array frame (a batch: each request is
    answered on its own); `BadFrameError` otherwise. A batch is decoded as a whole, so one
    malformed element makes the whole frame malformed."""
    if len(frame) > max_frame:
        raise BadFrameError(GatewayCode.FRAME_TOO_LARGE)
    if fmt == "msgpack" and isinstance(frame, str):
        raise BadFrameError(GatewayCode.MALFORMED_FRAME, "this connection speaks msgpack: "
                            "send binary frames")
    try:
        decoded = (_JSON_REQUEST if fmt == "json" else _MSGPACK_REQUEST).decode(frame)
    except msgspec.ValidationError as exc:
        raise BadFrameError(GatewayCode.MALFORMED_FRAME, str(exc), _peek_id(frame, fmt)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # msgpack strings may be bad UTF-8
        raise BadFrameError(GatewayCode.MALFORMED_FRAME, str(exc)) from None
    if isinstance(decoded, Request):
        return [decoded]
    if not 1 <= len(decoded) <= MAX_BATCH:
        raise BadFrameError(GatewayCode.MALFORMED_FRAME,
                            f"a batch holds 1 to {MAX_BATCH} requests")
    return decoded


def _peek_id(frame: bytes | str, fmt: Format) -> int | str | None:
    """The ``id`` of an object frame that is otherwise wrong, so the reply can carry it."""
    try:
        value = _ANY_JSON.decode(frame) if fmt == "json" else _ANY_MSGPACK.decode(frame)
    except (msgspec.DecodeError, TypeError, UnicodeDecodeError):
        return None
    rid = value.get("id") if isinstance(value, dict) else None
    return rid if isinstance(rid, int | str) and not isinstance(rid, bool) else None


def encode(obj: object, fmt: Format) -> bytes:
    return _JSON.encode(obj) if fmt == "json" else _MSGPACK.encode(obj)


def wire_frame(payload: bytes, fmt: Format) -> bytes:
    """``payload`` as one complete, unmasked server WebSocket frame (RFC 6455 §5.2): the
    bytes that go on the socket. Built once per message, written to every subscriber."""
    opcode = 0x81 if fmt == "json" else 0x82  # final text / binary frame
    n = len(payload)
    if n < 126:
        header = bytes((opcode, n))
    elif n < 1 << 16:
        header = bytes((opcode, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((opcode, 127)) + n.to_bytes(8, "big")
    return header + payload


def join(frames: list[bytes], fmt: Format) -> bytes:
    """Several encoded objects as one array frame, without decoding them again."""
    if len(frames) == 1:
        return frames[0]
    if fmt == "json":
        return b"[" + b",".join(frames) + b"]"
    return _msgpack_array_header(len(frames)) + b"".join(frames)


def _msgpack_array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")
