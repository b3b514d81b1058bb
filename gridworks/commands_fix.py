"""``gridworks fix``: the FIX acceptor's helpers.

* ``gridworks fix password`` reads a password (from standard input, or a prompt) and
  prints its argon2id hash for a session's ``password_hash``.
* ``gridworks fix check FILE`` loads a FIX configuration and prints its sessions, or why
  it cannot be used.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fix", help="FIX acceptor helpers: password hashes, config checks")
    actions = p.add_subparsers(dest="fix_command", metavar="ACTION", required=True)
    password = actions.add_parser("password", help="print the argon2id hash of a password")
    password.set_defaults(handler=_password)
    check = actions.add_parser("check", help="check a FIX configuration file")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_check)


def _password(args: argparse.Namespace) -> int:
    from accounts.users import HASHER

    if sys.stdin.isatty():
        secret = getpass.getpass("password: ")
        if getpass.getpass("again: ") != secret:
            print("gridworks: the passwords differ", file=sys.stderr)
            return 2
    else:
        secret = sys.stdin.readline().rstrip("\n")
    if len(secret) < 12:
        print("gridworks: use a password of 12 characters or more", file=sys.stderr)
        return 2
    print(HASHER.hash(secret))
    return 0


def _check(args: argparse.Namespace) -> int:
    from gateway.fix.config import FixConfigError, load

    try:
        config = load(args.file)
    except FixConfigError as exc:
        print(f"gridworks: {exc}", file=sys.stderr)
        return 2
    print(f"FIX 4.4 acceptor on port {config.port} as {config.comp_id}, "
          f"daily reset {config.reset_at} (Indian time)")
    for s in config.sessions:
        login = f"API key {s.key_id}" if s.key_id else "password"
        accounts = f" accounts {', '.join(s.accounts)}" if s.accounts else ""
        print(f"  {s.comp_id}: {s.kind}, {login}{accounts}")
    return 0
