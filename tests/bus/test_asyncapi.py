"""The Kafka topics' AsyncAPI document: the committed copy is what the code generates, it
covers every topic the publisher writes, and its schemas validate real messages."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import jsonschema
import msgspec

from bus import asyncapi, schemas

DOCUMENT = Path(__file__).parents[2] / "docs" / "kafka-asyncapi.json"


def test_the_committed_document_is_current() -> None:
    assert DOCUMENT.read_text("utf-8") == asyncapi.render(metadata.version("gridworks")), (
        "docs/kafka-asyncapi.json is stale: run "
        "`gridworks asyncapi --kafka > docs/kafka-asyncapi.json`")


def test_every_topic_is_a_channel_and_messages_validate() -> None:
    doc = json.loads(DOCUMENT.read_text("utf-8"))
    assert set(doc["channels"]) == set(schemas.TOPICS.values())
    message = schemas.OrderCreated(seq=5, ts=1, order_id=5, client_order_id="c1", account=1,
                                   symbol="RELIANCE", side="BUY", order_type="LIMIT",
                                   tif="DAY", product="MIS", price=141_000, trigger=0, qty=1,
                                   disclosed=0, post_only=False)
    schema = {**doc["components"]["schemas"]["OrderCreated"],
              "$defs": doc["components"]["schemas"]}
    text = json.dumps(schema).replace("#/components/schemas/", "#/$defs/")
    jsonschema.validate(msgspec.to_builtins(message), json.loads(text))
