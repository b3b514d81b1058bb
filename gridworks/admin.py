"""Account administration over a running node: create accounts, grant keys, move funds.

Everything goes through `Node.submit` as sequenced commands, so it is journaled like any
order. Keys are made here, at the edge (`accounts.keys.new_key`), and only their sealed form
reaches the core. Used by the first start of the embedded default (the demo trader), by
``gridworks accounts`` and, later, by the admin operations of the gateway.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from accounts import keys, users
from accounts.registry import Registry, Scope, scope_names
from engine import events as ev
from engine.codes import message
from engine.commands import (
    AddApiKey,
    ApiKeyGrant,
    Command,
    CreateAccount,
    Deposit,
    RevokeApiKey,
    SetUser,
    UserGrant,
    Withdraw,
)
from engine.core import Core
from engine.types import NO_ACCOUNT

if TYPE_CHECKING:
    from gridworks.node import Node

RUPEE = 100


class AdminError(Exception):
    """The core refused an administrative command; ``code`` is its reject code name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class Credentials(msgspec.Struct, frozen=True):
    """What an account's owner needs to log in. The secret exists nowhere else in clear."""

    account: int
    name: str
    key_id: str
    secret: str
    scopes: list[str]


@dataclass(frozen=True)
class AccountSummary:
    account: int
    name: str
    cash: int
    blocked: int
    margin: int
    keys: list[tuple[str, list[str], str, bool]]  # key id, scopes, label, active


class Admin:
    def __init__(self, node: Node, kek: bytes) -> None:
        self.node = node
        self.kek = kek

    async def create_account(self, name: str, funds: int = 0,
                             scopes: int = Scope.READ | Scope.TRADE,
                             label: str = "") -> tuple[int, Credentials | None]:
        """A new account, funded with ``funds`` paise, with one key of ``scopes`` (0: none)."""
        account = await self.add_account(name)
        if funds:
            await self.fund(account, funds)
        credentials = await self.new_key(account, scopes, label) if scopes else None
        return account, credentials

    async def add_account(self, name: str, account: int = NO_ACCOUNT) -> int:
        """The account's id: the next free one, or ``account`` (its id on other shards)."""
        (created,) = await self._run([CreateAccount(name, account=account)], ev.AccountCreated)
        return int(created.account)

    async def fund(self, account: int, amount: int) -> None:
        """Deposit ``amount`` paise (a negative amount withdraws)."""
        command = Deposit(account, amount) if amount > 0 else Withdraw(account, -amount)
        await self._run([command], ev.LedgerPosted)

    async def new_key(self, account: int, scopes: int, label: str = "",
                      ips: tuple[str, ...] = ()) -> Credentials:
        grant, secret = keys.new_key(scopes, self.kek, label, ips)
        await self.grant_key(account, grant)
        return Credentials(account, self._name(account), grant.key_id, secret,
                           scope_names(scopes))

    async def grant_key(self, account: int, grant: ApiKeyGrant) -> None:
        await self._run([AddApiKey(account, grant)], ev.ApiKeyAdded)

    async def revoke_key(self, account: int, key_id: str) -> None:
        await self._run([RevokeApiKey(account, key_id)], ev.ApiKeyRevoked)

    async def set_user(self, username: str, account: int, role: str, password: str,
                       active: bool = True) -> None:
        """Create a user who logs in with ``password`` (hashed here, never recorded), or
        replace its password, role or activity."""
        grant = await asyncio.to_thread(users.user_grant, username, account, role, password,
                                        active)
        await self.put_user(grant)

    async def put_user(self, grant: UserGrant) -> None:
        await self._run([SetUser(grant)], ev.UserSet)

    def resolve(self, who: str) -> int:
        """An account by id or by name."""
        registry = self._core().registry
        record = registry.accounts.get(int(who)) if who.isdigit() else registry.account_named(who)
        if record is None:
            raise AdminError("UNKNOWN_ACCOUNT", f"no account {who!r}")
        return record.account

    def accounts(self) -> list[AccountSummary]:
        core = self._core()
        balances: dict[int, tuple[int, int, int]] = {}
        if core.risk is not None:
            from portfolio.views import accounts as account_views

            for a in account_views(core.risk.state()):
                balances[a.account] = (a.cash, a.blocked, a.margin)
        out = []
        for record in core.registry.accounts.values():
            cash, blocked, margin = balances.get(record.account, (0, 0, 0))
            keys_ = [(k.grant.key_id, scope_names(k.grant.scopes), k.grant.label, k.active)
                     for k in core.registry.keys_of(record.account)]
            out.append(AccountSummary(record.account, record.name, cash, blocked, margin, keys_))
        return out

    # --- helpers -------------------------------------------------------------------------------

    def _core(self) -> Core:
        assert self.node.core is not None
        return self.node.core

    def registry(self) -> Registry:
        return self._core().registry

    def _name(self, account: int) -> str:
        record = self._core().registry.accounts.get(account)
        return record.name if record else str(account)

    async def _run(self, commands: list[Command], expected: type) -> list:
        receipt = await self.node.submit(commands)
        out = ev.decode(receipt.events)
        for event in out:
            if isinstance(event, ev.Rejected):
                raise AdminError(event.code.name, message(event.code))
        return [e for e in out if isinstance(e, expected)]


# --- the embedded default's first start ----------------------------------------------------------

OPERATOR, DEMO = "operator", "demo"
DEMO_FUNDS = 10_00_000 * RUPEE  # ten lakh rupees


async def create_demo_accounts(admin: Admin, data_dir: Path,
                               cluster: bool = False) -> list[Credentials]:
    """The operator (an admin key, no money) and a funded demo trader, those of them that do
    not exist yet; their credentials are written under ``<data>/credentials`` for the owner
    only. In a ``cluster`` each shard's first leader makes them with the same ids and keys
    (derived from the KEK), so one demo login works on every shard."""
    made = []
    for number, (name, funds, scopes) in enumerate(((OPERATOR, 0, Scope.ADMIN | Scope.READ),
                                                    (DEMO, DEMO_FUNDS, Scope.READ | Scope.TRADE)),
                                                   start=1):
        if cluster:
            credentials = await _shared_account(admin, number, name, funds, scopes)
        elif admin.registry().account_named(name) is None:
            credentials = (await admin.create_account(name, funds, scopes,
                                                      label="first start"))[1]
        else:
            credentials = None
        if credentials is not None:
            write_credentials(data_dir, credentials)
            made.append(credentials)
    return made


async def _shared_account(admin: Admin, account: int, name: str, funds: int,
                          scopes: int) -> Credentials | None:
    """The demo account ``account`` as every shard has it, made where it is missing (a
    leader that died half-way is finished by the next); None when it was all there."""
    grant, secret = keys.derived_key(scopes, admin.kek, name, label="first start")
    registry = admin.registry()
    if registry.account_named(name) is None:
        await admin.add_account(name, account=account)
        if funds:
            await admin.fund(account, funds)
    elif grant.key_id in registry.keys:
        return None
    await admin.grant_key(account, grant)
    return Credentials(account, name, grant.key_id, secret, scope_names(scopes))


def credentials_path(data_dir: Path, name: str) -> Path:
    return data_dir / "credentials" / f"{name}.json"


def write_credentials(data_dir: Path, credentials: Credentials) -> Path:
    path = credentials_path(data_dir, credentials.name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(credentials)) + b"\n")
    return path


def read_credentials(data_dir: Path, name: str) -> Credentials:
    return msgspec.json.decode(credentials_path(data_dir, name).read_bytes(), type=Credentials)
