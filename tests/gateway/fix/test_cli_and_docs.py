"""``gridworks fix password`` and ``gridworks fix check``, and the FIX reference's example
configuration (it must load, and name every setting the code has)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import msgspec

from accounts.users import HASHER
from gateway.fix.config import FixConfig, SessionConfig, load

REFERENCE = (Path(__file__).parents[3] / "docs" / "fix.md").read_text("utf-8")


def gridworks(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gridworks.cli", "fix", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def documented_config(tmp_path: Path) -> Path:
    block = REFERENCE.split("<!-- fix-config -->")[1].split("<!-- /fix-config -->")[0]
    path = tmp_path / "fix.toml"
    path.write_text(block.strip().removeprefix("```toml").removesuffix("```"))
    return path


def test_the_documented_config_loads_and_covers_every_setting(tmp_path: Path) -> None:
    config = load(documented_config(tmp_path))
    assert [s.comp_id for s in config.sessions] == ["ALGO1", "DESK", "RISKDESK"]
    assert config.sessions[2].drop_copy
    text = REFERENCE.split("<!-- fix-config -->")[1]
    for struct in (FixConfig, SessionConfig):
        for field in msgspec.structs.fields(struct):
            if field.name != "sessions":
                assert re.search(rf"\b{field.name}\b", text), field.name


def test_check_lists_the_sessions_or_says_what_is_wrong(tmp_path: Path) -> None:
    done = gridworks("check", str(documented_config(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "DESK: trading, password accounts alpha, beta" in done.stdout
    assert "RISKDESK: drop_copy" in done.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text('[[sessions]]\ncomp_id = "X"\n')
    done = gridworks("check", str(broken))
    assert done.returncode == 2
    assert "give key_id or password_hash" in done.stderr


def test_password_prints_an_argon2id_hash_of_it() -> None:
    done = gridworks("password", stdin="a long password 1\n")
    assert done.returncode == 0, done.stderr
    digest = done.stdout.strip()
    assert digest.startswith("$argon2id$")
    assert HASHER.verify(digest, "a long password 1")
    assert gridworks("password", stdin="short\n").returncode == 2
