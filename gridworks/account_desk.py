"""The account desk: a cluster's accounts, each one account on every shard — the same id,
the same API keys, the same users — so one login works on the gateways of every shard and a
transfer between shards moves money within one account.

The home shard (shard 0) hands out ids: an account is created there first, then on every
other shard under the id the home shard gave it (`engine.commands.CreateAccount` with an
``account``). Keys and users are made once, here at the edge, and the same grant goes to
every shard. Every step is a command through the shard's log, and each is safe to ask for
again: an account that exists under its name is taken as it is, so a run that stopped
half-way (a shard without a leader for longer than a request waits) is finished by running
it again. Funds are each shard's own: a deposit goes to one shard, and `gridworks transfer`
moves them between shards.

Accounts of a cluster with several shards must be made here: one made on one shard alone
takes the next id free there, which the home shard may give to another account later (its
creation on that shard is then refused with ``ACCOUNT_ID_UNAVAILABLE``).
"""

from __future__ import annotations

import asyncio

from accounts import keys, users
from accounts.registry import Scope, scope_names
from bus.commandlog import ShardLog
from engine.core import CoreConfig
from engine.types import NO_ACCOUNT
from gridworks.admin import AccountSummary, Admin, AdminError, Credentials
from gridworks.shard_links import ShardLinks

HOME = 0  # the shard that hands out account ids


class AccountDesk:
    """The same operations as `gridworks.admin.Admin`, for every shard at once."""

    def __init__(self, logs: dict[int, ShardLog], core_config: CoreConfig, kek: bytes,
                 fund_shard: int = HOME, request_timeout_s: float = 10.0) -> None:
        if HOME not in logs:
            raise ValueError("the account desk needs the home shard, shard 0")
        if fund_shard not in logs:
            raise ValueError(f"no shard {fund_shard} to fund accounts on")
        self.kek = kek
        self.fund_shard = fund_shard  # where `fund` deposits (or withdraws)
        self.links = ShardLinks(logs, core_config, "accounts", request_timeout_s)
        self.admins = {shard: Admin(replica, kek)  # type: ignore[arg-type]
                       for shard, replica in self.links.replicas.items()}

    async def start(self) -> None:
        await self.links.start()

    async def stop(self) -> None:
        await self.links.stop()

    @property
    def home(self) -> Admin:
        return self.admins[HOME]

    # --- accounts ------------------------------------------------------------------------------

    async def create_account(self, name: str, funds: int = 0,
                             scopes: int = Scope.READ | Scope.TRADE,
                             label: str = "") -> tuple[int, Credentials | None]:
        """The account on every shard (``funds`` paise on the funding shard), with one key
        of ``scopes`` (0: none) that works on all of them."""
        account = await self._account_on(HOME, name)
        for shard in [k for k in self.admins if k != HOME]:
            there = await self._account_on(shard, name, account)
            if there != account:
                raise AdminError("ACCOUNT_ID_UNAVAILABLE",
                                 f"{name!r} is account {there} on shard {shard} but "
                                 f"{account} on the home shard")
        credentials = await self.new_key(account, scopes, label) if scopes else None
        if funds:
            await self.fund(account, funds)
        return account, credentials

    async def _account_on(self, shard: int, name: str, account: int = NO_ACCOUNT) -> int:
        """The account's id on ``shard``, made there (under ``account``, if given) when it
        is missing."""
        admin = self.admins[shard]
        found = admin.registry().account_named(name)
        if found is None:
            try:
                return await admin.add_account(name, account)
            except AdminError as exc:
                if exc.code != "ACCOUNT_NAME_TAKEN":
                    raise
            # Made meanwhile (by an earlier run's request that waited in Kafka): the refusal
            # comes after it in the log, so this replica has it now.
            found = admin.registry().account_named(name)
            assert found is not None
        return found.account

    async def fund(self, account: int, amount: int) -> None:
        await self.admins[self.fund_shard].fund(account, amount)

    def resolve(self, who: str) -> int:
        return self.home.resolve(who)

    def accounts(self) -> list[AccountSummary]:
        """Every account as the home shard knows it, with its cash, blocked funds and
        margin summed over the shards."""
        totals: dict[int, list[int]] = {}
        for admin in self.admins.values():
            for a in admin.accounts():
                total = totals.setdefault(a.account, [0, 0, 0])
                total[0] += a.cash
                total[1] += a.blocked
                total[2] += a.margin
        return [AccountSummary(a.account, a.name, *totals[a.account], a.keys)
                for a in self.home.accounts()]

    # --- keys and users ------------------------------------------------------------------------

    async def new_key(self, account: int, scopes: int, label: str = "",
                      ips: tuple[str, ...] = ()) -> Credentials:
        grant, secret = keys.new_key(scopes, self.kek, label, ips)
        await asyncio.gather(*(admin.grant_key(account, grant)
                               for admin in self.admins.values()))
        return Credentials(account, self._name(account), grant.key_id, secret,
                           scope_names(scopes))

    async def revoke_key(self, account: int, key_id: str) -> None:
        """Revoked on every shard where it is still active (a second run finishes the
        first); unknown everywhere, it is refused."""
        live = [admin for admin in self.admins.values()
                if (key := admin.registry().keys.get(key_id)) is not None and key.active]
        if not live:
            raise AdminError("UNKNOWN_API_KEY", f"no active key {key_id!r}")
        await asyncio.gather(*(admin.revoke_key(account, key_id) for admin in live))

    async def set_user(self, username: str, account: int, role: str, password: str,
                       active: bool = True) -> None:
        grant = await asyncio.to_thread(users.user_grant, username, account, role, password,
                                        active)
        await asyncio.gather(*(admin.put_user(grant) for admin in self.admins.values()))

    def _name(self, account: int) -> str:
        record = self.home.registry().accounts.get(account)
        return record.name if record is not None else str(account)
