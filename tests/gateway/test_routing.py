"""The router's rules without I/O: where channels and orders belong, how names and resume
points read on both sides, and how the shards' answers merge."""

from __future__ import annotations

import pytest

from gateway.errors import ApiError
from gateway.routing import Directory, merge_funds, merge_subscribed, rename_push


def directory() -> Directory:
    d = Directory([0, 1])
    d.learn(0, ["RELIANCE", "INFY"], 1_000)
    d.learn(1, ["TCS"], 2_001)
    return d


def test_channels_belong_to_the_shard_of_their_instrument_or_to_every_shard() -> None:
    d = directory()
    assert d.channel_shards("depth.TCS") == {1: "depth.TCS"}
    assert d.channel_shards("candles.INFY.1m") == {0: "candles.INFY.1m"}
    assert d.channel_shards("orders") == {0: "orders", 1: "orders"}
    assert d.channel_shards("fills.1") == {1: "fills"}
    for bad, code in (("ticker.NOPE", "UNKNOWN_SYMBOL"), ("orders.5", "UNKNOWN_CHANNEL"),
                      ("orders.x", "UNKNOWN_CHANNEL"), ("weather", "UNKNOWN_CHANNEL")):
        with pytest.raises(ApiError) as refused:
            d.channel_shards(bad)
        assert refused.value.code.name == code, bad
    per_shard, ours = d.split_channels(["orders", "orders.1", "ticker.TCS"])
    assert per_shard == {0: ["orders"], 1: ["orders", "ticker.TCS"]}
    assert ours[(1, "orders")] == "orders.1"
    assert d.shard_of_order(10**12 + 5) == 1
    assert d.shard_of_order(5) == 0
    assert d.shard_of_order(9 * 10**12) is None


def test_resume_points_hold_only_under_the_epoch_of_every_shard_together() -> None:
    d = directory()
    epoch = d.epoch
    assert 0 < epoch < 2**53
    resume = {"orders.1": 7, "orders.0": 3, "ticker.TCS": 40, "orders": 9, "ticker.NOPE": 1}
    assert d.split_resume(resume, epoch) == {1: {"orders": 7, "ticker.TCS": 40},
                                             0: {"orders": 3}}
    assert d.split_resume(resume, epoch + 1) == {}
    d.learn(1, ["TCS"], 2_002)  # shard 1's log is new: its numbers mean nothing now
    assert d.epoch != epoch
    assert directory().epoch == epoch  # every router computes the same


def test_pushes_and_answers_read_as_one_cluster() -> None:
    push = rename_push({"ch": "orders", "seq": 4, "ts": 1, "data": {}}, 1, 99)
    assert push["ch"] == "orders.1"
    beat = rename_push({"ch": "heartbeat", "seq": 2, "ts": 1,
                        "data": {"epoch": 2_001, "seqs": {"orders": 4, "ticker.TCS": 8}}}, 1, 99)
    assert beat["data"] == {"epoch": 99, "seqs": {"orders.1": 4, "ticker.TCS": 8}, "shard": 1}
    assert rename_push({"ch": "ticker.TCS", "seq": 1, "ts": 1, "data": {}}, 1, 99)["ch"] == (
        "ticker.TCS")
    subscribed = merge_subscribed({0: {"subscribed": {"orders": {"seq": 3}}},
                                   1: {"subscribed": {"orders": {"seq": 5}}}},
                                  {(0, "orders"): "orders.0", (1, "orders"): "orders.1"}, 99)
    assert subscribed == {"subscribed": {"orders.0": {"seq": 3}, "orders.1": {"seq": 5}},
                          "epoch": 99}
    funds = merge_funds({0: {"account": 2, "cash": 100, "margin": 10, "in_margin_call": False},
                         1: {"account": 2, "cash": 50, "margin": 0, "in_margin_call": True}})
    assert (funds["account"], funds["cash"], funds["margin"], funds["in_margin_call"]) == (
        2, 150, 10, True)
    assert funds["shards"]["1"]["cash"] == 50


def test_a_gateway_takes_the_client_address_only_from_a_trusted_router() -> None:
    from types import SimpleNamespace

    from websockets.datastructures import Headers

    from gateway.server import client_address

    def ws(peer: str, forwarded: str | None) -> object:
        headers = Headers({"X-Forwarded-For": forwarded} if forwarded else {})
        return SimpleNamespace(remote_address=(peer, 5000),
                               request=SimpleNamespace(headers=headers))

    trusted = ("10.0.0.5",)
    assert client_address(ws("10.0.0.5", "203.0.113.7"), trusted) == "203.0.113.7"  # type: ignore[arg-type]
    assert client_address(ws("10.0.0.5", "1.1.1.1, 203.0.113.7"), trusted) == "203.0.113.7"  # type: ignore[arg-type]
    assert client_address(ws("10.0.0.5", None), trusted) == "10.0.0.5"  # type: ignore[arg-type]
    assert client_address(ws("198.51.100.2", "203.0.113.7"), trusted) == "198.51.100.2"  # type: ignore[arg-type]
    pods = ("10.244.0.0/16",)  # a cluster's pod network
    assert client_address(ws("10.244.3.9", "203.0.113.7"), pods) == "203.0.113.7"  # type: ignore[arg-type]
    assert client_address(ws("10.245.0.1", "203.0.113.7"), pods) == "10.245.0.1"  # type: ignore[arg-type]
