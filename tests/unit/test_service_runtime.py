"""A service's runtime beside its consumers: a loop that crashed is logged and does not keep the stop from
closing every consumer, and a consumer whose lag cannot be read does not keep the others from being read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import structlog
from opentelemetry.metrics import CallbackOptions

from libs.events.docstore import DocumentStore
from libs.events.embedded import EmbeddedPlatform
from libs.events.eventlog import EmbeddedConsumer, EmbeddedEventLog
from libs.events.service import metrics
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_store import SqliteEventStore
from tests.cluster.model import registry, totals
from tests.helpers import eventually

billing = ServiceDefinition(name="billing", title="billing (its totals only)", projections=[totals])


class UnmeasurableConsumer(EmbeddedConsumer):
    """The embedded consumer with a bug in reading its lag (not an outage: nothing says to wait)."""

    async def lag(self) -> dict[str, int]:
        raise RuntimeError("lag arithmetic bug")


class LogWithAnUnmeasurableConsumer(EmbeddedEventLog):
    def __init__(self, stores: Mapping[str, SqliteEventStore], checkpoints: DocumentStore, unmeasurable: str) -> None:
        super().__init__(stores, checkpoints)
        self.stores = stores
        self.checkpoints = checkpoints
        self.unmeasurable = unmeasurable

    def consumer(self, group: str, sources: Sequence[str]) -> EmbeddedConsumer:
        if group != self.unmeasurable:
            return super().consumer(group, sources)
        return UnmeasurableConsumer(group, {source: self.stores[source] for source in sources}, self.checkpoints)


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[EmbeddedPlatform]:
    platform = EmbeddedPlatform(tmp_path, ["billing", "identity"])  # every service's `access` reads identity
    await platform.open()
    yield platform
    await platform.close()


def runtime_of(platform: EmbeddedPlatform, definition: ServiceDefinition) -> ServiceRuntime:
    settings = ServiceSettings(data_dir=platform.data_dir / "billing", secrets_dir=platform.data_dir / "secrets")
    return platform.runtime(definition, settings, registry)


async def test_a_crashed_background_loop_is_logged_and_the_stop_still_stops_every_consumer(
    platform: EmbeddedPlatform,
) -> None:
    crashed = asyncio.Event()

    async def sweep(_: ServiceRuntime) -> None:
        crashed.set()
        raise RuntimeError("sweeper bug")

    runtime = runtime_of(platform, replace(billing, background=sweep))
    with structlog.testing.capture_logs() as logs:
        await runtime.start()
        await crashed.wait()
        await eventually(lambda: all(runner.status.running for runner in runtime.runners), what="consumers running")
        await eventually(lambda: any(entry["event"] == "task_crashed" for entry in logs), what="the crash logged")
        await runtime.stop()

    assert not any(runner.status.running for runner in runtime.runners)
    (crash,) = [entry for entry in logs if entry["event"] == "task_crashed"]
    assert crash["task"] == "background:billing"
    assert "sweeper bug" in crash["error"]


async def test_a_consumer_whose_lag_cannot_be_read_keeps_no_other_from_being_measured(
    platform: EmbeddedPlatform,
) -> None:
    documents = platform.document_stores["billing"]
    runtime = ServiceRuntime(
        billing,
        ServiceSettings(data_dir=platform.data_dir / "billing"),
        platform.event_stores["billing"],
        documents,
        LogWithAnUnmeasurableConsumer(platform.event_stores, documents, unmeasurable="billing.client_totals"),
        registry,
        vault=platform.vault,
    )
    await runtime.start(run_consumers=False)
    assert [runner.name for runner in runtime.runners] == ["client_totals", "access"]  # the broken one first
    try:
        with structlog.testing.capture_logs() as logs:
            await runtime.sample_lag()
        readings = {
            (observation.attributes or {}).get("consumer"): observation.value
            for observation in metrics.consumer_lag.observe(CallbackOptions())
            if (observation.attributes or {}).get("service") == "billing"
        }
        assert readings == {"access": 0}
        (failure,) = [entry for entry in logs if entry["event"] == "consumer_lag_failed"]
        assert failure["consumer"] == "billing.client_totals"
    finally:
        await runtime.stop()
