"""Where the ops CLI gets the services' runtimes from.

Embedded mode opens the portal's data folder in this process: every service's SQLite event store and
read-model store, with the same runtimes (projections, reactors, consumer groups) as the portal,
whose consumers are NOT started here. The portal may be running meanwhile: SQLite in WAL mode lets
both processes read, and writes are serialized by SQLite's lock (busy_timeout 10 s). The running
portal notices a rebuild's alias switch without restarting: its document store re-reads the alias
document (`_aliases`, a primary-key lookup) on every query and every projection batch, and its live
runner hands over to the new version's checkpoint at its next batch (libs/events/versions.py).

Cluster mode (Kafka + MongoDB) is the seam left for later: build the same `ServiceRuntime`s over
the Kafka event log and the Mongo document store (no consumers started) and hand them to
`Operations`; the alias switch is then one upsert of the alias document in MongoDB.

A service's event store alone (`open_event_store`, for `tail stream` and `republish`) is available in
both modes: embedded opens `<data_dir>/<service>/events.db`; cluster opens the store the service's own
processes use (EventStoreDB at EVENTSTORE_URI, else the dev-mode SQLite file in `<SERVICE>_DATA_DIR`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path

from libs.events.cluster import SERVICE_NAMES, ClusterConfigError, ClusterInfra
from libs.events.cluster import open_event_store as open_cluster_event_store
from libs.events.rebuild import Operations
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import EventStore


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
        raise BackendError(
            "cluster mode is not available yet: build the services' runtimes over Kafka and MongoDB "
            "in services/ops/backend.py (open_operations); use --mode embedded with --data-dir"
        )
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
