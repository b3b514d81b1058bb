"""``gridworks cluster up`` as a developer runs it: its own development broker, a shard's two
engines and two gateways; the demo trader trades through either gateway; Ctrl-C stops
every process it started."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.client import Client
from tests.gridworks.test_serve import read_until

pytestmark = pytest.mark.timeout(120)
GATEWAY_LINE = re.compile(r"(gateway-0-\d)\s+gateway\s+shard 0\s+ws://127\.0\.0\.1:(\d+)/")


async def test_cluster_up_serves_and_stops(tmp_path: Path, redis_prefix: str) -> None:
    env = {**os.environ, "GRIDWORKS_REDIS_PREFIX": redis_prefix}
    up = subprocess.Popen([sys.executable, "-m", "gridworks.cli", "cluster", "up", "--dir",
                           str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env)
    try:
        lines = read_until(up, "Ctrl-C stops the cluster")
        ports = [int(m.group(2)) for line in lines if (m := GATEWAY_LINE.search(line))]
        assert len(ports) == 2, lines
        demo = next(json.loads(p.read_text())
                    for p in tmp_path.glob("engine-0-*/credentials/demo.json"))
        for n, port in enumerate(ports):
            client = await Client.connect(f"ws://127.0.0.1:{port}/")
            try:
                await client.login(demo["key_id"], demo["secret"])
                placed = await client.request("place", symbol="RELIANCE", side="buy", qty=1,
                                              price=140_000, client_order_id=f"up{n}")
                assert placed["status"] == "OPEN"
                found = await client.request("orders")
                assert len(found) == n + 1  # the other gateway's order is here too
            finally:
                await client.close()
        up.send_signal(signal.SIGINT)
        assert up.wait(30) == 0
        leftover = subprocess.run(["pgrep", "-f", f"serve .*{tmp_path}"], capture_output=True,
                                  text=True)
        assert leftover.stdout.strip() == ""
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
