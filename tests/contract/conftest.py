"""Adapters under the contract suites. Each port's suite runs once per adapter listed here.

An adapter whose server is not available is skipped with the reason (never silently passed).
Servers come from the environment (KAFKA_BOOTSTRAP, MONGO_URI, EVENTSTORE_URI) or from the
`.infra/env` that deploy/local/infra.sh writes. Every test gets its own database, topics and groups.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import uuid4

import pytest

from libs.events.docstore import DocumentStore
from libs.events.envelope import NewEvent
from libs.events.esdb_store import EsdbEventStore
from libs.events.eventlog import EmbeddedEventLog, EventLog
from libs.events.kafka import KafkaConfig, KafkaEventLog
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.relay import FileCheckpoint, Relay
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION, EventStore
from tests.servers import EVENTSTORE_SKIP, KAFKA_SKIP, MONGO_SKIP, delete_namespace, server_setting


@pytest.fixture(params=["sqlite", "eventstoredb"])
async def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param == "eventstoredb":
        uri = server_setting("EVENTSTORE_URI")
        if uri is None:
            pytest.skip(EVENTSTORE_SKIP)
        esdb = await EsdbEventStore(uri, "contracts", stream_prefix="contracts").open()
        yield esdb
        await esdb.close()
        return
    store = await SqliteEventStore(tmp_path / "events.db", "contracts").open()
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", "mongo"])
async def document_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    if request.param == "mongo":
        uri = server_setting("MONGO_URI")
        if uri is None:
            pytest.skip(MONGO_SKIP)
        mongo = await MongoDocumentStore(uri, f"contract_{uuid4().hex[:12]}").open()
        yield mongo
        await mongo.drop_database()
        await mongo.close()
        return
    store = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", "mongo"])
async def document_store_pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[DocumentStore, DocumentStore]]:
    """Two connections to one store, as two processes of a service have."""
    if request.param == "mongo":
        uri = server_setting("MONGO_URI")
        if uri is None:
            pytest.skip(MONGO_SKIP)
        database = f"contract_{uuid4().hex[:12]}"
        first = await MongoDocumentStore(uri, database).open()
        second = await MongoDocumentStore(uri, database).open()
        yield first, second
        await first.drop_database()
        await first.close()
        await second.close()
        return
    first_sqlite = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    second_sqlite = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    yield first_sqlite, second_sqlite
    await first_sqlite.close()
    await second_sqlite.close()


class LogHarness:
    """An event log under test, and a way to get events into it from a source service's store."""

    def __init__(
        self,
        log: EventLog,
        stores: dict[str, SqliteEventStore],
        forward: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.log = log
        self.stores = stores
        self._forward = forward

    async def publish(self, source: str, stream_id: str, events: list[NewEvent]) -> None:
        await self.stores[source].append(stream_id, events, ANY_VERSION)
        if self._forward is not None:
            await self._forward(source)


@pytest.fixture(params=["embedded", "kafka"])
async def log_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LogHarness]:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if request.param == "kafka" and bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    stores = {name: await SqliteEventStore(tmp_path / f"{name}.db", name).open() for name in ("contracts", "billing")}
    if request.param == "kafka":
        assert bootstrap is not None
        config = KafkaConfig(bootstrap, namespace=f"contract-{uuid4().hex[:12]}")
        relays = {
            name: Relay(name, store, config, FileCheckpoint(tmp_path / name / "relay-checkpoint.json"))
            for name, store in stores.items()
        }

        async def forward(source: str) -> int:  # the relay publishes, then the append counts as published
            return await relays[source].publish_pending()

        yield LogHarness(KafkaEventLog(config), stores, forward)
        for relay in relays.values():
            await relay.stop()
        await delete_namespace(config)
    else:
        checkpoints = await SqliteDocumentStore(tmp_path / "checkpoints.db").open()
        yield LogHarness(EmbeddedEventLog(stores, checkpoints), stores)
        await checkpoints.close()
    for store in stores.values():
        await store.close()
