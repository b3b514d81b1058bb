"""API keys at the edge: making them, sealing their secrets, signing and checking logins.

An API key is a public id (``gwk_`` + 24 hex digits) and a secret shown to its owner once.
Logins are signed with HMAC-SHA256, and HMAC verification needs the secret itself, so a
hash alone cannot be stored (the choice Binance and the other brokers make too). What the
core records instead: the secret's SHA-256 (to identify it) and the secret sealed with
AES-256-GCM under the node's key-encryption key (KEK), bound to the key id. The journal and
the snapshots therefore never hold a usable secret without the KEK, which lives outside the
core: ``GRIDWORKS_KEK`` (base64 of 32 bytes) in production, a file in the data directory in
the embedded default.

The string a client signs for a login is ``"{key_id}\\n{timestamp_ms}\\n{nonce}"``; the
signature is the lowercase hex HMAC-SHA256 of it under the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.commands import ApiKeyGrant

KEY_PREFIX = "gwk_"
KEK_BYTES = 32
NONCE_BYTES = 12
KEK_ENV = "GRIDWORKS_KEK"


class SealError(Exception):
    """A sealed secret could not be opened: a different KEK, or tampered data."""


def new_key(scopes: int, kek: bytes, label: str = "",
            ips: tuple[str, ...] = ()) -> tuple[ApiKeyGrant, str]:
    """A fresh key: the grant to record, and the secret to show its owner once."""
    return _grant(KEY_PREFIX + secrets.token_hex(12), secrets.token_urlsafe(32), scopes, kek,
                  label, ips)


def derived_key(scopes: int, kek: bytes, name: str, label: str = "") -> tuple[ApiKeyGrant, str]:
    """A key that every process holding ``kek`` makes alike for ``name``: a cluster's demo
    accounts get the same key on every shard from each shard's own first leader. Its
    secret is as hard to guess as the KEK, whose holder can open every sealed secret
    anyway."""
    def derive(purpose: bytes) -> bytes:
        return hmac.new(kek, b"gridworks key " + purpose + b"\0" + name.encode(),
                        hashlib.sha256).digest()
    secret = base64.urlsafe_b64encode(derive(b"secret")).rstrip(b"=").decode()
    return _grant(KEY_PREFIX + derive(b"id")[:12].hex(), secret, scopes, kek, label, ())


def _grant(key_id: str, secret: str, scopes: int, kek: bytes, label: str,
           ips: tuple[str, ...]) -> tuple[ApiKeyGrant, str]:
    grant = ApiKeyGrant(
        key_id=key_id, scopes=scopes,
        secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        sealed_secret=seal(secret, key_id, kek), label=label, ips=ips,
    )
    return grant, secret


def seal(secret: str, key_id: str, kek: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, secret.encode(), key_id.encode())


def unseal(grant: ApiKeyGrant, kek: bytes) -> str:
    """The secret of a grant; checks it against the recorded hash too."""
    data = grant.sealed_secret
    try:
        secret = AESGCM(kek).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:],
                                     grant.key_id.encode()).decode()
    except Exception as exc:  # InvalidTag, bad lengths: all mean "cannot open"
        raise SealError(f"cannot open the secret of {grant.key_id}") from exc
    if not hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(),
                               grant.secret_sha256):
        raise SealError(f"the secret of {grant.key_id} does not match its hash")
    return secret


def login_payload(key_id: str, timestamp_ms: int, nonce: str) -> bytes:
    return f"{key_id}\n{timestamp_ms}\n{nonce}".encode()


def sign(secret: str, key_id: str, timestamp_ms: int, nonce: str) -> str:
    return sign_payload(secret, login_payload(key_id, timestamp_ms, nonce))


def request_payload(key_id: str, timestamp_ms: int, nonce: str, method: str, target: str,
                    body: bytes) -> bytes:
    """What a REST request signs: the login string, then the method, the path with its query
    and the SHA-256 of the body (hex; of nothing when there is none), one per line."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{key_id}\n{timestamp_ms}\n{nonce}\n{method.upper()}\n{target}\n{digest}".encode()


def sign_payload(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def request_headers(key_id: str, secret: str, method: str, target: str,
                    body: bytes = b"") -> dict[str, str]:
    """The headers that sign one REST request now, with a fresh nonce."""
    timestamp = time.time_ns() // 1_000_000
    nonce = secrets.token_hex(8)
    payload = request_payload(key_id, timestamp, nonce, method, target, body)
    return {"X-GW-Key": key_id, "X-GW-Timestamp": str(timestamp), "X-GW-Nonce": nonce,
            "X-GW-Signature": sign_payload(secret, payload)}


def ip_allowed(allowed: tuple[str, ...], address: str | None) -> bool:
    """Whether an address is in a key's allow-list (an empty list allows any address)."""
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def login_args(key_id: str, secret: str) -> dict[str, object]:
    """The ``login`` arguments for a key, signed now with a fresh nonce."""
    timestamp = time.time_ns() // 1_000_000
    nonce = secrets.token_hex(8)
    return {"key_id": key_id, "timestamp": timestamp, "nonce": nonce,
            "signature": sign(secret, key_id, timestamp, nonce)}


def signature_matches(secret: str, payload: bytes, signature: str) -> bool:
    expected = sign_payload(secret, payload).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


# --- the key-encryption key --------------------------------------------------------------------

def load_kek(data_dir: Path, environ: dict[str, str] | None = None) -> bytes:
    """The KEK from ``GRIDWORKS_KEK``, else from ``<data>/secrets/kek`` (created on first
    use, readable by the owner only)."""
    env = os.environ if environ is None else environ
    if raw := env.get(KEK_ENV):
        kek = base64.b64decode(raw, validate=True)
        if len(kek) != KEK_BYTES:
            raise ValueError(f"{KEK_ENV} must be the base64 of {KEK_BYTES} bytes")
        return kek
    path = data_dir / "secrets" / "kek"
    if path.exists():
        kek = path.read_bytes()
        if len(kek) != KEK_BYTES:
            raise ValueError(f"{path} must hold {KEK_BYTES} bytes")
        return kek
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kek = os.urandom(KEK_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, kek)
        os.fsync(fd)
    finally:
        os.close(fd)
    return kek
