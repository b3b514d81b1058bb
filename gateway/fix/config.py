"""The FIX acceptor's configuration: a TOML file naming the port and every session.

```toml
port = 9878                 # the acceptor's TCP port
comp_id = "GRIDWORKS"       # our CompID: the clients' TargetCompID
reset_at = "06:00"          # daily sequence reset, Indian time

[[sessions]]
comp_id = "ALGO1"           # the client's SenderCompID
key_id = "gw_..."           # log on with this API key: Username(553) = key id,
                            # Password(554) = its secret; trades the key's account

[[sessions]]
comp_id = "DESK"
password_hash = "$argon2id$..."   # or a configured password (`gridworks fix password`)
accounts = ["alpha", "beta"]      # the accounts it trades (Account(1) picks one)

[[sessions]]
comp_id = "RISKDESK"
kind = "drop_copy"          # read-only: every ExecutionReport of its accounts
password_hash = "$argon2id$..."
accounts = ["alpha", "beta"]
```

A session with an API key trades (or, as a drop copy, watches) that key's account only and
needs the key's trade scope (read for a drop copy); its IP allow-list applies.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from risk.commands import IST

CompId = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]


class FixConfigError(ValueError):
    """The FIX configuration cannot be used; the message says why."""


class SessionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    comp_id: CompId
    kind: Literal["trading", "drop_copy"] = "trading"
    key_id: str = ""
    password_hash: str = ""
    accounts: list[str] = []
    product: Literal["CNC", "MIS", "NRML"] = "MIS"  # when an order has no Product(5001)
    reset_at: str = ""  # "" = the acceptor's

    @property
    def drop_copy(self) -> bool:
        return self.kind == "drop_copy"


class FixConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    port: int = 9878
    host: str = ""  # "" = the node's host
    comp_id: CompId = "GRIDWORKS"
    reset_at: str = "06:00"
    max_skew_s: int = 120  # SendingTime accuracy
    logon_timeout_s: float = 10.0
    keep_messages: int = 200_000  # sent application messages kept per session for resends
    sessions: list[SessionConfig] = []

    def reset_time(self, session: SessionConfig) -> dt.time:
        return _clock(session.reset_at or self.reset_at)


def load(path: Path) -> FixConfig:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FixConfigError(f"{path}: {exc}") from None
    try:
        config = msgspec.convert(raw, FixConfig)
    except msgspec.ValidationError as exc:
        raise FixConfigError(f"{path}: {exc}") from None
    check(config)
    return config


def check(config: FixConfig) -> None:
    _clock(config.reset_at)
    seen: set[str] = set()
    for s in config.sessions:
        where = f"session {s.comp_id}"
        if s.comp_id in seen or s.comp_id == config.comp_id:
            raise FixConfigError(f"{where}: CompIDs must be unique")
        seen.add(s.comp_id)
        if bool(s.key_id) == bool(s.password_hash):
            raise FixConfigError(f"{where}: give key_id or password_hash (one of them)")
        if s.key_id and s.accounts:
            raise FixConfigError(f"{where}: a key's session uses the key's account; "
                                 "drop accounts")
        if s.password_hash and not s.accounts:
            raise FixConfigError(f"{where}: a password session needs accounts")
        if s.password_hash and not s.password_hash.startswith("$argon2"):
            raise FixConfigError(f"{where}: password_hash must be an argon2 hash "
                                 "(gridworks fix password)")
        if s.reset_at:
            _clock(s.reset_at)


def session_day(now_ns: int, reset_at: dt.time) -> str:
    """The session day a moment belongs to: a day begins at ``reset_at`` Indian time."""
    moment = dt.datetime.fromtimestamp(now_ns / 1e9, IST)
    start = dt.datetime.combine(moment.date(), reset_at, IST)
    day = moment.date() if moment >= start else moment.date() - dt.timedelta(days=1)
    return day.isoformat()


def _clock(text: str) -> dt.time:
    try:
        hours, minutes = text.split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise FixConfigError(f"expected a time of day as HH:MM, got {text!r}") from None
