"""The Kubernetes manifests in deploy/: every document is valid against the official schema of
its kind and apiVersion (bundled by kubernetes-validate, so no network is needed), and the
manifests agree with each other and with the ``gridworks`` command line."""

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
import pytest
import yaml

from gridworks.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# The oldest and the newest Kubernetes versions the manifests are checked against (both are
# bundled by the pinned kubernetes-validate).
K8S_VERSIONS = ("1.25.0", "1.37.0")
NAMESPACE = "gridworks"
CONFIG_MAP = "gridworks-config"
SECRET = "gridworks-secrets"
SHARDS = 2
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet", "Pod", "CronJob"}
CLUSTER_SCOPED = {"Namespace"}
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

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


# --- commands ----------------------------------------------------------------------------------

ENGINE_FLAGS = {"--role": "engine", "--shards": str(SHARDS), "--kafka": "$(GRIDWORKS_KAFKA)",
                "--redis": "$(GRIDWORKS_REDIS)", "--node-id": "$(POD_NAME)"}
GATEWAY_FLAGS = {"--role": "gateway", "--shard": "0", "--shards": str(SHARDS),
                 "--kafka": "$(GRIDWORKS_KAFKA)", "--redis": "$(GRIDWORKS_REDIS)",
                 "--host": "0.0.0.0", "--port": "8080", "--rest-port": "8081"}
MIGRATE_FLAGS = {"--pg": "$(GRIDWORKS_PG)"}


def test_every_container_runs_a_gridworks_command() -> None:
    roles = []
    for where, _, container in all_containers():
        command = container.get("command")
        assert command, f"{where}: no command"
        assert "args" not in container, f"{where}: keep the whole command in `command`"
        assert all(isinstance(a, str) for a in command), f"{where}: unquoted number in command"
        flags = options(command)
        if command[:2] == ["gridworks", "serve"]:
            role = flags.get("--role")
            expected = ENGINE_FLAGS if role == "engine" else GATEWAY_FLAGS
            assert flags.items() >= expected.items(), f"{where}: {command}"
            if role == "engine":
                assert re.fullmatch(r"\d+", flags.get("--shard", "")), f"{where}: --shard"
            roles.append(role)
        else:
            assert command[:3] == ["gridworks", "db", "migrate"], f"{where}: {command}"
            assert flags == MIGRATE_FLAGS, f"{where}: {command}"
            roles.append("migrate")
    assert sorted(set(roles)) == ["engine", "gateway", "migrate"]


def test_the_flags_are_ones_gridworks_accepts() -> None:
    """Parsed by the real ``gridworks`` parser: every flag exists and takes its value."""
    parser = build_parser()
    known = {"serve": set(subparser(parser, "serve")._option_string_actions),
             "db": set(subparser(parser, "db")._option_string_actions)}
    for where, _, container in all_containers():
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
        if command[1] == "serve":
            assert (args.role, args.shards) == (options(command)["--role"], SHARDS)


def test_every_variable_a_command_uses_is_defined() -> None:
    """Kubernetes leaves an undefined ``$(NAME)`` in a command as it is, silently."""
    config = one("ConfigMap", CONFIG_MAP)["data"]
    secret = one("Secret", SECRET)
    secret_keys = {*secret.get("stringData", {}), *secret.get("data", {})}
    for where, _, container in all_containers():
        defined = {e["name"] for e in container.get("env", [])} | set(config) | secret_keys
        for arg in container["command"]:
            for name in VAR_REF.findall(arg):
                assert name in defined, f"{where}: $({name}) is not defined"


# --- configuration -----------------------------------------------------------------------------

def test_the_config_map_and_the_secret() -> None:
    config = one("ConfigMap", CONFIG_MAP)["data"]
    assert set(config) >= {"GRIDWORKS_KAFKA", "GRIDWORKS_REDIS", "GRIDWORKS_PG",
                           "GRIDWORKS_KAFKA_IDEMPOTENT"}
    assert config["GRIDWORKS_KAFKA_IDEMPOTENT"] == "1"
    assert config["GRIDWORKS_REDIS"].startswith("redis://")
    assert config["GRIDWORKS_PG"].startswith("postgresql://")
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


# --- engines -----------------------------------------------------------------------------------

def engine_sets() -> list[Doc]:
    return [d for d in of_kind("StatefulSet")
            if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
            == "engine"]


def test_one_statefulset_of_two_engines_per_shard() -> None:
    shards = []
    for statefulset in engine_sets():
        assert statefulset["spec"]["replicas"] == 2, statefulset["metadata"]["name"]
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        shards.append(int(options(container["command"])["--shard"]))
        env = {e["name"]: e for e in container["env"]}
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert sorted(shards) == list(range(SHARDS)), f"shards {shards}, expected 0..{SHARDS - 1}"


def test_each_shard_has_its_headless_service_budget_and_anti_affinity() -> None:
    sets = engine_sets()
    for statefulset in sets:
        name = statefulset["metadata"]["name"]
        labels = pod_labels(statefulset)
        others = [pod_labels(s) for s in sets if s is not statefulset]
        assert selects(statefulset["spec"]["selector"]["matchLabels"], labels), name
        assert not any(selects(statefulset["spec"]["selector"]["matchLabels"], o)
                       for o in others), f"{name} selects another shard's pods"
        service = one("Service", statefulset["spec"]["serviceName"])
        assert service["spec"]["clusterIP"] == "None", name
        assert selects(service["spec"]["selector"], labels), name
        assert not any(selects(service["spec"]["selector"], o) for o in others), name
        budgets = [p for p in of_kind("PodDisruptionBudget")
                   if selects(p["spec"]["selector"]["matchLabels"], labels)]
        assert len(budgets) == 1, f"{name}: {len(budgets)} disruption budgets"
        assert budgets[0]["spec"]["maxUnavailable"] == 1, name
        assert "minAvailable" not in budgets[0]["spec"], name
        assert not any(selects(budgets[0]["spec"]["selector"]["matchLabels"], o) for o in others)
        terms = (statefulset["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
                 ["preferredDuringSchedulingIgnoredDuringExecution"])
        term = terms[0]["podAffinityTerm"]
        assert term["topologyKey"] == "kubernetes.io/hostname", name
        assert selects(term["labelSelector"]["matchLabels"], labels), name
        assert not any(selects(term["labelSelector"]["matchLabels"], o) for o in others), name


def test_the_engine_probes_reach_the_status_port() -> None:
    for statefulset in engine_sets():
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        flags = options(container["command"])
        # The probes come from the node, not from inside the pod.
        assert flags["--host"] == "0.0.0.0"
        assert_probes_hit(container, int(flags["--port"]), statefulset["metadata"]["name"])


def normalised(path: Path) -> list[Doc]:
    """A shard's file with its shard number taken out."""
    text = path.read_text()
    docs = load(path)
    (shard,) = set(re.findall(r'gridworks/shard: "(\d+)"', text))

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ("K" if k == "gridworks/shard" else scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            items = [scrub(v) for v in node]
            return ["K" if i and node[i - 1] == "--shard" else v for i, v in enumerate(items)]
        if isinstance(node, str):
            return node.replace(f"gridworks-engine-{shard}", "gridworks-engine-K")
        return node

    return [scrub(d) for d in docs]


def test_the_engine_shard_files_differ_only_in_the_shard() -> None:
    files = sorted(DEPLOY.glob("engine-shard-*.yaml"))
    assert len(files) == SHARDS
    first = normalised(files[0])
    for other in files[1:]:
        assert normalised(other) == first, f"{other.name} drifted from {files[0].name}"


# --- gateways ----------------------------------------------------------------------------------

def assert_probes_hit(container: Doc, port: int, where: str) -> None:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in ports.values(), where
    assert "readinessProbe" in container, f"{where}: no readiness probe"
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        if kind in container:
            probe = container[kind]["httpGet"]
            assert probe["path"] == "/healthz", f"{where}: {kind}"
            assert ports.get(probe["port"], probe["port"]) == port, f"{where}: {kind} port"


def test_the_gateways() -> None:
    (deployment,) = of_kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    labels = pod_labels(deployment)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert options(container["command"])["--role"] == "gateway"
    assert_probes_hit(container, 8080, "gateway")
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (service,) = [s for s in of_kind("Service") if selects(s["spec"]["selector"], labels)]
    assert service["spec"].get("clusterIP") != "None"
    exposed = {container_ports.get(p["targetPort"], p["targetPort"]): p["port"]
               for p in service["spec"]["ports"]}
    assert exposed == {8080: 8080, 8081: 8081}
    (budget,) = [p for p in of_kind("PodDisruptionBudget")
                 if selects(p["spec"]["selector"]["matchLabels"], labels)]
    assert budget["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in budget["spec"]


def test_the_migration_job() -> None:
    job = one("Job", "gridworks-db-migrate")
    assert pod_template(job)["restartPolicy"] in {"OnFailure", "Never"}
    (container,) = pod_template(job)["containers"]
    assert container["command"][:3] == ["gridworks", "db", "migrate"]
