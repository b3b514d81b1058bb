"""The REST API's envelopes (in the style of Kite Connect) and how errors map to HTTP.

Success: ``{"status": "success", "data": ...}``. Error: ``{"status": "error", "error_type":
..., "message": ..., "code": ..., "number": ..., "detail": ...}``, with the same stable
``code``/``number`` as the WebSocket API and an HTTP status that says what kind of failure
it is. A rate limit is 429 with ``Retry-After``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Generic, Literal, TypeVar

import msgspec

from engine.codes import RejectCode
from gateway.errors import ApiError, GatewayCode

T = TypeVar("T")


class Ok(msgspec.Struct, Generic[T]):
    data: T
    status: Literal["success"] = "success"


class Failure(msgspec.Struct):
    error_type: str  # InputException, TokenException, PermissionException, OrderException, ...
    message: str
    code: str  # the stable name, as on the WebSocket API
    number: int
    detail: dict[str, Any] | None = None
    status: Literal["error"] = "error"


_GATEWAY: dict[GatewayCode, tuple[HTTPStatus, str]] = {
    GatewayCode.MALFORMED_FRAME: (HTTPStatus.BAD_REQUEST, "InputException"),
    GatewayCode.INVALID_ARGS: (HTTPStatus.BAD_REQUEST, "InputException"),
    GatewayCode.UNKNOWN_SYMBOL: (HTTPStatus.BAD_REQUEST, "InputException"),
    GatewayCode.NOT_LOGGED_IN: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.BAD_SIGNATURE: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.STALE_SIGNATURE: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.REPLAYED_NONCE: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.UNKNOWN_KEY: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.SCOPE_DENIED: (HTTPStatus.FORBIDDEN, "PermissionException"),
    GatewayCode.IP_NOT_ALLOWED: (HTTPStatus.FORBIDDEN, "PermissionException"),
    GatewayCode.RATE_LIMITED: (HTTPStatus.TOO_MANY_REQUESTS, "NetworkException"),
    GatewayCode.ORDER_NOT_FOUND: (HTTPStatus.NOT_FOUND, "DataException"),
    GatewayCode.OUTCOME_UNKNOWN: (HTTPStatus.GATEWAY_TIMEOUT, "NetworkException"),
    GatewayCode.SERVER_BUSY: (HTTPStatus.SERVICE_UNAVAILABLE, "NetworkException"),
    GatewayCode.SHUTTING_DOWN: (HTTPStatus.SERVICE_UNAVAILABLE, "NetworkException"),
    GatewayCode.HISTORY_UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, "DataException"),
    GatewayCode.TOKEN_EXPIRED: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.TOKEN_INVALID: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.REFRESH_REUSED: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.BAD_PASSWORD: (HTTPStatus.UNAUTHORIZED, "TokenException"),
    GatewayCode.LEADERBOARD_UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, "DataException"),
    GatewayCode.SESSIONS_UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, "NetworkException"),
    GatewayCode.SHARD_UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, "NetworkException"),
    GatewayCode.NOT_ROUTED: (HTTPStatus.MISDIRECTED_REQUEST, "InputException"),
    GatewayCode.INTERNAL_ERROR: (HTTPStatus.INTERNAL_SERVER_ERROR, "GeneralException"),
}
_CORE: dict[RejectCode, tuple[HTTPStatus, str]] = {
    RejectCode.INSUFFICIENT_FUNDS: (HTTPStatus.BAD_REQUEST, "MarginException"),
    RejectCode.WITHDRAWAL_EXCEEDS_FREE_CASH: (HTTPStatus.BAD_REQUEST, "MarginException"),
    RejectCode.KILL_SWITCH_GLOBAL: (HTTPStatus.FORBIDDEN, "PermissionException"),
    RejectCode.KILL_SWITCH_ACCOUNT: (HTTPStatus.FORBIDDEN, "PermissionException"),
    RejectCode.KILL_SWITCH_INSTRUMENT: (HTTPStatus.FORBIDDEN, "PermissionException"),
    RejectCode.THROTTLED: (HTTPStatus.TOO_MANY_REQUESTS, "NetworkException"),
    RejectCode.ORDER_NOT_FOUND: (HTTPStatus.NOT_FOUND, "OrderException"),
}


def failure(error: ApiError) -> tuple[HTTPStatus, Failure]:
    """The HTTP status and body of an error."""
    body = error.body()
    if isinstance(error.code, GatewayCode):
        status, kind = _GATEWAY.get(error.code, (HTTPStatus.INTERNAL_SERVER_ERROR,
                                                 "GeneralException"))
    else:
        status, kind = _CORE.get(error.code, (HTTPStatus.BAD_REQUEST, "OrderException"))
    return status, Failure(kind, body.message, body.code, body.number, body.detail)
