"""Adapters under the contract suites. Each port's suite runs once per adapter listed here.

An adapter whose server is not available is skipped with the reason (never silently passed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from libs.events.docstore import DocumentStore
from libs.events.envelope import NewEvent
from libs.events.eventlog import EmbeddedEventLog, EventLog
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION, EventStore


@pytest.fixture(params=["sqlite"])
async def event_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    store = await SqliteEventStore(tmp_path / "events.db", "contracts").open()
    yield store
    await store.close()


@pytest.fixture(params=["sqlite"])
async def document_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    store = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    yield store
    await store.close()


class LogHarness:
    """An event log under test, and a way to get events into it from a source service's store."""

    def __init__(self, log: EventLog, stores: dict[str, SqliteEventStore]) -> None:
        self.log = log
        self.stores = stores

    async def publish(self, source: str, stream_id: str, events: list[NewEvent]) -> None:
        await self.stores[source].append(stream_id, events, ANY_VERSION)


@pytest.fixture(params=["embedded"])
async def log_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LogHarness]:
    stores = {name: await SqliteEventStore(tmp_path / f"{name}.db", name).open() for name in ("contracts", "billing")}
    checkpoints = await SqliteDocumentStore(tmp_path / "checkpoints.db").open()
    yield LogHarness(EmbeddedEventLog(stores, checkpoints), stores)
    for store in stores.values():
        await store.close()
    await checkpoints.close()
