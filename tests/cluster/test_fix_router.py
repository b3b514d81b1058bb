"""One FIX session for every shard, through a router, over a cluster of processes: two
shards (RELIANCE on shard 0, TCS on shard 1), each with an engine and a gateway, and a
router running the FIX acceptor over a replica of each shard. A client built on simplefix
(an independent FIX implementation) buys on both shards in one session; each order goes to
the shard owning its symbol (its OrderID names the shard) and its fills, traded against a
WebSocket client, come back as ExecutionReports; a cancel, a replace and a status request
find their order's shard; a mass cancel of everything reaches every shard."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from accounts.users import HASHER
from engine.sequencer import order_shard
from gateway.client import Client
from gridworks.cluster import ClusterPlan, LocalCluster
from tests.cluster.conftest import fix_logon, shared_account
from tests.gateway.fix.test_simplefix_e2e import PASSWORD, SimpleFixClient
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(180)
FUNDS = 5_00_000_00
DAY = (60, "20261201-00:00:00")


async def application_messages(fix: SimpleFixClient, count: int) -> list:
    """The next ``count`` messages that are not administrative, in the order they came."""
    async def read() -> list:
        out: list = []
        while len(out) < count:
            message = fix.parser.get_message()
            if message is None:
                data = await fix.reader.read(65536)
                assert data, "the server closed the connection"
                fix.parser.append_buffer(data)
            elif message.get(35) not in (b"0", b"1"):
                out.append(message)
        return out
    return await asyncio.wait_for(read(), 15)


async def test_one_fix_session_trades_on_every_shard(broker: str, redis_prefix: str,
                                                     kafka_prefix: str, tmp_path: Path) -> None:
    sessions = tmp_path / "fix.toml"
    sessions.write_text(f'comp_id = "GRIDWORKS"\n\n[[sessions]]\ncomp_id = "DEMODESK"\n'
                        f'password_hash = "{HASHER.hash(PASSWORD)}"\naccounts = ["demo"]\n')
    plan = ClusterPlan(kafka=broker, redis=REDIS, shards=2, engines_per_shard=1,
                       gateways_per_shard=1, routers=1, redis_prefix=redis_prefix,
                       kafka_prefix=kafka_prefix, kafka_idempotent=False,
                       router_fix_config=str(sessions), env={"GRIDWORKS_FETCH_WAIT_MS": "5"})
    cluster = LocalCluster(tmp_path / "cluster", plan)
    desk = None
    sellers: list[Client] = []
    try:
        cluster.start()
        (router,) = cluster.routers()
        assert router.fix_port > 0
        desk, _, bob = await shared_account(cluster, "bob", FUNDS)

        # HeartBtInt 60: this client answers no TestRequest, and the test takes a while
        fix = await fix_logon(router.fix_port, heartbeat_s=60)
        assert (await fix.receive(b"A")).get(108) == b"60"

        # One session, both shards: each order goes to the shard owning its symbol.
        ids = {}
        for symbol, price in (("RELIANCE", "1410.00"), ("TCS", "3050.00")):
            await fix.send("D", (11, f"buy-{symbol}"), (55, symbol), (54, 1), (38, 2),
                           (40, 2), (44, price), DAY)
            new = await fix.receive(b"8")
            assert (new.get(150), new.get(11)) == (b"0", f"buy-{symbol}".encode()), new
            ids[symbol] = int(new.get(37))
        assert order_shard(ids["RELIANCE"]) == 0
        assert order_shard(ids["TCS"]) == 1

        # Bob sells into both, through each shard's gateway; the fills come back over FIX.
        for shard, (symbol, price) in enumerate((("RELIANCE", 141_000), ("TCS", 305_000))):
            seller = await Client.connect(f"ws://127.0.0.1:{cluster.gateways(shard)[0].port}/")
            sellers.append(seller)
            await seller.login(bob.key_id, bob.secret)
            await seller.request("place", symbol=symbol, side="sell", qty=2, price=price,
                                 client_order_id=f"bob-{symbol}")
        done: dict[bytes, int] = {}
        while len(done) < 2:
            report = await fix.receive(b"8")
            assert report.get(150) == b"F", report
            if report.get(39) == b"2":
                done[report.get(55)] = int(report.get(37))
        assert done == {b"RELIANCE": ids["RELIANCE"], b"TCS": ids["TCS"]}

        # Cancel, replace and status find the order on its shard.
        await fix.send("D", (11, "rest-1"), (55, "TCS"), (54, 1), (38, 1), (40, 2),
                       (44, "3000.00"), DAY)
        resting = await fix.receive(b"8")
        assert order_shard(int(resting.get(37))) == 1
        await fix.send("G", (41, "rest-1"), (11, "rest-2"), (55, "TCS"), (54, 1), (38, 3),
                       (40, 2), (44, "3000.00"), DAY)
        replaced = await fix.receive(b"8")
        assert (replaced.get(150), replaced.get(38), replaced.get(11)) == (b"5", b"3",
                                                                          b"rest-2")
        await fix.send("H", (11, "rest-2"), (55, "TCS"), (54, 1))
        status = await fix.receive(b"8")
        assert (status.get(150), status.get(39), status.get(37)) == (
            b"I", b"0", resting.get(37))
        await fix.send("D", (11, "rest-3"), (55, "RELIANCE"), (54, 1), (38, 1), (40, 2),
                       (44, "1400.00"), DAY)
        assert (await fix.receive(b"8")).get(150) == b"0"
        await fix.send("F", (41, "rest-3"), (11, "rest-4"), (55, "RELIANCE"), (54, 1), DAY)
        cancelled = await fix.receive(b"8")
        assert (cancelled.get(150), cancelled.get(41)) == (b"4", b"rest-3")
        await fix.send("D", (11, "bad-1"), (55, "NOPE"), (54, 1), (38, 1), (40, 2),
                       (44, "1.00"), DAY)
        refused = await fix.receive(b"8")
        assert (refused.get(150), refused.get(103)) == (b"8", b"1")  # unknown symbol

        # A mass cancel of everything reaches every shard: one report from each.
        await fix.send("q", (11, "mass-1"), (530, 7), DAY)
        got = await application_messages(fix, 3)
        reports = [m for m in got if m.get(35) == b"r"]
        assert sorted(int(r.get(533)) for r in reports) == [0, 1]  # rest-2 was open
        (gone,) = [m for m in got if m.get(35) == b"8"]
        assert (gone.get(150), gone.get(37)) == (b"4", resting.get(37))
        await fix.send("5")
        assert (await fix.receive(b"5")).get(35) == b"5"
        fix.writer.close()
    finally:
        for seller in sellers:
            with contextlib.suppress(Exception):
                await seller.close()
        if desk is not None:
            await desk.stop()
        cluster.stop()
