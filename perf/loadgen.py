"""Load generators for the gateway benchmarks, each run in its own process.

    python -m perf.loadgen orders --port P --keys JSON --rate 1000 --seconds 10 --out F.npy
    python -m perf.loadgen subscribe --port P --connections 1000 --channel depth.RELIANCE ...
    python -m perf.loadgen driver --port P --keys JSON --rate 100 --seconds 10

Arrivals follow a fixed schedule (open loop): request ``i`` of a connection is due at
``start + i / rate``, and its latency is measured from that scheduled time, not from when
the generator got round to sending it, so a stall anywhere (server or generator) shows in
the figures instead of silently lowering the offered load. Each generator writes its
latencies (ns) to ``--out`` as a numpy array and prints a JSON summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from accounts.keys import login_args
from perf.pacing import wait_until
from perf.wsclient import BlockingSocket, RawSocket, frame


class Item(msgspec.Struct):
    """The fields of a reply or push that the generators read; the rest is skipped."""

    id: Any = None
    ok: bool | None = None
    error: dict | None = None
    ch: str | None = None
    ts: int = 0
    snapshot: bool = False


SPIN_NS = 200_000
DECODE = msgspec.json.Decoder(list[Item] | Item).decode
ENCODE = msgspec.json.Encoder().encode


def items(payload: bytes) -> list[Item]:
    decoded = DECODE(payload)
    return decoded if isinstance(decoded, list) else [decoded]


async def login(port: int, key: list, on_message: Any) -> tuple[RawSocket, asyncio.Queue]:
    """A connection logged in with ``key`` ([account, key id, secret]); replies to string
    ids go to the returned queue, everything else to ``on_message``."""
    control: asyncio.Queue[Item] = asyncio.Queue()

    def route(payload: bytes, now: int) -> None:
        for item in items(payload):
            if isinstance(item.id, str):
                control.put_nowait(item)
            else:
                on_message(item, now)

    sock = await RawSocket.connect(port, route)
    if key:
        sock.send(ENCODE({"id": "login", "op": "login", "args": login_args(key[1], key[2])}))
        reply = await asyncio.wait_for(control.get(), 10)
        if not reply.ok:
            raise RuntimeError(f"login failed: {reply.error}")
    return sock, control


async def sleep_until(when_ns: int) -> None:
    delay = (when_ns - time.time_ns()) / 1e9
    await asyncio.sleep(max(0.0, delay))


# --- orders --------------------------------------------------------------------------------------

class OrderStream:
    """One connection placing alternating buy and sell limit orders on a fixed schedule."""

    def __init__(self, index: int, count: int, symbol: str, price: int, spread: int) -> None:
        self.index = index
        self.scheduled = np.zeros(count, dtype=np.int64)
        self.sent_at = np.zeros(count, dtype=np.int64)
        self.answered = np.zeros(count, dtype=np.int64)
        self.symbol, self.price, self.spread = symbol, price, spread
        self.sent = 0
        self.outcomes: Counter[str] = Counter()
        self.logged_in = False
        self.login_error: dict | None = None
        self.sock: BlockingSocket | None = None

    def on_message(self, payload: bytes, now: int) -> None:
        for item in items(payload):
            if isinstance(item.id, int) and 0 <= item.id < len(self.answered):
                self.answered[item.id] = now
                self.outcomes["ok" if item.ok else (item.error or {}).get("code", "?")] += 1
            elif item.id == "login":
                self.login_error = None if item.ok else item.error
                self.logged_in = True

    def login(self, port: int, key: list) -> None:
        self.sock = BlockingSocket(port, self.on_message)
        self.sock.send_frames(frame(ENCODE({"id": "login", "op": "login",
                                            "args": login_args(key[1], key[2])})))
        deadline = time.monotonic() + 10
        while not self.logged_in and time.monotonic() < deadline:
            read_replies([self], 0.05)
        if not self.logged_in or self.login_error:
            raise RuntimeError(f"login failed: {self.login_error}")

    def request(self, i: int) -> bytes:
        buy = i % 2 == 0
        return ENCODE({"id": i, "op": "place", "args": {
            "symbol": self.symbol, "side": "buy" if buy else "sell", "qty": 1,
            "price": self.price if buy else self.price + self.spread,
            "client_order_id": f"b{self.index}-{i}"}})


def read_replies(streams: list[OrderStream], timeout: float) -> None:
    """Read what has arrived on any connection, waiting up to ``timeout`` s for something.
    Sending and reading share one thread: reader threads would contend with the sender for
    the interpreter and for the two cores, and make the sender late by milliseconds."""
    socks = {s.sock.sock: s.sock for s in streams if s.sock is not None and s.sock.open}
    if not socks:  # every connection closed: nothing will arrive
        time.sleep(max(0.0, timeout))
        return
    readable, _, _ = select.select(list(socks), [], [], max(0.0, timeout))
    for sock in readable:
        socks[sock].read_ready()


def send_on_schedule(streams: list[OrderStream], rate: float, start: int, end: int,
                     batch: int) -> None:
    """Round-robin over the connections at ``rate`` in all: order ``k`` is due at
    ``start + k / rate``; whatever is due when the sender wakes goes out at once, one
    request per frame, or up to ``batch`` per array frame when ``batch`` > 1. Between
    sends it reads the replies (their arrival times are taken as they are read)."""
    interval = 1e9 / rate
    n = len(streams)
    total = sum(len(s.scheduled) for s in streams)
    k = 0
    while k < total:
        now = time.time_ns()
        if now >= end:
            break
        due = min(total, int((now - start) // interval) + 1)
        chunks: dict[int, list[bytes]] = {}
        for j in range(k, due):
            stream = streams[j % n]
            i = stream.sent
            stream.scheduled[i] = start + int(j * interval)
            stream.sent_at[i] = now
            stream.sent += 1
            chunks.setdefault(j % n, []).append(stream.request(i))
        for index, payloads in chunks.items():
            sock = streams[index].sock
            assert sock is not None
            if batch > 1:
                groups = [payloads[g : g + batch] for g in range(0, len(payloads), batch)]
                sock.send_frames(b"".join(frame(b"[" + b",".join(g) + b"]") for g in groups))
            else:
                sock.send_frames(b"".join(frame(p) for p in payloads))
        k = max(k, due)
        # a poll wakes up to ~0.1 ms late: wait short, spin the rest
        wait_until(start + int(k * interval), lambda t: read_replies(streams, t), SPIN_NS,
                   time.time_ns)


def orders(args: argparse.Namespace) -> dict:
    keys = json.loads(args.keys)
    count = int(args.rate * args.seconds / len(keys)) + 2
    streams = [OrderStream(n, count, args.symbol, args.price, args.spread)
               for n in range(len(keys))]
    for stream, key in zip(streams, keys, strict=True):
        stream.login(args.port, key)
    start = time.time_ns() + 200_000_000
    end = start + int(args.seconds * 1e9)
    time.sleep(0.2)
    send_on_schedule(streams, args.rate, start, end, args.batch)
    drain_until = time.time_ns() + 20_000_000_000
    while time.time_ns() < drain_until and any(
            (s.answered[: s.sent] == 0).any() for s in streams):
        read_replies(streams, 0.05)
    warm = start + int(args.warmup * 1e9)
    latencies, lags, unanswered, outcomes = [], [], 0, Counter()
    for s in streams:
        sched, ans, sent = s.scheduled[: s.sent], s.answered[: s.sent], s.sent_at[: s.sent]
        unanswered += int((ans == 0).sum())
        keep = (ans > 0) & (sched >= warm)
        latencies.append(ans[keep] - sched[keep])
        lags.append(sent[keep] - sched[keep])
        outcomes += s.outcomes
        if s.sock is not None:
            s.sock.close()
    lat = np.concatenate(latencies)
    np.save(args.out, lat)
    sent_total = sum(s.sent for s in streams)
    lag = np.concatenate(lags)
    answered = np.concatenate([s.answered[: s.sent] for s in streams])
    answered = answered[answered > 0]
    span = (answered.max() - start) / 1e9 if len(answered) else 0.0
    return {"sent": sent_total, "measured": len(lat), "unanswered": unanswered,
            "offered_per_s": round(sent_total / args.seconds),
            "answered_per_s": round(len(answered) / span) if span else 0,
            # refusals (SERVER_BUSY) are answers too, and cheap ones: count orders taken apart
            "accepted_per_s": round(outcomes.get("ok", 0) / span) if span else 0,
            "outcomes": dict(outcomes),
            "send_lag_us": {"p50": round(float(np.percentile(lag, 50)) / 1e3, 1),
                            "p99": round(float(np.percentile(lag, 99)) / 1e3, 1)}}


# --- market-data subscribers ---------------------------------------------------------------------

async def subscribe(args: argparse.Namespace) -> dict:
    latencies: list[int] = []
    warm = time.time_ns() + int(args.warmup * 1e9)
    channel = args.channel

    def on_push(item: Item, now: int) -> None:
        # counted by when the core accepted the update, as the driver's schedule is
        if item.ch == channel and not item.snapshot and item.ts >= warm:
            latencies.append(now - item.ts)

    socks = []
    for _ in range(args.connections):
        sock, control = await login(args.port, [], on_push)
        sock.send(ENCODE({"id": "sub", "op": "subscribe", "args": {"channels": [channel]}}))
        socks.append((sock, control))
    for _, control in socks:
        reply = await asyncio.wait_for(control.get(), 30)
        assert reply.ok, reply.error
    ready = Path(args.ready)
    ready.write_text("ready")  # the driver may start
    warm = time.time_ns() + int(args.warmup * 1e9)
    await asyncio.sleep(args.seconds)
    for sock, _ in socks:
        sock.close()
    lat = np.array(latencies, dtype=np.int64)
    np.save(args.out, lat)
    return {"connections": args.connections, "received": len(lat), "counted_from_ns": warm}


async def driver(args: argparse.Namespace) -> dict:
    """Moves the top of one instrument's book ``rate`` times a second: place a bid one tick
    better than the best, then cancel it, so every command changes the depth."""
    (key,) = json.loads(args.keys)
    outcomes: Counter[str] = Counter()

    def on_reply(item: Item, now: int) -> None:
        if item.ok is not None:  # a reply, not a push (heartbeats come here too)
            outcomes["ok" if item.ok else (item.error or {}).get("code", "?")] += 1

    sock, _ = await login(args.port, key, on_reply)
    interval = 1e9 / args.rate
    start = time.time_ns()
    end = start + int(args.seconds * 1e9)
    i = 0
    while time.time_ns() < end:
        cid = f"d{i // 2}"
        if i % 2 == 0:
            request = {"id": i, "op": "place", "args": {
                "symbol": args.symbol, "side": "buy", "qty": 1 + i % 7, "price": args.price,
                "client_order_id": cid}}
        else:
            request = {"id": i, "op": "cancel", "args": {"client_order_id": cid}}
        sock.send(ENCODE(request))
        i += 1
        await sleep_until(start + int(i * interval))
    await asyncio.sleep(0.5)
    sock.close()
    return {"sent": i, "outcomes": dict(outcomes), "start_ns": start,
            "interval_ns": interval}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["orders", "subscribe", "driver"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", default="[]")
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--symbol", default="RELIANCE")
    parser.add_argument("--price", type=int, default=141_230)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="requests per frame at most")
    parser.add_argument("--spread", type=int, default=0,
                        help="sells this many paise above the buys (0: they trade)")
    parser.add_argument("--channel", default="depth.RELIANCE")
    parser.add_argument("--ready", default="")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    if args.mode == "orders":
        print(json.dumps(orders(args)), flush=True)
        return 0
    run = {"subscribe": subscribe, "driver": driver}[args.mode]
    import uvloop

    print(json.dumps(uvloop.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
