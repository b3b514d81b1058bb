"""Running the JavaScript workspaces' scripts from the Python suite, so one command runs
everything: the clients' tests, type checks and builds report here as ordinary tests."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def npm_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "CI": "1", **(extra or {})}


def require_node_modules() -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is not installed: the client tests need Node 20 and npm")
    if not (ROOT / "node_modules" / ".bin" / "vitest").exists():
        pytest.fail("the JavaScript dependencies are not installed: run `npm ci` at the root")


def run_npm(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    require_node_modules()
    done = subprocess.run(["npm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=npm_environment(env), check=False)
    return _clean(done)


async def run_npm_async(*args: str, timeout: float = 300, env: dict[str, str] | None = None,
                        ) -> subprocess.CompletedProcess[str]:
    """The same, without blocking the event loop (for tests that serve a node meanwhile)."""
    require_node_modules()
    process = await asyncio.create_subprocess_exec(
        "npm", *args, cwd=ROOT, env=npm_environment(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode is not None
    return _clean(subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode()))


def vitest_counts(output: str) -> dict[str, int]:
    """`Tests  12 passed | 1 skipped (13)` -> {"passed": 12, "skipped": 1}."""
    line = next((ln for ln in output.splitlines() if ln.strip().startswith("Tests ")), "")
    return {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|todo)", line)}


def assert_vitest_passes(workspace: str, at_least: int) -> None:
    """The workspace's vitest suite passes, with at least ``at_least`` tests run."""
    done = run_npm("test", "--workspace", workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = vitest_counts(done.stdout)
    assert counts.get("passed", 0) >= at_least, done.stdout
    assert not counts.get("failed"), done.stdout


def _clean(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    done.stdout = ANSI.sub("", done.stdout)
    done.stderr = ANSI.sub("", done.stderr)
    return done
