"""`ops tail`: the events of a Kafka topic or of one stream, filtered, as readable lines or JSON lines.

A topic is read without a consumer group (nothing is committed, no consumer is disturbed): from the
beginning, or by default the last records of each partition (the window), merged by time; then up to
the end offsets seen at the start, or on with `--follow`. A stream is read from its service's event
store (the store of the data folder in embedded mode, the one the `<SERVICE>_*` and `EVENTSTORE_URI`
variables name in cluster mode), whole or its last events, then polled with `--follow`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from libs.events import jsonutil
from libs.events.envelope import RecordedEvent
from libs.events.kafka import available, decode, start_client, topic_partitions
from libs.events.store import EventStore
from libs.events.warsaw import WARSAW
from services.ops.backend import UsageError

CLIENT_ID = "strefa-ops"
DEFAULT_WINDOW = 10
POLL_SECONDS = 0.5
DATA_WIDTH = 160


@dataclass(frozen=True)
class EventFilter:
    types: frozenset[str] = frozenset()
    client: str | None = None

    def __call__(self, event: RecordedEvent) -> bool:
        return (not self.types or event.type in self.types) and (self.client is None or event.client_id == self.client)


@dataclass(frozen=True)
class Tailed:
    """An event as read, with where it was in the topic (None for a stream read from the store)."""

    event: RecordedEvent
    partition: int | None = None
    offset: int | None = None

    def as_json(self) -> str:
        payload: dict[str, Any] = self.event.model_dump(mode="json")
        if self.partition is not None:
            payload = {"partition": self.partition, "offset": self.offset, **payload}
        return jsonutil.dumps(payload).decode()

    def as_line(self) -> str:
        event = self.event
        when = event.occurred_at.astimezone(WARSAW).isoformat(sep=" ", timespec="seconds")
        where = f"p{self.partition}@{self.offset}  " if self.partition is not None else ""
        data = jsonutil.dumps(event.data).decode()
        if len(data) > DATA_WIDTH:
            data = data[: DATA_WIDTH - 1] + "…"
        who = "".join(
            f"  {label} {value}" for label, value in (("client", event.client_id), ("actor", event.actor)) if value
        )
        return (
            f"{when}  {where}{event.type} v{event.version}  {event.stream_id}#{event.stream_version}  "
            f"pos {event.global_position}{who}  {data}"
        )


def _time_order(items: Iterable[Tailed]) -> list[Tailed]:
    return sorted(items, key=lambda item: (item.event.occurred_at, item.event.global_position))


async def tail_topic(
    bootstrap: str,
    topic: str,
    *,
    matches: EventFilter,
    from_beginning: bool = False,
    follow: bool = False,
    window: int = DEFAULT_WINDOW,
    limit: int | None = None,
) -> AsyncIterator[Tailed]:
    """UnknownSource for a topic that does not exist; LogUnavailable when Kafka cannot be reached."""
    partitions = (await topic_partitions(bootstrap, [topic], CLIENT_ID))[topic]
    tps = [TopicPartition(topic, partition) for partition in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT_ID, enable_auto_commit=False)
    await start_client(consumer, bootstrap, "connect")
    try:
        consumer.assign(tps)
        async with available(bootstrap, "reading the offsets"):
            beginnings = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, beginnings[tp] if from_beginning else max(beginnings[tp], ends[tp] - window))
        shown = 0
        starting = not from_beginning  # the recent window is gathered whole, then shown in time order
        recent: list[Tailed] = []
        newer: list[Tailed] = []
        while limit is None or shown < limit:
            async with available(bootstrap, "fetch"):
                at_end = all([await consumer.position(tp) >= ends[tp] for tp in tps])
            if starting and at_end:
                starting = False
                for item in [*_time_order(recent)[-window:], *newer][: None if limit is None else limit - shown]:
                    shown += 1
                    yield item
                continue
            if at_end and not follow:
                return
            async with available(bootstrap, "fetch"):
                fetched = await consumer.getmany(timeout_ms=int(POLL_SECONDS * 1000), max_records=500)
            for tp, records in fetched.items():
                for record in records:
                    event = decode(record)
                    if event is None or not matches(event):
                        continue
                    item = Tailed(event, tp.partition, record.offset)
                    if starting:
                        (recent if record.offset < ends[tp] else newer).append(item)
                    elif limit is None or shown < limit:
                        shown += 1
                        yield item
    finally:
        await consumer.stop()


async def tail_stream(
    store: EventStore,
    stream_id: str,
    *,
    matches: EventFilter,
    follow: bool = False,
    limit: int | None = None,
) -> AsyncIterator[Tailed]:
    """The stream (or its last `limit` events), then with `follow` its new events; UsageError if it has none."""
    events = await store.read_stream(stream_id)
    if not events:
        raise UsageError(f"no stream {stream_id!r} in {store.name}'s event store")
    shown = 0
    for event in [event for event in events if matches(event)][-limit if limit else None :]:
        shown += 1
        yield Tailed(event)
    next_version = events[-1].stream_version + 1
    while follow and (limit is None or shown < limit):
        await asyncio.sleep(POLL_SECONDS)
        for event in await store.read_stream(stream_id, next_version):
            next_version = event.stream_version + 1
            if matches(event) and (limit is None or shown < limit):
                shown += 1
                yield Tailed(event)
