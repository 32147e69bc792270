"""The relay, the Kafka consumers and the dead-letter topic against a real broker and FerretDB."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from libs.events.envelope import RecordedEvent
from libs.events.kafka import KafkaConfig, KafkaDeadLetters, KafkaEventLog, decode_offsets, new_producer
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.projection import DEAD_LETTERS, ProjectionRunner
from libs.events.relay import FileCheckpoint, Relay
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.cluster.conftest import header, read_topic
from tests.cluster.model import POISON, invoice, projector, totals_by_client
from tests.helpers import eventually

pytestmark = pytest.mark.cluster

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
DYNAMIC_TOPIC_CONFIG = 1
"""config_source of a setting made on the topic itself (not inherited from the broker)."""


async def test_the_relay_publishes_envelope_key_and_cloudevents_headers(
    billing_store: SqliteEventStore, billing_relay: Relay, kafka_config: KafkaConfig
) -> None:
    await billing_store.append("billing-invoice-1", [invoice("C1", "100.10", TRACEPARENT)], ANY_VERSION)
    await billing_store.append("billing-invoice-2", [invoice("C2", "5.00")], ANY_VERSION)
    await billing_store.append("billing-invoice-1", [invoice("C1", "0.01")], ANY_VERSION)
    stored = await billing_store.read_all()

    assert await billing_relay.publish_pending() == 3
    records = await read_topic(kafka_config, kafka_config.topic("billing"))

    by_id = {header(record, "ce_id"): record for record in records}
    assert set(by_id) == {str(event.event_id) for event in stored}
    first = by_id[str(stored[0].event_id)]
    assert first.key == b"billing-invoice-1"
    assert RecordedEvent.from_json(first.value) == stored[0]
    assert header(first, "ce_specversion") == "1.0"
    assert header(first, "ce_type") == "InvoiceIssued"
    assert header(first, "ce_source") == "/billing"
    assert header(first, "ce_subject") == "billing-invoice-1"
    assert header(first, "ce_time") == stored[0].occurred_at.isoformat()
    assert header(first, "ce_schemaversion") == "1"
    assert header(first, "content-type") == "application/json"
    # the trace context it was stored with: consumers continue the recording request's trace
    assert header(first, "traceparent") == TRACEPARENT
    assert header(by_id[str(stored[1].event_id)], "traceparent") is None
    # one stream, one partition, in stream order
    stream_one = [r for r in records if r.key == b"billing-invoice-1"]
    assert len({r.partition for r in stream_one}) == 1
    assert [RecordedEvent.from_json(r.value).stream_version for r in sorted(stream_one, key=lambda r: r.offset)] == [
        0,
        1,
    ]


async def test_topics_have_the_configured_partitions_and_unlimited_retention(
    billing_relay: Relay, kafka_config: KafkaConfig
) -> None:
    await billing_relay.start()
    await billing_relay.start()  # creating an existing topic again is fine
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_config.bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([billing_relay.topic])
        (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, billing_relay.topic)])
    finally:
        await admin.close()
    assert len(described["partitions"]) == kafka_config.partitions == 3
    entries = {entry[0]: entry for entry in configs.resources[0][4]}
    assert entries["retention.ms"][1] == "-1"
    assert entries["retention.ms"][3] == DYNAMIC_TOPIC_CONFIG


async def test_relay_lag_counts_what_is_not_published(billing_store: SqliteEventStore, billing_relay: Relay) -> None:
    await billing_store.append("billing-invoice-1", [invoice("C1", "1.00") for _ in range(4)], ANY_VERSION)
    assert await billing_relay.lag() == 4
    await billing_relay.publish_pending()
    status = await billing_relay.status()
    assert (status.lag, status.checkpoint, status.head) == (0, 4, 4)
    assert billing_relay.checkpoint.load() == 4


class FollowedStore(SqliteEventStore):
    """billing's event store in the relay's process, counting the relay's reads that found nothing."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "billing")
        self.empty_reads = 0

    async def read_all(self, after: int | None = None, limit: int = 1000) -> list[RecordedEvent]:
        events = await super().read_all(after, limit)
        self.empty_reads += not events
        return events


async def test_a_relay_publishes_at_once_what_another_process_appends(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    path = tmp_path / "billing" / "events.db"
    api = await SqliteEventStore(path, "billing").open()  # the API's connection: another writer
    followed = FollowedStore(path)
    await followed.open()
    relay = Relay.next_to(tmp_path / "billing", "billing", followed, kafka_config)
    relay.idle_wait = 600.0  # only being woken by the append can explain a publish within the bound below
    running = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: followed.empty_reads >= 1, timeout=60, what="the relay idle")
        await api.append("billing-invoice-1", [invoice("C1", "1.00")], ANY_VERSION)
        await eventually(lambda: relay.published == 1, timeout=120, what="the relay woken by the append")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await relay.stop()
        await followed.close()
        await api.close()
    (record,) = await read_topic(kafka_config, kafka_config.topic("billing"))
    assert record.key == b"billing-invoice-1"


class CrashAfterPublish(FileCheckpoint):
    """Kafka acknowledged the batch, then the process died before the checkpoint was written."""

    async def save(self, position: int) -> None:
        raise RuntimeError("crash between publish and checkpoint")


async def test_a_crash_between_publish_and_checkpoint_republishes_and_nothing_is_counted_twice(
    billing_store: SqliteEventStore, kafka_config: KafkaConfig, mongo: MongoDocumentStore, tmp_path: Path
) -> None:
    for n in range(6):
        await billing_store.append(f"billing-invoice-{n % 2}", [invoice(f"C{n % 2}", "10.05")], ANY_VERSION)
    checkpoint = FileCheckpoint(tmp_path / "billing" / "relay-checkpoint.json")
    crashing = Relay("billing", billing_store, kafka_config, CrashAfterPublish(checkpoint.path))
    with pytest.raises(RuntimeError, match="crash"):
        await crashing.publish_pending()
    await crashing.stop()
    restarted = Relay("billing", billing_store, kafka_config, checkpoint)
    assert await restarted.publish_pending() == 6  # all of it again: the checkpoint was never written
    await restarted.stop()

    records = await read_topic(kafka_config, kafka_config.topic("billing"))
    assert len(records) == 12  # every event twice on the topic...
    runner = projector(kafka_config, mongo, f"totals-{uuid4().hex}")
    await runner.load_status()
    try:
        await eventually(lambda: _ran(runner, 12), timeout=60, what="the projection read all 12 records")
    finally:
        await runner.consumer.close()
    # ...and once in the read model
    assert await totals_by_client(mongo) == {"C0": (3, Decimal("30.15")), "C1": (3, Decimal("30.15"))}


async def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_projection_goes_on(
    billing_store: SqliteEventStore, billing_relay: Relay, kafka_config: KafkaConfig, mongo: MongoDocumentStore
) -> None:
    await billing_store.append("billing-invoice-1", [invoice("C1", "7.00")], ANY_VERSION)
    await billing_store.append("billing-invoice-2", [invoice("C1", POISON)], ANY_VERSION)
    await billing_store.append("billing-invoice-3", [invoice("C1", "3.00")], ANY_VERSION)
    poison = (await billing_store.read_stream("billing-invoice-2"))[0]
    await billing_relay.publish_pending()

    dead_letters = KafkaDeadLetters(kafka_config)
    runner = projector(kafka_config, mongo, f"totals-{uuid4().hex}", dead_letter_sink=dead_letters)
    await runner.load_status()
    try:
        await eventually(lambda: _ran(runner, 3), timeout=60, what="the projection read all three events")
        assert await runner.consumer.lag() == {"billing": 0}
        committed = await runner.consumer.checkpoints()
    finally:
        await runner.consumer.close()
        await dead_letters.close()
    assert sum(decode_offsets(committed["billing"]).values()) == 3

    assert await totals_by_client(mongo) == {"C1": (2, Decimal("10.00"))}
    recorded = await mongo.find(DEAD_LETTERS, {"consumer": "client_totals"})
    assert [doc["event_id"] for doc in recorded] == [str(poison.event_id)]
    (letter,) = await read_topic(kafka_config, kafka_config.dead_letter_topic)
    assert RecordedEvent.from_json(letter.value) == poison
    assert header(letter, "ce_id") == str(poison.event_id)
    assert header(letter, "dlq_consumer") == "client_totals"
    reason = header(letter, "dlq_error") or ""
    assert reason.startswith(f"fold failed on event {poison.event_id}: ValueError"), reason


async def _ran(runner: ProjectionRunner, expected: int) -> bool:
    await runner.run_once()
    return runner.status.processed >= expected


async def test_a_record_that_is_no_envelope_is_skipped_once_not_redelivered_forever(
    billing_store: SqliteEventStore, billing_relay: Relay, kafka_config: KafkaConfig
) -> None:
    await billing_relay.start()
    producer = new_producer(kafka_config)
    await producer.start()
    try:
        for partition in range(kafka_config.partitions):
            await producer.send_and_wait(kafka_config.topic("billing"), b"not an envelope", partition=partition)
    finally:
        await producer.stop()
    event = invoice("C1", "1.00")
    await billing_store.append("billing-invoice-1", [event], ANY_VERSION)
    await billing_relay.publish_pending()

    consumer = KafkaEventLog(kafka_config).consumer(f"g-{uuid4().hex}", ["billing"])
    received: list[RecordedEvent] = []

    async def drained() -> bool:
        batch = await consumer.next_batch(10, 0.2)
        received.extend(batch.events)
        if batch.events:
            await consumer.commit(batch)
        return await consumer.lag() == {"billing": 0}

    try:
        await eventually(drained, timeout=60, what="the consumer past every record")
    finally:
        await consumer.close()
    assert [e.event_id for e in received] == [event.event_id]
