"""The WebSocket reference is executable where it can be: its quick-start client runs
against a real server, and its test vectors are what the code computes."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from accounts.keys import sign
from marketdata.depth import checksum
from tests.gateway.conftest import Exchange

REFERENCE = (Path(__file__).parents[2] / "docs" / "websocket-api.md").read_text("utf-8")


async def test_the_quick_start_client_trades_and_streams(exchange: Exchange,
                                                         tmp_path: Path) -> None:
    block = REFERENCE.split("<!-- quickstart -->")[1].split("<!-- /quickstart -->")[0]
    code = block.strip().removeprefix("```python").removesuffix("```")
    script = tmp_path / "quickstart.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "GRIDWORKS_URL": exchange.url,
           "GRIDWORKS_KEY_ID": exchange.alice.key_id, "GRIDWORKS_SECRET": exchange.alice.secret}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 0, text
    assert "logged in as alice" in text
    assert re.search(r"^placed \d+ OPEN$", text, re.MULTILINE), text
    assert re.search(r"^order qs-[0-9a-f]{8} OPEN$", text, re.MULTILINE), text
    assert "checksum ok" in text


def test_the_documented_signature_vector() -> None:
    key_id = re.search(r"Test vector: key id `(gwk_\w+)`", REFERENCE)
    rest = re.search(r"secret\s+`([\w-]+)`, timestamp `(\d+)`, nonce\s+`(\w+)` give the "
                     r"signature\s+`([0-9a-f]{64})`", REFERENCE)
    assert key_id
    assert rest
    secret, timestamp, nonce, signature = rest.groups()
    assert sign(secret, key_id.group(1), int(timestamp), nonce) == signature


@pytest.mark.parametrize(("bids", "asks"), [([(141_250, 5), (141_200, 12)],
                                             [(141_300, 6), (141_350, 2)])])
def test_the_documented_checksum_example(bids: list, asks: list) -> None:
    documented = re.search(r'"141250:5\|141200:12#141300:6\|141350:2" -> (\d+)', REFERENCE)
    assert documented
    assert checksum([(p, q, 1) for p, q in bids], [(p, q, 1) for p, q in asks]) == int(
        documented.group(1))
