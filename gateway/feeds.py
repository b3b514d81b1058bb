"""Channels: gapless sequence numbers, a retention ring for resume, encode-once delivery.

A channel numbers its messages 1, 2, 3, ... and keeps the last ``retention`` of them, so a
client that reconnects with the last sequence number it saw gets exactly what it missed,
or, when that is no longer kept, a fresh snapshot. A message is encoded at most once per
wire format, however many connections receive it.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from gateway.protocol import Format, Push, encode, wire_frame


class Subscriber(Protocol):
    def deliver(self, message: Published, public: bool) -> None: ...


class Published:
    __slots__ = ("_frames", "_wires", "channel", "data", "seq", "snapshot", "ts")

    def __init__(self, channel: str, seq: int, ts: int, data: Any,
                 snapshot: bool = False) -> None:
        self.channel, self.seq, self.ts, self.data = channel, seq, ts, data
        self.snapshot = snapshot
        self._frames: dict[str, bytes] = {}
        self._wires: dict[str, bytes] = {}

    def frame(self, fmt: Format) -> bytes:
        frame = self._frames.get(fmt)
        if frame is None:
            push = Push(self.channel, self.seq, self.ts, self.data, self.snapshot)
            frame = self._frames[fmt] = encode(push, fmt)
        return frame

    def wire(self, fmt: Format) -> bytes:
        """The message alone as a complete WebSocket frame, shared by every subscriber."""
        wire = self._wires.get(fmt)
        if wire is None:
            wire = self._wires[fmt] = wire_frame(self.frame(fmt), fmt)
        return wire


class Channel:
    def __init__(self, key: str, public: bool, retention: int = 1_000,
                 wire_name: str | None = None) -> None:
        self.key = key
        self.name = wire_name or key  # what clients see in ``ch``
        self.public = public
        self.seq = 0
        self.ring: deque[Published] = deque(maxlen=retention)
        self.subscribers: set[Subscriber] = set()

    def publish(self, data: Any, ts: int) -> Published:
        self.seq += 1
        message = Published(self.name, self.seq, ts, data)
        self.ring.append(message)
        for subscriber in self.subscribers:
            subscriber.deliver(message, self.public)
        return message

    def invalidate(self) -> None:
        """The state behind the channel changed while nobody followed it: the next number
        is used up and nothing is kept, so a resume from before gets a fresh snapshot."""
        self.seq += 1
        self.ring.clear()

    def since(self, seq: int) -> list[Published] | None:
        """Messages after ``seq``, or None when some of them are no longer kept (or ``seq``
        is beyond anything this channel has sent)."""
        if seq > self.seq:
            return None
        if seq == self.seq:
            return []
        if not self.ring or self.ring[0].seq > seq + 1:
            return None
        return [m for m in self.ring if m.seq > seq]

    def snapshot_message(self, data: Any, ts: int) -> Published:
        """A snapshot stamped with the channel's current sequence number: updates after it
        carry the following numbers."""
        return Published(self.name, self.seq, ts, data, snapshot=True)


class Feeds:
    """All channels by name, created on first use. Private channels are named
    ``orders@ACCOUNT`` internally and shown to their owner without the suffix."""

    def __init__(self, retention: int = 1_000) -> None:
        self.retention = retention
        self.channels: dict[str, Channel] = {}
        # Accounts with a private channel in this run: the rest (most, under load) are
        # passed over without building a channel name.
        self.private_accounts: set[int] = set()

    def public(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = Channel(name, True, self.retention)
        return channel

    def exists(self, name: str, account: int) -> bool:
        """Someone subscribed to this private channel in this run."""
        return account in self.private_accounts and f"{name}@{account}" in self.channels

    @staticmethod
    def every(name: str, account: int) -> bool:
        """Every private channel is kept (numbered by the log: someone may resume it)."""
        return True

    def followed(self, name: str, account: int) -> bool:
        if account not in self.private_accounts:
            return False
        channel = self.channels.get(f"{name}@{account}")
        return channel is not None and bool(channel.subscribers)

    def private(self, name: str, account: int) -> Channel:
        key = f"{name}@{account}"
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = Channel(key, False, self.retention, wire_name=name)
            self.private_accounts.add(account)
        return channel

