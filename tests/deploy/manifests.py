"""What tests/deploy reads from deploy/: the compose file, the Kubernetes manifests, the nginx
config, and the checks shared by the tests (each check returns its findings, so a test can also show
that it catches a bad manifest)."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import patch

import yaml

from libs.events.blobs import BlobStore, FileBlobStore
from libs.events.service.metrics import parse_listen
from libs.events.service.runtime import ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.tokens import NEXT_SIGNING_KEY_FILE, RETIRED_SIGNING_KEYS_DIR, SIGNING_KEY_FILE
from services.billing.blobs import document_files
from services.billing.settings import BillingSettings
from services.contracts.service import ContractsSettings
from services.identity.settings import IdentitySettings
from services.notifications.settings import NotificationsSettings
from services.payments.settings import PaymentsSettings
from services.profile.filing import attachment_files
from services.profile.settings import ProfileSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX = DEPLOY / "nginx"
COMPOSE = DEPLOY / "docker-compose.yml"
SECRETS_EXAMPLE = DEPLOY / "secrets.example"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "identity": IdentitySettings,
    "contracts": ContractsSettings,
    "billing": BillingSettings,
    "payments": PaymentsSettings,
    "notifications": NotificationsSettings,
    "profile": ProfileSettings,
}
SERVICES = tuple(SETTINGS)

INFRA_ENV = frozenset(
    {"EVENTSTORE_URI", "KAFKA_BOOTSTRAP", "MONGO_URI", "KAFKA_REPLICATION_FACTOR", "KAFKA_PARTITIONS"}
)
"""Process-level variables the cluster entry points read (libs/events/cluster.py, ClusterInfra.from_env),
not settings fields of a service; deploy/README.md lists them."""


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml") and "local" not in p.parts)


def load_all(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


@cache
def compose() -> dict[str, Any]:
    docs = load_all(COMPOSE)
    assert len(docs) == 1
    document: dict[str, Any] = docs[0]
    return document


@cache
def k8s_docs() -> tuple[dict[str, Any], ...]:
    return tuple(doc for path in sorted(K8S.glob("*.yaml")) for doc in load_all(path))


def k8s_kind(kind: str) -> dict[str, dict[str, Any]]:
    """The manifests of one kind by name (a name twice is an error)."""
    found: dict[str, dict[str, Any]] = {}
    for doc in k8s_docs():
        if doc.get("kind") == kind:
            name = doc["metadata"]["name"]
            assert name not in found, f"two {kind}s named {name}"
            found[name] = doc
    return found


# --- environment of a service's containers ------------------------------------------------------


@dataclass
class ContainerEnv:
    """The variables a container gets: names, and the literal values known from the manifest."""

    where: str
    names: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    """Referenced ConfigMaps, Secrets or env files that do not exist."""


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path}: not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
    return values


_INTERPOLATION = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}$")


def compose_value(value: str) -> str | None:
    """A compose value with `${VAR:-default}` resolved to its default; None when it has none."""
    match = _INTERPOLATION.match(value)
    if match is None:
        return None if "${" in value else value
    return match.group("default")


def compose_environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A compose service's `environment`, map or list form, as written (not interpolated)."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: str(value) for key, value in environment.items()}


def compose_env(name: str, document: Mapping[str, Any] | None = None) -> ContainerEnv:
    service = (document or compose())["services"][name]
    env = ContainerEnv(where=f"docker-compose.yml services.{name}")
    env_files = service.get("env_file", [])
    for entry in [env_files] if isinstance(env_files, str) else env_files:
        relative = Path(entry if isinstance(entry, str) else entry["path"])
        # deploy/secrets/ is the operator's copy of deploy/secrets.example/ (gitignored)
        example = SECRETS_EXAMPLE / relative.name
        if relative.parts[:2] != ("secrets", relative.name) or not example.is_file():
            env.missing.append(f"env_file {entry} (no {example.relative_to(ROOT)})")
            continue
        env.names.update(read_env_file(example))
    for key, value in compose_environment(service).items():
        env.names.add(key)
        resolved = compose_value(value)
        if resolved is not None:
            env.values[key] = resolved
    return env


def k8s_container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: one container expected"
    container: dict[str, Any] = containers[0]
    return container


def k8s_env(name: str) -> ContainerEnv:
    deployment = k8s_kind("Deployment")[name]
    container = k8s_container(deployment)
    env = ContainerEnv(where=f"k8s Deployment {name}")
    config_maps = k8s_kind("ConfigMap")
    secrets = k8s_kind("Secret")
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            ref = source["configMapRef"]["name"]
            if ref not in config_maps:
                env.missing.append(f"ConfigMap {ref}")
                continue
            data = config_maps[ref].get("data", {})
            env.names.update(data)
            env.values.update({key: str(value) for key, value in data.items()})
        elif "secretRef" in source:
            ref = source["secretRef"]["name"]
            if ref not in secrets:
                env.missing.append(f"Secret {ref}")
                continue
            secret = secrets[ref]
            env.names.update(secret.get("stringData", {}))
            env.names.update(secret.get("data", {}))
        else:
            env.missing.append(f"unknown envFrom {source}")
    for item in container.get("env", []):
        env.names.add(item["name"])
        if "value" in item:
            env.values[item["name"]] = str(item["value"])
    return env


def env_findings(service: str, env: ContainerEnv) -> list[str]:
    """Every variable that is neither an infrastructure variable nor a field of the service's
    settings class under its prefix (another service's prefix included), and every missing source."""
    settings = SETTINGS[service]
    prefix = str(settings.model_config.get("env_prefix", ""))
    fields = set(settings.model_fields)
    findings = [f"{env.where}: {missing} does not exist" for missing in env.missing]
    for name in sorted(env.names):
        if name in INFRA_ENV:
            continue
        if not name.startswith(prefix) or name.removeprefix(prefix).lower() not in fields:
            findings.append(f"{env.where}: {name} is not a field of {settings.__name__} (prefix {prefix})")
    return findings


# --- where the consumers run --------------------------------------------------------------------


def consumers_running(service: str, env: ContainerEnv) -> bool:
    """Whether a process of `service` runs its projections and reactors: `<NAME>_CONSUMERS` as its
    settings class reads it, on when unset."""
    value = env.values.get(f"{service.upper()}_CONSUMERS")
    settings = SETTINGS[service](consumers=value) if value is not None else SETTINGS[service]()
    return settings.consumers


def service_of(command: list[str]) -> str | None:
    """The service a process serves (`python -m services.<name> ...`), None for any other command."""
    if command[:2] == ["python", "-m"] and len(command) > 2 and command[2].startswith("services."):
        name = command[2].removeprefix("services.")
        return name if name in SETTINGS else None
    return None


def compose_consumer_findings(document: Mapping[str, Any]) -> list[str]:
    """Per service exactly one compose container runs the consumers, and it is never scaled."""
    consuming: dict[str, list[str]] = {service: [] for service in SERVICES}
    findings: list[str] = []
    for name, entry in document["services"].items():
        service = service_of(list(entry.get("command") or []))
        if service is None or not consumers_running(service, compose_env(name, document)):
            continue
        consuming[service].append(name)
        if entry.get("deploy", {}).get("replicas", 1) != 1:
            findings.append(f"docker-compose.yml services.{name} runs {service}'s consumers with more than one replica")
    for service, names in consuming.items():
        if len(names) != 1:
            findings.append(f"docker-compose.yml: {len(names)} containers run {service}'s consumers ({names}), not 1")
    return findings


def k8s_consumer_findings(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Per service exactly one Deployment runs the consumers: one replica, strategy Recreate, no HPA."""
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "Deployment"}
    scaled = {doc["spec"]["scaleTargetRef"]["name"] for doc in docs if doc.get("kind") == "HorizontalPodAutoscaler"}
    consuming: dict[str, list[str]] = {service: [] for service in SERVICES}
    findings: list[str] = []
    for name, deployment in deployments.items():
        service = service_of(list(k8s_container(deployment).get("args") or []))
        if service is None:
            continue
        if not consumers_running(service, _literal_env(deployment, docs)):
            continue
        consuming[service].append(name)
        where = f"k8s Deployment {name} (runs {service}'s consumers)"
        if deployment["spec"].get("replicas", 1) != 1:
            findings.append(f"{where}: replicas is not 1")
        if deployment["spec"].get("strategy") != {"type": "Recreate"}:
            findings.append(f"{where}: strategy is not Recreate: a rollout would run two at once")
        if name in scaled:
            findings.append(f"{where}: has an HPA")
    for service, names in consuming.items():
        if len(names) != 1:
            findings.append(f"k8s: {len(names)} Deployments run {service}'s consumers ({names}), not 1")
    return findings


def _literal_env(deployment: Mapping[str, Any], docs: tuple[dict[str, Any], ...]) -> ContainerEnv:
    """The values a Deployment's container gets from the ConfigMaps among `docs` and its own `env`."""
    env = ContainerEnv(where=f"k8s Deployment {deployment['metadata']['name']}")
    config_maps = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "ConfigMap"}
    container = k8s_container(deployment)
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = config_maps.get(source["configMapRef"]["name"], {}).get("data", {})
            env.values.update({key: str(value) for key, value in data.items()})
    env.values.update({item["name"]: str(item["value"]) for item in container.get("env", []) if "value" in item})
    env.names.update(env.values)
    return env


# --- identity's keyring -------------------------------------------------------------------------

KEYRING_FILES = (SIGNING_KEY_FILE, NEXT_SIGNING_KEY_FILE)
"""The keyring's files in identity's secrets folder (libs/events/tokens.py); beside them the folder
RETIRED_SIGNING_KEYS_DIR of the retired keys' public halves."""
KEYS_FOLDER = "secrets/keys"
"""Where compose takes the key files from, relative to deploy/ (deploy/README.md makes them there)."""


@dataclass(frozen=True)
class ComposeMount:
    kind: str
    """`secret`, `bind` or `volume`."""
    source: str
    """The secret's file or the bind's host path (relative to deploy/, normalised), or the volume's name
    (empty: an anonymous volume)."""
    read_only: bool


def compose_mounts(service: Mapping[str, Any], document: Mapping[str, Any]) -> dict[str, ComposeMount]:
    """What one compose service's container sees, by path: its docker secrets (`/run/secrets/<target>`)
    and its volumes, short or long syntax."""
    mounts: dict[str, ComposeMount] = {}
    defined = document.get("secrets") or {}
    for entry in service.get("secrets", []):
        name = entry if isinstance(entry, str) else entry["source"]
        target = entry if isinstance(entry, str) else entry.get("target", name)
        file = (defined.get(name) or {}).get("file")
        source = posixpath.normpath(file) if file else f"<no secret {name} with a file>"
        mounts[target if target.startswith("/") else f"/run/secrets/{target}"] = ComposeMount("secret", source, True)
    for entry in service.get("volumes", []):
        if isinstance(entry, str) and ":" not in entry:
            mounts[entry] = ComposeMount("volume", "", False)  # an anonymous volume: the container's own
            continue
        if isinstance(entry, str):
            source, _, rest = entry.partition(":")
            target, _, mode = rest.partition(":")
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
            read_only = "ro" in mode.split(",")
        else:
            kind, source, target = entry.get("type", "volume"), str(entry.get("source", "")), entry["target"]
            read_only = bool(entry.get("read_only", False))
        mounts[target] = ComposeMount(kind, posixpath.normpath(source) if kind == "bind" else source, read_only)
    return mounts


def compose_keyring_findings(document: Mapping[str, Any], name: str = "identity") -> list[str]:
    """Identity's signing key and next key are docker secrets of the files of that name in
    deploy/secrets/keys/, and the retired keys' folder is that folder bind-mounted read-only, all in
    IDENTITY_SECRETS_DIR (of the compose service `name`: identity or its worker)."""
    service = document["services"][name]
    secrets_dir = compose_environment(service).get("IDENTITY_SECRETS_DIR", "<IDENTITY_SECRETS_DIR unset>")
    mounts = compose_mounts(service, document)
    where = f"docker-compose.yml services.{name}"
    findings: list[str] = []
    for name in KEYRING_FILES:
        path, expected = f"{secrets_dir}/{name}", f"{KEYS_FOLDER}/{name}"
        found = mounts.get(path)
        if found is None:
            findings.append(f"{where}: nothing mounted at {path}")
        elif (found.kind, found.source) != ("secret", expected):
            findings.append(f"{where}: {path} is the {found.kind} {found.source}, not the docker secret of {expected}")
    path, expected = f"{secrets_dir}/{RETIRED_SIGNING_KEYS_DIR}", f"{KEYS_FOLDER}/{RETIRED_SIGNING_KEYS_DIR}"
    found = mounts.get(path)
    if found is None:
        findings.append(f"{where}: nothing mounted at {path}")
    elif (found.kind, found.source) != ("bind", expected):
        findings.append(f"{where}: {path} is the {found.kind} {found.source}, not a bind mount of {expected}")
    elif not found.read_only:
        findings.append(f"{where}: {path} is not read-only")
    return findings


@dataclass(frozen=True)
class SecretMount:
    secret: str
    key: str | None
    """None: the whole Secret as a folder, one file per key."""
    optional: bool
    sub_path: bool
    """Mounted with subPath: the kubelet never updates it in a running pod."""
    read_only: bool


def k8s_secret_mounts(deployment: Mapping[str, Any]) -> dict[str, SecretMount]:
    """What the container sees of Secrets, by path: `secret` and `projected` volumes, with or without
    `items`, with or without `subPath`."""
    volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"].get("volumes", [])}
    mounts: dict[str, SecretMount] = {}
    for mount in k8s_container(deployment).get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        sources = [{**volume["secret"], "name": volume["secret"].get("secretName")}] if "secret" in volume else []
        sources += [source["secret"] for source in volume.get("projected", {}).get("sources", []) if "secret" in source]
        base, sub_path = mount["mountPath"], mount.get("subPath")
        for source in sources:
            # volume-relative path -> key ("" and None: the whole Secret at the volume's root)
            content = {item["path"]: item["key"] for item in source.get("items", [])} or {"": None}
            for relative, key in content.items():
                if sub_path is None:
                    path = posixpath.join(base, relative) if relative else base
                elif relative == sub_path or key is None:
                    path, key = base, key or sub_path
                else:
                    continue
                optional = bool(source.get("optional", False))
                read_only = bool(mount.get("readOnly", False))
                mounts[path] = SecretMount(source["name"], key, optional, sub_path is not None, read_only)
    return mounts


def k8s_keyring_findings(
    deployment: Mapping[str, Any], secrets_dir: str, secrets: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Identity's signing key (required) and next key are files of IDENTITY_SECRETS_DIR from a Secret's
    keys of those names, the retired keys' folder is a whole Secret (no items: a rotation changes its
    keys, not the Deployment); all read-only, none with subPath (so an updated Secret reaches the running
    pods), from Secrets of secrets.template.yaml that have those keys."""
    mounts = k8s_secret_mounts(deployment)
    where = f"k8s Deployment {deployment['metadata']['name']}"
    findings: list[str] = []
    wanted: list[tuple[str, str | None]] = [(name, name) for name in KEYRING_FILES]
    wanted.append((RETIRED_SIGNING_KEYS_DIR, None))
    for name, key in wanted:
        path = f"{secrets_dir}/{name}"
        found = mounts.get(path)
        if found is None:
            inside = [mounts[file] for file in mounts if file.startswith(f"{path}/")]
            if inside:
                listed = f"items of Secret {inside[0].secret}: the Deployment would change at every rotation"
                findings.append(f"{where}: {path} holds {listed}, not a whole Secret")
            else:
                findings.append(f"{where}: nothing mounted at {path}")
            continue
        if found.key != key:
            shown = "the whole Secret" if found.key is None else f"the key {found.key}"
            findings.append(f"{where}: {path} is {shown} of Secret {found.secret}, not {key or 'a whole Secret'}")
        if name == SIGNING_KEY_FILE and found.optional:
            findings.append(f"{where}: {path} is optional: identity would start without its signing key")
        if found.sub_path:
            findings.append(f"{where}: {path} is mounted with subPath: a rotation never reaches a running pod")
        if not found.read_only:
            findings.append(f"{where}: {path} is not read-only")
        secret = secrets.get(found.secret)
        if secret is None:
            findings.append(f"{where}: Secret {found.secret} is not in secrets.template.yaml")
        elif found.key is not None and found.key not in _secret_keys(secret):
            findings.append(f"{where}: Secret {found.secret} has no key {found.key} in secrets.template.yaml")
    return findings


def _secret_keys(secret: Mapping[str, Any]) -> set[str]:
    return {*(secret.get("stringData") or {}), *(secret.get("data") or {})}


# --- the metrics endpoint -----------------------------------------------------------------------


def _listen_findings(where: str, variable: str, env: ContainerEnv) -> tuple[list[str], int | None]:
    value = env.values.get(variable)
    if not value:
        return [f"{where}: {variable} is not set: no metrics endpoint"], None
    try:
        host, port = parse_listen(value)
    except ValueError as error:
        return [f"{where}: {error}"], None
    if host not in ("0.0.0.0", "::"):  # noqa: S104 - a container's metrics are scraped from outside it
        return [f"{where}: {variable}={value} cannot be scraped from outside the container"], port
    return [], port


def _api_port(command: list[str]) -> int | None:
    return int(command[command.index("--port") + 1]) if "--port" in command else None


def _prefix(name: str) -> str:
    return name.removesuffix("-relay").removesuffix("-worker").upper()


def compose_metrics_findings(name: str, service: Mapping[str, Any], env: ContainerEnv) -> list[str]:
    """The service or relay serves /metrics on a port of its own, reachable on the compose network,
    not published on the host."""
    findings, port = _listen_findings(env.where, f"{_prefix(name)}_METRICS_LISTEN", env)
    if port is None:
        return findings
    if port == _api_port(service.get("command", [])):
        findings.append(f"{env.where}: metrics on the API's port {port}")
    for published in service.get("ports", []):
        target = published.get("target") if isinstance(published, Mapping) else str(published).split(":")[-1]
        if str(target).split("/")[0] == str(port):
            findings.append(f"{env.where}: the metrics port {port} is published on the host")
    return findings


def k8s_metrics_findings(deployment: Mapping[str, Any], env: ContainerEnv) -> list[str]:
    """The pod serves /metrics on a port of its own, declared as the container port `metrics`, and its
    prometheus.io annotations point there."""
    name = deployment["metadata"]["name"]
    findings, port = _listen_findings(env.where, f"{_prefix(name)}_METRICS_LISTEN", env)
    if port is None:
        return findings
    container = k8s_container(deployment)
    ports = {entry.get("name"): entry["containerPort"] for entry in container.get("ports", [])}
    if ports.get("metrics") != port:
        findings.append(f"{env.where}: no container port named metrics = {port} (found {ports})")
    if port == _api_port(container.get("args", [])):
        findings.append(f"{env.where}: metrics on the API's port {port}")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    expected = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}
    for key, value in expected.items():
        if str(annotations.get(key)) != value:
            findings.append(f"{env.where}: pod annotation {key} is {annotations.get(key)!r}, not {value!r}")
    return findings


# --- blobs: one shared volume per service -------------------------------------------------------

BLOB_STORES: dict[str, Callable[[ServiceRuntime], BlobStore]] = {"billing": document_files, "profile": attachment_files}
"""The services that keep files in the blob port (libs/events/blobs.py), each with the function it builds
its store with: the blob folder is computed by the service's own code, not restated here."""
APP_UID = 10001
"""The app image's user (deploy/Dockerfile): it must be able to write the blob folder."""
APP_STAGE = re.compile(r"^FROM \S+ AS app$(?P<stage>.*?)(?=^FROM |\Z)", re.MULTILINE | re.DOTALL)


def services_building_file_blob_stores() -> set[str]:
    """Every service whose code builds a FileBlobStore (so BLOB_STORES cannot miss one)."""
    services = ROOT / "services"
    return {
        path.relative_to(services).parts[0]
        for path in services.rglob("*.py")
        if "FileBlobStore(" in path.read_text(encoding="utf-8")
    }


def blob_root(service: str, values: Mapping[str, str]) -> str:
    """The folder `service`'s FileBlobStore writes to in a process with these environment variables,
    as the service computes it (its settings class reads them, its store factory derives the folder)."""
    with patch.dict(os.environ, values, clear=True):
        settings = SETTINGS[service]()
    store = BLOB_STORES[service](cast("ServiceRuntime", SimpleNamespace(settings=settings)))
    assert isinstance(store, FileBlobStore), f"{service}: not a FileBlobStore"
    return store.root.as_posix()


def _holding_mount(path: str, mount_points: Iterable[str]) -> str | None:
    """The mount point `path` is written to: the deepest one at or above it."""
    above = [point for point in mount_points if path == point or path.startswith(point.rstrip("/") + "/")]
    return max(above, key=len, default=None)


@dataclass(frozen=True)
class BlobPlace:
    """Where a process's blobs end up: a volume (a claim, or a compose named volume) and the folder in it."""

    volume: str
    folder: str


def _same_place_findings(where: str, service: str, places: Mapping[str, BlobPlace]) -> list[str]:
    if not places:
        return [f"{where}: no process keeps {service}'s blobs on a shared volume"]
    if len(set(places.values())) == 1:
        return []
    shown = ", ".join(f"{name}: {place.volume}:{place.folder}" for name, place in sorted(places.items()))
    return [
        f"{where}: {service}'s processes keep blobs in different places ({shown}): one's files are missing on another"
    ]


def k8s_blob_findings(docs: tuple[dict[str, Any], ...]) -> list[str]:
    """Every pod running a service that keeps blobs (its API replicas, its worker: whatever runs
    `python -m services.<name>`) has its blob folder on a PersistentVolumeClaim, the same claim and
    folder for all of them, never an emptyDir or the container's own filesystem; the claim is
    ReadWriteMany with a storage request; the pod runs as the image's user with that fsGroup."""
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "Deployment"}
    claims = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "PersistentVolumeClaim"}
    findings: list[str] = []
    places: dict[str, dict[str, BlobPlace]] = {service: {} for service in BLOB_STORES}
    for name, deployment in deployments.items():
        container = k8s_container(deployment)
        service = service_of(list(container.get("args") or []))
        if service not in BLOB_STORES:
            continue
        where = f"k8s Deployment {name}"
        pod = deployment["spec"]["template"]["spec"]
        findings += _k8s_blob_user_findings(where, pod, container)
        root = blob_root(service, _literal_env(deployment, docs).values)
        mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
        at = _holding_mount(root, mounts)
        if at is None:
            findings.append(f"{where}: nothing mounted at {service}'s blob folder {root}")
            continue
        mount = mounts[at]
        volume: dict[str, Any] = next((v for v in pod.get("volumes", []) if v["name"] == mount["name"]), {})
        if "persistentVolumeClaim" not in volume:
            kind = next((key for key in volume if key != "name"), "missing")
            findings.append(
                f"{where}: {service}'s blob folder {root} is on the {kind} volume {mount['name']}, not a claim "
                "every pod shares: a file one pod stores is missing on the others and goes with the pod"
            )
            continue
        if mount.get("readOnly"):
            findings.append(f"{where}: {service}'s blob folder {root} is mounted read-only")
        folder = posixpath.join(mount.get("subPath", ""), posixpath.relpath(root, at))
        places[service][name] = BlobPlace(volume["persistentVolumeClaim"]["claimName"], posixpath.normpath(folder))
    for service, by_pod in places.items():
        findings += _same_place_findings("k8s", service, by_pod)
        for claim in sorted({place.volume for place in by_pod.values()}):
            findings += _k8s_claim_findings(claim, claims.get(claim))
    return findings


def _k8s_blob_user_findings(where: str, pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    pod_context, container_context = pod.get("securityContext") or {}, container.get("securityContext") or {}
    findings: list[str] = []
    user = container_context.get("runAsUser", pod_context.get("runAsUser"))
    if user != APP_UID:
        findings.append(f"{where}: runs as user {user}, not the image's {APP_UID}")
    if pod_context.get("fsGroup") != APP_UID:
        findings.append(
            f"{where}: fsGroup is {pod_context.get('fsGroup')}, not {APP_UID}: the blob volume may not be writable"
        )
    if pod_context.get("fsGroupChangePolicy") != "OnRootMismatch":
        findings.append(f"{where}: fsGroupChangePolicy is not OnRootMismatch: every start walks every blob")
    return findings


def _k8s_claim_findings(claim: str, found: Mapping[str, Any] | None) -> list[str]:
    if found is None:
        return [f"k8s: PersistentVolumeClaim {claim} does not exist"]
    findings: list[str] = []
    if found["spec"].get("accessModes") != ["ReadWriteMany"]:
        modes = found["spec"].get("accessModes")
        findings.append(
            f"k8s PersistentVolumeClaim {claim}: accessModes {modes}, not [ReadWriteMany]: not every node can mount it"
        )
    if not ((found["spec"].get("resources") or {}).get("requests") or {}).get("storage"):
        findings.append(f"k8s PersistentVolumeClaim {claim}: no storage request")
    return findings


def compose_blob_findings(document: Mapping[str, Any], app_user_folders: Collection[str]) -> list[str]:
    """Every compose container running a service that keeps blobs (its API, its worker) has its blob
    folder on a named volume declared in the file, the same volume and folder for all of them,
    never a tmpfs, an anonymous volume or the container's own filesystem; the volume is mounted on a
    folder of `app_user_folders` (the image's folders its user owns: a fresh named volume takes the
    owner of the folder it is mounted on, and one that is root's cannot be written by the app)."""
    findings: list[str] = []
    declared = document.get("volumes") or {}
    places: dict[str, dict[str, BlobPlace]] = {service: {} for service in BLOB_STORES}
    for name, entry in document["services"].items():
        service = service_of(list(entry.get("command") or []))
        if service not in BLOB_STORES:
            continue
        where = f"docker-compose.yml services.{name}"
        root = blob_root(service, compose_env(name, document).values)
        mounts = compose_mounts(entry, document)
        tmpfs = entry.get("tmpfs") or []
        at = _holding_mount(root, [*mounts, *([tmpfs] if isinstance(tmpfs, str) else tmpfs)])
        if at is None:
            findings.append(f"{where}: nothing mounted at {service}'s blob folder {root}")
            continue
        mount = mounts.get(at)
        if mount is None or mount.kind != "volume" or not mount.source:
            kind = "tmpfs" if mount is None else mount.kind if mount.source else "anonymous volume"
            findings.append(f"{where}: {service}'s blob folder {root} is on a {kind}, not a named volume")
            continue
        if mount.source not in declared:
            findings.append(f"{where}: the volume {mount.source} is not declared under volumes")
        if mount.read_only:
            findings.append(f"{where}: {service}'s blob folder {root} is mounted read-only")
        if at not in app_user_folders:
            findings.append(f"{where}: the image has no folder {at} of its user: the volume {mount.source} is root's")
        places[service][name] = BlobPlace(mount.source, posixpath.relpath(root, at))
    for service, by_container in places.items():
        findings += _same_place_findings("docker-compose.yml", service, by_container)
    return findings


def image_folders_of_the_app_user(dockerfile: str) -> set[str]:
    """The folders the app stage of the Dockerfile makes (`mkdir -p`) and gives its user (`chown`)."""
    stage = APP_STAGE.search(dockerfile)
    assert stage is not None, "no app stage in the Dockerfile"
    made = {path for match in re.finditer(r"mkdir -p ([^\\&\n]+)", stage["stage"]) for path in match[1].split()}
    made |= {parent for path in made for parent in map(str, Path(path).parents) if parent != "/"}
    owned = {
        path for match in re.finditer(r"chown (?:-R )?\S+ ([^\\&\n]+)", stage["stage"]) for path in match[1].split()
    }
    return made & owned


# --- inline secrets -----------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SECOND_KEY|PEPPER|CREDENTIAL)")
_SECRET_WORDS = frozenset({"password", "passwd", "secret", "token", "api_key", "apikey", "client_secret"})
_USERINFO = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_BLOB = re.compile(r"-----BEGIN |\b[0-9a-fA-F]{32,}\b|\b[A-Za-z0-9+/]{40,}={0,2}")


def _secret_named(key: str) -> bool:
    env_style = re.fullmatch(r"[A-Z][A-Z0-9_]*", key) is not None
    if env_style and key.endswith(("_DIR", "_FILE", "_PATH")):
        return False  # where secrets live (IDENTITY_SECRETS_DIR), not a secret
    return (env_style and _SECRET_NAME.search(key) is not None) or key.lower() in _SECRET_WORDS


def _reference(value: str) -> bool:
    return value == "" or _INTERPOLATION.match(value) is not None


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, Mapping):
        # a Kubernetes env entry {name: X, value: Y} is the pair X=Y
        if isinstance(node.get("name"), str) and "value" in node:
            yield f"{path}.{node['name']}", str(node["name"]), node["value"]
        for key, value in node.items():
            yield f"{path}.{key}", str(key), value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def secret_findings(document: Any, where: str) -> list[str]:
    """Inline secret values: a secret-named variable with a literal value, a Kubernetes Secret with a
    non-empty value, credentials in a URL, a key or long hex/base64 blob anywhere."""
    findings: list[str] = []
    if isinstance(document, Mapping) and document.get("kind") == "Secret":
        for section in ("data", "stringData"):
            for key, value in (document.get(section) or {}).items():
                if value not in ("", None):
                    findings.append(f"{where}: Secret {document['metadata']['name']} {section}.{key} has a value")
    for path, key, value in _walk(document, where):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            if _secret_named(key) and not _reference(text):
                findings.append(f"{path}: secret-named {key} has an inline value")
            if _USERINFO.search(text):
                findings.append(f"{path}: credentials in a URL")
            if _BLOB.search(text):
                findings.append(f"{path}: looks like a key or token")
    return findings


# --- nginx --------------------------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def find(self, name: str) -> list[Directive]:
        return [child for child in self.block or [] if child.name == name]


_TOKEN = re.compile(r"""\s*(?:#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};'"#]+))""")


def parse_nginx(text: str) -> list[Directive]:
    """A small parser of nginx's syntax: directives, quoted arguments, blocks, comments."""
    stack: list[list[Directive]] = [[]]
    words: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip():
                raise ValueError(f"cannot parse nginx config at {text[position : position + 40]!r}")
            break
        position = match.end()
        single, double, punct, word = match.groups()
        if single is not None or double is not None:
            words.append(single if single is not None else double)
        elif word is not None:
            words.append(word)
        elif punct == ";":
            if not words:
                raise ValueError("empty directive")
            stack[-1].append(Directive(words[0], words[1:]))
            words = []
        elif punct == "{":
            if not words:
                raise ValueError("block without a name")
            directive = Directive(words[0], words[1:], [])
            stack[-1].append(directive)
            assert directive.block is not None
            stack.append(directive.block)
            words = []
        elif punct == "}":
            if words or len(stack) == 1:
                raise ValueError("unbalanced '}' or directive without ';'")
            stack.pop()
    if words or len(stack) != 1:
        raise ValueError("unterminated directive or block")
    return stack[0]


def walk_nginx(directives: list[Directive]) -> Iterator[Directive]:
    for directive in directives:
        yield directive
        if directive.block is not None:
            yield from walk_nginx(directive.block)


TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")


def template_variables() -> set[str]:
    return {
        name
        for template in (NGINX / "templates").glob("*.template")
        for name in TEMPLATE_VARIABLE.findall(template.read_text(encoding="utf-8"))
    }


def render_templates(values: Mapping[str, str], into: Path) -> None:
    """What the nginx image's envsubst step does: templates/X.template -> into/X."""
    into.mkdir(parents=True, exist_ok=True)
    for template in (NGINX / "templates").glob("*.template"):
        text = TEMPLATE_VARIABLE.sub(lambda match: values[match.group(1)], template.read_text(encoding="utf-8"))
        (into / template.stem).write_text(text, encoding="utf-8")


def nginx_routes(directives: list[Directive]) -> dict[str, str]:
    """location prefix -> proxy_pass target, over the whole config."""
    return {
        location.args[-1]: proxy.args[0]
        for location in walk_nginx(directives)
        if location.name == "location" and location.block is not None
        for proxy in location.find("proxy_pass")
    }
