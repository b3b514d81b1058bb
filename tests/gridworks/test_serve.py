"""`gridworks serve --simulate` as a user runs it: a process that prints how to log in, a
market that moves on its own, a demo trader who can trade against it, a clean stop."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.client import Client
from gridworks.commands_serve import round_the_clock
from gridworks.config import NodeConfig

pytestmark = pytest.mark.timeout(120)
DEMO_LINE = re.compile(r"demo trader: account (\d+) 'demo', key id (\S+), secret (\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never printed; got {lines}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridworks.cli", "serve", "--data", str(tmp_path / "data"),
         "--port", str(port), "--rest-port", "0", "--fsync", "os", "--simulate",
         "--sim-speed", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = read_until(proc, "market simulator on")
        yield proc, port, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_serve_simulate_makes_a_market_the_demo_trader_can_trade(
        server: tuple[subprocess.Popen[str], int, list[str]]) -> None:
    proc, port, lines = server
    (demo,) = [m for line in lines if (m := DEMO_LINE.search(line))]
    client = await Client.connect(f"ws://127.0.0.1:{port}/")
    try:
        await client.login(demo.group(2), demo.group(3))
        await client.request("subscribe", channels=["trades.RELIANCE"])
        await client.next_push("trades.RELIANCE")  # the snapshot
        trade = await client.next_push("trades.RELIANCE", timeout=30)
        assert trade["data"]["trades"], "the simulated takers trade"
        await client.request("subscribe", channels=["depth.RELIANCE"])
        snapshot = await client.next_push("depth.RELIANCE")
        assert snapshot["snapshot"]
        assert snapshot["data"]["bids"]
        assert snapshot["data"]["asks"]
        update = await client.next_push("depth.RELIANCE", timeout=30)
        assert update["seq"] == snapshot["seq"] + 1
        bought = await client.request("place", symbol="RELIANCE", side="buy", qty=1,
                                      type="market", tif="ioc", client_order_id="demo-1")
        assert (bought["status"], bought["filled"]) == ("FILLED", 1)
        (position,) = (await client.request("positions"))["positions"]
        assert position["net"] == 1
    finally:
        await client.close()
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0
    assert "stopped at seq" in out


def test_a_simulated_market_trades_round_the_clock_unless_configured() -> None:
    config = round_the_clock(NodeConfig(), {})
    assert (config.square_off_at, config.end_of_day_at) == ("", "")
    configured = round_the_clock(NodeConfig(square_off_at="15:10"),
                                 {"GRIDWORKS_SQUARE_OFF_AT": "15:10"})
    assert (configured.square_off_at, configured.end_of_day_at) == ("15:10", "")
