"""Cluster mode: one service per process on Kafka + a MongoDB-wire read-model store + its own event store.

The process entry points (deploy/README.md, "Process entry points"):

- API: `python -m services.<name> --host 127.0.0.1 --port 8101` -> `serve_service(definition, ...)`;
  with `<NAME>_CONSUMERS=false` it serves HTTP only, and the same command with the consumers on (the
  default) is the service's worker: its projections, reactors and background loop. A service's
  consumers run in exactly one process (the local cluster's single process per service, or one
  worker beside the API replicas, deploy/README.md): two members of a group could fold the same
  document at once and lose an update;
- relay: `python -m libs.events.relay --service <name>` -> `run_relay(name)`.

Both read the service's `<NAME>_*` settings and the infrastructure variables:

- `KAFKA_BOOTSTRAP` (required), `KAFKA_REPLICATION_FACTOR` (optional, default 1), `KAFKA_PARTITIONS`
  (optional, default 3: the partitions of each topic a process creates; an existing topic keeps its own);
- `MONGO_URI` (required); the database is `strefa_<name>`, and `strefa_vault` holds the key vault
  every service shares (personal data, libs/events/pii.py);
- `EVENTSTORE_URI` (optional): EventStoreDB/KurrentDB; without it the event store is a SQLite file
  `<NAME>_DATA_DIR/events.db`, allowed only in dev mode (`<NAME>_DEV_MODE=true`, the local cluster):
  outside dev mode the process refuses to start rather than keep events in a throwaway folder;
- `RELAY_STARTUP_TIMEOUT` (optional, seconds, default 30): how long a starting relay waits for its event
  store and Kafka, both within this one time, before it exits with status 2; outages after its start are
  waited out;
- `STREFA_NAMESPACE` (optional, for tests): topics `<namespace>.<name>.events`, consumer groups
  `<namespace>.<group>` and databases `<namespace>_<name>` instead of `leasing.*`, `<group>`, `strefa_<name>`.

`cluster_env(root, ...)` gives every variable the local cluster's processes need (deploy/local/cluster.sh
and tests/cluster/test_system.py both use it): per service its data folder under `root/<name>/`, and the
secrets folder `root/secrets/` shared by all (back-office token, notifications' sealing key pair,
identity's signing key and JWKS file, which identity makes at its first start).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog
import uvicorn

import libs.events.schemas  # noqa: F401  (registers every published event type)
from libs.events.docstore import StoreUnavailable
from libs.events.eventlog import EventLog, LogConsumer, LogUnavailable
from libs.events.kafka import KafkaConfig, KafkaDeadLetters, KafkaEventLog, KafkaReadiness
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.registry import EventRegistry, registry
from libs.events.relay import Relay
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, load_or_create_private_key
from libs.events.service.app import create_service_app
from libs.events.service.auth import token_sha256
from libs.events.service.logs import configure_logging
from libs.events.service.metrics import configure_metrics
from libs.events.service.runtime import Reachable, ServiceDefinition, ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.service.tracing import configure_tracing
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import EventStore, open_if_needed
from libs.events.tokens import create_secret_file
from libs.events.vault import MongoKeyVault

log = structlog.get_logger(__name__)

SERVICE_NAMES: tuple[str, ...] = ("identity", "contracts", "billing", "payments", "notifications", "profile")
DEFAULT_NAMESPACE = "leasing"
DEFAULT_PARTITIONS = 3
DEFAULT_RELAY_STARTUP_TIMEOUT = 30.0
FIRST_PORT = 8101
"""The local cluster's services listen on 127.0.0.1:8101..8106 in SERVICE_NAMES order."""


class ClusterConfigError(RuntimeError):
    """A variable the cluster mode needs is missing or wrong: the process exits with this message."""


@dataclass(frozen=True)
class ClusterInfra:
    kafka: KafkaConfig
    mongo_uri: str
    eventstore_uri: str | None
    namespace: str
    relay_startup_timeout: float = DEFAULT_RELAY_STARTUP_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ClusterInfra:
        bootstrap = environ.get("KAFKA_BOOTSTRAP", "").strip()
        mongo_uri = environ.get("MONGO_URI", "").strip()
        missing = [name for name, value in (("KAFKA_BOOTSTRAP", bootstrap), ("MONGO_URI", mongo_uri)) if not value]
        if missing:
            raise ClusterConfigError(f"cluster mode needs {' and '.join(missing)} (deploy/README.md)")
        namespace = environ.get("STREFA_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
        replication = _positive(environ, "KAFKA_REPLICATION_FACTOR", 1)
        partitions = _positive(environ, "KAFKA_PARTITIONS", DEFAULT_PARTITIONS)
        kafka = KafkaConfig(bootstrap, namespace=namespace, partitions=partitions, replication_factor=replication)
        eventstore_uri = environ.get("EVENTSTORE_URI", "").strip() or None
        startup_timeout = _seconds(environ, "RELAY_STARTUP_TIMEOUT", DEFAULT_RELAY_STARTUP_TIMEOUT)
        return cls(kafka, mongo_uri, eventstore_uri, namespace, relay_startup_timeout=startup_timeout)

    def database(self, service: str) -> str:
        return f"strefa_{service}" if self.namespace == DEFAULT_NAMESPACE else f"{self.namespace}_{service}"


N = TypeVar("N", int, float)


def _positive(environ: Mapping[str, str], name: str, default: int) -> int:
    return _setting(environ, name, default, int, lambda value: value >= 1, "a whole number of at least 1")


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    return _setting(
        environ, name, default, float, lambda value: 0 < value < float("inf"), "a number of seconds above 0"
    )


def _setting(
    environ: Mapping[str, str], name: str, default: N, parse: Callable[[str], N], valid: Callable[[N], bool], must: str
) -> N:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ClusterConfigError(f"{name} must be {must}, not {text!r}")
    return value


class NamespacedEventLog:
    """Kafka consumer groups are global to the broker: outside the default namespace they carry its name."""

    def __init__(self, log: EventLog, namespace: str) -> None:
        self._log = log
        self._prefix = "" if namespace == DEFAULT_NAMESPACE else f"{namespace}."

    def consumer(self, group: str, sources: Sequence[str]) -> LogConsumer:
        return self._log.consumer(f"{self._prefix}{group}", sources)


def open_event_store(service: str, settings: ServiceSettings, infra: ClusterInfra) -> EventStore:
    """EventStoreDB when EVENTSTORE_URI is set, else the service's SQLite file (dev mode only). Not opened yet."""
    if infra.eventstore_uri is not None:
        from libs.events.esdb_store import EsdbEventStore

        return EsdbEventStore(infra.eventstore_uri, service, stream_prefix=service)
    if not settings.dev_mode:
        raise ClusterConfigError(
            f"{service}: EVENTSTORE_URI is not set and dev mode is off; a SQLite event store "
            f"({settings.data_dir / 'events.db'}) is for the local cluster only (set {service.upper()}_DEV_MODE=true)"
        )
    return SqliteEventStore(settings.data_dir / "events.db", service)


class ClusterService:
    """One service's runtime on its event store, MongoDB (`strefa_<name>`) and Kafka.

    `event_log` replaces the Kafka event log under the namespace: the ops tool (services/ops/backend.py)
    passes one that reads the consumer groups' positions without joining them."""

    def __init__(
        self,
        definition: ServiceDefinition,
        settings: ServiceSettings,
        infra: ClusterInfra,
        event_registry: EventRegistry = registry,
        *,
        event_log: EventLog | None = None,
    ) -> None:
        self.infra = infra
        self.events = open_event_store(definition.name, settings, infra)
        self.documents = MongoDocumentStore(infra.mongo_uri, infra.database(definition.name))
        self.dead_letters = KafkaDeadLetters(infra.kafka)
        """This process's one dead-letter producer, closed once: the runners' sink, and where their Kafka
        consumers send the records that are no envelope."""
        namespaced = NamespacedEventLog(event_log or KafkaEventLog(infra.kafka, self.dead_letters), infra.namespace)
        self.vault = MongoKeyVault(infra.mongo_uri, infra.database("vault"))
        # Only a process that runs consumers needs Kafka to do its work. An API process (consumers off)
        # appends to its event store, whose relay publishes, and answers from its read models: a Kafka
        # outage must not take it out of service, so its /readyz does not ask Kafka.
        checks: dict[str, Reachable] = {"kafka": KafkaReadiness(infra.kafka)} if settings.consumers else {}
        self.runtime = ServiceRuntime(
            definition,
            settings,
            self.events,
            self.documents,
            namespaced,
            event_registry,
            dead_letter_sink=self.dead_letters,
            vault=self.vault,
            readiness_checks=checks,
        )

    async def open(self) -> None:
        """Opens the stores; a clear error (never a hang) when the read-model server cannot be reached."""
        await open_if_needed(self.events)
        await self.documents.open()
        await self.documents.ping()
        await self.vault.open()
        await self.vault.ping()

    async def close(self) -> None:
        await self.dead_letters.close()
        await self.documents.close()
        await self.vault.close()
        await self.events.close()


def settings_for(definition: ServiceDefinition) -> ServiceSettings:
    return definition.settings()


async def serve_service(definition: ServiceDefinition, host: str, port: int) -> None:
    """Serves one service with uvicorn under root_path /api/<name> (nginx strips that prefix)."""
    settings = settings_for(definition)
    configure_logging(settings.log_format, settings.log_level)
    configure_tracing(f"strefa-{definition.name}", settings.otlp_endpoint)
    configure_metrics(f"strefa-{definition.name}", settings.otlp_endpoint, settings.metrics_listen)
    node = ClusterService(definition, settings, ClusterInfra.from_env())
    await node.open()
    try:
        config = uvicorn.Config(
            create_service_app(node.runtime, manage_runtime=True),
            host=host,
            port=port,
            root_path=f"/api/{definition.name}",
            proxy_headers=False,  # identity decides itself which X-Forwarded-For to believe
            log_level="warning",
            access_log=False,
        )
        log.info("cluster_service_starting", service=definition.name, host=host, port=port)
        await uvicorn.Server(config).serve()
    finally:
        await node.close()


async def run_relay(service: str) -> None:
    """The relay of one service (reads `<NAME>_DATA_DIR`, `<NAME>_DEV_MODE`, the infrastructure variables).

    StoreUnavailable or LogUnavailable (the process exits with status 2) when its event store or Kafka
    cannot be reached within `RELAY_STARTUP_TIMEOUT`, instead of waiting for them without end."""
    settings = ServiceSettings(_env_prefix=f"{service.upper()}_")
    configure_logging(settings.log_format, settings.log_level)
    configure_tracing(f"strefa-{service}-relay", settings.otlp_endpoint)
    configure_metrics(f"strefa-{service}-relay", settings.otlp_endpoint, settings.metrics_listen)
    infra = ClusterInfra.from_env()
    store = open_event_store(service, settings, infra)
    relay = Relay.next_to(
        settings.data_dir, service, store, infra.kafka, lag_sample_interval=settings.lag_sample_interval
    )
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
    log.info("relay_starting", service=service, topic=relay.topic, checkpoint=relay.checkpoint.load())
    try:
        await relay.connect(infra.relay_startup_timeout, open_store=True)
        await relay.run()
    except asyncio.CancelledError:
        log.info("relay_stopped", service=service, published=relay.published)
    finally:
        await relay.stop()
        await store.close()


def run(main: Coroutine[Any, Any, None]) -> None:
    """Runs an entry point's coroutine; configuration and connection errors end the process with status 2."""
    try:
        asyncio.run(main)
    except (ClusterConfigError, StoreUnavailable, LogUnavailable) as error:
        structlog.get_logger(__name__).error("cluster_startup_failed", error=str(error))
        sys.exit(2)
    except KeyboardInterrupt:
        pass


def service_main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> None:
    """`python -m services.<name> [--host H] [--port N]` (PORT overrides the default 8000)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m services.{definition.name}", description=definition.title)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="port")
    args = parser.parse_args(argv)
    run(serve_service(definition, args.host, args.port))


def relay_main(argv: Sequence[str] | None = None) -> None:
    """`python -m libs.events.relay --service <name>`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m libs.events.relay", description="The relay of one service.")
    parser.add_argument("--service", required=True, choices=SERVICE_NAMES)
    args = parser.parse_args(argv)
    run(run_relay(args.service))


# --- the local cluster's settings --------------------------------------------------------------------


def _load_or_create_token(path: Path) -> str:
    """The back-office token (0600, never logged), made once."""
    create_secret_file(path, secrets.token_urlsafe(32).encode())
    return path.read_text().strip()


def prepare_secrets(root: Path) -> str:
    """The shared secrets folder `root/secrets`: the back-office token and notifications' sealing key
    pair. Returns the token (identity makes its own keys there at its first start)."""
    folder = root / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = _load_or_create_token(folder / "backoffice-token")
    load_or_create_private_key(folder / NOTIFICATIONS_SEALING_KEY)
    return token


def service_ports(first_port: int = FIRST_PORT) -> dict[str, int]:
    return {name: first_port + index for index, name in enumerate(SERVICE_NAMES)}


def cluster_env(
    root: Path,
    public_url: str,
    *,
    kafka_bootstrap: str,
    mongo_uri: str,
    namespace: str | None = None,
    ports: Mapping[str, int] | None = None,
    log_format: str = "console",
) -> dict[str, str]:
    """Every variable the local cluster's services, relays and nginx templates need (strings only)."""
    root = root.resolve()
    token = prepare_secrets(root)
    env = {"KAFKA_BOOTSTRAP": kafka_bootstrap, "MONGO_URI": mongo_uri}
    if namespace:
        env["STREFA_NAMESPACE"] = namespace
    for name, port in (ports or service_ports()).items():
        prefix = f"{name.upper()}_"
        env.update(
            {
                f"{prefix}DATA_DIR": str(root / name),
                f"{prefix}DEV_MODE": "true",
                f"{prefix}SECRETS_DIR": str(root / "secrets"),
                f"{prefix}JWKS_LOCATION": str(root / "secrets" / "jwks.json"),
                f"{prefix}BACKOFFICE_TOKEN_SHA256": json.dumps([token_sha256(token)]),
                f"{prefix}LOG_FORMAT": log_format,
                f"{name.upper()}_UPSTREAM": f"127.0.0.1:{port}",
            }
        )
    env.update(
        {
            "IDENTITY_PUBLIC_URL": public_url,
            "IDENTITY_TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
            "PAYMENTS_PUBLIC_URL": public_url,
            "NOTIFICATIONS_PORTAL_URL": public_url,
            "PROFILE_PORTAL_URL": public_url,
            "PROFILE_BLOB_DIR": str(root / "blobs"),
        }
    )
    return env


NGINX_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


def render_gateway(dest: Path, env: Mapping[str, str], listen: str, web_root: Path = WEB_DIST) -> Path:
    """deploy/nginx for the local cluster in `dest` (nginx -p dest -c dest/nginx.conf): the three files
    copied, templates/*.template rendered into strefa/ as envsubst would. Returns the nginx.conf path."""
    import shutil
    from string import Template

    (dest / "strefa").mkdir(parents=True, exist_ok=True)
    (dest / "run").mkdir(exist_ok=True)
    for name in ("nginx.conf", "proxy.conf", "security-headers.conf"):
        shutil.copyfile(NGINX_DIR / name, dest / name)
    values = {**env, "GATEWAY_LISTEN": listen, "WEB_ROOT": str(web_root.resolve())}
    for template in sorted((NGINX_DIR / "templates").glob("*.template")):
        rendered = Template(template.read_text()).substitute(values)  # KeyError names a missing variable
        (dest / "strefa" / template.name.removesuffix(".template")).write_text(rendered)
    return dest / "nginx.conf"


def _prepare(argv: Sequence[str]) -> None:
    """`python -m libs.events.cluster prepare ROOT LISTEN`: ROOT/env (shell assignments) and ROOT/nginx/."""
    import shlex

    root, listen = Path(argv[0]).resolve(), argv[1]
    infra = ClusterInfra.from_env()
    env = cluster_env(
        root,
        f"http://{listen}",
        kafka_bootstrap=infra.kafka.bootstrap,
        mongo_uri=infra.mongo_uri,
        namespace=None if infra.namespace == DEFAULT_NAMESPACE else infra.namespace,
    )
    render_gateway(root / "nginx", env, listen)
    (root / "env").write_text("".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items())))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        try:
            _prepare(sys.argv[2:])
        except ClusterConfigError as error:
            sys.stderr.write(f"error: {error}\n")
            sys.exit(2)
    else:
        sys.stderr.write("usage: python -m libs.events.cluster prepare ROOT LISTEN\n")
        sys.exit(64)
