"""The web terminal in headless Chromium against a real `gridworks serve --simulate`: a
trader logs in, watches candles and depth move, places, modifies and cancels a limit order,
then crosses the spread and sees the fill and the position's P&L. Screenshots go to
test-artifacts/terminal/."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from perf import processes
from tests.clients.browser import ARTIFACTS, CANDLE_PIXELS_JS, chromium
from tests.gridworks.test_serve import free_port, read_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The README's server, simulating, with the terminal it ships: its URL and the demo
    trader's credentials file (with the data directory and port added)."""
    port = free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridworks.cli", "serve", "--data", str(data), "--port", str(port),
         "--rest-port", "0",
         "--fsync", "os", "--simulate", "--sim-speed", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = read_until(proc, "market simulator on", timeout=240)
        assert f"gridworks: web terminal on http://127.0.0.1:{port}/" in "\n".join(printed)
        credentials = json.loads((data / "credentials" / "demo.json").read_text())
        yield f"http://127.0.0.1:{port}/", {**credentials, "data": str(data), "port": str(port)}
    finally:
        processes.stop(proc, timeout=15)


def eventually(what: str, check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def rupees(paise: int) -> str:
    return f"{paise // 100}.{paise % 100:02d}"


def test_a_trader_logs_in_watches_the_market_and_trades(served: tuple[str, dict[str, str]]) -> None:
    url, credentials = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

        # log in
        page.goto(url)
        page.fill("input[name=key_id]", credentials["key_id"])
        page.fill("input[name=secret]", credentials["secret"])
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=chart]")
        eventually("the connection", lambda: "Live" in page.inner_text("[data-testid=connection]"))

        # candles and depth move
        def best(side: str) -> int:
            row = f"[data-testid=depth] tr.level.{side}[data-index='0']"
            return int(page.get_attribute(row, "data-price") or 0)

        eventually("a two-sided book", lambda: best("ask") and best("bid"))
        ladder = page.locator("[data-testid=depth] .ladder")
        before = ladder.inner_text()
        eventually("the depth to move", lambda: ladder.inner_text() != before)

        def candle_pixels() -> dict[str, int] | None:
            pixels = page.evaluate(CANDLE_PIXELS_JS)
            return pixels if pixels["up"] + pixels["down"] > 50 else None

        drawn = eventually("candles on the chart", candle_pixels)
        chart = page.locator("[data-testid=chart]")
        chart_before = chart.screenshot()
        eventually("the chart to move", lambda: chart.screenshot() != chart_before, timeout=20)
        page.screenshot(path=ARTIFACTS / "1-market.png")

        # a limit buy well below the market: it rests in open orders
        low = best("bid") - 40 * 5
        page.keyboard.press("F1")
        ticket = page.locator("[data-testid=ticket]")
        ticket.locator("input[name=lots]").fill("2")
        ticket.locator("input[name=price]").fill(rupees(low))
        ticket.locator("button.submit").click()
        status = ticket.locator("[role=status]")
        eventually("the order accepted", lambda: "open" in status.inner_text().lower())
        row = page.locator("[data-testid=open-orders] tr[data-order-id]")
        eventually("the order in open orders", lambda: row.count() == 1)
        order_id = row.first.get_attribute("data-order-id")
        shown = row.first.locator("[data-testid=order-price]").inner_text()
        assert shown == f"{low // 100:,}.{low % 100:02d}"
        page.screenshot(path=ARTIFACTS / "2-open-order.png")

        # modify its price
        row.first.get_by_role("button", name="Modify").click()
        assert ticket.get_by_text(f"Modify #{order_id}").is_visible()
        lower = low - 10 * 5
        ticket.locator("input[name=price]").fill(rupees(lower))
        ticket.locator("button.submit").click()
        eventually("the new price in open orders", lambda: row.first.locator(
            "[data-testid=order-price]").inner_text().replace(",", "") == rupees(lower))

        # cancel it
        row.first.get_by_role("button", name="Cancel").click()
        eventually("no open orders", lambda: row.count() == 0)
        page.get_by_role("tab", name="Orders", exact=True).click()
        cancelled = page.locator(f"[data-testid=orders] tr[data-order-id='{order_id}']")
        assert "CANCELLED" in cancelled.inner_text()

        # a server rejection shows next to its field: a price outside the band
        page.keyboard.press("Escape")
        page.keyboard.press("F1")
        ticket.locator("input[name=price]").fill("99999")
        ticket.locator("button.submit").click()
        price_label = ticket.locator("label", has=page.locator("input[name=price]"))
        eventually("the band rejection", lambda: "band" in price_label.inner_text())

        # cross the spread: buy above the best ask, and see the fill and the position
        cross = best("ask") + 20 * 5
        ticket.locator("input[name=price]").fill(rupees(cross))
        ticket.locator("select[name=validity]").select_option("ioc")
        ticket.locator("button.submit").click()
        eventually("the buy filled", lambda: "fill" in status.inner_text().lower())
        page.get_by_role("tab", name=re.compile("Fills")).click()
        eventually("the fill", lambda: page.locator("[data-testid=fills] tbody tr").count() >= 1)
        fill_row = page.locator("[data-testid=fills] tbody tr").first.inner_text()
        assert "BUY" in fill_row
        assert "RELIANCE" in fill_row
        page.get_by_role("tab", name="Positions", exact=True).click()
        position = page.locator("[data-testid=positions] tr[data-symbol=RELIANCE]")
        eventually("the position", lambda: position.count() == 1)
        assert re.search(r"\b1\b", position.locator("td").nth(2).inner_text())
        pnl = position.locator("[data-testid=position-pnl]").inner_text()
        assert re.fullmatch(r"[+-]?[\d,]+\.\d\d", pnl), pnl
        assert pnl != "0.00" or page.inner_text("[data-testid=day-pnl]") == "0.00"
        page.screenshot(path=ARTIFACTS / "3-filled.png")

        assert drawn["up"] + drawn["down"] > 50
        assert not [p for p in problems if "favicon" not in p], problems


def test_a_user_logs_in_with_a_password(served: tuple[str, dict[str, str]]) -> None:
    url, served_info = served
    made = subprocess.run(
        [sys.executable, "-m", "gridworks.cli", "accounts", "--data", served_info["data"], "user",
         "demo", "asha.e2e", "--role", "trader"], input="a long e2e password\n", text=True,
        capture_output=True, timeout=60, env={**os.environ, "GRIDWORKS_PORT": served_info["port"]},
        check=False)
    assert made.returncode == 0, made.stderr  # through the running server's admin operations
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.get_by_role("tab", name="Password").click()
        page.fill("input[name=username]", "asha.e2e")
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        eventually("the refusal", lambda: "password" in page.inner_text("[role=alert]").lower())
        page.fill("input[name=password]", "a long e2e password")
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=chart]")
        eventually("the connection", lambda: "Live" in page.inner_text("[data-testid=connection]"))
        assert "asha.e2e · demo" in page.inner_text(".user")
        page.screenshot(path=ARTIFACTS / "4-password-login.png")
