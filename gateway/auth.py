"""Logins: an API key signs a timestamp and a nonce with HMAC-SHA256 (see `accounts.keys`).

A login is refused when the key is unknown or revoked, when the timestamp is outside the
window around the server's clock (stale), when the signature does not match, or when the
nonce was already used with that key inside the window (replayed). Secrets are unsealed
with the node's KEK on first use and kept in memory only.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import msgspec

from accounts import keys
from accounts.registry import KeyRecord, Registry
from gateway.errors import ApiError, GatewayCode


class LoginArgs(msgspec.Struct, forbid_unknown_fields=True):
    key_id: str
    timestamp: int  # ms since the epoch, as signed
    nonce: str
    signature: str  # lowercase hex HMAC-SHA256


class Authenticator:
    def __init__(self, registry: Callable[[], Registry], kek: bytes, window_ms: int,
                 now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.registry = registry
        self.kek = kek
        self.window_ms = window_ms
        self.now_ms = now_ms
        self._secrets: dict[str, str] = {}
        # Nonces are remembered in memory only: a signature made before this start could be
        # a replay of one whose nonce was forgotten, so none is accepted.
        self.started_ms = now_ms()
        self._nonces: set[tuple[str, str]] = set()
        self._expiry: deque[tuple[int, str, str]] = deque()

    def login(self, args: LoginArgs) -> KeyRecord:
        record = self.registry().active_key(args.key_id)
        if record is None:
            raise ApiError(GatewayCode.UNKNOWN_KEY)
        now = self.now_ms()
        if abs(now - args.timestamp) > self.window_ms:
            raise ApiError(GatewayCode.STALE_SIGNATURE, detail_ms=now - args.timestamp)
        if args.timestamp < self.started_ms:
            raise ApiError(GatewayCode.STALE_SIGNATURE, "signed before the server started; "
                           "sign again", detail_ms=now - args.timestamp)
        if not 8 <= len(args.nonce) <= 64:
            raise ApiError(GatewayCode.INVALID_ARGS, "the nonce must have 8 to 64 characters")
        secret = self._secret(record)
        if not keys.signature_matches(secret, args.key_id, args.timestamp, args.nonce,
                                      args.signature):
            raise ApiError(GatewayCode.BAD_SIGNATURE)
        self._forget_expired(now)
        if (args.key_id, args.nonce) in self._nonces:
            raise ApiError(GatewayCode.REPLAYED_NONCE)
        self._nonces.add((args.key_id, args.nonce))
        self._expiry.append((now + 2 * self.window_ms, args.key_id, args.nonce))
        return record

    def forget(self, key_id: str) -> None:
        """Drop a revoked key's secret from memory."""
        self._secrets.pop(key_id, None)

    def _secret(self, record: KeyRecord) -> str:
        secret = self._secrets.get(record.grant.key_id)
        if secret is None:
            secret = self._secrets[record.grant.key_id] = keys.unseal(record.grant, self.kek)
        return secret

    def _forget_expired(self, now: int) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, key_id, nonce = self._expiry.popleft()
            self._nonces.discard((key_id, nonce))
