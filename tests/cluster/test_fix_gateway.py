"""FIX on a cluster gateway, over a cluster of processes: two shards (RELIANCE on shard 0,
TCS on shard 1), shard 1's gateway running the FIX acceptor. A client built on simplefix
(an independent FIX implementation) logs on there, buys TCS, and gets its ExecutionReports
when a WebSocket client on the same shard sells into the order; the order id names shard 1.
The gateway is then killed with SIGKILL and started again on its data directory: the
session goes on with its sequence numbers, and the order's status comes back from the
shard's log."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from accounts.users import HASHER
from engine.sequencer import order_shard
from gateway.client import Client
from gridworks.cluster import ClusterPlan, LocalCluster
from tests.cluster.conftest import fix_logon, shared_account
from tests.gateway.fix.test_simplefix_e2e import PASSWORD
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(180)
FUNDS = 5_00_000_00


async def test_a_fix_session_on_a_cluster_gateway(broker: str, redis_prefix: str,
                                                  kafka_prefix: str, tmp_path: Path) -> None:
    sessions = tmp_path / "fix.toml"
    sessions.write_text(f'comp_id = "GRIDWORKS"\n\n[[sessions]]\ncomp_id = "DEMODESK"\n'
                        f'password_hash = "{HASHER.hash(PASSWORD)}"\naccounts = ["demo"]\n')
    plan = ClusterPlan(kafka=broker, redis=REDIS, shards=2, engines_per_shard=1,
                       gateways_per_shard=1, redis_prefix=redis_prefix,
                       kafka_prefix=kafka_prefix, kafka_idempotent=False,
                       fix_configs={1: str(sessions)}, env={"GRIDWORKS_FETCH_WAIT_MS": "5"})
    cluster = LocalCluster(tmp_path / "cluster", plan)
    desk = None
    seller = None
    try:
        cluster.start()
        (gateway,) = cluster.gateways(1)
        assert gateway.fix_port > 0
        assert cluster.gateways(0)[0].fix_port == -1  # only where configured
        desk, _, bob = await shared_account(cluster, "bob", FUNDS)

        fix = await fix_logon(gateway.fix_port)
        assert (await fix.receive(b"A")).get(108) == b"5"
        await fix.send("D", (11, "fix-1"), (55, "TCS"), (54, 1), (38, 2), (40, 2),
                       (44, "3050.00"), (60, "20261201-00:00:00"))
        new = await fix.receive(b"8")
        assert (new.get(150), new.get(39), new.get(11)) == (b"0", b"0", b"fix-1")
        order_id = int(new.get(37))
        assert order_shard(order_id) == 1

        seller = await Client.connect(f"ws://127.0.0.1:{gateway.port}/")
        await seller.login(bob.key_id, bob.secret)
        await seller.request("place", symbol="TCS", side="sell", qty=2, price=305_000,
                             client_order_id="bob-1")
        filled = 0
        while filled < 2:
            report = await fix.receive(b"8")
            assert report.get(150) == b"F", report
            filled += int(report.get(32))
        assert (report.get(39), report.get(14), report.get(31)) == (b"2", b"2", b"3050.00")
        await fix.send("5")
        assert (await fix.receive(b"5")).get(35) == b"5"
        fix.writer.close()
        sent_before = fix.seq

        # SIGKILL, and the same gateway again on its data directory.
        cluster.kill(gateway)
        again = cluster.spawn("gateway", 1, gateway.name)
        assert again.fix_port > 0
        cluster.wait(lambda: cluster.ready(again), 60)
        fix = await fix_logon(again.fix_port, fix)
        logon = await fix.receive(b"A")
        assert int(logon.get(34)) > 2  # the server's numbers went on: nothing was forgotten
        assert fix.seq == sent_before + 1  # and it took ours, also going on
        await fix.send("H", (11, "fix-1"), (55, "TCS"), (54, 1))
        status = await fix.receive(b"8")
        assert (status.get(150), status.get(39), status.get(37)) == (
            b"I", b"2", str(order_id).encode())
        await fix.send("5")
        assert (await fix.receive(b"5")).get(35) == b"5"
        fix.writer.close()
    finally:
        if seller is not None:
            with contextlib.suppress(Exception):
                await seller.close()
        if desk is not None:
            await desk.stop()
        cluster.stop()
