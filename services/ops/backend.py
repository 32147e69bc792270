"""Where the ops CLI gets the services' runtimes from.

Embedded mode opens the portal's data folder in this process: every service's SQLite event store and
read-model store, with the same runtimes (projections, reactors, consumer groups) as the portal,
whose consumers are NOT started here. The portal may be running meanwhile: SQLite in WAL mode lets
both processes read, and writes are serialized by SQLite's lock (busy_timeout 10 s). The running
portal notices a rebuild's alias switch without restarting: its document store re-reads the alias
document (`_aliases`, a primary-key lookup) on every query and every projection batch, and its live
runner hands over to the new version's checkpoint at its next batch (libs/events/versions.py).

Cluster mode opens every service as its own processes do (`ClusterService`: its event store, its
MongoDB database `strefa_<name>`, the key vault, the Kafka event log and dead-letter topic), from the
same variables (KAFKA_BOOTSTRAP, MONGO_URI, EVENTSTORE_URI, STREFA_NAMESPACE, `<SERVICE>_*`), with no
consumers started and without the services' start hooks (identity's signing keys are its own
processes' business). The services keep running meanwhile:

- `status` reads each consumer group's committed offsets and the topics' ends without joining the
  group (`KafkaPositions`), so the live members keep their partitions; processed counts, dead letters
  and last errors come from each service's `_consumers` and `_dead_letters` in MongoDB;
- a rebuild fills the new version from the topics' beginning (unlimited retention) under the new
  version's consumer group, which this process joins alone and leaves once caught up; the alias
  switch is one upsert of the alias document in MongoDB, and the services' live runners hand over to
  that group's committed offsets at their next batch (libs/events/versions.py). The old version's
  group is left to expire with the broker's `offsets.retention.minutes`; the live groups' offsets are
  never touched;
- dead letters are listed, shown and retried from each service's `_dead_letters` collection.

A service's event store alone (`open_event_store`, for `tail stream` and `republish`) is available in
both modes: embedded opens `<data_dir>/<service>/events.db`; cluster opens the store the service's own
processes use (EventStoreDB at EVENTSTORE_URI, else the dev-mode SQLite file in `<SERVICE>_DATA_DIR`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from libs.events.cluster import SERVICE_NAMES, ClusterConfigError, ClusterInfra, ClusterService, settings_for
from libs.events.cluster import open_event_store as open_cluster_event_store
from libs.events.docstore import StoreUnavailable
from libs.events.kafka import KafkaConfig, KafkaEventLog, KafkaLogConsumer, available, encode_offsets
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.rebuild import Operations
from libs.events.registry import EventRegistry, registry
from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import EventStore

OPS_CLIENT_ID = "strefa-ops"


class Mode(StrEnum):
    embedded = "embedded"
    cluster = "cluster"


class BackendError(Exception):
    """The ops tool cannot reach what it should operate on."""


class UsageError(Exception):
    """Input the user can correct: an unknown service, topic or stream, a position beyond the end."""


def check_service(service: str) -> str:
    if service not in SERVICE_NAMES:
        raise UsageError(f"unknown service {service!r}; known: {', '.join(SERVICE_NAMES)}")
    return service


def service_of_stream(stream_id: str) -> str:
    """Stream ids are `<service>-<aggregate>-<id>`: the service whose store holds the stream."""
    service = stream_id.split("-", 1)[0]
    if service not in SERVICE_NAMES or "-" not in stream_id:
        raise UsageError(
            f"no service holds stream {stream_id!r}: stream ids start with their service's name "
            f"({', '.join(f'{name}-' for name in SERVICE_NAMES)})"
        )
    return service


@asynccontextmanager
async def open_event_store(data_dir: Path, mode: Mode, service: str) -> AsyncIterator[EventStore]:
    """One service's event store, opened (never created: a missing store is an error)."""
    check_service(service)
    store: EventStore
    sqlite_file: Path | None
    if mode is Mode.cluster:
        try:
            settings = ServiceSettings(_env_prefix=f"{service.upper()}_")
            infra = ClusterInfra.from_env()
            store = open_cluster_event_store(service, settings, infra)
        except ClusterConfigError as error:
            raise BackendError(str(error)) from None
        sqlite_file = None if infra.eventstore_uri else settings.data_dir / "events.db"
    else:
        if not await asyncio.to_thread(data_dir.is_dir):
            raise BackendError(f"no data folder at {data_dir} (pass --data-dir, or PORTAL_DATA_DIR)")
        sqlite_file = data_dir / service / "events.db"
        store = SqliteEventStore(sqlite_file, service)
    if sqlite_file is not None and not await asyncio.to_thread(sqlite_file.is_file):
        raise BackendError(f"no event store of {service} at {sqlite_file}")
    opener = getattr(store, "open", None)
    if callable(opener):
        await opener()
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_operations(data_dir: Path, mode: Mode = Mode.embedded, grace: float = 2.0) -> AsyncIterator[Operations]:
    if mode is Mode.cluster:
        from services.gateway.embedded import SERVICES  # every service's definition

        async with open_cluster_operations(SERVICES, grace) as ops:
            yield ops
        return
    if not await asyncio.to_thread(data_dir.is_dir):
        raise BackendError(f"no data folder at {data_dir} (pass --data-dir, or PORTAL_DATA_DIR)")
    from services.gateway.embedded import EmbeddedPortal, PortalSettings  # the composition root

    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir))
    await portal.platform.open()
    try:
        for runtime in portal.runtimes.values():
            await runtime.start(run_consumers=False)
        yield Operations(portal.runtimes, grace=grace)
    finally:
        await portal.stop()


# --- cluster mode ---------------------------------------------------------------------------------


@asynccontextmanager
async def open_cluster_operations(
    services: Sequence[ServiceDefinition],
    grace: float = 2.0,
    event_registry: EventRegistry = registry,
    environ: Mapping[str, str] = os.environ,
) -> AsyncIterator[Operations]:
    """`Operations` over the services' cluster-mode runtimes (see the module doc); BackendError, one line,
    when a variable is missing or Kafka, MongoDB or an event store cannot be reached."""
    try:
        infra = ClusterInfra.from_env(environ)
    except ClusterConfigError as error:
        raise BackendError(str(error)) from None
    positions = KafkaPositions(infra.kafka)
    nodes: list[ClusterService] = []
    try:
        await positions.open()
        await _reach_mongo(infra)
        event_log = ObservingEventLog(positions)
        for definition in services:
            nodes.append(_cluster_service(definition, infra, event_log, event_registry))
        for node in nodes:
            await _open(node)
        for node in nodes:
            await node.runtime.start(run_consumers=False)
        yield Operations({node.runtime.name: node.runtime for node in nodes}, grace=grace)
    finally:
        for node in nodes:
            await node.runtime.stop()
            await node.close()
        await positions.close()


def _cluster_service(
    definition: ServiceDefinition, infra: ClusterInfra, event_log: ObservingEventLog, event_registry: EventRegistry
) -> ClusterService:
    name = definition.name
    try:
        settings = settings_for(definition)
    except ValidationError as error:
        problems = "; ".join(
            f"{name.upper()}_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        raise BackendError(f"{name} settings: {problems}") from None
    if infra.eventstore_uri is None and settings.dev_mode and not (settings.data_dir / "events.db").is_file():
        raise BackendError(
            f"no event store of {name} at {settings.data_dir / 'events.db'} (set {name.upper()}_DATA_DIR, "
            "or EVENTSTORE_URI)"
        )
    try:
        # no start hook: it prepares a serving process (identity makes its signing keys), not this one
        return ClusterService(replace(definition, on_start=None), settings, infra, event_registry, event_log=event_log)
    except ClusterConfigError as error:
        raise BackendError(str(error)) from None


async def _reach_mongo(infra: ClusterInfra, timeout: float = 5.0) -> None:
    """One ping before the services' stores are opened (their own pings give up after 2 s): an unreachable
    server is named once, and a busy one gets a little longer to answer the tool's first connection."""
    probe = await MongoDocumentStore(infra.mongo_uri, infra.database("vault"), server_selection_timeout=timeout).open()
    try:
        await probe.ping()
    except StoreUnavailable:
        raise BackendError(f"MongoDB at {_hosts(infra.mongo_uri)} unreachable (MONGO_URI)") from None
    finally:
        await probe.close()


async def _open(node: ClusterService) -> None:
    try:
        await node.open()
    except StoreUnavailable as error:  # e.g. EventStoreDB
        raise BackendError(str(error)) from None


def _hosts(mongo_uri: str) -> str:
    """The servers of a MongoDB URI, without the credentials it may hold."""
    authority = mongo_uri.partition("://")[2].split("/", 1)[0]
    return authority.rsplit("@", 1)[-1] or mongo_uri


class KafkaPositions:
    """Where consumer groups stand on the topics, read without joining any group: a live service's
    members keep their partitions, and their committed offsets are only read. One admin client (the
    groups' committed offsets, the topics' partitions) and one consumer outside any group (the
    partitions' first and end offsets) serve every group this process looks at."""

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=config.bootstrap, client_id=OPS_CLIENT_ID, request_timeout_ms=config.request_timeout_ms
        )
        self._reader = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap,
            client_id=OPS_CLIENT_ID,
            enable_auto_commit=False,
            request_timeout_ms=config.request_timeout_ms,
        )

    async def open(self) -> None:
        try:
            await self._admin.start()
            await self._reader.start()
        except (KafkaError, OSError, TimeoutError):
            raise BackendError(f"Kafka at {self.config.bootstrap} unreachable (KAFKA_BOOTSTRAP)") from None

    async def close(self) -> None:
        await self._reader.stop()
        await self._admin.close()

    async def positions(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, tuple[int | None, int, int]]:
        """Per partition of those `topics` that exist (a topic appears with its first event): the group's
        committed offset (None: nothing committed), the first and the end offset."""
        async with available(self.config.bootstrap, f"positions of {group}"):
            known = set(await self._admin.list_topics())
            present = [topic for topic in topics if topic in known]
            if not present:
                return {}
            described = await self._admin.describe_topics(present)
            partitions = [
                TopicPartition(entry["topic"], partition["partition"])
                for entry in described
                for partition in entry["partitions"]
            ]
            committed = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
            firsts = await self._reader.beginning_offsets(partitions)
            ends = await self._reader.end_offsets(partitions)
        return {tp: (_offset(committed.get(tp)), firsts[tp], ends[tp]) for tp in partitions}


def _offset(committed: OffsetAndMetadata | None) -> int | None:
    """-1 or absent: the group committed nothing there."""
    return committed.offset if committed is not None and committed.offset >= 0 else None


class ObservingConsumer(KafkaLogConsumer):
    """A service's consumer group as the ops tool uses it: `checkpoints` and `lag` are read without
    joining the group; reading batches, committing and resetting join it, which only a rebuild does, on
    the new version's group of its own (and leaves it once caught up)."""

    def __init__(self, positions: KafkaPositions, group: str, sources: Sequence[str]) -> None:
        super().__init__(positions.config, group, sources)
        self._positions = positions
        self._topics = {positions.config.topic(source): source for source in sources}

    async def checkpoints(self) -> dict[str, str]:
        per_source: dict[str, dict[int, int]] = {source: {} for source in self._topics.values()}
        for tp, (committed, _, _) in (await self._positions.positions(self.group, list(self._topics))).items():
            if committed is not None:
                per_source[self._topics[tp.topic]][tp.partition] = committed
        return {source: encode_offsets(offsets) for source, offsets in per_source.items()}

    async def lag(self) -> dict[str, int]:
        lag = {source: 0 for source in self._topics.values()}
        for tp, (committed, first, end) in (await self._positions.positions(self.group, list(self._topics))).items():
            lag[self._topics[tp.topic]] += max(0, end - (first if committed is None else committed))
        return lag


class ObservingEventLog(KafkaEventLog):
    def __init__(self, positions: KafkaPositions) -> None:
        super().__init__(positions.config)
        self._positions = positions

    def consumer(self, group: str, sources: Sequence[str]) -> ObservingConsumer:
        return ObservingConsumer(self._positions, group, sources)
