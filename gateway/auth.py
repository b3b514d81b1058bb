"""Logins: an API key signs a timestamp and a nonce with HMAC-SHA256 (see `accounts.keys`).

A login is refused when the key is unknown or revoked, when the timestamp is outside the
window around the server's clock (stale), when the signature does not match, or when the
nonce was already used with that key inside the window (replayed). Each process remembers
the nonces it saw; with a shared ledger (Redis, `store.nonces`) a nonce is also claimed
across every process, so a signature sent again to another gateway is refused too. Secrets
are unsealed with the node's KEK on first use and kept in memory only.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import msgspec

from accounts import keys
from accounts.registry import KeyRecord, Registry
from gateway.errors import ApiError, GatewayCode


class LoginArgs(msgspec.Struct, forbid_unknown_fields=True):
    key_id: str
    timestamp: int  # ms since the epoch, as signed
    nonce: str
    signature: str  # lowercase hex HMAC-SHA256


class NonceLedger(Protocol):
    async def claim(self, key_id: str, nonce: str, ttl_ms: int) -> bool: ...


class Authenticator:
    def __init__(self, registry: Callable[[], Registry], kek: bytes, window_ms: int,
                 now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 shared: NonceLedger | None = None) -> None:
        self.registry = registry
        self.shared = shared
        self.kek = kek
        self.window_ms = window_ms
        self.now_ms = now_ms
        self._secrets: dict[str, str] = {}
        # Nonces are remembered in memory only: a signature made before this start could be
        # a replay of one whose nonce was forgotten, so none is accepted.
        self.started_ms = now_ms()
        self._nonces: set[tuple[str, str]] = set()
        self._expiry: deque[tuple[int, str, str]] = deque()

    def login(self, args: LoginArgs, address: str | None = None) -> KeyRecord:
        """A WebSocket login: the key signed its id, a timestamp and a nonce."""
        return self.verify(args.key_id, args.timestamp, args.nonce, args.signature,
                           keys.login_payload(args.key_id, args.timestamp, args.nonce),
                           address)

    def verify(self, key_id: str, timestamp: int, nonce: str, signature: str, payload: bytes,
               address: str | None = None) -> KeyRecord:
        """The active key that signed ``payload`` now, from an address it allows, with a
        nonce not used before; `ApiError` otherwise (the checks in the documented order)."""
        record = self.registry().active_key(key_id)
        if record is None:
            raise ApiError(GatewayCode.UNKNOWN_KEY)
        now = self.now_ms()
        if abs(now - timestamp) > self.window_ms:
            raise ApiError(GatewayCode.STALE_SIGNATURE, detail_ms=now - timestamp)
        if timestamp < self.started_ms:
            raise ApiError(GatewayCode.STALE_SIGNATURE, "signed before the server started; "
                           "sign again", detail_ms=now - timestamp)
        if not 8 <= len(nonce) <= 64:
            raise ApiError(GatewayCode.INVALID_ARGS, "the nonce must have 8 to 64 characters")
        if not keys.signature_matches(self.secret(record), payload, signature):
            raise ApiError(GatewayCode.BAD_SIGNATURE)
        if not keys.ip_allowed(record.grant.ips, address):
            raise ApiError(GatewayCode.IP_NOT_ALLOWED, address=address)
        self._forget_expired(now)
        if (key_id, nonce) in self._nonces:
            raise ApiError(GatewayCode.REPLAYED_NONCE)
        self._nonces.add((key_id, nonce))
        self._expiry.append((now + 2 * self.window_ms, key_id, nonce))
        return record

    async def claim(self, key_id: str, nonce: str) -> None:
        """After `verify`: the nonce's first use in every process sharing the ledger."""
        if self.shared is not None and not await self.shared.claim(key_id, nonce,
                                                                  2 * self.window_ms):
            raise ApiError(GatewayCode.REPLAYED_NONCE)

    def forget(self, key_id: str) -> None:
        """Drop a revoked key's secret from memory."""
        self._secrets.pop(key_id, None)

    def secret(self, record: KeyRecord) -> str:
        """A key's secret (unsealed once, then kept in memory)."""
        secret = self._secrets.get(record.grant.key_id)
        if secret is None:
            secret = self._secrets[record.grant.key_id] = keys.unseal(record.grant, self.kek)
        return secret

    def _forget_expired(self, now: int) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, key_id, nonce = self._expiry.popleft()
            self._nonces.discard((key_id, nonce))
