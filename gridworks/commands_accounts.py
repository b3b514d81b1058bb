"""``gridworks accounts``: create, list and fund accounts, and manage their API keys.

    gridworks accounts list
    gridworks accounts create NAME [--fund RUPEES] [--scopes read,trade] [--label TEXT]
    gridworks accounts fund NAME|ID RUPEES          (a negative amount withdraws)
    gridworks accounts keys NAME|ID [--new --scopes read,trade | --revoke KEY_ID]
    gridworks accounts user NAME|ID USERNAME [--role trader] [--disable]   (password on stdin)

They act on the data directory through an in-process node, as sequenced and journaled
commands. When a server is running on that directory (its lock says so), they ask that
server instead, over its WebSocket API with the operator's key from
``<data>/credentials/operator.json``. A new key's secret is printed once and is not stored
anywhere in clear.

With ``--kafka HOST:PORT --shards N`` they act on a cluster instead
(`gridworks.account_desk`): every account exists on every shard with the same id, keys and
users; ``fund`` deposits on ``--shard`` (default 0), and ``list`` sums the balances over the
shards. It needs the key-encryption key that every process of the cluster shares
(``GRIDWORKS_KEK``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from accounts.registry import ROLES, SCOPE_NAMES, Scope
from gridworks.config import NodeConfig, from_environment, with_overrides

if TYPE_CHECKING:
    from gridworks.admin import Admin, Credentials

RUPEE = 100


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("accounts", help="create, list and fund accounts; manage API keys",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", dest="data_dir", type=Path, default=None,
                   help="data directory (default ./data)")
    p.add_argument("--kafka", default=None,
                   help="act on the cluster on these Kafka bootstrap servers instead")
    p.add_argument("--shards", type=int, default=None, help="the cluster's shards")
    p.add_argument("--shard", type=int, default=0,
                   help="with --kafka: the shard `fund` deposits on (default 0)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    actions.add_parser("list", help="accounts with their balances and keys")

    create = actions.add_parser("create", help="a new account with one API key")
    create.add_argument("name")
    create.add_argument("--fund", type=rupees, default=0, help="initial deposit in rupees")
    create.add_argument("--scopes", type=scopes, default=Scope.READ | Scope.TRADE,
                        help="scopes of its key: read, trade, admin (default read,trade)")
    create.add_argument("--label", default="", help="a note kept with the key")

    fund = actions.add_parser("fund", help="deposit (or, negative, withdraw) rupees")
    fund.add_argument("who", metavar="NAME|ID")
    fund.add_argument("amount", type=rupees, metavar="RUPEES")

    key = actions.add_parser("keys", help="list, create or revoke an account's keys")
    key.add_argument("who", metavar="NAME|ID")
    key.add_argument("--new", action="store_true", help="grant a new key")
    key.add_argument("--scopes", type=scopes, default=Scope.READ | Scope.TRADE)
    key.add_argument("--label", default="")
    key.add_argument("--revoke", metavar="KEY_ID", default=None)
    key.add_argument("--ip", action="append", default=[], metavar="ADDRESS|NETWORK",
                     help="with --new: allow the key only from here (repeatable)")

    user = actions.add_parser("user", help="create a user who logs in with a password, or "
                              "change its password, role or activity (password on stdin)")
    user.add_argument("who", metavar="NAME|ID", help="the account the user trades for")
    user.add_argument("username")
    user.add_argument("--role", default="trader", choices=list(ROLES))
    user.add_argument("--disable", action="store_true", help="refuse its logins from now on")
    p.set_defaults(handler=run)


def rupees(text: str) -> int:
    """Rupees with at most two decimals, as paise."""
    try:
        value = Decimal(text) * RUPEE
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount of rupees: {text!r}") from None
    if value != value.to_integral_value():
        raise argparse.ArgumentTypeError(f"at most two decimals: {text!r}")
    return int(value)


def scopes(text: str) -> int:
    flags = 0
    for name in text.split(","):
        flag = SCOPE_NAMES.get(name.strip().lower())
        if flag is None:
            raise argparse.ArgumentTypeError(
                f"unknown scope {name!r} (choose from {', '.join(SCOPE_NAMES)})")
        flags |= flag
    return flags


def run(args: argparse.Namespace) -> int:
    from gridworks.admin import AdminError
    from gridworks.datadir import DataDirLockedError

    config = with_overrides(from_environment(), data_dir=args.data_dir)
    action = ACTIONS[args.action]
    if args.kafka:
        try:
            return asyncio.run(_with_cluster(config, action, args))
        except AdminError as exc:
            print(f"gridworks: {exc}", file=sys.stderr)
            return 1
    try:
        return asyncio.run(_with_admin(config, action, args))
    except DataDirLockedError as exc:
        locked = exc
    except AdminError as exc:
        print(f"gridworks: {exc}", file=sys.stderr)
        return 1
    try:  # a server has the directory: ask it, with the operator's key
        return asyncio.run(_with_server(config, action, args))
    except FileNotFoundError:
        print(f"gridworks: {locked}; without the operator's credentials file, stop the server "
              "to administer its accounts", file=sys.stderr)
    except (OSError, TimeoutError) as exc:
        print(f"gridworks: {locked}, and its server at {_url(config)} did not answer ({exc})",
              file=sys.stderr)
    except AdminError as exc:
        print(f"gridworks: {exc}", file=sys.stderr)
    return 1


def _url(config: NodeConfig) -> str:
    return f"ws://{config.host}:{config.port}/"


async def _with_server(config: NodeConfig, action: Callable[..., Awaitable[int]],
                       args: argparse.Namespace) -> int:
    from gridworks.admin import OPERATOR, read_credentials
    from gridworks.remote_admin import RemoteAdmin

    operator = read_credentials(config.data_dir, OPERATOR)
    admin = await RemoteAdmin.connect(_url(config), operator)
    try:
        return await action(admin, args)
    finally:
        await admin.close()


async def _with_cluster(config: NodeConfig, action: Callable[..., Awaitable[int]],
                        args: argparse.Namespace) -> int:
    from accounts import keys
    from bus.commandlog import ShardLog
    from bus.kafka import KafkaConfig
    from gridworks.account_desk import AccountDesk
    from gridworks.config import ConfigError, core_config

    shards = args.shards or config.shards
    if not 0 <= args.shard < shards:
        raise ConfigError(f"--shard {args.shard} is not one of the {shards} shards")
    kafka = KafkaConfig(args.kafka, prefix=config.kafka_prefix,
                        idempotent=config.kafka_idempotent)
    desk = AccountDesk({k: ShardLog(kafka, shard=k, shards=shards) for k in range(shards)},
                       core_config(config), keys.load_kek(config.data_dir), fund_shard=args.shard)
    await desk.start()
    try:
        return await action(desk, args)
    finally:
        await desk.stop()


async def _with_admin(config: NodeConfig, action: Callable[..., Awaitable[int]],
                      args: argparse.Namespace) -> int:
    from gridworks.admin import Admin
    from gridworks.node import Node

    # Administration must not close the trading day as a side effect.
    quiet = msgspec.structs.replace(config, square_off_at="", end_of_day_at="",
                                    mark_interval_ms=-1)
    node = Node(quiet)
    await node.start()
    try:
        return await action(Admin(node, node.kek), args)
    finally:
        await node.stop()


async def _list(admin: Admin, args: argparse.Namespace) -> int:
    print(f"{'id':>6}  {'name':<24} {'cash ₹':>16} {'blocked ₹':>14} {'margin ₹':>14}  keys")
    for a in sorted(admin.accounts(), key=lambda a: a.account):
        keys = ", ".join(f"{k}({'+'.join(s)}{'' if active else ', revoked'})"
                         for k, s, _, active in a.keys) or "-"
        print(f"{a.account:>6}  {a.name:<24} {a.cash / RUPEE:>16,.2f} "
              f"{a.blocked / RUPEE:>14,.2f} {a.margin / RUPEE:>14,.2f}  {keys}")
    return 0


async def _create(admin: Admin, args: argparse.Namespace) -> int:
    account, credentials = await admin.create_account(args.name, args.fund, args.scopes,
                                                      args.label)
    print(f"account {account} {args.name!r} created"
          + (f", funded with ₹{args.fund / RUPEE:,.2f}" if args.fund else ""))
    _print_secret(credentials)
    return 0


async def _fund(admin: Admin, args: argparse.Namespace) -> int:
    account = admin.resolve(args.who)
    await admin.fund(account, args.amount)
    verb = "deposited" if args.amount > 0 else "withdrew"
    print(f"{verb} ₹{abs(args.amount) / RUPEE:,.2f} for account {account}")
    return 0


async def _keys(admin: Admin, args: argparse.Namespace) -> int:
    account = admin.resolve(args.who)
    if args.new:
        _print_secret(await admin.new_key(account, args.scopes, args.label, tuple(args.ip)))
    elif args.revoke:
        await admin.revoke_key(account, args.revoke)
        print(f"key {args.revoke} revoked")
    else:
        (summary,) = [a for a in admin.accounts() if a.account == account]
        for key_id, names, label, active in summary.keys:
            print(f"{key_id}  {'+'.join(names):<16} {'active' if active else 'revoked':<8} "
                  f"{label}")
    return 0


async def _user(admin: Admin, args: argparse.Namespace) -> int:
    from accounts.users import PasswordTooWeakError

    account = admin.resolve(args.who)
    password = sys.stdin.readline().rstrip("\n")
    try:
        await admin.set_user(args.username, account, args.role, password,
                             active=not args.disable)
    except PasswordTooWeakError as exc:
        print(f"gridworks: {exc}", file=sys.stderr)
        return 1
    state = "disabled" if args.disable else "can log in"
    print(f"user {args.username.lower()!r} ({args.role}) of account {account} {state}")
    return 0


def _print_secret(credentials: Credentials | None) -> None:
    if credentials is None:
        return
    print(f"key id  {credentials.key_id}")
    print(f"secret  {credentials.secret}")
    print("The secret is shown only now: keep it safe; GridWorks stores it sealed.")


ACTIONS = {"list": _list, "create": _create, "fund": _fund, "keys": _keys, "user": _user}
