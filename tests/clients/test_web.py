"""The web terminal: its unit suite and type check pass, and the build that ships in the
Python package is the build of these sources."""

from __future__ import annotations

import hashlib
import json
import re

from gridworks.config import TERMINAL
from tests.clients.npm import ROOT, assert_vitest_passes, run_npm


def source_digest(inputs: list[str]) -> str:
    """What clients/web/scripts/stamp.mjs computes: every input file's path and bytes."""
    digest = hashlib.sha256()

    def files(path: str) -> list[str]:
        full = ROOT / path
        if full.is_file():
            return [path]
        names = sorted(p.name for p in full.iterdir())
        return [f for name in names for f in files(f"{path}/{name}")]

    for file in (f for path in inputs for f in files(path)):
        digest.update(file.encode() + b"\0" + (ROOT / file).read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_web_unit_suite_passes() -> None:
    assert_vitest_passes("clients/web", at_least=10)


def test_the_web_type_checks() -> None:
    done = run_npm("run", "typecheck", "--workspace", "clients/web")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_packaged_terminal_is_built_from_these_sources() -> None:
    stamp = json.loads((TERMINAL / "build.json").read_text())
    assert stamp["sources"] == source_digest(stamp["inputs"]), (
        "gridworks/terminal is stale: run `npm run build` and commit it")
    index = (TERMINAL / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="/(assets/[^"]+)"', index)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert (TERMINAL / asset).is_file(), asset
    shipped = {p.relative_to(TERMINAL).as_posix() for p in TERMINAL.rglob("*") if p.is_file()}
    assert shipped == {"index.html", "build.json", *assets}, "files index.html does not use"
