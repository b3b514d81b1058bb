"""Users who log in with a password: argon2id hashes, roles, and what each role may do.

The core records a user's name, role, account and the hash of the password (`UserGrant`),
never the password. Hashing and checking happen at the edge, on a worker thread: argon2id is
deliberately slow (about 20-30 ms here with OWASP's minimum parameters: 19 MiB, two passes,
one lane), which must not stall the event loop that serves orders.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accounts.registry import Scope
from engine.commands import UserGrant

HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
MIN_PASSWORD = 10

# What a user's access token may do on the account it belongs to.
ROLE_SCOPES: dict[str, int] = {
    "trader": Scope.READ | Scope.TRADE | Scope.WITHDRAW,
    "risk_officer": Scope.READ,
    "admin": Scope.READ | Scope.ADMIN,
    "partner": Scope.READ,
}


class PasswordTooWeakError(ValueError):
    """A password shorter than `MIN_PASSWORD` characters."""


def user_grant(username: str, account: int, role: str, password: str,
               active: bool = True) -> UserGrant:
    if len(password) < MIN_PASSWORD:
        raise PasswordTooWeakError(f"a password needs at least {MIN_PASSWORD} characters")
    return UserGrant(username.lower(), account, role, HASHER.hash(password), active)


def password_matches(grant: UserGrant, password: str) -> bool:
    try:
        return HASHER.verify(grant.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def check_password(grant: UserGrant, password: str) -> bool:
    return await asyncio.to_thread(password_matches, grant, password)
