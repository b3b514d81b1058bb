"""The Kafka topics as an AsyncAPI 3.0 document, generated from `bus.schemas`.

    gridworks asyncapi --kafka > docs/kafka-asyncapi.json

A test compares the committed copy with this output, so the document cannot drift from the
types the publisher encodes. `docs/kafka.md` describes behaviour (keys, headers, dedupe).
"""

from __future__ import annotations

from typing import Any

import msgspec

from bus import schemas

HEADERS = {
    "type": "object",
    "properties": {
        "gw-seq": {"type": "string", "description": "the core sequence number of the command "
                   "(positions.updated: of the batch's last command)"},
        "gw-index": {"type": "string", "description": "the record's place among that "
                     "command's records on this topic"},
        "gw-schema": {"type": "string", "description": "message type and version, e.g. "
                      "order.created/1"},
    },
    "required": ["gw-seq", "gw-index", "gw-schema"],
}


def document(version: str) -> dict[str, Any]:
    types = list(schemas.TOPICS)
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    by_topic: dict[str, list[str]] = {}
    messages: dict[str, Any] = {}
    for kind, ref in zip(types, refs, strict=True):
        tag = kind.__struct_config__.tag  # type: ignore[attr-defined]
        name = kind.__name__
        topic = schemas.TOPICS[kind]
        by_topic.setdefault(topic, []).append(name)
        messages[name] = {"name": tag, "title": name, "summary": (kind.__doc__ or "").strip(),
                          "headers": HEADERS, "payload": ref}
    channels = {
        topic: {"address": topic, "description": f"key: {_KEYS.get(topic, 'account')}",
                "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names}}
        for topic, names in sorted(by_topic.items())}
    operations = {
        f"publish-{topic}": {
            "action": "send", "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [{"$ref": f"#/channels/{topic}/messages/{n}"} for n in names]}
        for topic, names in sorted(by_topic.items())}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "GridWorks event topics", "version": version,
                 "description": "What `gridworks serve --kafka` publishes: one record per "
                 "core event (JSON or msgpack by configuration), acks=all, keyed so one "
                 "account's or symbol's records stay in order. Behaviour: docs/kafka.md."},
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


_REF = "#/components/schemas/{name}"
_KEYS = {"marketdata.trades": "symbol", "marketdata.candles": "symbol",
         "audit.market": "symbol, or all"}


def render(version: str) -> str:
    return msgspec.json.format(msgspec.json.encode(document(version)), indent=2).decode() + "\n"
