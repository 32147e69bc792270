"""A record on a service topic that is no event envelope at all (not JSON, not an object, fields missing)
goes to the dead-letter topic as it came, with where it was read and why; the consumer goes on.

Against the real broker and FerretDB, in a throw-away namespace (tests/cluster/conftest.py).
"""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from aiokafka import ConsumerRecord

from libs.events.envelope import RecordedEvent
from libs.events.kafka import KafkaConfig, KafkaEventLog, new_producer
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.relay import Relay
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.cluster.conftest import header, read_topic
from tests.cluster.model import invoice, projector, totals_by_client
from tests.helpers import eventually

pytestmark = pytest.mark.cluster

PERSONAL = b"anna.nowak@example.pl"
STREAM = "billing-invoice-1"
"""The key of the garbage and of the valid event after it: one partition, the garbage first."""
GARBAGE: list[tuple[bytes, str]] = [
    (b"\x00\xff binary, " + PERSONAL, "not an event envelope: JSONDecodeError"),
    (b'{"type": "InvoiceIssued", "data": {"email": "' + PERSONAL + b'"}}', "not an event envelope: ValidationError"),
]


async def produce_garbage(config: KafkaConfig) -> list[tuple[int, int]]:
    """Writes GARBAGE to billing's topic with the key STREAM and a header of its own; (partition, offset) of each."""
    producer = new_producer(config)
    await producer.start()
    try:
        written = [
            await producer.send_and_wait(
                config.topic("billing"), value, key=STREAM.encode(), headers=[("origin", b"a stray producer")]
            )
            for value, _ in GARBAGE
        ]
    finally:
        await producer.stop()
    return [(metadata.partition, metadata.offset) for metadata in written]


def dead_letters_by_offset(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, ConsumerRecord[bytes, bytes]]:
    return {header(record, "dlq_source_offset") or "": record for record in records}


async def test_a_record_that_is_no_envelope_goes_to_the_dead_letter_topic_and_the_projection_goes_on(
    billing_store: SqliteEventStore, billing_relay: Relay, kafka_config: KafkaConfig, mongo: MongoDocumentStore
) -> None:
    await billing_relay.start()  # creates the topic
    written = await produce_garbage(kafka_config)
    await billing_store.append(STREAM, [invoice("C1", "12.34")], ANY_VERSION)
    await billing_relay.publish_pending()

    group = f"totals-{uuid4().hex}"
    runner = projector(kafka_config, mongo, group)
    await runner.load_status()

    async def applied() -> bool:
        await runner.run_once()
        return await totals_by_client(mongo) == {"C1": (1, Decimal("12.34"))}

    try:
        await eventually(applied, timeout=60, what="the valid event after the garbage in the read model")
        assert await runner.consumer.lag() == {"billing": 0}  # the garbage is committed too: never read again
    finally:
        await runner.consumer.close()

    letters = dead_letters_by_offset(await read_topic(kafka_config, kafka_config.dead_letter_topic))
    assert sorted(letters) == sorted(str(offset) for _, offset in written)
    for (value, reason), (partition, offset) in zip(GARBAGE, written, strict=True):
        letter = letters[str(offset)]
        assert (letter.value, letter.key) == (value, STREAM.encode())
        assert header(letter, "origin") == "a stray producer"
        assert header(letter, "dlq_consumer_group") == group
        assert header(letter, "dlq_source_topic") == kafka_config.topic("billing")
        assert header(letter, "dlq_source_partition") == str(partition)
        assert header(letter, "dlq_error") == reason  # the error's type only: nothing of the record
        assert header(letter, "dlq_recorded_at")


async def test_a_batch_fetched_again_does_not_dead_letter_its_garbage_twice(
    billing_store: SqliteEventStore, billing_relay: Relay, kafka_config: KafkaConfig
) -> None:
    await billing_relay.start()
    written = await produce_garbage(kafka_config)
    await billing_store.append(STREAM, [invoice("C1", "1.00")], ANY_VERSION)
    await billing_relay.publish_pending()
    (event,) = await billing_store.read_all()

    consumer = KafkaEventLog(kafka_config).consumer(f"g-{uuid4().hex}", ["billing"])
    received: list[RecordedEvent] = []

    async def delivered(commit: bool) -> bool:
        batch = await consumer.next_batch(10, 0.2)
        received.extend(batch.events)
        if batch.events and commit:
            await consumer.commit(batch)
        return bool(batch.events)

    try:
        # not committed, as when a read-model write fails: the same records are fetched again
        await eventually(lambda: delivered(commit=False), timeout=60, what="the first delivery")
        await eventually(lambda: delivered(commit=True), timeout=60, what="the second delivery")
        assert await consumer.lag() == {"billing": 0}
    finally:
        await consumer.close()
    assert [e.event_id for e in received] == [event.event_id, event.event_id]
    letters = await read_topic(kafka_config, kafka_config.dead_letter_topic)
    assert sorted(header(letter, "dlq_source_offset") or "" for letter in letters) == sorted(
        str(offset) for _, offset in written
    )
