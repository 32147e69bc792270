"""`ops republish`: send a service's stored events to its Kafka topic again, from a global position.

The events go out exactly as the relay sends them (key = stream id, value = the envelope JSON, the
CloudEvents headers), in position order, through an idempotent producer; the relay's checkpoint is
not touched. Consumers deduplicate on the event: projections skip what their documents already hold
(per-stream `_applied` versions), reactors derive the ids of what they cause from the cause's
event_id, and the analytics export skips event ids it has exported. So read models do not change;
what the republish is for is a topic that lost records, or a consumer that must see them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.errors import KafkaError

from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig, ensure_topics, new_producer, send_events, start_client
from libs.events.store import EventStore
from services.ops.backend import UsageError

BATCH = 500


@dataclass(frozen=True)
class Span:
    """The positions to re-send, both ends included, checked against the store."""

    service: str
    topic: str
    first: int
    last: int
    head: int

    @property
    def positions(self) -> int:
        return self.last - self.first + 1


async def plan(store: EventStore, config: KafkaConfig, service: str, first: int, last: int | None) -> Span:
    """UsageError for an empty store, a start beyond its end, or an end before the start or beyond the end."""
    head = await store.head_position()
    if head is None:
        raise UsageError(f"{service}'s event store is empty: nothing to republish")
    if first > head:
        raise UsageError(f"--from-position {first} is beyond the end of {service}'s event store (last position {head})")
    if last is not None and last < first:
        raise UsageError(f"--to-position {last} is before --from-position {first}")
    if last is not None and last > head:
        raise UsageError(f"--to-position {last} is beyond the end of {service}'s event store (last position {head})")
    return Span(service, config.topic(service), first, head if last is None else last, head)


async def republish(store: EventStore, config: KafkaConfig, span: Span, progress: Callable[[int, int], None]) -> int:
    """Sends the span's events; returns how many. LogUnavailable when Kafka cannot be reached."""
    try:
        await ensure_topics(config, [span.topic])
        producer = new_producer(config)
        await start_client(producer, config.bootstrap, "start of the producer")
    except (KafkaError, LogUnavailable, TimeoutError) as error:
        reason = error.__cause__ or error  # the Kafka error itself, not a LogUnavailable already naming the broker
        raise LogUnavailable(f"cannot reach Kafka at {config.bootstrap} ({type(reason).__name__})") from error
    sent = 0
    after = span.first - 1
    progress(0, span.positions)
    try:
        while after < span.last:
            read = await store.read_all(after=after, limit=BATCH)
            events = [event for event in read if event.global_position <= span.last]
            if not events:
                break
            await send_events(producer, span.topic, span.service, events)
            sent += len(events)
            after = events[-1].global_position
            progress(after - span.first + 1, span.positions)
    except (KafkaError, TimeoutError) as error:
        raise LogUnavailable(
            f"Kafka at {config.bootstrap} failed after {sent} events were re-sent: {error}; "
            f"run again from --from-position {after + 1}"
        ) from None
    finally:
        await producer.stop()
    progress(span.positions, span.positions)
    return sent
