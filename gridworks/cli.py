"""The ``gridworks`` command line.

Every sub-command is registered in `COMMANDS`, so ``gridworks --help`` lists them all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from gridworks import (
    commands_accounts,
    commands_cluster,
    commands_core,
    commands_db,
    commands_fix,
    commands_relay,
    commands_serve,
    commands_transfer,
)
from gridworks.config import ConfigError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridworks",
        description="GridWorks: a realtime trading and market-data server.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in [commands_serve.register, *commands_core.REGISTRARS,
                     commands_accounts.register, commands_db.register, commands_fix.register,
                     commands_relay.register, commands_cluster.register,
                     commands_transfer.register]:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"gridworks: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
