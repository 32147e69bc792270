"""The server adapters without servers: envelope mappings, and a clear error (never a hang) when unreachable.

Also the runner hooks the Kafka mode needs: the dead-letter sink, and waiting out an unavailable log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from kurrentdbclient import RecordedEvent as EsdbRecordedEvent

from libs.events.docstore import Collection, Index, StoreUnavailable
from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.esdb_store import EsdbEventStore, from_esdb, to_esdb
from libs.events.eventlog import EmbeddedConsumer, EmbeddedEventLog, LogBatch, LogUnavailable
from libs.events.kafka import KafkaConfig, KafkaEventLog, decode_offsets, encode_offsets, event_headers
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.projection import ProjectionRunner
from libs.events.relay import FileCheckpoint, Relay
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.cluster.model import POISON, invoice, registry, totals, totals_by_client
from tests.helpers import eventually

NOBODY = "127.0.0.1:1"  # nothing listens there: connections are refused at once


def recorded(**changes: object) -> RecordedEvent:
    base = NewEvent(
        type="InvoiceIssued",
        version=2,
        data={"client_id": "C1", "gross": "1234.56", "text": "zażółć"},
        occurred_at=datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=UTC),
        causation_id=uuid4(),
        client_id="C1",
        actor="backoffice:abc",
        trace_context={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )
    return RecordedEvent(**base.model_dump(), stream_id="billing-invoice-1", stream_version=4, global_position=987654)


def test_an_envelope_survives_the_eventstoredb_mapping() -> None:
    event = recorded()
    esdb = to_esdb(event)
    assert esdb.id == event.event_id
    assert esdb.type == "InvoiceIssued"
    stored = EsdbRecordedEvent(
        type=esdb.type,
        data=esdb.data,
        metadata=esdb.metadata,
        content_type=esdb.content_type,
        id=esdb.id,
        stream_name="billing-invoice-1",
        stream_position=4,
        commit_position=987654,
        prepare_position=987654,
        recorded_at=datetime.now(UTC),
    )
    assert from_esdb(stored) == event


async def test_an_unreachable_eventstoredb_is_store_unavailable() -> None:
    store = await EsdbEventStore(f"esdb://{NOBODY}?tls=false&defaultDeadline=5", "billing").open()
    try:
        with pytest.raises(StoreUnavailable):
            await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.append("billing-invoice-1", [invoice("C1", "1.00")], ANY_VERSION)
    finally:
        await store.close()


async def test_an_unreachable_mongodb_is_store_unavailable() -> None:
    store = await MongoDocumentStore(f"mongodb://{NOBODY}/", "nowhere", server_selection_timeout=0.3).open()
    collection = Collection("invoices", (Index.on("client_id"),))
    try:
        with pytest.raises(StoreUnavailable):
            await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.find(collection, {"client_id": "C1"})
        with pytest.raises(StoreUnavailable):
            await store.upsert_many(collection, [{"_id": "1", "client_id": "C1"}])
    finally:
        await store.close()


async def test_an_unreachable_kafka_is_log_unavailable(tmp_path: Path) -> None:
    config = KafkaConfig(NOBODY, request_timeout_ms=2000)
    consumer = KafkaEventLog(config).consumer("g", ["billing"])
    with pytest.raises(LogUnavailable):
        await consumer.next_batch(10, 0.1)
    await consumer.close()
    store = await SqliteEventStore(tmp_path / "events.db", "billing").open()
    relay = Relay("billing", store, config, FileCheckpoint(tmp_path / "relay-checkpoint.json"))
    with pytest.raises(LogUnavailable):
        await relay.publish_pending()
    await store.close()


def test_cloudevents_headers_and_opaque_checkpoints() -> None:
    event = recorded()
    headers = dict(event_headers(event, "billing"))
    assert headers["ce_id"] == str(event.event_id).encode()
    assert headers["ce_source"] == b"/billing"
    assert headers["ce_subject"] == b"billing-invoice-1"
    assert headers["ce_time"] == b"2026-03-29T01:59:59.123456+00:00"
    assert headers["ce_schemaversion"] == b"2"
    assert headers["traceparent"] == event.trace_context["traceparent"].encode()
    assert decode_offsets(encode_offsets({2: 7, 0: 15})) == {0: 15, 2: 7}


async def test_the_relay_checkpoint_file_survives_a_restart(tmp_path: Path) -> None:
    checkpoint = FileCheckpoint(tmp_path / "billing" / "relay-checkpoint.json")
    assert checkpoint.load() is None
    await checkpoint.save(41)
    await checkpoint.save(42)
    assert FileCheckpoint(checkpoint.path).load() == 42
    assert not checkpoint.path.with_suffix(".tmp").exists()


class FlakyConsumer:
    """The embedded consumer, with the log "unavailable" at the first commit."""

    def __init__(self, inner: EmbeddedConsumer) -> None:
        self.inner = inner
        self.group = inner.group
        self.failures = 1
        self.delivered = 0

    async def next_batch(self, max_events: int, timeout: float) -> LogBatch:
        batch = await self.inner.next_batch(max_events, timeout)
        self.delivered += len(batch.events)
        return batch

    async def commit(self, batch: LogBatch) -> None:
        if self.failures:
            self.failures -= 1
            raise LogUnavailable("broker restarting")
        await self.inner.commit(batch)

    async def checkpoints(self) -> dict[str, str]:
        return await self.inner.checkpoints()

    async def lag(self) -> dict[str, int]:
        return await self.inner.lag()

    async def ends(self) -> dict[str, str]:
        return await self.inner.ends()

    async def reached(self, target: Mapping[str, str]) -> bool:
        return await self.inner.reached(target)

    async def reset(self) -> None:
        await self.inner.reset()

    async def close(self) -> None:
        await self.inner.close()


async def test_a_runner_waits_out_an_unavailable_log_and_tells_the_sink_of_dead_letters(tmp_path: Path) -> None:
    events = await SqliteEventStore(tmp_path / "billing.db", "billing").open()
    documents = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    for gross in ("10.00", POISON, "2.50"):
        await events.append("billing-invoice-1", [invoice("C1", gross)], ANY_VERSION)
    told: list[tuple[str, str, str]] = []

    async def sink(consumer: str, failed: Sequence[tuple[RecordedEvent, str]]) -> None:
        told.extend((consumer, event.data["gross"], reason) for event, reason in failed)

    consumer = FlakyConsumer(EmbeddedEventLog({"billing": events}, documents).consumer("g", ["billing"]))
    runner = ProjectionRunner(
        totals, consumer, documents, registry, service="billing", personal=None, dead_letter_sink=sink
    )
    runner.idle_timeout = runner.retry_delay = 0.05
    task = runner.start()
    try:
        await eventually(lambda: _committed(consumer), what="the batch committed after the failure")
        assert not task.done()
    finally:
        await runner.stop()
    # the batch came again after the failed commit, and the guard skipped what the document held
    assert consumer.delivered == 6
    assert await totals_by_client(documents) == {"C1": (2, Decimal("12.50"))}
    assert [(name, gross) for name, gross, _ in told] == [("client_totals", POISON)]
    assert all(reason.endswith(": ValueError") for _, _, reason in told)
    await events.close()
    await documents.close()


async def _committed(consumer: FlakyConsumer) -> bool:
    return (await consumer.lag()) == {"billing": 0}
