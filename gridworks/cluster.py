"""A cluster on one machine, for development, tests and benchmarks: for each shard a leader
and its standbys (``gridworks serve --role engine``), and stateless gateways
(``--role gateway``), and routers in front of every shard's gateways (``--role router``),
each a process of its own with its own data directory under ``root``, all sharing one
key-encryption key, Kafka and Redis."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bus.tansu import free_port


@dataclass
class Member:
    name: str
    role: str  # engine | gateway | router
    shard: int
    port: int
    rest_port: int = -1
    fix_port: int = -1
    process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ClusterPlan:
    kafka: str
    redis: str
    shards: int = 1
    engines_per_shard: int = 2  # a leader and its standbys
    gateways_per_shard: int = 2
    routers: int = 0  # in front of all the shards' gateways
    redis_prefix: str = "gridworks"
    kafka_prefix: str = ""
    kafka_idempotent: bool = True
    lease_ms: int = 1_000
    host: str = "127.0.0.1"
    # FIX sessions of each shard's first gateway (a TOML file, docs/fix.md): a session's
    # state lives with the one gateway that serves it.
    fix_configs: dict[int, str] = field(default_factory=dict)
    router_fix_config: str = ""  # FIX sessions of the first router, on every shard
    env: dict[str, str] = field(default_factory=dict)  # more GRIDWORKS_* settings


class LocalCluster:
    def __init__(self, root: Path, plan: ClusterPlan) -> None:
        self.root = root
        self.plan = plan
        self.members: list[Member] = []
        kek = os.environ.get("GRIDWORKS_KEK") or base64.b64encode(os.urandom(32)).decode()
        self.env = {**os.environ, **plan.env, "GRIDWORKS_KEK": kek,
                    "GRIDWORKS_REDIS_PREFIX": plan.redis_prefix,
                    "GRIDWORKS_KAFKA_PREFIX": plan.kafka_prefix,
                    "GRIDWORKS_KAFKA_IDEMPOTENT": "1" if plan.kafka_idempotent else "0",
                    "GRIDWORKS_LEASE_MS": str(plan.lease_ms)}
        if plan.routers:  # the gateways take the client's address from the routers
            self.env.setdefault("GRIDWORKS_TRUSTED_PROXIES", plan.host)

    # --- starting ------------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> None:
        """Every shard's first engine (and wait until it leads), its standbys, then the
        gateways (and wait until they answer)."""
        for shard in range(self.plan.shards):
            for k in range(self.plan.engines_per_shard):
                engine = self.spawn("engine", shard, f"engine-{shard}-{chr(97 + k)}")
                if k == 0:
                    self.wait(lambda e=engine: self.status(e).get("role") == "leader", timeout_s)
        for shard in range(self.plan.shards):
            for k in range(self.plan.gateways_per_shard):
                self.spawn("gateway", shard, f"gateway-{shard}-{k + 1}")
        for member in self.members:
            self.wait(lambda m=member: self.ready(m), timeout_s)
        for k in range(self.plan.routers):
            router = self.spawn("router", 0, f"router-{k + 1}")
            self.wait(lambda m=router: self.ready(m), timeout_s)

    def shard_gateways(self) -> str:
        """Every shard's gateways, as a router is told them."""
        return ";".join(f"{shard}=" + ",".join(f"ws://{self.plan.host}:{g.port}/"
                                                for g in self.gateways(shard))
                        for shard in range(self.plan.shards))

    def shard_rest(self) -> str:
        """Every shard's gateways' REST APIs, as a router is told them."""
        return ";".join(f"{shard}=" + ",".join(f"http://{self.plan.host}:{g.rest_port}/"
                                                for g in self.gateways(shard))
                        for shard in range(self.plan.shards))

    def spawn(self, role: str, shard: int, name: str) -> Member:
        member = Member(name, role, shard, free_port(),
                        free_port() if role in ("gateway", "router") else -1)
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "gridworks.cli", "serve", "--role", role,
                "--shard", str(shard), "--shards", str(self.plan.shards),
                "--node-id", name, "--data", str(data), "--host", self.plan.host,
                "--port", str(member.port), "--kafka", self.plan.kafka,
                "--redis", self.plan.redis, "--rest-port", str(member.rest_port)]
        if role == "gateway" and shard in self.plan.fix_configs and not any(
                g.fix_port >= 0 and g.alive for g in self.gateways(shard)):
            member.fix_port = free_port()
            argv += ["--fix-config", self.plan.fix_configs[shard], "--fix-port",
                     str(member.fix_port)]
        if role == "router" and self.plan.router_fix_config and not self.routers():
            member.fix_port = free_port()
            argv += ["--fix-config", self.plan.router_fix_config, "--fix-port",
                     str(member.fix_port)]
        if role == "router":
            argv += ["--shard-gateways", self.shard_gateways(),
                     "--shard-rest", self.shard_rest()]
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        member.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          env=self.env)
        log.close()
        self.members.append(member)
        return member

    # --- looking -------------------------------------------------------------------------------

    def status(self, member: Member) -> dict:
        """The member's /status, or {} while it does not answer."""
        if not member.alive:
            return {}
        try:
            with urllib.request.urlopen(f"http://{self.plan.host}:{member.port}/status",
                                        timeout=1) as reply:
                return json.loads(reply.read())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return {}

    def ready(self, member: Member) -> bool:
        """Whether the member answers its /status, and its FIX port if it has one."""
        if not self.status(member):
            return False
        if member.fix_port < 0:
            return True
        try:
            socket.create_connection((self.plan.host, member.fix_port), timeout=1).close()
        except OSError:
            return False
        return True

    def leader(self, shard: int = 0) -> Member | None:
        for member in self.engines(shard):
            if self.status(member).get("role") == "leader":
                return member
        return None

    def engines(self, shard: int = 0) -> list[Member]:
        return [m for m in self.members if m.role == "engine" and m.shard == shard]

    def gateways(self, shard: int = 0) -> list[Member]:
        return [m for m in self.members if m.role == "gateway" and m.shard == shard]

    def routers(self) -> list[Member]:
        return [m for m in self.members if m.role == "router"]

    def credentials(self, name: str = "demo", shard: int = 0) -> dict:
        """Credentials the first start wrote (in the data directory of whichever engine led)."""
        for member in self.engines(shard):
            path = self.root / member.name / "credentials" / f"{name}.json"
            if path.exists():
                return json.loads(path.read_text())  # type: ignore[no-any-return]
        raise FileNotFoundError(f"no {name} credentials in shard {shard}'s engines")

    @staticmethod
    def wait(condition: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not get there in time")
            time.sleep(0.05)

    # --- stopping ------------------------------------------------------------------------------

    def kill(self, member: Member, sig: int = signal.SIGKILL) -> None:
        assert member.process is not None
        member.process.send_signal(sig)
        member.process.wait(10)

    def stop(self) -> None:
        for member in self.members:
            if member.process is not None and member.alive:
                member.process.send_signal(signal.SIGTERM)
        for member in self.members:
            if member.process is not None:
                try:
                    member.process.wait(10)
                except subprocess.TimeoutExpired:
                    member.process.kill()
                    member.process.wait(5)
