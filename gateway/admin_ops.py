"""Administrative operations (scope ``admin``): accounts, funds and API keys of anyone.

They run through the same sequenced, journaled commands as ``gridworks accounts`` does on a
stopped server; the service that issues them (`AdminService`) is handed to the gateway by
whoever runs it, so the gateway itself only translates requests and answers.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import msgspec

from accounts.registry import SCOPE_NAMES
from engine.codes import RejectCode
from gateway import ops
from gateway.errors import ApiError, GatewayCode

if TYPE_CHECKING:
    from gateway.connection import Connection

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Paise = Annotated[int, msgspec.Meta(ge=-ops.MAX_INT, le=ops.MAX_INT)]


class AdminService(Protocol):
    def resolve(self, who: str) -> int: ...
    def accounts(self) -> list[Any]: ...
    async def create_account(self, name: str, funds: int, scopes: int,
                             label: str) -> tuple[int, Any]: ...
    async def fund(self, account: int, amount: int) -> None: ...
    async def new_key(self, account: int, scopes: int, label: str,
                      ips: tuple[str, ...] = ()) -> Any: ...
    async def revoke_key(self, account: int, key_id: str) -> None: ...
    async def set_user(self, username: str, account: int, role: str, password: str,
                       active: bool = True) -> None: ...


class CreateAccountArgs(ops.Args):
    name: Name
    funds: ops.Paise = 0
    scopes: list[str] = msgspec.field(default_factory=lambda: ["read", "trade"])  # []: no key
    label: str = ""


class FundArgs(ops.Args):
    account: int | str  # id or name
    amount: Paise  # paise; negative withdraws


class NewKeyArgs(ops.Args):
    account: int | str
    scopes: list[str] = msgspec.field(default_factory=lambda: ["read", "trade"])
    label: str = ""
    ips: list[str] = []  # addresses or networks the key may be used from (empty: any)


class SetUserArgs(ops.Args):
    account: int | str  # the account the user trades for
    username: Annotated[str, msgspec.Meta(min_length=3, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    role: Literal["trader", "risk_officer", "admin", "partner"] = "trader"
    active: bool = True


class RevokeKeyArgs(ops.Args):
    account: int | str
    key_id: str


def scope_flags(names: list[str]) -> int:
    flags = 0
    for name in names:
        flag = SCOPE_NAMES.get(name)
        if flag is None:
            raise ApiError(GatewayCode.INVALID_ARGS, f"unknown scope {name!r}",
                           choose_from=sorted(SCOPE_NAMES))
        flags |= flag
    return flags


class AdminOperations:
    def __init__(self, service: AdminService | None) -> None:
        self.service = service

    def _admin(self) -> AdminService:
        if self.service is None:
            raise ApiError(GatewayCode.UNKNOWN_OP, "administration is not enabled here")
        return self.service

    def _account(self, who: int | str) -> int:
        try:
            return self._admin().resolve(str(who))
        except Exception as exc:  # the service's own "no such account"
            raise ApiError(GatewayCode.INVALID_ARGS, str(exc), account=who) from None

    async def accounts(self, conn: Connection, args: dict) -> list[dict]:
        ops.parse(args, ops.NoArgs)
        return [{"account": a.account, "name": a.name, "cash": a.cash, "blocked": a.blocked,
                 "margin": a.margin,
                 "keys": [{"key_id": k, "scopes": s, "label": label, "active": active}
                          for k, s, label, active in a.keys]}
                for a in sorted(self._admin().accounts(), key=lambda a: a.account)]

    async def create_account(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, CreateAccountArgs)
        flags = scope_flags(parsed.scopes)
        account, credentials = await _refused_as_errors(self._admin().create_account(
            parsed.name, parsed.funds, flags, parsed.label))
        out: dict = {"account": account, "name": parsed.name}
        if credentials is not None:
            out.update(_credentials(credentials))
        return out

    async def fund(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, FundArgs)
        if parsed.amount == 0:
            raise ApiError(GatewayCode.INVALID_ARGS, "the amount must not be zero")
        account = self._account(parsed.account)
        await _refused_as_errors(self._admin().fund(account, parsed.amount))
        return {"account": account, "amount": parsed.amount}

    async def new_key(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, NewKeyArgs)
        flags = scope_flags(parsed.scopes)
        if not flags:
            raise ApiError(GatewayCode.INVALID_ARGS, "a key needs at least one scope")
        account = self._account(parsed.account)
        for entry in parsed.ips:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ApiError(GatewayCode.INVALID_ARGS,
                               f"not an address or network: {entry!r}") from None
        credentials = await _refused_as_errors(
            self._admin().new_key(account, flags, parsed.label, tuple(parsed.ips)))
        return {"account": account, **_credentials(credentials)}

    async def set_user(self, conn: Connection, args: dict) -> dict:
        from accounts.users import PasswordTooWeakError

        parsed = ops.parse(args, SetUserArgs)
        account = self._account(parsed.account)
        try:
            await _refused_as_errors(self._admin().set_user(
                parsed.username, account, parsed.role, parsed.password, parsed.active))
        except PasswordTooWeakError as exc:
            raise ApiError(GatewayCode.INVALID_ARGS, str(exc)) from None
        return {"account": account, "username": parsed.username.lower(), "role": parsed.role,
                "active": parsed.active}

    async def revoke_key(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, RevokeKeyArgs)
        account = self._account(parsed.account)
        await _refused_as_errors(self._admin().revoke_key(account, parsed.key_id))
        return {"account": account, "revoked": parsed.key_id}


def _credentials(credentials: Any) -> dict:
    """The secret appears in this reply and nowhere else."""
    return {"key_id": credentials.key_id, "secret": credentials.secret,
            "scopes": credentials.scopes}


async def _refused_as_errors(work: Any) -> Any:
    """The core's refusal (an admin error carrying its reject code) as the API's error."""
    try:
        return await work
    except Exception as exc:
        code = getattr(exc, "code", None)
        if isinstance(code, str) and code in RejectCode.__members__:
            raise ApiError(RejectCode[code]) from None
        raise
