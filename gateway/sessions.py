"""Sessions of users who logged in with a password: short-lived JWT access tokens and
rotating refresh tokens, revocable from any gateway process.

* An **access token** is a JWT (HS256) for ``access_ttl_s`` (15 minutes): the user, its
  account, role and scopes, and the session (``sid``) it belongs to. A token of a revoked
  session is refused even before it expires: every use checks that the session is alive.
* A **refresh token** (``gwr_<sid>.<random>``) buys a new pair once. Each refresh replaces it
  (rotation); presenting one that was already used means it was copied, so the whole session
  is revoked (`REFRESH_REUSED`) and every token of it stops working.
* Sessions live in a `SessionStore`: Redis (`RedisSessions`) so that all gateway processes
  share logins and revocations, or this process's memory (`MemorySessions`). The store keeps
  only the hash of the current refresh token.

The signing key is derived from the node's key-encryption key, so every process that holds
the KEK accepts the others' tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import jwt
import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accounts.users import ROLE_SCOPES
from engine.commands import UserGrant
from gateway.errors import ApiError, GatewayCode

T = TypeVar("T")
ALGORITHM = "HS256"
USER_PREFIX = "user:"  # the "key" a user's token logins are counted and limited under
ISSUER = "gridworks"


class SessionsUnavailableError(RuntimeError):
    """The session store cannot be reached (Redis is away)."""


class Tokens(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lasts
    token_type: str = "Bearer"


@dataclass(frozen=True)
class Claims:
    username: str
    account: int
    role: str
    scopes: int
    sid: str


class SessionStore(Protocol):
    async def open(self, sid: str, username: str, token_hash: str, ttl_s: int) -> None: ...

    async def owner(self, sid: str) -> str | None:
        """The user of a live session, None when it ended or expired."""
        ...

    async def rotate(self, sid: str, presented: str, replacement: str, ttl_s: int) -> str:
        """``"ok"``, ``"reused"`` (the session is now revoked) or ``"unknown"``."""
        ...

    async def alive(self, sid: str) -> bool: ...

    async def revoke(self, sid: str) -> None: ...


@dataclass
class _Session:
    username: str
    current: str  # hash of the refresh token that is valid now
    expires: float
    used: set[str]


class MemorySessions:
    """Sessions of this process only (no Redis): a restart or another process forgets them."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    async def open(self, sid: str, username: str, token_hash: str, ttl_s: int) -> None:
        self._sessions[sid] = _Session(username, token_hash, time.monotonic() + ttl_s, set())

    async def owner(self, sid: str) -> str | None:
        found = self._live(sid)
        return found.username if found else None

    async def rotate(self, sid: str, presented: str, replacement: str, ttl_s: int) -> str:
        found = self._live(sid)
        if found is None:
            return "unknown"
        if presented in found.used:
            del self._sessions[sid]
            return "reused"
        if not hmac.compare_digest(found.current, presented):
            return "unknown"
        found.used.add(presented)
        found.current, found.expires = replacement, time.monotonic() + ttl_s
        return "ok"

    async def alive(self, sid: str) -> bool:
        return self._live(sid) is not None

    async def revoke(self, sid: str) -> None:
        self._sessions.pop(sid, None)

    def _live(self, sid: str) -> _Session | None:
        found = self._sessions.get(sid)
        if found is not None and found.expires < time.monotonic():
            del self._sessions[sid]
            return None
        return found


class TokenIssuer:
    def __init__(self, kek: bytes, store: SessionStore, access_ttl_s: int = 900,
                 refresh_ttl_s: int = 30 * 86_400) -> None:
        self.key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                        info=b"gridworks access tokens").derive(kek)
        self.store = store
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    async def open(self, user: UserGrant) -> Tokens:
        """A new session for a user whose password was just checked."""
        sid = secrets.token_hex(12)
        refresh = f"gwr_{sid}.{secrets.token_urlsafe(32)}"
        await _reach(self.store.open(sid, user.username, _digest(refresh), self.refresh_ttl_s))
        return Tokens(self._access(user, sid), refresh, self.access_ttl_s)

    async def refresh(self, refresh_token: str,
                      user_of: Callable[[str], UserGrant | None]) -> Tokens:
        """A new pair for a refresh token; ``user_of(username)`` is the user now (None if it
        is gone or inactive)."""
        sid, username = await self._rotate_check(refresh_token)
        user = user_of(username)
        if user is None:
            await _reach(self.store.revoke(sid))
            raise ApiError(GatewayCode.TOKEN_INVALID, "the user no longer exists or is inactive")
        replacement = f"gwr_{sid}.{secrets.token_urlsafe(32)}"
        outcome = await _reach(self.store.rotate(sid, _digest(refresh_token),
                                                 _digest(replacement), self.refresh_ttl_s))
        if outcome == "reused":
            raise ApiError(GatewayCode.REFRESH_REUSED)
        if outcome != "ok":
            raise ApiError(GatewayCode.TOKEN_INVALID, "unknown or expired refresh token")
        return Tokens(self._access(user, sid), replacement, self.access_ttl_s)

    async def verify(self, token: str) -> Claims:
        """The claims of a live access token; `ApiError` TOKEN_EXPIRED or TOKEN_INVALID."""
        try:
            claims = jwt.decode(token, self.key, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "sid"]})
        except jwt.ExpiredSignatureError:
            raise ApiError(GatewayCode.TOKEN_EXPIRED) from None
        except jwt.InvalidTokenError:
            raise ApiError(GatewayCode.TOKEN_INVALID) from None
        if not await _reach(self.store.alive(claims["sid"])):
            raise ApiError(GatewayCode.TOKEN_INVALID, "the session was ended")
        return Claims(claims["sub"], int(claims["acct"]), claims["role"], int(claims["scp"]),
                      claims["sid"])

    async def end(self, sid: str) -> None:
        await _reach(self.store.revoke(sid))

    def _access(self, user: UserGrant, sid: str) -> str:
        now = int(time.time())
        return jwt.encode({"iss": ISSUER, "sub": user.username, "acct": user.account,
                           "role": user.role, "scp": ROLE_SCOPES.get(user.role, 0), "sid": sid,
                           "iat": now, "exp": now + self.access_ttl_s}, self.key,
                          algorithm=ALGORITHM)

    async def _rotate_check(self, refresh_token: str) -> tuple[str, str]:
        if not refresh_token.startswith("gwr_") or "." not in refresh_token:
            raise ApiError(GatewayCode.TOKEN_INVALID, "not a refresh token")
        sid = refresh_token[4:].partition(".")[0]
        username = await _reach(self.store.owner(sid))
        if username is None:
            raise ApiError(GatewayCode.TOKEN_INVALID, "unknown or expired refresh token")
        return sid, username


async def _reach(work: Awaitable[T]) -> T:
    """The store's answer; with the store away, a clear refusal (revocations must hold, so
    there is no local fallback for sessions)."""
    try:
        return await work
    except SessionsUnavailableError:
        raise ApiError(GatewayCode.SESSIONS_UNAVAILABLE) from None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
