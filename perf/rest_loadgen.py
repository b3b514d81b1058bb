"""REST order placement at a fixed arrival rate, from its own process.

    python -m perf.rest_loadgen --port P --keys JSON --rate 500 --seconds 5 --out F.npy

Each order is due at ``start + i / rate``; it is sent at that moment (as its own task, over
the first free of a pool of keep-alive connections, signed with its account's key) and its
latency is measured
from the moment it was due to its reply, so a slow server or client shows up as latency
rather than as a lower rate (no coordinated omission). Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

from accounts import keys as signing


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time: written as bytes, the reply
    read by its Content-Length (httpx costs the generator more CPU than the server spends)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, target: str, body: bytes, headers: dict[str, str]) -> int:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def run(port: int, accounts: list[list], rate: float, seconds: float,
              connections: int, prefix: str = "r") -> tuple[dict, np.ndarray]:
    latencies: list[int] = []
    errors = 0
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))

    async def one(i: int, due: int) -> None:
        nonlocal errors
        _, key_id, secret = accounts[i % len(accounts)]
        side = "buy" if i % 2 else "sell"
        price = 130_000 - (i % 50) * 5 if side == "buy" else 150_000 + (i % 50) * 5
        body = json.dumps({"symbol": "RELIANCE", "side": side, "qty": 1, "price": price,
                           "client_order_id": f"{prefix}{i}"}).encode()
        headers = {**signing.request_headers(key_id, secret, "POST", "/orders", body),
                   "Content-Type": "application/json"}
        conn = await idle.get()
        try:
            status = await conn.post("/orders", body, headers)
        finally:
            idle.put_nowait(conn)
        latencies.append(time.perf_counter_ns() - due)
        if status != 200:
            errors += 1

    tasks = []
    start = time.perf_counter_ns() + 50_000_000
    total = int(rate * seconds)
    for i in range(total):
        due = start + int(i * 1e9 / rate)
        delay = (due - time.perf_counter_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().writer.close()
    return {"sent": total, "errors": errors}, np.array(latencies, dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keys", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prefix", default="r", help="of the client order ids")
    args = parser.parse_args(argv)
    import uvloop

    summary, latencies = uvloop.run(run(args.port, json.loads(args.keys), args.rate,
                                        args.seconds, args.connections, args.prefix))
    np.save(args.out, latencies)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
