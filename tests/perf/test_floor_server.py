"""The benchmarks' floor server answers what a real client sends (masked frames, any size),
so the floor case measures a working round trip."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from perf import processes


def test_the_floor_server_answers_every_request_with_its_id() -> None:
    with processes.floor_server() as srv, connect(f"ws://127.0.0.1:{srv.port}/",
                                                  open_timeout=10) as ws:
        for request_id in (1, "login", 77):
            padding = "x" * (300 if request_id == 77 else 3)  # a 16-bit length too
            ws.send(json.dumps({"id": request_id, "op": "place", "args": {"p": padding}}))
            reply = json.loads(ws.recv(timeout=10))
            assert reply == {"id": request_id, "ok": True, "result": {}}
