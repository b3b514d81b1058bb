"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright, for the
terminal's end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "terminal"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Counts the chart's pixels in the candle colours (#26a69a up, #ef5350 down), over every
# canvas lightweight-charts draws on.
CANDLE_PIXELS_JS = """() => {
  const near = (r, g, b, c) => Math.abs(r - c[0]) < 12 && Math.abs(g - c[1]) < 12 && Math.abs(b - c[2]) < 12;
  let up = 0, down = 0;
  for (const canvas of document.querySelectorAll('[data-testid=chart] canvas')) {
    const context = canvas.getContext('2d');
    if (!context || !canvas.width || !canvas.height) continue;
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] < 200) continue;
      if (near(pixels[i], pixels[i + 1], pixels[i + 2], [0x26, 0xa6, 0x9a])) up++;
      else if (near(pixels[i], pixels[i + 1], pixels[i + 2], [0xef, 0x53, 0x50])) down++;
    }
  }
  return { up, down };
}"""


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail where the browser tests must run, as in CI)."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("GRIDWORKS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
