"""Sub-commands of ``gridworks`` that inspect a node's data or the project: instruments,
journal, replay, snapshot, bench and asyncapi (``serve`` is in `gridworks.commands_serve`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from gridworks.config import (
    NodeConfig,
    core_config,
    from_environment,
    with_overrides,
)


def node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", dest="data_dir", type=Path, default=None,
                   help="data directory holding the journal and snapshots (default ./data)")
    p.add_argument("--book", choices=["fast", "reference"], default=None,
                   help="order book implementation (default fast)")


def node_config(args: argparse.Namespace, **extra: object) -> NodeConfig:
    return with_overrides(from_environment(), data_dir=args.data_dir,
                          book=getattr(args, "book", None), **extra)


# --- instruments ---------------------------------------------------------------------------------

def _register_instruments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("instruments", help="list the demo instruments (or those of a data dir)")
    p.add_argument("--data", dest="data_dir", type=Path, default=None,
                   help="list the instruments recovered from this data directory instead")
    p.set_defaults(handler=_instruments)


def _instruments(args: argparse.Namespace) -> int:
    from engine.instruments import demo_instruments

    if args.data_dir is not None:
        from engine.recovery import recover

        core, _ = recover(args.data_dir, repair=False)
        specs = core.specs
    else:
        specs = demo_instruments()
    print(f"{'id':>3} {'symbol':<20} {'seg':<4} {'tick':>6} {'lot':>5} {'ref':>12} "
          f"{'band':>25}")
    for instr, s in enumerate(specs):
        band = f"{s.band_lo / 100:.2f}-{s.band_hi / 100:.2f}"
        print(f"{instr:>3} {s.symbol:<20} {s.segment:<4} {s.tick / 100:>6.2f} {s.lot:>5} "
              f"{s.ref_price / 100:>12.2f} {band:>25}")
    return 0


# --- journal -------------------------------------------------------------------------------------

def _register_journal(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("journal", help="verify or print the command journal of a data dir")
    p.add_argument("action", choices=["verify", "dump"])
    p.add_argument("--data", dest="data_dir", type=Path, default=Path("data"))
    p.add_argument("--from", dest="from_seq", type=int, default=1, help="dump: first seq")
    p.add_argument("--limit", type=int, default=50, help="dump: commands to print")
    p.set_defaults(handler=_journal)


def _journal(args: argparse.Namespace) -> int:
    from engine import journal
    from engine.recovery import journal_dir

    directory = journal_dir(args.data_dir)
    try:
        scan = journal.scan(directory)
    except journal.JournalCorruptError as exc:
        print(f"CORRUPT: {exc}")
        return 1
    if args.action == "verify":
        print(f"{len(scan.segments)} segment(s), {scan.frames} frame(s), "
              f"seq {scan.first_seq}..{scan.last_seq}")
        if scan.torn_bytes:
            print(f"torn tail: {scan.torn_bytes} bytes ({scan.segments[-1].torn_reason}); "
                  "the next start will cut it")
        print("OK")
        return 0
    shown = 0
    for batch in journal.read(directory, after_seq=args.from_seq - 1):
        for seq, command in zip(batch.rows[:, 1].tolist(), batch.commands(), strict=True):
            print(f"{seq:>10} {command!r}")
            shown += 1
            if shown >= args.limit:
                return 0
    return 0


# --- replay and snapshot -------------------------------------------------------------------------

def _register_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="rebuild the core from a data dir and print its state hash")
    node_options(p)
    p.add_argument("--no-snapshots", action="store_true",
                   help="replay the whole journal from the first command")
    p.add_argument("--check", action="store_true",
                   help="also audit the fast book's internal structures and the ledger")
    p.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from engine.recovery import recover

    config = node_config(args)
    core, report = recover(config.data_dir, core_config(config),
                           use_snapshots=not args.no_snapshots, repair=False)
    for line in report.lines():
        print(line)
    print(f"state hash {core.state_hash()}")
    if not args.check:
        return 0
    problems: list[str] = []
    if config.book == "fast":
        from engine.fastbook.integrity import audit

        problems += audit(core.book.arena)  # type: ignore[attr-defined]
    if core.risk is not None:
        from portfolio.views import trial_balance

        balance = trial_balance(core.risk.state())
        print(f"ledger: clients {balance.clients} paise, system {balance.system}")
        if not balance.balanced:
            problems.append("the ledger does not balance")
    for problem in problems:
        print(f"AUDIT: {problem}")
    print("audit OK" if not problems else f"audit found {len(problems)} problem(s)")
    return 1 if problems else 0


def _register_snapshot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="write a snapshot of a stopped node's data dir")
    node_options(p)
    p.set_defaults(handler=_snapshot)


def _snapshot(args: argparse.Namespace) -> int:
    from engine import snapshot
    from engine.recovery import recover, snapshot_dir
    from gridworks.datadir import DataDirLock

    config = node_config(args)
    with DataDirLock(config.data_dir):  # refuse while a server runs on the directory
        core, report = recover(config.data_dir, core_config(config))
        path = snapshot.write(snapshot_dir(config.data_dir), core.image(),
                              keep=config.snapshot_keep)
    print(f"wrote {path} at seq {core.last_seq} ({report.replayed} commands replayed)")
    return 0


# --- bench ---------------------------------------------------------------------------------------

def _register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the benchmarks in perf/ (prints JSON)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the perf runner")
    p.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from perf import runner

    with contextlib.suppress(BrokenPipeError):
        return runner.main(args.rest)
    return 0


# --- asyncapi ------------------------------------------------------------------------------------

def _register_asyncapi(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("asyncapi", help="print the WebSocket API as an AsyncAPI document")
    p.add_argument("--typescript", action="store_true",
                   help="print the same types as TypeScript declarations (the SDK's generated.ts)")
    p.add_argument("--kafka", action="store_true",
                   help="print the Kafka event topics' document instead (docs/kafka-asyncapi.json)")
    p.set_defaults(handler=_asyncapi)


def _asyncapi(args: argparse.Namespace) -> int:
    from importlib import metadata

    from bus import asyncapi as kafka_asyncapi
    from gateway import asyncapi, typescript

    render = (kafka_asyncapi.render if args.kafka else
              typescript.render if args.typescript else asyncapi.render)
    sys.stdout.write(render(metadata.version("gridworks")))
    return 0


REGISTRARS = (
    _register_instruments,
    _register_journal,
    _register_replay,
    _register_snapshot,
    _register_bench,
    _register_asyncapi,
)
