"""FIX order entry load, from its own process, over one session.

    python -m perf.fix_loadgen --port P --comp-id BENCH0 --key-id K --secret S \\
        --rate 10000 --seconds 5 --out F.npy        # a fixed arrival rate
    python -m perf.fix_loadgen ... --rate 0 --orders 50000 --window 2000   # flat out

At a fixed rate each NewOrderSingle is due at ``start + i / rate`` and sent at that moment;
its latency runs from the due time to the ExecutionReport(New) that acknowledges it, so a
server (or client) that falls behind shows as latency, not as a lower rate (no coordinated
omission). Flat out, up to ``window`` orders are in flight and the figure is the
acknowledged orders per second. Orders never cross (buys below, sells above the market), so
every one rests and is acknowledged once. Messages are built and read with byte operations
only: the client must cost less than the server it measures. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

SOH = b"\x01"


def stamp(ns: int) -> bytes:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)).encode() + (
        b".%03d" % (rest // 1_000_000))


def frame(msg_type: bytes, fields: bytes) -> bytes:
    body = b"35=" + msg_type + SOH + fields
    head = b"8=FIX.4.4\x019=" + str(len(body)).encode() + SOH
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 comp_id: str) -> None:
        self.reader, self.writer = reader, writer
        self.header = f"49={comp_id}\x0156=GRIDWORKS\x0134=".encode()
        self.seq = 1
        self.buffer = b""

    def build(self, msg_type: bytes, body: bytes, now_ns: int) -> bytes:
        fields = self.header + str(self.seq).encode() + b"\x0152=" + stamp(now_ns) + SOH + body
        self.seq += 1
        return frame(msg_type, fields)

    async def messages(self) -> list[bytes]:
        """The whole messages that have arrived (waits for at least some bytes)."""
        data = await self.reader.read(1 << 20)
        if not data:
            raise ConnectionError("the server closed the session")
        buf, out, pos = self.buffer + data, [], 0
        while True:  # a message ends 8 bytes into its "<SOH>10=NNN<SOH>" trailer
            end = buf.find(b"\x0110=", pos)
            if end < 0 or len(buf) < end + 8:
                break
            out.append(buf[pos:end + 8])
            pos = end + 8
        self.buffer = buf[pos:]
        return out


def order_body(i: int, now_ns: int) -> bytes:
    buy = i % 2 == 0
    price = b"1300.00" if buy else b"1500.00"
    return (b"11=o" + str(i).encode() + b"\x0155=RELIANCE\x0154=" + (b"1" if buy else b"2")
            + b"\x0160=" + stamp(now_ns) + b"\x0138=1\x0140=2\x0144=" + price + SOH)


def acked(message: bytes) -> int | None:
    """The order number an ExecutionReport(New) acknowledges, if it is one."""
    if b"\x0135=8\x01" not in message or b"\x01150=0\x01" not in message:
        return None
    start = message.find(b"\x0111=o") + 5
    return int(message[start:message.find(SOH, start)])


async def logon(port: int, comp_id: str, key_id: str, secret: str) -> Session:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    session = Session(reader, writer, comp_id)
    credentials = f"98=0\x01108=30\x01141=Y\x01553={key_id}\x01554={secret}\x01".encode()
    writer.write(session.build(b"A", credentials, time.time_ns()))
    while not any(b"\x0135=A\x01" in m for m in await session.messages()):
        pass
    return session


async def fixed_rate(session: Session, rate: float, seconds: float) -> tuple[dict, np.ndarray]:
    total = int(rate * seconds)
    due = np.zeros(total, dtype=np.int64)
    lag = np.zeros(total, dtype=np.int64)  # sent after its due time: the generator's lateness
    latency = np.full(total, -1, dtype=np.int64)
    done = asyncio.Event()
    seen = 0

    async def read() -> None:
        nonlocal seen
        while seen < total:
            for message in await session.messages():
                number = acked(message)
                if number is not None:
                    latency[number] = time.perf_counter_ns() - due[number]
                    seen += 1
        done.set()

    reader = asyncio.create_task(read())
    start = time.perf_counter_ns() + 50_000_000
    wall = time.time_ns() - time.perf_counter_ns()
    sent = 0
    while sent < total:
        now = time.perf_counter_ns()
        chunk = []
        while sent < total and start + sent * 1e9 / rate <= now:
            due[sent] = int(start + sent * 1e9 / rate)
            lag[sent] = now - due[sent]
            chunk.append(session.build(b"D", order_body(sent, wall + now), wall + now))
            sent += 1
        if chunk:
            session.writer.write(b"".join(chunk))
        # The event loop's timers fire to the millisecond: sleep until just before the next
        # order is due, then yield to the loop (reading replies) until it is.
        wait = start + sent * 1e9 / rate - time.perf_counter_ns()
        await asyncio.sleep((wait - 1_500_000) / 1e9 if wait > 2_000_000 else 0)
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        reader.cancel()
    missing = int((latency < 0).sum())
    late = {"p50": round(float(np.percentile(lag, 50)) / 1e3, 1),
            "p99": round(float(np.percentile(lag, 99)) / 1e3, 1)}
    return ({"orders": total, "acknowledged": total - missing, "send_lag_us": late},
            latency[latency >= 0])


async def flat_out(session: Session, orders: int, window: int) -> dict:
    in_flight = asyncio.Semaphore(window)
    seen = 0
    done = asyncio.Event()

    async def read() -> None:
        nonlocal seen
        while seen < orders:
            for message in await session.messages():
                if acked(message) is not None:
                    seen += 1
                    in_flight.release()
        done.set()

    reader = asyncio.create_task(read())
    started = time.perf_counter()
    for i in range(orders):
        await in_flight.acquire()
        now = time.time_ns()
        session.writer.write(session.build(b"D", order_body(i, now), now))
        if i % 64 == 63:
            await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), 60)
    elapsed = time.perf_counter() - started
    reader.cancel()
    return {"orders": orders, "seconds": round(elapsed, 3),
            "acknowledged_per_s": round(orders / elapsed)}


async def run(args: argparse.Namespace) -> dict:
    session = await logon(args.port, args.comp_id, args.key_id, args.secret)
    if args.rate > 0:
        summary, latencies = await fixed_rate(session, args.rate, args.seconds)
        if args.out:
            np.save(args.out, latencies)
    else:
        summary = await flat_out(session, args.orders, args.window)
    session.writer.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--comp-id", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--rate", type=float, default=1_000.0, help="orders/s (0: flat out)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--orders", type=int, default=50_000, help="flat out: how many")
    parser.add_argument("--window", type=int, default=2_000, help="flat out: in flight")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    import uvloop

    print(json.dumps(uvloop.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
