"""End to end, as a FIX user runs it: ``gridworks serve --simulate --fix-config`` in its own
process, and a client built on simplefix (an independent FIX implementation: our encoder
and parser are not used on the client side) that logs on, sends orders, and receives
their ExecutionReports and fills against the simulated market makers' orders."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import simplefix

from accounts.users import HASHER
from tests.gridworks.test_serve import free_port, read_until

pytestmark = pytest.mark.timeout(120)
PASSWORD = "the demo desk's password"


class SimpleFixClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = simplefix.FixParser()
        self.seq = 1

    async def send(self, msg_type: str, *pairs: tuple[int, object]) -> None:
        message = simplefix.FixMessage()
        message.append_pair(8, "FIX.4.4")
        message.append_pair(35, msg_type)
        message.append_pair(49, "DEMODESK", header=True)
        message.append_pair(56, "GRIDWORKS", header=True)
        message.append_pair(34, self.seq, header=True)
        message.append_utc_timestamp(52, precision=3, header=True)
        for tag, value in pairs:
            message.append_pair(tag, value)
        self.seq += 1
        self.writer.write(message.encode())
        await self.writer.drain()

    async def receive(self, msg_type: bytes, timeout: float = 15) -> simplefix.FixMessage:
        """The next message of this type (heartbeats and others in between are skipped)."""
        async def read() -> simplefix.FixMessage:
            while True:
                message = self.parser.get_message()
                if message is not None:
                    if message.get(35) == msg_type:
                        return message
                    continue
                data = await self.reader.read(65536)
                assert data, "the server closed the connection"
                self.parser.append_buffer(data)
        return await asyncio.wait_for(read(), timeout)


@pytest.fixture
def fix_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    config = tmp_path / "fix.toml"
    config.write_text(f'comp_id = "GRIDWORKS"\n\n[[sessions]]\ncomp_id = "DEMODESK"\n'
                      f'password_hash = "{HASHER.hash(PASSWORD)}"\naccounts = ["demo"]\n')
    fix_port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridworks.cli", "serve", "--data", str(tmp_path / "data"),
         "--port", str(free_port()), "--rest-port", "0", "--fsync", "os", "--simulate",
         "--sim-speed", "4", "--fix-config", str(config), "--fix-port", str(fix_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = read_until(proc, "market simulator on")
        assert any(f"FIX 4.4 acceptor on 127.0.0.1:{fix_port}" in line for line in lines)
        yield proc, fix_port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_a_simplefix_client_trades_against_the_simulated_market(
        fix_server: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = fix_server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = SimpleFixClient(reader, writer)
    await client.send("A", (98, 0), (108, 5), (554, PASSWORD))
    logon = await client.receive(b"A")
    assert logon.get(108) == b"5"
    # A marketable buy: the simulator's makers quote around the reference price.
    await client.send("D", (11, "e2e-1"), (55, "RELIANCE"), (54, 1), (38, 2), (40, 1),
                      (59, 3), (60, "20261201-00:00:00"))
    new = await client.receive(b"8")
    assert (new.get(150), new.get(39), new.get(11)) == (b"0", b"0", b"e2e-1")
    fills = []
    while sum(int(f.get(32)) for f in fills) < 2:
        report = await client.receive(b"8")
        assert report.get(150) == b"F", report
        fills.append(report)
    assert fills[-1].get(39) == b"2"
    assert int(fills[-1].get(14)) == 2
    assert float(fills[-1].get(31)) > 0
    # A resting buy far below the market, then cancelled.
    await client.send("D", (11, "e2e-2"), (55, "RELIANCE"), (54, 1), (38, 1), (40, 2),
                      (44, "1300.00"), (60, "20261201-00:00:00"))
    assert (await client.receive(b"8")).get(150) == b"0"
    await client.send("F", (41, "e2e-2"), (11, "e2e-3"), (55, "RELIANCE"), (54, 1),
                      (60, "20261201-00:00:00"))
    cancelled = await client.receive(b"8")
    assert (cancelled.get(150), cancelled.get(41)) == (b"4", b"e2e-2")
    await client.send("5")
    assert (await client.receive(b"5")).get(35) == b"5"
    writer.close()
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, out
