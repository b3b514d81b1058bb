"""The router's rules, without I/O: which shard a request or a channel belongs to, how
channel names and resume points read on either side, and how the shards' answers merge.

A cluster with several shards numbers each shard's channels on its own (every gateway of a
shard alike, by the shard's log). Public channels belong to the shard that owns their
instrument and keep their names. Private channels exist once per shard: through the
router the orders of shard K are ``orders.K`` (fills, positions and funds likewise), and
subscribing to plain ``orders`` subscribes to every shard's. The router's epoch stands for
the shards' epochs together: a resume point taken through one router holds on any other
router of the same cluster, and means nothing once any shard's numbering changed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from engine.sequencer import order_shard
from gateway.errors import ApiError, GatewayCode

PRIVATE = ("orders", "fills", "positions", "funds")
PUBLIC = ("ticker", "depth", "trades", "candles")
# Summed over the shards in the router's ``funds`` answer.
FUNDS_SUMMED = ("cash", "credit", "blocked", "margin", "buying_power", "free_cash",
                "unrealised", "equity")


class Directory:
    """Which shard owns each symbol, and each shard's channel epoch."""

    def __init__(self, shards: list[int]) -> None:
        self.shards = sorted(shards)
        self.owner: dict[str, int] = {}
        self.epochs: dict[int, int] = {}

    def learn(self, shard: int, symbols: list[str], epoch: int) -> None:
        for symbol in symbols:
            self.owner[symbol] = shard
        self.epochs[shard] = epoch

    @property
    def epoch(self) -> int:
        """The shards' epochs as one number (48 bits, exact in JavaScript)."""
        text = msgspec.json.encode(sorted(self.epochs.items()))
        return int.from_bytes(hashlib.sha256(text).digest()[:6], "big")

    def shard_of_symbol(self, symbol: object) -> int:
        shard = self.owner.get(symbol) if isinstance(symbol, str) else None
        if shard is None:
            raise ApiError(GatewayCode.UNKNOWN_SYMBOL, symbol=symbol)
        return shard

    def shard_of_order(self, order_id: int) -> int | None:
        shard = order_shard(order_id)
        return shard if shard in self.epochs else None

    # --- channels ------------------------------------------------------------------------------

    def channel_shards(self, name: str) -> dict[int, str]:
        """The shards a channel name subscribes to, with its name there."""
        base, _, suffix = name.partition(".")
        if base in PRIVATE:
            if not suffix:
                return dict.fromkeys(self.shards, base)
            if suffix.isdigit() and int(suffix) in self.epochs:
                return {int(suffix): base}
            raise ApiError(GatewayCode.UNKNOWN_CHANNEL, channel=name)
        if base in PUBLIC:
            symbol = suffix.partition(".")[0]
            if symbol not in self.owner:
                raise ApiError(GatewayCode.UNKNOWN_SYMBOL, channel=name)
            return {self.owner[symbol]: name}
        raise ApiError(GatewayCode.UNKNOWN_CHANNEL, channel=name)

    def split_channels(self, names: list[str]) -> tuple[dict[int, list[str]],
                                                       dict[tuple[int, str], str]]:
        """Per shard, the names to ask for there; and the router's name of each."""
        per_shard: dict[int, list[str]] = {}
        ours: dict[tuple[int, str], str] = {}
        for name in names:
            for shard, there in self.channel_shards(name).items():
                if (shard, there) not in ours:
                    per_shard.setdefault(shard, []).append(there)
                    ours[(shard, there)] = outside(shard, there)
        return per_shard, ours

    def split_resume(self, resume: dict[str, int], epoch: int) -> dict[int, dict[str, int]]:
        """Resume points per shard in the shard's names; none unless ``epoch`` is ours."""
        if epoch != self.epoch:
            return {}
        out: dict[int, dict[str, int]] = {}
        for name, seq in resume.items():
            try:
                targets = self.channel_shards(name)
            except ApiError:
                continue  # a resume point for a channel not asked for is ignored anyway
            if len(targets) == 1:
                ((shard, there),) = targets.items()
                out.setdefault(shard, {})[there] = seq
        return out


def outside(shard: int, name: str) -> str:
    """A shard's channel as the router's clients see it."""
    return f"{name}.{shard}" if name in PRIVATE else name


def rename_push(push: dict[str, Any], shard: int, epoch: int) -> dict[str, Any]:
    """A push from a shard's gateway, as the router's client sees it."""
    ch = push.get("ch")
    if ch in PRIVATE:
        push["ch"] = f"{ch}.{shard}"
    elif ch == "heartbeat" and isinstance(push.get("data"), dict):
        data = push["data"]
        data["epoch"] = epoch
        if isinstance(data.get("seqs"), dict):
            data["seqs"] = {outside(shard, name): seq for name, seq in data["seqs"].items()}
        data["shard"] = shard
    return push


# --- merging the shards' answers ---------------------------------------------------------------

def merge_subscribed(results: dict[int, dict[str, Any]], ours: dict[tuple[int, str], str],
                     epoch: int) -> dict[str, Any]:
    subscribed = {ours[(shard, name)]: state for shard, result in results.items()
                  for name, state in result.get("subscribed", {}).items()
                  if (shard, name) in ours}
    return {"subscribed": subscribed, "epoch": epoch}


def merge_funds(results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The account's funds over every shard, and each shard's own."""
    merged: dict[str, Any] = {}
    for shard in sorted(results):
        funds = results[shard]
        for key, value in funds.items():
            if key in FUNDS_SUMMED:
                merged[key] = merged.get(key, 0) + value
            elif key == "in_margin_call":
                merged[key] = merged.get(key, False) or value
            else:
                merged.setdefault(key, value)
    merged["shards"] = {str(shard): results[shard] for shard in sorted(results)}
    return merged


def merge_lists(results: dict[int, list[Any]]) -> list[Any]:
    return [item for shard in sorted(results) for item in results[shard]]
