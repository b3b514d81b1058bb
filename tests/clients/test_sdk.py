"""The TypeScript SDK: its types are the server's, its unit suite passes, and it trades,
streams and resumes against a real server."""

from __future__ import annotations

from importlib import metadata

from gateway import typescript
from tests.clients.npm import ROOT, assert_vitest_passes, run_npm, run_npm_async, vitest_counts
from tests.gateway.conftest import Exchange

GENERATED = ROOT / "clients" / "sdk" / "src" / "generated.ts"


def test_the_sdk_types_are_what_the_server_generates() -> None:
    expected = typescript.render(metadata.version("gridworks"))
    assert GENERATED.read_text(encoding="utf-8") == expected, (
        "clients/sdk/src/generated.ts is stale: run "
        "`gridworks asyncapi --typescript > clients/sdk/src/generated.ts`")


def test_the_sdk_unit_suite_passes() -> None:
    assert_vitest_passes("clients/sdk", at_least=60)


def test_the_sdk_type_checks() -> None:
    done = run_npm("run", "typecheck", "--workspace", "clients/sdk")
    assert done.returncode == 0, done.stdout + done.stderr


async def test_the_sdk_trades_and_resumes_against_a_real_server(exchange: Exchange) -> None:
    env = {"GRIDWORKS_LIVE_URL": exchange.url,
           "GRIDWORKS_ALICE_KEY": exchange.alice.key_id,
           "GRIDWORKS_ALICE_SECRET": exchange.alice.secret,
           "GRIDWORKS_BOB_KEY": exchange.bob.key_id,
           "GRIDWORKS_BOB_SECRET": exchange.bob.secret,
           "NODE_OPTIONS": "--experimental-websocket"}
    done = await run_npm_async("exec", "--workspace", "clients/sdk", "--", "vitest", "run",
                               "test/live.test.ts", env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert vitest_counts(done.stdout) == {"passed": 1}, done.stdout
