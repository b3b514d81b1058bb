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
import json
import select
import socket
import sys
import time
from pathlib import Path

import numpy as np

from perf.pacing import keep_timers_tight, wait_until

SOH = b"\x01"
SPIN_NS = 60_000  # a poll wakes up to about this late: spin the rest of the wait


def stamp(ns: int) -> bytes:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)).encode() + (
        b".%03d" % (rest // 1_000_000))


def frame(msg_type: bytes, fields: bytes) -> bytes:
    body = b"35=" + msg_type + SOH + fields
    head = b"8=FIX.4.4\x019=" + str(len(body)).encode() + SOH
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


class Session:
    """One FIX session on a blocking socket: sends go out at once; replies are read when a
    poll says they are there."""

    def __init__(self, sock: socket.socket, comp_id: str) -> None:
        self.sock = sock
        self.header = f"49={comp_id}\x0156=GRIDWORKS\x0134=".encode()
        self.seq = 1
        self.buffer = b""

    def build(self, msg_type: bytes, body: bytes, now_ns: int) -> bytes:
        fields = self.header + str(self.seq).encode() + b"\x0152=" + stamp(now_ns) + SOH + body
        self.seq += 1
        return frame(msg_type, fields)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def messages(self, timeout: float) -> list[bytes]:
        """The whole messages that have arrived, waiting up to ``timeout`` s for the first
        of them."""
        if not select.select([self.sock], [], [], max(0.0, timeout))[0]:
            return []
        data = self.sock.recv(1 << 20)
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


def logon(port: int, comp_id: str, key_id: str, secret: str) -> Session:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    session = Session(sock, comp_id)
    credentials = f"98=0\x01108=30\x01141=Y\x01553={key_id}\x01554={secret}\x01".encode()
    session.send(session.build(b"A", credentials, time.time_ns()))
    deadline = time.monotonic() + 30
    while not any(b"\x0135=A\x01" in m for m in session.messages(1.0)):
        if time.monotonic() > deadline:
            raise TimeoutError("no Logon answer")
    return session


def fixed_rate(session: Session, rate: float, seconds: float) -> tuple[dict, np.ndarray]:
    """Each order sent when it is due; the replies read in between (`perf.pacing`)."""
    total = int(rate * seconds)
    due = np.zeros(total, dtype=np.int64)
    lag = np.zeros(total, dtype=np.int64)  # sent after its due time: the generator's lateness
    latency = np.full(total, -1, dtype=np.int64)
    seen = 0

    def read(timeout: float) -> None:
        nonlocal seen
        for message in session.messages(timeout):
            number = acked(message)
            if number is not None:
                latency[number] = time.perf_counter_ns() - due[number]
                seen += 1

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
            session.send(b"".join(chunk))
        wait_until(start + sent * 1e9 / rate, read, SPIN_NS)
    deadline = time.monotonic() + 30
    while seen < total and time.monotonic() < deadline:
        read(0.1)
    missing = int((latency < 0).sum())
    late = {"p50": round(float(np.percentile(lag, 50)) / 1e3, 1),
            "p99": round(float(np.percentile(lag, 99)) / 1e3, 1)}
    return ({"orders": total, "acknowledged": total - missing, "send_lag_us": late},
            latency[latency >= 0])


def flat_out(session: Session, orders: int, window: int) -> dict:
    seen = sent = 0
    started = time.perf_counter()
    deadline = time.monotonic() + 60
    while seen < orders:
        if sent < orders and sent - seen < window:
            burst = min(orders - sent, window - (sent - seen), 64)
            now = time.time_ns()
            session.send(b"".join(session.build(b"D", order_body(sent + k, now), now)
                                  for k in range(burst)))
            sent += burst
            timeout = 0.0
        else:
            timeout = 1.0
        seen += sum(acked(m) is not None for m in session.messages(timeout))
        if time.monotonic() > deadline:
            raise TimeoutError(f"{orders - seen} orders unacknowledged")
    elapsed = time.perf_counter() - started
    return {"orders": orders, "seconds": round(elapsed, 3),
            "acknowledged_per_s": round(orders / elapsed)}


def run(args: argparse.Namespace) -> dict:
    keep_timers_tight()
    session = logon(args.port, args.comp_id, args.key_id, args.secret)
    if args.rate > 0:
        summary, latencies = fixed_rate(session, args.rate, args.seconds)
        if args.out:
            np.save(args.out, latencies)
    else:
        summary = flat_out(session, args.orders, args.window)
    session.sock.close()
    return summary


def parser() -> argparse.ArgumentParser:
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
