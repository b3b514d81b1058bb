"""``gridworks transfer``: move an account's money between two shards of a cluster, as a saga
(`accounts.transfers`), and wait until it settles.

    gridworks transfer --kafka HOST:PORT --shards 2 --id pay-1 --from 0:17 --to 1:17 \\
        --amount 2500.00

``--from`` and ``--to`` are ``shard:account``; ``--amount`` is in rupees. It exits 0 when the
transfer is done, 2 while it is still in transit (the receiving shard is down: it completes
when the shard is back) and 1 when it failed or was refunded. The same ``--id``
again moves nothing more: it reports the transfer's state. Any run also finishes the
transfers that earlier runs left unfinished (the shards' logs say where each stands).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from gridworks.config import ConfigError, from_environment

if TYPE_CHECKING:
    from accounts.transfers import Transfer
    from gridworks.config import NodeConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transfer", help="move an account's money between two cluster shards")
    p.add_argument("--kafka", default=None, help="Kafka bootstrap servers (default "
                                                 "GRIDWORKS_KAFKA)")
    p.add_argument("--shards", type=int, default=None, help="the cluster's shards")
    p.add_argument("--id", required=True, help="the transfer's idempotency key")
    p.add_argument("--from", dest="source", required=True, help="shard:account paying")
    p.add_argument("--to", dest="target", required=True, help="shard:account receiving")
    p.add_argument("--amount", required=True, help="rupees, e.g. 2500.00")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    p.set_defaults(handler=_transfer)


def _place(text: str, flag: str) -> tuple[int, int]:
    try:
        shard, account = (int(part) for part in text.split(":"))
    except ValueError:
        raise ConfigError(f"{flag} must be shard:account, got {text!r}") from None
    return shard, account


def _paise(text: str) -> int:
    try:
        amount = Decimal(text) * 100
    except InvalidOperation:
        raise ConfigError(f"--amount must be rupees, got {text!r}") from None
    if amount != amount.to_integral_value() or amount <= 0:
        raise ConfigError("--amount must be a positive number of rupees and paise")
    return int(amount)


def _transfer(args: argparse.Namespace) -> int:
    from accounts.transfers import Transfer

    config = from_environment()
    kafka = args.kafka or config.kafka
    if not kafka:
        raise ConfigError("no Kafka: give --kafka or set GRIDWORKS_KAFKA")
    shards = args.shards or config.shards
    (a, from_account), (b, to_account) = _place(args.source, "--from"), _place(args.target, "--to")
    for shard in (a, b):
        if not 0 <= shard < shards:
            raise ConfigError(f"shard {shard} is not one of the {shards} shards")
    try:
        transfer = Transfer(args.id, a, from_account, b, to_account, _paise(args.amount))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    status = asyncio.run(_run(kafka, config, shards, transfer, args.timeout))
    print(f"gridworks: transfer {transfer.id}: {status}")
    return {"done": 0, "crediting": 2, "debiting": 2}.get(status, 1)


async def _run(kafka: str, config: NodeConfig, shards: int, transfer: Transfer,
               timeout_s: float) -> str:
    from bus.commandlog import ShardLog
    from bus.kafka import KafkaConfig
    from gridworks.config import core_config
    from gridworks.transfers import TransferDesk

    settings = KafkaConfig(kafka, prefix=config.kafka_prefix, idempotent=config.kafka_idempotent)
    logs = {k: ShardLog(settings, shard=k, shards=shards) for k in range(shards)}
    desk = TransferDesk(logs, core_config(config))
    await desk.start()
    try:
        progress = desk.transfer(transfer)
        # Past the timeout it is still in transit: it completes when the shard is back.
        with contextlib.suppress(TimeoutError):
            progress = await desk.settled(progress.transfer.id, timeout_s)
        return str(progress.status)
    finally:
        await desk.stop()
