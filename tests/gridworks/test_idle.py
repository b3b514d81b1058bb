"""The event loop's idle policy: the linger decision as data, the busy poll on a real loop,
its configuration, and `gridworks serve --idle spin` trading and reporting its polls."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.client import Client
from gridworks.config import from_environment
from gridworks.idle import BusyPoll, Linger, start_idle_policy
from tests.gridworks.test_serve import DEMO_LINE, free_port, read_until

MS = 1_000_000


def test_a_linger_spins_only_after_work_and_only_while_it_is_recent() -> None:
    linger = Linger(10 * MS)
    assert not linger.spin(0, 7)  # the first reading is a baseline, not work
    assert not linger.spin(50 * MS, 7)
    assert linger.spin(51 * MS, 8)  # work: spin from here ...
    assert linger.spin(60 * MS, 8)
    assert not linger.spin(61 * MS, 8)  # ... for the linger, then sleep
    assert linger.spin(70 * MS, 9)  # new work wakes it again
    assert linger.spin(75 * MS, 10)  # and every change restarts the linger
    assert linger.spin(84 * MS, 10)
    assert not linger.spin(85 * MS, 10)


def test_a_zero_linger_never_spins_and_a_negative_one_is_refused() -> None:
    linger = Linger(0)
    assert not linger.spin(0, 1)
    assert not linger.spin(1, 2)
    with pytest.raises(ValueError, match="negative"):
        Linger(-1)


async def test_the_busy_poll_spins_the_loop_while_work_moves_and_sleeps_after() -> None:
    work = [0]
    poll = BusyPoll(asyncio.get_running_loop(), lambda: work[0], linger_s=0.05, nap_s=0.002)
    poll.start()
    try:
        await asyncio.sleep(0.03)
        assert poll.polls == 0, "no work yet: the loop sleeps"
        work[0] += 1
        await asyncio.sleep(0.03)
        spun = poll.polls
        assert spun > 30, "within the linger the loop polls again at once, many times"
        await asyncio.sleep(0.08)
        settled = poll.polls
        await asyncio.sleep(0.03)
        assert poll.polls == settled, "after the linger it sleeps again"
        work[0] += 1
        await asyncio.sleep(0.03)
        assert poll.polls > settled, "new work wakes it"
    finally:
        poll.stop()
    assert not poll.running
    stopped = poll.polls
    work[0] += 1
    await asyncio.sleep(0.02)
    assert poll.polls == stopped


async def test_the_sleep_policy_starts_nothing_and_an_unknown_one_is_refused() -> None:
    assert start_idle_policy("sleep", lambda: 0, 50) is None
    poll = start_idle_policy("spin", lambda: 0, 50)
    assert poll is not None
    assert poll.running
    poll.stop()
    with pytest.raises(ValueError, match="idle policy"):
        start_idle_policy("doze", lambda: 0, 50)  # type: ignore[arg-type]


def test_idle_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_environment().idle == "sleep"
    monkeypatch.setenv("GRIDWORKS_IDLE", "spin")
    monkeypatch.setenv("GRIDWORKS_SPIN_LINGER_MS", "20")
    config = from_environment()
    assert (config.idle, config.spin_linger_ms) == ("spin", 20)


@pytest.mark.timeout(120)
async def test_serve_with_the_spin_policy_trades_and_reports_its_polls(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridworks.cli", "serve", "--data", str(tmp_path / "data"),
         "--port", str(port), "--rest-port", "-1", "--fsync", "os", "--idle", "spin"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = await asyncio.to_thread(read_until, proc, "WebSocket API on")
        assert "idle: spin" in lines[-1]
        (demo,) = [m for line in lines if (m := DEMO_LINE.search(line))]
        client = await Client.connect(f"ws://127.0.0.1:{port}/")
        try:
            await client.login(demo.group(2), demo.group(3))
            for n in range(3):
                placed = await client.request("place", symbol="RELIANCE", side="buy", qty=1,
                                              price=130_000, client_order_id=f"spin-{n}")
                assert placed["status"] == "OPEN"
        finally:
            await client.close()
        status = await asyncio.to_thread(_status, port)
        assert status["idle"]["policy"] == "spin"
        assert status["idle"]["polls"] > 0, "the batches set the loop polling"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0
    assert "stopped at seq" in out


def _status(port: int) -> dict:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as reply:
                return json.loads(reply.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
