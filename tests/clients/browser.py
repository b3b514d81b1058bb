"""Headless Chromium for the terminal's end-to-end tests (see perf/browser.py): skipped
where Debian's chromium is missing, unless the run requires it (CI does)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from perf.browser import chromium as launch
from perf.browser import find_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "terminal"

# Counts the chart's pixels in the candle colours (#26a69a up, #ef5350 down), over every
# canvas lightweight-charts draws on.
CANDLE_PIXELS_JS = """() => {
  const near = (r, g, b, c) =>
    Math.abs(r - c[0]) < 12 && Math.abs(g - c[1]) < 12 && Math.abs(b - c[2]) < 12;
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
    path = find_chromium()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("GRIDWORKS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    with launch(chromium_path()) as browser:
        yield browser
