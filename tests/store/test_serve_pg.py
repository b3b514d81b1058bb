"""`gridworks db migrate` and `gridworks serve --pg --redis` as a user runs them: the
simulated market's history arrives in PostgreSQL while the node serves, /status reports the
lag, and the per-key limits are shared through Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from perf import processes
from store.migrate import migrations
from tests.gridworks.test_serve import free_port, read_until
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(180)


async def relayed_like_the_node(epoch: int, prefix: str) -> None:
    """`gridworks relay` serves the node's market data in the node's epoch."""
    from gateway.client import Client

    port = free_port()
    relay = subprocess.Popen([sys.executable, "-m", "gridworks.cli", "relay", "--redis", REDIS,
                              "--port", str(port)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "GRIDWORKS_REDIS_PREFIX": prefix})
    try:
        read_until(relay, "market-data relay on", timeout=60)
        client = await Client.connect(f"ws://127.0.0.1:{port}/")
        reply = await client.request("subscribe", channels=["depth.RELIANCE"])
        assert reply["epoch"] == epoch
        snapshot = await client.next_push("depth.RELIANCE")
        assert snapshot.get("snapshot") is True
        update = await client.next_push("depth.RELIANCE", timeout=10)  # the market moves
        assert update["seq"] > snapshot["seq"]
        await client.close()
    finally:
        processes.stop(relay, timeout=10)


def gridworks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gridworks.cli", *args], capture_output=True,
                          text=True, timeout=120, check=False)


async def test_serve_projects_the_simulated_market(pg_dsn: str, tmp_path: Path,
                                                   redis_prefix: str) -> None:
    every = ", ".join(str(m.version) for m in migrations())
    assert gridworks("db", "migrate", "--pg", pg_dsn).stdout.strip() == f"applied {every}"
    assert gridworks("db", "migrate", "--pg", pg_dsn).stdout.strip() == "up to date"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridworks.cli", "serve", "--data", str(tmp_path / "data"),
         "--port", str(port), "--rest-port", "0", "--fsync", "os", "--simulate",
         "--sim-speed", "2", "--pg", pg_dsn, "--redis", REDIS],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "GRIDWORKS_REDIS_PREFIX": redis_prefix})
    try:
        printed = read_until(proc, "market simulator on", timeout=120)
        assert any("projecting history into PostgreSQL" in line for line in printed)
        conn = await asyncpg.connect(pg_dsn)
        try:
            deadline = time.monotonic() + 30
            while await conn.fetchval("SELECT count(*) FROM trading.fills") < 20:
                assert time.monotonic() < deadline, "no fills projected"
                time.sleep(0.2)
            status = json.loads(urllib.request.urlopen(
                f"http://127.0.0.1:{port}/status", timeout=5).read())
            projector = status["projector"]
            assert projector["connected"] is True
            assert projector["failures"] == 0
            assert projector["projected_seq"] > 0
            assert projector["lag"] < 5_000
            assert status["gateway"]["key_limits"]["shared"] is True
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            assert b"gridworks_projector_lag" in metrics
            accounts = {r["name"] for r in await conn.fetch("SELECT name FROM users.accounts")}
            assert {"operator", "demo", "sim-maker-1", "sim-taker-1"} <= accounts
            await relayed_like_the_node(status["gateway"]["epoch"], redis_prefix)
        finally:
            await conn.close()
    finally:
        processes.stop(proc, timeout=15)
    status_out = gridworks("db", "status", "--pg", pg_dsn).stdout
    assert "0001 trading" in status_out
    assert "applied" in status_out
    assert "projection at seq" in status_out
