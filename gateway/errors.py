"""Error codes of the WebSocket API.

Every error a client sees has a stable name, a number and a human message. The core's
rejections keep their names and numbers (1xxx core, 2xxx risk, 3xxx matching, see
`engine.codes`); the gateway's own are 4xxx.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

from engine.codes import RejectCode
from engine.codes import message as core_message


class GatewayCode(IntEnum):
    MALFORMED_FRAME = 4001
    UNKNOWN_OP = 4002
    INVALID_ARGS = 4003
    FRAME_TOO_LARGE = 4004
    NOT_LOGGED_IN = 4005
    SCOPE_DENIED = 4006
    BAD_SIGNATURE = 4007
    STALE_SIGNATURE = 4008
    REPLAYED_NONCE = 4009
    UNKNOWN_KEY = 4010
    RATE_LIMITED = 4011
    TOO_MANY_SUBSCRIPTIONS = 4012
    UNKNOWN_CHANNEL = 4013
    UNKNOWN_SYMBOL = 4014
    ALREADY_LOGGED_IN = 4015
    ORDER_NOT_FOUND = 4016
    OUTCOME_UNKNOWN = 4017
    SERVER_BUSY = 4018
    SLOW_CONSUMER = 4019
    SHUTTING_DOWN = 4020
    TOO_MANY_CONNECTIONS = 4021
    INTERNAL_ERROR = 4022
    IP_NOT_ALLOWED = 4023
    HISTORY_UNAVAILABLE = 4024
    TOKEN_EXPIRED = 4025
    TOKEN_INVALID = 4026
    REFRESH_REUSED = 4027
    BAD_PASSWORD = 4028
    LEADERBOARD_UNAVAILABLE = 4029
    SESSIONS_UNAVAILABLE = 4030
    SHARD_UNAVAILABLE = 4031
    NOT_ROUTED = 4032


MESSAGES: dict[GatewayCode, str] = {
    GatewayCode.MALFORMED_FRAME: "the frame is not a valid request object",
    GatewayCode.UNKNOWN_OP: "no such operation",
    GatewayCode.INVALID_ARGS: "the arguments do not fit the operation",
    GatewayCode.FRAME_TOO_LARGE: "frames are limited to 64 KiB",
    GatewayCode.NOT_LOGGED_IN: "log in first",
    GatewayCode.SCOPE_DENIED: "the key's scopes do not allow this",
    GatewayCode.BAD_SIGNATURE: "the signature does not match",
    GatewayCode.STALE_SIGNATURE: "the signed timestamp is outside the allowed window",
    GatewayCode.REPLAYED_NONCE: "this nonce was already used",
    GatewayCode.UNKNOWN_KEY: "no such active key",
    GatewayCode.RATE_LIMITED: "too many messages; slow down",
    GatewayCode.TOO_MANY_SUBSCRIPTIONS: "subscription limit reached for this connection",
    GatewayCode.UNKNOWN_CHANNEL: "no such channel",
    GatewayCode.UNKNOWN_SYMBOL: "no such instrument",
    GatewayCode.ALREADY_LOGGED_IN: "this connection is already logged in",
    GatewayCode.ORDER_NOT_FOUND: "no order with this id for the account (it was never received)",
    GatewayCode.OUTCOME_UNKNOWN: "the outcome is unknown: query the order by its client order id",
    GatewayCode.SERVER_BUSY: "the server cannot take more work now; retry",
    GatewayCode.SLOW_CONSUMER: "the connection is not reading fast enough",
    GatewayCode.SHUTTING_DOWN: "the server is restarting; reconnect shortly",
    GatewayCode.TOO_MANY_CONNECTIONS: "connection limit reached for this key or address",
    GatewayCode.IP_NOT_ALLOWED: "the key may not be used from this address",
    GatewayCode.HISTORY_UNAVAILABLE: "history needs PostgreSQL, which this server does not "
    "have or cannot reach now",
    GatewayCode.TOKEN_EXPIRED: "the access token has expired: refresh it",
    GatewayCode.TOKEN_INVALID: "the token is not valid",
    GatewayCode.REFRESH_REUSED: "this refresh token was already used: the session is revoked",
    GatewayCode.BAD_PASSWORD: "wrong user name or password",
    GatewayCode.LEADERBOARD_UNAVAILABLE: "the leaderboard needs Redis, which this server does "
    "not have or cannot reach now",
    GatewayCode.SESSIONS_UNAVAILABLE: "password logins and tokens need the session store, "
    "which cannot be reached now; API keys still work",
    GatewayCode.SHARD_UNAVAILABLE: "the shard that owns this cannot be reached through this "
    "router now; retry",
    GatewayCode.NOT_ROUTED: "this operation acts on every shard: use `gridworks accounts "
    "--kafka` (or a shard's own gateway)",
    GatewayCode.INTERNAL_ERROR: "the server failed on this request; it was logged",
}


class ErrorBody(msgspec.Struct, omit_defaults=True):
    code: str
    number: int
    message: str
    detail: dict | None = None


class ApiError(Exception):
    """Raised by an operation; becomes the ``error`` of its reply."""

    def __init__(self, code: GatewayCode | RejectCode, message: str = "",
                 **detail: object) -> None:
        super().__init__(code.name)
        self.code = code
        self.message = message
        self.detail = detail or None

    def body(self) -> ErrorBody:
        return error_body(self.code, self.message, self.detail)


def error_body(code: GatewayCode | RejectCode, message: str = "",
               detail: dict | None = None) -> ErrorBody:
    if isinstance(code, GatewayCode):
        text = message or MESSAGES[code]
    else:
        text = message or core_message(code)
    return ErrorBody(code.name, int(code), text, detail)
