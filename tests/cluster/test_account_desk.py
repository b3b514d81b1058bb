"""One account on every shard, on the real broker and Redis: the account desk gives an
account the same id on both shards of a cluster (the home shard's, even where the other
shard would have given another), the same key on both, and its money moves between the
shards within that one account. An id another account holds on a shard is refused there
with a clear code; a run that stopped half-way because a shard had no leader is finished by
running it again; a revoked key is revoked everywhere."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from accounts.registry import Scope
from accounts.transfers import Status, Transfer
from bus.commandlog import ShardLog
from bus.kafka import KafkaConfig
from gridworks.account_desk import AccountDesk
from gridworks.admin import AdminError
from gridworks.transfers import TransferDesk
from tests.cluster.test_shard import CONFIG, cash, wait_for
from tests.cluster.test_transfers import Shard, open_account

pytestmark = pytest.mark.timeout(120)
KEK = bytes(range(32))
FUNDS = 20_000_00


async def test_one_account_on_every_shard(broker: str, redis: Redis, redis_prefix: str,
                                          kafka_prefix: str) -> None:
    kafka = KafkaConfig(broker, prefix=kafka_prefix, idempotent=False)
    logs = {k: ShardLog(kafka, shard=k, shards=2) for k in (0, 1)}
    shards = {k: Shard(logs[k], redis, redis_prefix, f"engine-{k}") for k in (0, 1)}
    desk = AccountDesk(logs, CONFIG, KEK, request_timeout_s=2.0)
    transfers = TransferDesk(logs, CONFIG)
    try:
        for shard in shards.values():
            await shard.up()
        # An account made on shard 1 alone takes id 1 there.
        assert await open_account(logs[1], "local", 0) == 1
        await desk.start()

        # The home shard gives "dora" id 1, which shard 1 has given away: refused there.
        with pytest.raises(AdminError) as taken:
            await desk.create_account("dora", scopes=0)
        assert taken.value.code == "ACCOUNT_ID_UNAVAILABLE"

        account, key = await desk.create_account("erin", FUNDS, Scope.READ | Scope.TRADE)
        assert key is not None
        for k, shard in shards.items():
            await wait_for(lambda s=shard: s.core.registry.account_named("erin") is not None)
            assert shard.core.registry.account_named("erin").account == account == 2, k
            assert shard.core.registry.active_key(key.key_id) is not None, k
        await wait_for(lambda: cash(shards[0].core, account) == FUNDS)
        assert cash(shards[1].core, account) == 0
        assert await desk.create_account("erin", scopes=0) == (account, None)  # again: as is

        # Its money moves within the one account, from shard 0 to shard 1.
        await transfers.start()
        transfers.transfer(Transfer("erin-1", 0, account, 1, account, 5_000_00))
        assert (await transfers.settled("erin-1")).status == Status.DONE
        await wait_for(lambda: cash(shards[1].core, account) == 5_000_00)
        assert cash(shards[0].core, account) == FUNDS - 5_000_00
        # Listed with its cash summed over the shards (once the desk has read the credit).
        await wait_for(lambda: {a.name: a.cash for a in desk.accounts()}["erin"] == FUNDS)

        # Shard 1 without a leader: the home shard has the account, shard 1 not yet.
        await shards[1].down()
        with pytest.raises(TimeoutError):
            await desk.create_account("fay", scopes=0)
        fay = shards[0].core.registry.account_named("fay")
        assert fay is not None
        await shards[1].up()  # its request was waiting in Kafka: applied now
        await wait_for(lambda: shards[1].core.registry.account_named("fay") is not None)
        assert await desk.create_account("fay", scopes=0) == (fay.account, None)
        assert shards[1].core.registry.account_named("fay").account == fay.account

        await desk.revoke_key(account, key.key_id)
        for shard in shards.values():
            await wait_for(lambda s=shard: s.core.registry.active_key(key.key_id) is None)
        with pytest.raises(AdminError) as gone:
            await desk.revoke_key(account, key.key_id)
        assert gone.value.code == "UNKNOWN_API_KEY"
    finally:
        for part in (transfers, desk):
            with contextlib.suppress(Exception):
                await part.stop()
        for shard in shards.values():
            if shard.task is not None and not shard.task.done():
                with contextlib.suppress(Exception):
                    await shard.down()


async def cli(*argv: str, env: dict[str, str]) -> str:
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gridworks.cli", "accounts", *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(run.communicate(), 30)
    except TimeoutError:
        run.kill()
        out, _ = await run.communicate()
        raise AssertionError(f"gridworks accounts {argv} hung: {out.decode()}") from None
    assert run.returncode == 0, out.decode()
    return out.decode()


async def test_gridworks_accounts_on_a_cluster(broker: str, redis: Redis, redis_prefix: str,
                                               kafka_prefix: str, tmp_path: Path) -> None:
    kafka = KafkaConfig(broker, prefix=kafka_prefix, idempotent=False)
    logs = {k: ShardLog(kafka, shard=k, shards=2) for k in (0, 1)}
    shards = {k: Shard(logs[k], redis, redis_prefix, f"engine-{k}") for k in (0, 1)}
    env = {**os.environ, "GRIDWORKS_KAFKA_PREFIX": kafka_prefix,
           "GRIDWORKS_KAFKA_IDEMPOTENT": "0", "GRIDWORKS_MAX_ACCOUNTS": "64",
           "GRIDWORKS_MAX_ORDERS": "4096", "GRIDWORKS_DATA_DIR": str(tmp_path),
           "GRIDWORKS_KEK": base64.b64encode(KEK).decode()}
    cluster = ["--kafka", broker, "--shards", "2"]
    try:
        for shard in shards.values():
            await shard.up()
        made = await cli(*cluster, "create", "gus", "--fund", "100", env=env)
        key_id = re.search(r"key id  (\S+)", made).group(1)  # type: ignore[union-attr]
        await cli(*cluster, "--shard", "1", "fund", "gus", "25.50", env=env)
        for k, shard in shards.items():
            await wait_for(lambda s=shard: s.core.registry.active_key(key_id) is not None)
            assert shard.core.registry.account_named("gus").account == 1, k
        await wait_for(lambda: cash(shards[1].core, 1) == 25_50)
        assert cash(shards[0].core, 1) == 100_00
        listed = await cli(*cluster, "list", env=env)
        assert re.search(r"1\s+gus\s+125\.50", listed), listed
    finally:
        for shard in shards.values():
            with contextlib.suppress(Exception):
                await shard.down()
