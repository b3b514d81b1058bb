"""The WebSocket API as an AsyncAPI 3.0 document, generated from the types the server uses.

    gridworks asyncapi > docs/asyncapi.json

The schemas come from the msgspec types that decode requests and encode replies and pushes,
so the document cannot drift from the code (a test compares the committed copy with this
output). `docs/websocket-api.md` remains the reference for behaviour; this is for tools and
typed clients.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway import admin_ops, ops
from gateway.auth import LoginArgs
from gateway.errors import MESSAGES, ErrorBody
from gateway.private import Fill, Order, Positions
from gateway.protocol import MAX_BATCH, MAX_FRAME
from marketdata.candles import INTERVALS
from marketdata.hub import Candles, DepthView, Ticker, Trades
from portfolio.views import AccountView

# op -> (arguments, result, scope); ``None`` result: described in the reference only
OPERATIONS: dict[str, tuple[type, Any, str]] = {
    "login": (LoginArgs, None, "none"),
    "ping": (ops.NoArgs, None, "none"),
    "time": (ops.NoArgs, None, "none"),
    "instruments": (ops.NoArgs, None, "none"),
    "subscribe": (ops.SubscribeArgs, None, "none (private channels: read)"),
    "unsubscribe": (ops.UnsubscribeArgs, None, "none"),
    "place": (ops.PlaceArgs, ops.Outcome, "trade"),
    "amend": (ops.AmendArgs, ops.Outcome, "trade"),
    "cancel": (ops.OrderRef, ops.Outcome, "trade"),
    "cancel_all": (ops.CancelAllArgs, None, "trade"),
    "order": (ops.OrderRef, Order, "read"),
    "orders": (ops.NoArgs, list[Order], "read"),
    "positions": (ops.NoArgs, Positions, "read"),
    "funds": (ops.NoArgs, AccountView, "read"),
    "accounts": (ops.NoArgs, None, "admin"),
    "create_account": (admin_ops.CreateAccountArgs, None, "admin"),
    "fund": (admin_ops.FundArgs, None, "admin"),
    "new_key": (admin_ops.NewKeyArgs, None, "admin"),
    "revoke_key": (admin_ops.RevokeKeyArgs, None, "admin"),
    "set_user": (admin_ops.SetUserArgs, None, "admin"),
}

# channel (as subscribed) -> payload of its pushes
CHANNELS: dict[str, tuple[Any, str]] = {
    "ticker.{symbol}": (Ticker, "level 1: last trade, best bid and ask, day figures"),
    "depth.{symbol}": (DepthView, "top levels: a snapshot, then changed levels"),
    "trades.{symbol}": (Trades, "trades as [id, price, qty, aggressor, ts]"),
    "candles.{symbol}.{interval}": (Candles, "OHLCV bars; intervals: " + ", ".join(INTERVALS)),
    "orders": (Order | list[Order], "every state change of the account's orders"),
    "fills": (Fill | list[Fill], "the account's fills"),
    "positions": (Positions, "the account's positions"),
    "funds": (AccountView, "the account's funds"),
}


def document(version: str) -> dict[str, Any]:
    types: list[Any] = [ErrorBody]
    for args, result, _ in OPERATIONS.values():
        types.append(args)
        if result is not None:
            types.append(result)
    types += [payload for payload, _ in CHANNELS.values()]
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(map(_key, types), schemas, strict=True))
    messages: dict[str, Any] = {}
    for op, (args, result, scope) in OPERATIONS.items():
        messages[f"{op}Request"] = {
            "name": op, "title": f"{op} request", "summary": f"scope: {scope}",
            "payload": _envelope({"id": {"type": ["integer", "string"]},
                                  "op": {"const": op}, "args": refs[_key(args)]},
                                 ["id", "op"]),
        }
        reply_result = refs[_key(result)] if result is not None else {}
        messages[f"{op}Reply"] = {
            "name": f"{op}Reply", "title": f"{op} reply",
            "payload": _envelope({"id": {"type": ["integer", "string", "null"]},
                                  "ok": {"type": "boolean"}, "result": reply_result,
                                  "error": refs[_key(ErrorBody)]}, ["id", "ok"]),
        }
    for channel, (payload, summary) in CHANNELS.items():
        messages[_message_name(channel)] = {
            "name": channel, "summary": summary,
            "payload": _envelope({"ch": {"type": "string"}, "seq": {"type": "integer"},
                                  "ts": {"type": "integer"}, "data": refs[_key(payload)],
                                  "snapshot": {"type": "boolean", "default": False}},
                                 ["ch", "seq", "ts", "data"]),
        }
    requests = [f"{op}Request" for op in OPERATIONS]
    replies = [f"{op}Reply" for op in OPERATIONS]
    pushes = [_message_name(channel) for channel in CHANNELS]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "GridWorks WebSocket API",
            "version": version,
            "description": (
                "One WebSocket per client for trading and streaming; JSON text frames by "
                "default, msgpack binary frames with ?format=msgpack. A frame holds one "
                f"request or an array of 1 to {MAX_BATCH}; frames up to {MAX_FRAME} bytes. "
                "Prices and amounts are integer paise. Behaviour, limits and error codes: "
                "docs/websocket-api.md. Gateway error codes: "
                + "; ".join(f"{c.value} {c.name}" for c in MESSAGES)),
        },
        "servers": {"embedded": {"host": "127.0.0.1:8080", "protocol": "ws",
                                 "description": "gridworks serve on its defaults"}},
        "defaultContentType": "application/json",
        "channels": {"session": {
            "address": "/",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}
                         for name in requests + replies + pushes},
        }},
        "operations": {
            "sendRequest": _operation("send", requests, "requests: one per frame, or a batch"),
            "receiveReply": _operation("receive", replies, "one reply per request, by id"),
            "receivePush": _operation("receive", pushes,
                                      "pushes of subscribed channels, gapless seq per channel"),
        },
        "components": {"messages": messages, "schemas": components},
    }


_REF = "#/components/schemas/{name}"


def _key(t: Any) -> str:
    return repr(t)


def _message_name(channel: str) -> str:
    return channel.split(".")[0] + "Push"


def _envelope(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _operation(action: str, names: list[str], summary: str) -> dict[str, Any]:
    return {"action": action, "channel": {"$ref": "#/channels/session"}, "summary": summary,
            "messages": [{"$ref": f"#/channels/session/messages/{n}"} for n in names]}


def render(version: str) -> str:
    return msgspec.json.format(msgspec.json.encode(document(version)), indent=2).decode() + "\n"
