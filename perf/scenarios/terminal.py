"""Scenario ``terminal``: the web terminal's budgets in headless Chromium.

A server with 20 instruments and the market simulator runs in its own process
(`perf.terminal_server`); Debian's Chromium loads the terminal the server ships and
measures:

* the JavaScript and CSS the page loads, gzipped (goal: JavaScript <= 500 KB);
* first contentful paint of the page on a cold and a warm cache (goal: < 1 s);
* after logging in, with every instrument's ticker, one depth ladder and one chart
  streaming: the frame rate over ``SECONDS`` (goal: 60 fps: at least 58 frames a second,
  99th percentile frame interval within 20 ms), and how long each tick's screen write
  waited for its animation frame (goal: p99 within one frame, 16.7 ms at 60 Hz).

The server, the browser and its renderer share the machine's two cores.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gridworks.config import TERMINAL
from perf import processes, stats
from perf.browser import chromium, find_chromium
from perf.streams import CACHE

SECONDS = 10.0
INSTRUMENTS = 20
SIM_SPEEDS = (2.0, 8.0)  # ~1,000 and ~4,000 simulated orders a second over 20 instruments
FRAME_MS = 1000 / 60
GOALS = {"js_gzip_kb": 500, "fcp_ms": 1000, "fps": 58, "frame_p99_ms": 20,
         "tick_wait_p99_ms": FRAME_MS}
BEST_ASK_SHOWN = ("document.querySelector(\"[data-testid=depth] tr.level.ask[data-index='0']\")"
                  "?.dataset.price")

FRAME_PROBE_JS = """(seconds) => new Promise((done) => {
  const stamps = [];
  const start = performance.now();
  const tick = (t) => {
    stamps.push(t);
    if (t - start < seconds * 1000) requestAnimationFrame(tick); else done(stamps);
  };
  requestAnimationFrame(tick);
})"""

PAINT_JS = """() => new Promise((done) => {
  const found = () => performance.getEntriesByName('first-contentful-paint')[0];
  const wait = () => found() ? done(found().startTime) : setTimeout(wait, 20);
  wait();
})"""


def bundle() -> dict[str, float]:
    """Sizes of what index.html loads, raw and gzipped (level 9, as a server would send)."""
    sizes: dict[str, float] = {}
    for kind in ("js", "css"):
        files = list((TERMINAL / "assets").glob(f"*.{kind}"))
        raw = sum(f.stat().st_size for f in files)
        packed = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
        sizes[f"{kind}_kb"] = round(raw / 1024, 1)
        sizes[f"{kind}_gzip_kb"] = round(packed / 1024, 1)
    return sizes


def start_server(data: Path, speed: float) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "perf.terminal_server", "--data", str(data),
         "--instruments", str(INSTRUMENTS), "--sim-speed", str(speed)],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("the terminal server did not start")
    return process, json.loads(line)


def first_paint(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context()
    try:
        page = context.new_page()
        cold = []
        for _ in range(2):  # the first load fetches everything; the second is cached
            page.goto(url, wait_until="load")
            cold.append(page.evaluate(PAINT_JS))
        return {"cold_ms": round(cold[0], 1), "warm_ms": round(cold[1], 1)}
    finally:
        context.close()


def streaming(browser: Any, url: str, key_id: str, secret: str, seconds: float) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url)
    started = time.perf_counter()
    page.fill("input[name=key_id]", key_id)
    page.fill("input[name=secret]", secret)
    page.click("button[type=submit]")
    page.wait_for_function(BEST_ASK_SHOWN)
    to_live_ms = (time.perf_counter() - started) * 1000
    page.wait_for_timeout(2000)  # history loaded, streams steady
    page.evaluate("window.__gridworks.frames.length = 0")
    stamps = np.array(page.evaluate(FRAME_PROBE_JS, seconds))
    waits = page.evaluate("window.__gridworks.frames.map((f) => [f.wait, f.writes])")
    watched = page.evaluate("document.querySelectorAll('[data-testid^=watch-]').length")
    page.close()
    intervals = np.diff(stamps)
    wait_ms = np.array([w for w, _ in waits]) if waits else np.zeros(0)
    writes = int(sum(n for _, n in waits))
    return {
        "login_to_live_ms": round(to_live_ms, 1),
        "instruments_in_watchlist": watched,
        "fps": round(len(intervals) / (intervals.sum() / 1000), 1) if len(intervals) else 0.0,
        "frame_interval_ms": stats.percentiles(intervals),
        "frames_over_20ms": int((intervals > 20).sum()),
        "frames_over_33ms": int((intervals > 33.4).sum()),
        "frames_with_writes": len(waits),
        "screen_writes_per_s": round(writes / seconds, 1),
        "tick_wait_ms": stats.percentiles(wait_ms),
        "tick_within_one_frame_share":
            round(float((wait_ms <= FRAME_MS).mean()), 4) if len(wait_ms) else None,
    }


def measure(executable: str, speed: float, seconds: float, repeat: int) -> dict[str, Any]:
    CACHE.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="terminal-", dir=CACHE))
    process, info = start_server(data, speed)
    try:
        url = f"http://127.0.0.1:{info['port']}/"
        with chromium(executable) as browser:
            paint = first_paint(browser, url)
            runs = [streaming(browser, url, info["key_id"], info["secret"], seconds)
                    for _ in range(max(1, repeat))]
    finally:
        processes.stop(process)
        shutil.rmtree(data, ignore_errors=True)
    return {"instruments": info["instruments"], "sim_speed": speed,
            "first_contentful_paint": paint, "streaming": runs}


def goals_met(sizes: dict[str, float], case: dict[str, Any]) -> dict[str, bool]:
    run = case["streaming"][-1]
    met = {
        "js_gzip_kb": sizes["js_gzip_kb"] <= GOALS["js_gzip_kb"],
        "fcp_ms": case["first_contentful_paint"]["cold_ms"] < GOALS["fcp_ms"],
        "fps": run["fps"] >= GOALS["fps"],
        "frame_p99_ms": run["frame_interval_ms"].get("p99", 1e9) <= GOALS["frame_p99_ms"],
        "tick_wait_p99_ms": run["tick_wait_ms"].get("p99", 1e9) <= GOALS["tick_wait_p99_ms"],
    }
    return {name: bool(ok) for name, ok in met.items()}  # numpy booleans are not JSON


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    """``ops``: seconds of streaming per case, and then only the first speed (a quick run)."""
    executable = find_chromium()
    if executable is None:
        raise SystemExit("the terminal benchmark needs Debian's chromium "
                         "(apt-get install -y chromium)")
    sizes = bundle()
    seconds, speeds = (float(ops), SIM_SPEEDS[:1]) if ops else (SECONDS, SIM_SPEEDS)
    cases = {f"speed {speed:g}": measure(executable, speed, seconds, repeat) for speed in speeds}
    for case in cases.values():
        case["goals_met"] = goals_met(sizes, case)
    return {"seconds": seconds, "bundle": sizes, "goals": GOALS, **cases}
