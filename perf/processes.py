"""Starting the benchmark server and load generators as separate processes.

The server runs alone in its process (one event loop, as in production); generators run
in others, so the measured latency includes the real loopback network and the figures are
not flattered by sharing an event loop with the client.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perf.streams import CACHE


@dataclass
class Server:
    port: int
    keys: list[list]
    process: subprocess.Popen[str]
    rest_port: int = 0
    fix_port: int = 0


@contextmanager
def server(fsync: str, accounts: int, rest: bool = False,
           fix: bool = False, idle: str = "sleep") -> Iterator[Server]:
    CACHE.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="gateway-", dir=CACHE))
    process = subprocess.Popen(
        [sys.executable, "-m", "perf.bench_server", "--data", str(data), "--fsync", fsync,
         "--accounts", str(accounts), *(["--rest"] if rest else []),
         *(["--fix"] if fix else []), "--idle", idle],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server did not start")
        info = json.loads(line)
        yield Server(info["port"], info["keys"], process, info.get("rest_port", 0),
                     info.get("fix_port", 0))
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def floor_server() -> Iterator[Server]:
    """`perf.floor_server`: answers every request at once (the benchmarks' floor)."""
    process = subprocess.Popen([sys.executable, "-m", "perf.floor_server"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline() or "{}")
        if "port" not in info:
            raise RuntimeError("the floor server did not start")
        yield Server(info["port"], info["keys"], process)
    finally:
        stop(process)


def stop(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Generator:
    process: subprocess.Popen[str]
    out: Path

    def result(self, timeout: float) -> tuple[dict, np.ndarray]:
        stdout, _ = self.process.communicate(timeout=timeout)
        if self.process.returncode != 0:
            raise RuntimeError(f"load generator failed ({self.process.returncode})")
        summary = json.loads(stdout.strip().splitlines()[-1])
        latencies = np.load(self.out) if self.out.name else np.zeros(0, dtype=np.int64)
        return summary, latencies


def generator(mode: str, port: int, *options: object, out: Path | None = None) -> Generator:
    args: list[str] = [sys.executable, "-m", "perf.loadgen", mode, "--port", str(port)]
    args += [str(o) for o in options]
    if out is not None:
        args += ["--out", str(out)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    return Generator(process, out or Path())


@contextmanager
def scratch() -> Iterator[Path]:
    """A folder for one measurement's files, removed afterwards (benchmarks run often)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="loadgen-", dir=CACHE))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_files(paths: Sequence[Path], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            raise TimeoutError("the load generators did not get ready")
        time.sleep(0.05)
