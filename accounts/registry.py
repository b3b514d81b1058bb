"""The accounts registry: trading accounts, their API keys and the users who log in with a
password, as state of the core.

Creating an account, granting a key, revoking one and setting a user are sequenced
commands, so the
registry is durable through the journal and identical after replay, like the books. The
registry only records; it generates nothing. Key ids and secrets are made at the edge
(`accounts.keys`) and arrive sealed: the journal and snapshots hold a key's secret only
encrypted under the node's key-encryption key, and its SHA-256 to identify it.

Account ids are handed out densely from 1 (the risk arrays are indexed by them). The core
does not insist that an account be registered before it trades: tests and benchmarks use
raw ids. The gateways only ever act for the account a key belongs to.
"""

from __future__ import annotations

import re
from enum import IntFlag

import msgspec
import numpy as np

from engine.codes import RejectCode
from engine.commands import ApiKeyGrant, UserGrant, grant_of, user_of
from engine.events import event_row, rejection_row
from engine.layout import C_ACCT, C_KIND, C_SEQ, C_TS
from engine.types import NO_ACCOUNT, CmdKind, EventKind

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")
KEY_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")
ROLES = ("trader", "risk_officer", "admin", "partner")


class Scope(IntFlag):
    READ = 1  # orders, fills, positions and funds of the key's account
    TRADE = 2  # place, amend and cancel orders
    ADMIN = 4  # create accounts, grant and revoke keys, move funds, for any account
    WITHDRAW = 8  # take money out of the key's own account


ALL_SCOPES = Scope.READ | Scope.TRADE | Scope.ADMIN | Scope.WITHDRAW
SCOPE_NAMES = {"read": Scope.READ, "trade": Scope.TRADE, "admin": Scope.ADMIN,
               "withdraw": Scope.WITHDRAW}


def scope_names(scopes: int) -> list[str]:
    return [name for name, flag in SCOPE_NAMES.items() if scopes & flag]


class RegistryError(Exception):
    def __init__(self, code: RejectCode) -> None:
        super().__init__(code.name)
        self.code = code


class AccountRecord(msgspec.Struct, frozen=True):
    account: int
    name: str
    created_seq: int


class KeyRecord(msgspec.Struct, frozen=True):
    key_no: int  # the registry's own number for the key (events carry it)
    account: int
    grant: ApiKeyGrant
    created_seq: int
    revoked_seq: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_seq == 0


class UserRecord(msgspec.Struct, frozen=True):
    user_no: int
    grant: UserGrant
    created_seq: int
    updated_seq: int


class RegistryImage(msgspec.Struct, frozen=True):
    accounts: list[AccountRecord]
    keys: list[KeyRecord]
    next_account: int
    users: list[UserRecord] = []


class Registry:
    def __init__(self, max_accounts: int) -> None:
        self.max_accounts = max_accounts
        self.accounts: dict[int, AccountRecord] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.users: dict[str, UserRecord] = {}
        self._names: dict[str, int] = {}
        self.next_account = 1

    # --- commands ------------------------------------------------------------------------------

    def create_account(self, name: str, seq: int, account: int = NO_ACCOUNT) -> AccountRecord:
        """The next free id, or ``account`` (an id it has on other shards of a cluster):
        the ids after it stay free for later accounts."""
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise RegistryError(RejectCode.ACCOUNT_NAME_INVALID)
        if name.casefold() in self._names:
            raise RegistryError(RejectCode.ACCOUNT_NAME_TAKEN)
        if account == NO_ACCOUNT:
            if self.next_account >= self.max_accounts:
                raise RegistryError(RejectCode.CAPACITY_ACCOUNTS)
            account = self.next_account
        elif not 1 <= account < self.max_accounts or account in self.accounts:
            raise RegistryError(RejectCode.ACCOUNT_ID_UNAVAILABLE)
        record = AccountRecord(account, name, seq)
        self._add_account(record)
        while self.next_account in self.accounts:
            self.next_account += 1
        return record

    def add_key(self, account: int, grant: object, seq: int) -> KeyRecord:
        if account not in self.accounts:
            raise RegistryError(RejectCode.UNKNOWN_ACCOUNT)
        if not _valid_grant(grant):
            raise RegistryError(RejectCode.API_KEY_INVALID)
        assert isinstance(grant, ApiKeyGrant)
        if grant.key_id in self.keys:
            raise RegistryError(RejectCode.API_KEY_EXISTS)
        record = KeyRecord(len(self.keys) + 1, account, grant, seq)
        self.keys[grant.key_id] = record
        return record

    def revoke_key(self, account: int, key_id: object, seq: int) -> KeyRecord:
        record = self.keys.get(key_id) if isinstance(key_id, str) else None
        if record is None or not record.active or record.account != account:
            raise RegistryError(RejectCode.UNKNOWN_API_KEY)
        revoked = msgspec.structs.replace(record, revoked_seq=seq)
        self.keys[record.grant.key_id] = revoked
        return revoked

    def set_user(self, grant: object, seq: int) -> UserRecord:
        """Create a user, or replace its record (password, role, active); a name stays with
        the account it was first given to."""
        if not _valid_user(grant):
            raise RegistryError(RejectCode.USER_INVALID)
        assert isinstance(grant, UserGrant)
        if grant.account != -1 and grant.account not in self.accounts:
            raise RegistryError(RejectCode.UNKNOWN_ACCOUNT)
        known = self.users.get(grant.username)
        if known is not None and known.grant.account != grant.account:
            raise RegistryError(RejectCode.USER_NAME_TAKEN)
        record = (UserRecord(len(self.users) + 1, grant, seq, seq) if known is None
                  else msgspec.structs.replace(known, grant=grant, updated_seq=seq))
        self.users[grant.username] = record
        return record

    # --- queries -------------------------------------------------------------------------------

    def user(self, username: str) -> UserRecord | None:
        record = self.users.get(username.lower())
        return record if record is not None and record.grant.active else None

    def active_key(self, key_id: str) -> KeyRecord | None:
        record = self.keys.get(key_id)
        return record if record is not None and record.active else None

    def account_named(self, name: str) -> AccountRecord | None:
        account = self._names.get(name.casefold())
        return None if account is None else self.accounts[account]

    def keys_of(self, account: int) -> list[KeyRecord]:
        return [k for k in self.keys.values() if k.account == account]

    # --- state ---------------------------------------------------------------------------------

    def image(self) -> RegistryImage:
        return RegistryImage(
            accounts=[self.accounts[a] for a in sorted(self.accounts)],
            keys=sorted(self.keys.values(), key=lambda k: k.key_no),
            next_account=self.next_account,
            users=sorted(self.users.values(), key=lambda u: u.user_no),
        )

    def load(self, image: RegistryImage) -> None:
        for record in image.accounts:
            self._add_account(record)
        self.keys = {k.grant.key_id: k for k in image.keys}
        self.users = {u.grant.username: u for u in image.users}
        self.next_account = image.next_account

    def _add_account(self, record: AccountRecord) -> None:
        self.accounts[record.account] = record
        self._names[record.name.casefold()] = record.account


def _valid_grant(grant: object) -> bool:
    return (
        isinstance(grant, ApiKeyGrant)
        and KEY_ID.fullmatch(grant.key_id) is not None
        and 0 < grant.scopes <= ALL_SCOPES
        and SHA256_HEX.fullmatch(grant.secret_sha256) is not None
        and 0 < len(grant.sealed_secret) <= 256
        and len(grant.label) <= 64
    )


def _valid_user(grant: object) -> bool:
    return (
        isinstance(grant, UserGrant)
        and USERNAME.fullmatch(grant.username) is not None
        and grant.role in ROLES
        and grant.password_hash.startswith("$argon2id$")
        and len(grant.password_hash) <= 256
    )


def apply_command(registry: Registry, row: np.ndarray, extra: object) -> np.ndarray:
    """Run one registry command row; its event (or its rejection)."""
    kind, seq, ts = int(row[C_KIND]), int(row[C_SEQ]), int(row[C_TS])
    account = int(row[C_ACCT])
    try:
        if kind == CmdKind.CREATE_ACCOUNT:
            record = registry.create_account(extra, seq, account)  # type: ignore[arg-type]
            event = event_row(EventKind.ACCOUNT_CREATED, seq, ts, -1, acct=record.account)
        elif kind == CmdKind.SET_USER:
            user = registry.set_user(user_of(extra), seq)
            event = event_row(EventKind.USER_SET, seq, ts, -1, acct=user.grant.account,
                              a=user.user_no, b=ROLES.index(user.grant.role),
                              c=int(user.grant.active))
        elif kind == CmdKind.ADD_API_KEY:
            key = registry.add_key(account, grant_of(extra), seq)
            event = event_row(EventKind.API_KEY_ADDED, seq, ts, -1, acct=account, a=key.key_no,
                              b=key.grant.scopes)
        else:
            key = registry.revoke_key(account, extra, seq)
            event = event_row(EventKind.API_KEY_REVOKED, seq, ts, -1, acct=account,
                              a=key.key_no)
    except RegistryError as exc:
        event = rejection_row(row, exc.code)
    return event[None, :]


REGISTRY_COMMANDS = (CmdKind.CREATE_ACCOUNT, CmdKind.ADD_API_KEY, CmdKind.REVOKE_API_KEY,
                     CmdKind.SET_USER)
