"""Events in the services' SQLite stores under a data folder, relayed to a Kafka namespace of the test's own.

Skipped without a broker (KAFKA_BOOTSTRAP or `.infra/env`); every test gets its own topics, removed after it.
tests/ops uses these fixtures too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka.errors import KafkaError

from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig
from libs.events.relay import Relay
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.servers import KAFKA_SKIP, delete_namespace, server_setting


@pytest.fixture
async def kafka_config() -> AsyncIterator[KafkaConfig]:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    config = KafkaConfig(bootstrap, namespace=f"analytics-{uuid4().hex[:12]}")
    yield config
    with contextlib.suppress(KafkaError, LogUnavailable, OSError, TimeoutError):
        await asyncio.wait_for(delete_namespace(config), 30)


class Services:
    """Each service's store at `<data_dir>/<service>/events.db` (the embedded layout) and its relay."""

    def __init__(self, data_dir: Path, config: KafkaConfig) -> None:
        self.data_dir = data_dir
        self.config = config
        self.stores: dict[str, SqliteEventStore] = {}
        self.relays: dict[str, Relay] = {}

    async def store(self, service: str) -> SqliteEventStore:
        if service not in self.stores:
            store = await SqliteEventStore(self.data_dir / service / "events.db", service).open()
            self.stores[service] = store
            self.relays[service] = Relay.next_to(self.data_dir / service, service, store, self.config)
        return self.stores[service]

    async def append(self, stream_id: str, events: Sequence[NewEvent]) -> list[RecordedEvent]:
        store = await self.store(stream_id.split("-", 1)[0])
        result = await store.append(stream_id, events, ANY_VERSION)
        return (await store.read_stream(stream_id))[result.stream_version - len(events) + 1 :]

    async def publish(self) -> int:
        return sum([await relay.publish_pending() for relay in self.relays.values()])

    def topic(self, service: str) -> str:
        return self.config.topic(service)

    async def close(self) -> None:
        for relay in self.relays.values():
            await relay.stop()
        for store in self.stores.values():
            await store.close()


@pytest.fixture
async def services(tmp_path: Path, kafka_config: KafkaConfig) -> AsyncIterator[Services]:
    found = Services(tmp_path / "data", kafka_config)
    yield found
    await found.close()
