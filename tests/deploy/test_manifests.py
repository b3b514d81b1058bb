"""The Kubernetes manifests in deploy/: every document is valid against the official schema of
its kind and apiVersion (bundled by kubernetes-validate, so no network is needed), and the
manifests agree with each other and with the ``gridworks`` command line: every shard has its
engines, its gateways, its follower and its database, and nothing of one shard points at
another's."""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import msgspec
import pytest
import yaml

from accounts.keys import KEK_ENV
from gridworks.cli import build_parser
from gridworks.config import ENV_PREFIX, NodeConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# The oldest and the newest Kubernetes versions the manifests are checked against (both are
# bundled by the pinned kubernetes-validate).
K8S_VERSIONS = ("1.25.0", "1.37.0")
NAMESPACE = "gridworks"
CONFIG_MAP = "gridworks-config"
SECRET = "gridworks-secrets"
SHARDS = 2
SHARD_LABEL = "gridworks/shard"
COMPONENT = "app.kubernetes.io/component"
# The role of each container (``--role``, or ``migrate`` for ``gridworks db migrate``) and the
# component label of its pods.
COMPONENTS = {"engine": "engine", "gateway": "gateway", "follower": "follower",
              "migrate": "db-migrate", "router": "router"}
CLUSTER_WIDE = {"router"}  # roles in front of every shard: their objects carry no shard
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet", "Pod", "CronJob"}
CLUSTER_SCOPED = {"Namespace"}
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# What names a shard's objects and its database: gridworks-engine-1, GRIDWORKS_PG_SHARD_1.
SHARD_NAMES = re.compile(r"(gridworks-(?:engine|gateway|follower|db-migrate)-|GRIDWORKS_PG_SHARD_)"
                         r"(\d+)(?!\d)")
# The variables every process reads from its environment: its settings (GRIDWORKS_<FIELD>)
# and the key-encryption key.
SETTINGS = {ENV_PREFIX + f.name.upper() for f in msgspec.structs.fields(NodeConfig)} | {KEK_ENV}

Doc = dict[str, Any]


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.glob("*.yaml"), *DEPLOY.glob("*.yml")])


def load(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


DOCS: list[tuple[str, Doc]] = [(p.name, doc) for p in yaml_files() for doc in load(p)]
RESOURCES = [(f, d) for f, d in DOCS if d.get("kind") != "Kustomization"]


def of_kind(kind: str) -> list[Doc]:
    return [d for _, d in RESOURCES if d["kind"] == kind]


def one(kind: str, name: str) -> Doc:
    found = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def doc_id(file: str, doc: Doc) -> str:
    return f"{file}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def pod_template(doc: Doc) -> Doc:
    """The pod spec of a workload (its template's, a CronJob's job template's)."""
    if doc["kind"] == "Pod":
        return doc["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: Doc) -> dict[str, str]:
    if doc["kind"] == "Pod":
        return doc["metadata"].get("labels", {})
    return doc["spec"]["template"]["metadata"].get("labels", {})


def workloads() -> list[tuple[str, Doc]]:
    return [(f, d) for f, d in RESOURCES if d["kind"] in WORKLOADS]


def containers(doc: Doc) -> list[Doc]:
    spec = pod_template(doc)
    return [*spec.get("initContainers", []), *spec["containers"]]


def all_containers() -> list[tuple[str, Doc, Doc]]:
    return [(doc_id(f, d), d, c) for f, d in workloads() for c in containers(d)]


def options(command: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of a command (every flag the manifests use takes a value)."""
    found: dict[str, str] = {}
    args = iter(command)
    for arg in args:
        if arg.startswith("--"):
            assert arg not in found, f"{arg} given twice in {command}"
            found[arg] = next(args)
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError("the gridworks parser has no sub-commands")


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (CPU or memory) as a number."""
    text = str(value)
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may reach the network: the schemas are the ones the package ships."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the manifest tests must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# --- the documents and the schemas -------------------------------------------------------------

def test_every_document_is_a_kubernetes_object() -> None:
    assert yaml_files(), "no manifests in deploy/"
    for file, doc in DOCS:
        assert isinstance(doc, dict), f"{file}: a document that is not a mapping"
        assert {"apiVersion", "kind"} <= doc.keys(), f"{file}: a document without apiVersion/kind"
    assert [f for f, d in DOCS if d["kind"] == "Kustomization"] == ["kustomization.yaml"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("file", "doc"),
                         [pytest.param(f, d, id=doc_id(f, d)) for f, d in RESOURCES])
def test_document_matches_the_kubernetes_schema(file: str, doc: Doc, version: str) -> None:
    try:
        checked = kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{doc_id(file, doc)} against Kubernetes {version}: {where}: {exc.message}")
    assert checked == version.rsplit(".", 1)[0]  # the schema of that very version was used


@pytest.mark.parametrize("breakage", ["unknown field", "wrong type", "missing field"])
def test_the_validator_rejects_a_broken_manifest(breakage: str) -> None:
    """The schema check is not vacuous: the same validation refuses a spoilt copy."""
    statefulset = copy.deepcopy(of_kind("StatefulSet")[0])
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    if breakage == "unknown field":
        container["comand"] = container.pop("command")
    elif breakage == "wrong type":
        container["ports"][0]["containerPort"] = "8080"
    else:
        del statefulset["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, K8S_VERSIONS[-1], strict=True)


# --- kustomization and namespace ---------------------------------------------------------------

def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = load(DEPLOY / "kustomization.yaml")[0]
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), f"listed twice: {listed}"
    on_disk = {p.name for p in yaml_files()} - {"kustomization.yaml"}
    assert set(listed) - on_disk == set(), "listed in kustomization.yaml but not in deploy/"
    assert on_disk - set(listed) == set(), "in deploy/ but not listed in kustomization.yaml"
    assert kustomization["namespace"] == NAMESPACE
    images = {i["name"] for i in kustomization.get("images", [])}
    for where, _, container in all_containers():
        assert container["image"].split(":")[0] in images, f"{where}: image not in images:"


def test_every_object_is_in_the_namespace() -> None:
    assert [d["metadata"]["name"] for d in of_kind("Namespace")] == [NAMESPACE]
    for file, doc in RESOURCES:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"].get("namespace") == NAMESPACE, doc_id(file, doc)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_same_objects() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], capture_output=True,
                           text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    objects = [d for d in yaml.safe_load_all(built.stdout) if d]
    names = sorted((d["kind"], d["metadata"]["name"]) for d in objects)
    assert names == sorted((d["kind"], d["metadata"]["name"]) for _, d in RESOURCES)


# --- shards and roles --------------------------------------------------------------------------

def shard_of(doc: Doc) -> int:
    """The shard a workload (or a Service, a budget) belongs to, from its label."""
    value = doc["metadata"].get("labels", {}).get(SHARD_LABEL, "")
    assert re.fullmatch(r"\d+", value), f"{doc_id('', doc)}: no {SHARD_LABEL} label"
    return int(value)


def role_of(container: Doc) -> str:
    command = container["command"]
    return options(command).get("--role", "") if command[1] == "serve" else "migrate"


def role_workloads(role: str) -> list[Doc]:
    """The workloads whose pods carry ``role``'s component label."""
    return [d for _, d in workloads() if pod_labels(d).get(COMPONENT) == COMPONENTS[role]]


def one_per_shard(role: str) -> dict[int, Doc]:
    found: dict[int, list[Doc]] = {}
    for doc in role_workloads(role):
        found.setdefault(shard_of(doc), []).append(doc)
    assert sorted(found) == list(range(SHARDS)), f"{role}: shards {sorted(found)}"
    for shard, docs in found.items():
        assert len(docs) == 1, f"{role}: {len(docs)} workloads for shard {shard}"
    return {shard: docs[0] for shard, docs in found.items()}


def pg_of(shard: int) -> str:
    return f"$(GRIDWORKS_PG_SHARD_{shard})"


def expected_flags(role: str, shard: int) -> dict[str, str]:
    """The flags each role's command must give (more are allowed, not other values)."""
    if role == "migrate":
        return {"--pg": pg_of(shard)}
    if role == "router":
        gateways = ";".join(f"{k}=ws://gridworks-gateway-{k}:8080/" for k in range(SHARDS))
        rest = ";".join(f"{k}=http://gridworks-gateway-{k}:8081/" for k in range(SHARDS))
        return {"--role": role, "--shards": str(SHARDS), "--shard-gateways": gateways,
                "--shard-rest": rest, "--host": "0.0.0.0", "--port": "8080",
                "--rest-port": "8081"}
    common = {"--role": role, "--shard": str(shard), "--shards": str(SHARDS),
              "--kafka": "$(GRIDWORKS_KAFKA)", "--host": "0.0.0.0", "--port": "8080"}
    return {
        "engine": {**common, "--redis": "$(GRIDWORKS_REDIS)", "--node-id": "$(POD_NAME)"},
        # A gateway's REST API serves history from its shard's database.
        "gateway": {**common, "--redis": "$(GRIDWORKS_REDIS)", "--pg": pg_of(shard),
                    "--rest-port": "8081"},
        "follower": {**common, "--pg": pg_of(shard), "--node-id": "$(POD_NAME)"},
    }[role]


# --- commands ----------------------------------------------------------------------------------

def test_every_container_runs_a_gridworks_command() -> None:
    roles = []
    for file, doc in workloads():
        for container in containers(doc):
            where = doc_id(file, doc)
            command = container.get("command")
            assert command, f"{where}: no command"
            assert "args" not in container, f"{where}: keep the whole command in `command`"
            assert all(isinstance(a, str) for a in command), f"{where}: unquoted number"
            assert command[:2] in (["gridworks", "serve"], ["gridworks", "db"]), where
            if command[1] == "db":
                assert command[:3] == ["gridworks", "db", "migrate"], f"{where}: {command}"
            role = role_of(container)
            assert role in COMPONENTS, f"{where}: unknown role {role!r}"
            assert pod_labels(doc).get(COMPONENT) == COMPONENTS[role], f"{where}: component"
            flags = options(command)
            expected = expected_flags(role, -1 if role in CLUSTER_WIDE else shard_of(doc))
            if role == "migrate":
                assert flags == expected, f"{where}: {command}"
            else:
                assert flags.items() >= expected.items(), f"{where}: {command}, {expected}"
            roles.append(role)
    assert sorted(set(roles)) == sorted(COMPONENTS)


def test_the_flags_are_ones_gridworks_accepts() -> None:
    """Parsed by the real ``gridworks`` parser: every flag exists and takes its value."""
    parser = build_parser()
    known = {"serve": set(subparser(parser, "serve")._option_string_actions),
             "db": set(subparser(parser, "db")._option_string_actions)}
    for where, doc, container in all_containers():
        command = container["command"]
        unknown = [a for a in command[1:] if a.startswith("--") and a not in known[command[1]]]
        assert not unknown, f"{where}: `gridworks {command[1]}` does not accept {unknown}"
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            try:
                args = parser.parse_args(command[1:])
            except SystemExit:
                pytest.fail(f"{where}: gridworks refuses {command}: {errors.getvalue()}")
        assert callable(args.handler)
        if role_of(container) in CLUSTER_WIDE:
            assert (args.role, args.shards, args.pg) == (role_of(container), SHARDS, None), where
            continue
        assert args.pg == pg_of(shard_of(doc)) or role_of(container) == "engine", where
        if command[1] == "serve":
            assert (args.role, args.shard, args.shards) == (
                role_of(container), shard_of(doc), SHARDS), where
            assert (args.host, args.port) == ("0.0.0.0", 8080), where


def shard_labels(node: Any) -> set[str]:
    """Every value of a shard label anywhere in a document (its labels, selectors, terms)."""
    if isinstance(node, dict):
        own = {str(node[SHARD_LABEL])} if SHARD_LABEL in node else set()
        return own.union(*(shard_labels(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(shard_labels(v) for v in node))
    return set()


def test_nothing_of_a_shard_names_another_shard() -> None:
    """A shard's objects name, label and select only their own shard's objects and database."""
    for file, doc in RESOURCES:
        if SHARD_LABEL not in doc["metadata"].get("labels", {}):
            continue
        where, shard = doc_id(file, doc), shard_of(doc)
        named = {int(n) for _, n in SHARD_NAMES.findall(yaml.safe_dump(doc))}
        assert named <= {shard}, f"{where} of shard {shard} names shards {sorted(named)}"
        assert shard_labels(doc) == {str(shard)}, f"{where}: labels {shard_labels(doc)}"


def test_every_variable_a_command_uses_is_defined() -> None:
    """Kubernetes leaves an undefined ``$(NAME)`` in a command as it is, silently."""
    config = one("ConfigMap", CONFIG_MAP)["data"]
    secret = one("Secret", SECRET)
    secret_keys = {*secret.get("stringData", {}), *secret.get("data", {})}
    for where, _, container in all_containers():
        defined = {e["name"] for e in container.get("env", [])} | set(config) | secret_keys
        values = [e["value"] for e in container.get("env", []) if "value" in e]
        for arg in [*container["command"], *values]:
            for name in VAR_REF.findall(arg):
                assert name in defined, f"{where}: $({name}) is not defined"


def test_every_variable_is_a_setting_or_used() -> None:
    """GridWorks ignores a GRIDWORKS_ variable that names no setting, so a misspelt one would
    change nothing: each is a setting, or a value some command uses as ``$(NAME)``."""
    config = one("ConfigMap", CONFIG_MAP)["data"]
    secret = one("Secret", SECRET)
    used = {name for _, _, c in all_containers() for arg in c["command"]
            for name in VAR_REF.findall(arg)}
    names = {*config, *secret.get("stringData", {}), *secret.get("data", {})}
    names |= {e["name"] for _, _, c in all_containers() for e in c.get("env", [])}
    for name in names:
        if name.startswith(ENV_PREFIX):
            assert name in SETTINGS or name in used, f"{name} is neither a setting nor used"
    # Every process would read it as its default --pg: a gateway or follower given no --pg
    # would then serve or write one shard's history in a database shared by all shards.
    assert "GRIDWORKS_PG" not in names


# --- configuration -----------------------------------------------------------------------------

def test_the_config_map_and_the_secret() -> None:
    config = one("ConfigMap", CONFIG_MAP)["data"]
    databases = {f"GRIDWORKS_PG_SHARD_{k}" for k in range(SHARDS)}
    assert set(config) >= {"GRIDWORKS_KAFKA", "GRIDWORKS_REDIS", "GRIDWORKS_KAFKA_IDEMPOTENT",
                           *databases}
    assert config["GRIDWORKS_KAFKA_IDEMPOTENT"] == "1"
    assert config["GRIDWORKS_REDIS"].startswith("redis://")
    for name in databases:
        assert config[name].startswith("postgresql://"), name
    # The history tables do not carry the shard: each shard needs a database of its own.
    assert len({config[name] for name in databases}) == SHARDS, "two shards share a database"
    secret = one("Secret", SECRET)
    assert set(secret.get("stringData", {})) | set(secret.get("data", {})) == {"GRIDWORKS_KEK"}


def test_every_pod_loads_the_config_map_and_the_secret() -> None:
    for where, _, container in all_containers():
        sources = container.get("envFrom", [])
        maps = [s["configMapRef"]["name"] for s in sources if "configMapRef" in s]
        secrets = [s["secretRef"]["name"] for s in sources if "secretRef" in s]
        assert CONFIG_MAP in maps, f"{where}: no envFrom {CONFIG_MAP}"
        assert SECRET in secrets, f"{where}: no envFrom {SECRET}"
        # The Secret comes last, so a value put there (a DSN with a password) wins.
        assert sources[-1] == {"secretRef": {"name": SECRET}}, where


# --- security and resources --------------------------------------------------------------------

def test_pods_run_unprivileged_with_a_read_only_root() -> None:
    for file, doc in workloads():
        spec = pod_template(doc)
        where = doc_id(file, doc)
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] > 0, where
        # Service links would add <SERVICE>_PORT variables, which GridWorks reads as settings
        # whenever a Service's name starts with "gridworks".
        assert spec["enableServiceLinks"] is False, where
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in containers(doc):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env.get("GRIDWORKS_DATA_DIR") == "/data", where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/data" in mounts, f"{where}: nothing mounted at /data"
            assert "emptyDir" in volumes[mounts["/data"]], f"{where}: /data is not an emptyDir"
            if "NUMBA_CACHE_DIR" in env:
                assert any(env["NUMBA_CACHE_DIR"].startswith(m + "/") for m in mounts), where


def test_every_container_has_requests_and_limits() -> None:
    for where, _, container in all_containers():
        resources = container["resources"]
        for name in ("cpu", "memory"):
            request = quantity(resources["requests"][name])
            limit = quantity(resources["limits"][name])
            assert 0 < request <= limit, f"{where}: {name} request {request} > limit {limit}"


# --- every shard's processes -------------------------------------------------------------------

REPLICAS = {"engine": ("StatefulSet", 2), "gateway": ("Deployment", 2),
            "follower": ("StatefulSet", 1)}


@pytest.mark.parametrize("role", sorted(REPLICAS))
def test_every_shard_has_its_engines_gateways_and_follower(role: str) -> None:
    kind, replicas = REPLICAS[role]
    for shard, doc in one_per_shard(role).items():
        name = doc["metadata"]["name"]
        assert doc["kind"] == kind, name
        assert name == f"gridworks-{role}-{shard}"
        assert doc["spec"]["replicas"] == replicas, name
        (container,) = pod_template(doc)["containers"]
        assert role_of(container) == role, name
        assert options(container["command"])["--shard"] == str(shard), name
        if "--node-id" in options(container["command"]):  # named after its pod
            env = {e["name"]: e for e in container["env"]}
            assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_the_routers_reach_every_shard_s_gateway_service() -> None:
    (router,) = role_workloads("router")
    (container,) = pod_template(router)["containers"]
    for flag, scheme, port_name in (("--shard-gateways", "ws", "http"),
                                    ("--shard-rest", "http", "rest")):
        named = options(container["command"])[flag]
        for part in named.split(";"):
            shard, _, url = part.partition("=")
            service = one("Service", f"gridworks-gateway-{shard}")
            port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == port_name)
            assert url == f"{scheme}://gridworks-gateway-{shard}:{port}/", url
            assert shard_of(service) == int(shard)
        assert sorted(int(p.partition("=")[0]) for p in named.split(";")) == list(
            range(SHARDS))
    assert owned("Service", router)
    assert owned("PodDisruptionBudget", router)


def test_every_selector_picks_one_workloads_pods() -> None:
    """A workload's selector picks its own pods and no other's; every Service and every
    disruption budget picks the pods of exactly one workload."""
    pods = {doc_id(f, d): pod_labels(d) for f, d in workloads()}
    for file, doc in workloads():
        if doc["kind"] == "Job":
            continue
        where = doc_id(file, doc)
        picked = {w for w, labels in pods.items()
                  if selects(doc["spec"]["selector"]["matchLabels"], labels)}
        assert picked == {where}, f"{where} selects {picked}"
    for file, doc in RESOURCES:
        if doc["kind"] not in {"Service", "PodDisruptionBudget"}:
            continue
        selector = doc["spec"]["selector"]
        selector = selector if doc["kind"] == "Service" else selector["matchLabels"]
        picked = {w for w, labels in pods.items() if selects(selector, labels)}
        assert len(picked) == 1, f"{doc_id(file, doc)} selects {sorted(picked)}"


def owned(kind: str, workload: Doc) -> list[Doc]:
    """The Services or budgets that select ``workload``'s pods."""
    labels = pod_labels(workload)
    return [d for d in of_kind(kind)
            if selects(d["spec"]["selector"] if kind == "Service"
                       else d["spec"]["selector"]["matchLabels"], labels)]


def assert_spread(workload: Doc) -> None:
    """Anti-affinity asks for the workload's pods on different nodes."""
    name = workload["metadata"]["name"]
    terms = (pod_template(workload)["affinity"]["podAntiAffinity"]
             ["preferredDuringSchedulingIgnoredDuringExecution"])
    term = terms[0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname", name
    assert term["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]


def assert_probes_hit(container: Doc, port: int, where: str) -> None:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in ports.values(), where
    assert "readinessProbe" in container, f"{where}: no readiness probe"
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if kind in container:
            probe = container[kind]["httpGet"]
            assert probe["path"] == "/healthz", f"{where}: {kind}"
            assert ports.get(probe["port"], probe["port"]) == port, f"{where}: {kind} port"


def test_the_probes_reach_the_status_port() -> None:
    for file, doc in workloads():
        for container in containers(doc):
            if role_of(container) == "migrate":
                continue
            where = doc_id(file, doc)
            flags = options(container["command"])
            # The probes come from the node, not from inside the pod.
            assert flags["--host"] == "0.0.0.0", where
            assert_probes_hit(container, int(flags["--port"]), where)
            # Each reads its shard's whole log before /healthz answers: the startup probe
            # allows that 10 minutes before the liveness probe takes over.
            startup = container["startupProbe"]
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, where


def test_the_engines() -> None:
    for statefulset in one_per_shard("engine").values():
        name = statefulset["metadata"]["name"]
        # Both start at once: the Redis lease, not pod order, decides who leads.
        assert statefulset["spec"]["podManagementPolicy"] == "Parallel", name
        (service,) = owned("Service", statefulset)
        assert service["metadata"]["name"] == statefulset["spec"]["serviceName"], name
        assert service["spec"]["clusterIP"] == "None", name
        (budget,) = owned("PodDisruptionBudget", statefulset)
        assert budget["spec"]["maxUnavailable"] == 1, name
        assert "minAvailable" not in budget["spec"], name
        assert_spread(statefulset)


def test_the_gateways() -> None:
    for deployment in one_per_shard("gateway").values():
        name = deployment["metadata"]["name"]
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        (container,) = pod_template(deployment)["containers"]
        container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        (service,) = owned("Service", deployment)
        assert service["metadata"]["name"] == name
        assert service["spec"].get("clusterIP") != "None", name
        exposed = {container_ports.get(p["targetPort"], p["targetPort"]): p["port"]
                   for p in service["spec"]["ports"]}
        assert exposed == {8080: 8080, 8081: 8081}, name
        (budget,) = owned("PodDisruptionBudget", deployment)
        assert budget["spec"]["minAvailable"] == 1, name
        assert "maxUnavailable" not in budget["spec"], name
        assert_spread(deployment)


def test_the_followers() -> None:
    for statefulset in one_per_shard("follower").values():
        name = statefulset["metadata"]["name"]
        (service,) = owned("Service", statefulset)
        assert service["metadata"]["name"] == statefulset["spec"]["serviceName"], name
        assert service["spec"]["clusterIP"] == "None", name
        # A budget over a single pod either blocks every drain or allows nothing to wait for.
        assert owned("PodDisruptionBudget", statefulset) == [], name
        # The StatefulSet default: the old pod is gone before the new one starts, so two
        # followers never publish and project the same shard at once.
        assert statefulset["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"


def test_every_database_in_use_is_migrated() -> None:
    """One migration Job per shard, for the database that shard's follower fills and its
    gateways read."""
    jobs = one_per_shard("migrate")
    for shard, job in jobs.items():
        assert job["metadata"]["name"] == f"gridworks-db-migrate-{shard}"
        assert pod_template(job)["restartPolicy"] in {"OnFailure", "Never"}
        (container,) = pod_template(job)["containers"]
        assert container["command"][:3] == ["gridworks", "db", "migrate"]
    migrated = {options(c["command"])["--pg"] for j in jobs.values()
                for c in containers(j)}
    used = {options(c["command"])["--pg"] for _, _, c in all_containers()
            if "--pg" in c["command"]}
    assert used == migrated == {pg_of(k) for k in range(SHARDS)}


# --- one file per shard ------------------------------------------------------------------------

def normalised(docs: list[Doc], shard: int) -> list[Doc]:
    """Documents of one shard with the shard number taken out."""

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ("K" if k == SHARD_LABEL else scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            items = [scrub(v) for v in node]
            return ["K" if i and node[i - 1] == "--shard" else v for i, v in enumerate(items)]
        if isinstance(node, str):
            return SHARD_NAMES.sub(lambda m: m[1] + "K" if m[2] == str(shard) else m[0], node)
        return node

    return [scrub(d) for d in docs]


def file_shard(path: Path) -> int:
    (shard,) = set(re.findall(rf'{SHARD_LABEL}: "(\d+)"', path.read_text()))
    return int(shard)


@pytest.mark.parametrize("role", ["engine", "gateway", "follower"])
def test_the_shard_files_differ_only_in_the_shard(role: str) -> None:
    files = sorted(DEPLOY.glob(f"{role}-shard-*.yaml"))
    assert [f.name for f in files] == [f"{role}-shard-{k}.yaml" for k in range(SHARDS)]
    assert [file_shard(f) for f in files] == list(range(SHARDS))
    first = normalised(load(files[0]), 0)
    for shard, other in enumerate(files[1:], start=1):
        assert normalised(load(other), shard) == first, (
            f"{other.name} drifted from {files[0].name}")


def test_the_migration_jobs_differ_only_in_the_shard() -> None:
    jobs = one_per_shard("migrate")
    first = normalised([jobs[0]], 0)
    for shard, job in jobs.items():
        assert normalised([job], shard) == first, job["metadata"]["name"]


def test_the_readme_describes_every_manifest() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for path in yaml_files():
        assert f"`{path.name}`" in readme, f"README.md does not mention {path.name}"
