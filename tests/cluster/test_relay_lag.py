"""The relay reads its event store's head for the lag gauge only when metrics are on, and then once per
sample interval, not on every idle poll (on EventStoreDB that read is a backwards read of its own)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.metrics import CallbackOptions

from libs.events.envelope import RecordedEvent
from libs.events.kafka import KafkaConfig
from libs.events.relay import Relay
from libs.events.service import metrics
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.cluster.model import invoice
from tests.helpers import eventually

pytestmark = pytest.mark.cluster

ROUNDS = 20


class CountingStore(SqliteEventStore):
    """billing's SQLite event store, counting the relay's reads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "billing")
        self.reads = 0
        self.head_reads = 0

    async def read_all(self, after: int | None = None, limit: int = 1000) -> list[RecordedEvent]:
        self.reads += 1
        return await super().read_all(after, limit)

    async def head_position(self) -> int | None:
        self.head_reads += 1
        return await super().head_position()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    store = CountingStore(tmp_path / "billing" / "events.db")
    await store.open()
    await store.append("billing-invoice-1", [invoice("C1", "1.00")], ANY_VERSION)
    yield store
    await store.close()


async def run_idle_rounds(relay: Relay, store: CountingStore) -> None:
    """Runs the relay until it has polled its idle store ROUNDS times after publishing what it held."""
    relay.idle_wait = 0.01
    running = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: relay.published == 1 and store.reads >= ROUNDS, what=f"{ROUNDS} rounds")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await relay.stop()


def relay_readings(relay: Relay) -> list[int | float]:
    return [
        observation.value
        for observation in metrics.relay_lag.observe(CallbackOptions())
        if (observation.attributes or {}).get("topic") == relay.topic
    ]


async def test_with_metrics_off_the_relay_never_reads_the_head(
    store: CountingStore, kafka_config: KafkaConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_configured", False)
    relay = Relay.next_to(tmp_path / "billing", "billing", store, kafka_config, lag_sample_interval=0.001)
    await run_idle_rounds(relay, store)
    assert store.head_reads == 0
    assert relay_readings(relay) == []


async def test_with_metrics_on_the_relay_reads_the_head_once_per_sample_interval(
    store: CountingStore, kafka_config: KafkaConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_configured", True)
    relay = Relay.next_to(tmp_path / "billing", "billing", store, kafka_config, lag_sample_interval=3600)
    await run_idle_rounds(relay, store)
    assert store.head_reads == 1  # the first round's; the next is due in an hour
    assert relay_readings(relay) == [0]
    metrics.relay_lag.forget(topic=relay.topic)
