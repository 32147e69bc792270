"""Kafka as the event log (aiokafka): topics per service, consumer groups, a dead-letter topic.

Topics: `<namespace>.<service>.events` (namespace `leasing`), key = stream id so every stream stays in
one partition and in order, value = the whole envelope as JSON (`RecordedEvent.to_json()`), headers in
the CloudEvents Kafka binding style (`ce_*`) plus the W3C `traceparent` the event was stored with (the
append span of the request that recorded it); a consumer reads the envelope with that header as its trace
context. Events get there through the relay of each service (relay.py). Retention is unlimited: the
topics are the integration log that projections rebuild from.

Consumers commit offsets only after their read-model writes; whatever was not committed is delivered
again, also within one consumer (a failed batch is fetched again from the committed offsets). A relay
may publish an event twice (crash between send and checkpoint): consumers are idempotent (the
projections' per-document `_applied` guard; reactors derive their event ids from the cause). A record that
is no envelope at all goes to the dead-letter topic as it came, and is committed: it must not block its
partition.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.structs import RecordMetadata
from pydantic import ValidationError

from libs.events.envelope import RecordedEvent, utc_now
from libs.events.errors import describe
from libs.events.eventlog import LogBatch, LogUnavailable

log = structlog.get_logger(__name__)

_MAX_ERROR_HEADER = 8192
TRACE_HEADERS = ("traceparent", "tracestate")


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str
    namespace: str = "leasing"
    """Topic prefix: `<namespace>.<service>.events` and `<namespace>.deadletters`."""
    partitions: int = 3
    replication_factor: int = 1
    """1 for the local single broker; 3 in production."""
    client_id: str = "strefa-klienta"
    request_timeout_ms: int = 30_000
    """Bounds every request, and how long a produced message may wait for its acknowledgement."""
    session_timeout_ms: int = 10_000
    """How soon the group notices a consumer that died without leaving (then its partitions move)."""

    def topic(self, service: str) -> str:
        return f"{self.namespace}.{service}.events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.namespace}.deadletters"


class UnknownSource(LookupError):
    """A topic (or, to the analytics export, a service) that does not exist: bad usage, with the names that do."""

    def __init__(self, kind: str, unknown: Sequence[str], known: Sequence[str]) -> None:
        names = ", ".join(repr(name) for name in unknown)
        super().__init__(f"no {kind} {names}; known: {', '.join(known) or 'none'}")
        self.unknown = list(unknown)
        self.known = list(known)


@asynccontextmanager
async def available(bootstrap: str, what: str) -> AsyncIterator[None]:
    """Kafka errors (broker down or unreachable, coordinator moving, rebalance, request timeouts) become
    LogUnavailable: retry later. It names the configured brokers and the Kafka error's type, never its
    message (the error stays its `__cause__`), which may quote other addresses."""
    try:
        yield
    except (KafkaError, TimeoutError) as error:
        raise LogUnavailable(f"Kafka at {bootstrap} unavailable during {what} ({type(error).__name__})") from error


async def start_client(client: AIOKafkaConsumer | AIOKafkaProducer, bootstrap: str, what: str) -> None:
    """Starts a consumer or producer; one that cannot start is stopped (its connections closed) and
    LogUnavailable raised."""
    async with available(bootstrap, what):
        try:
            await client.start()
        except BaseException:
            await client.stop()
            raise


async def ensure_topics(config: KafkaConfig, topics: Sequence[str]) -> None:
    """Creates the topics with the configured partitions and unlimited retention; existing ones are fine."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap, client_id=config.client_id, request_timeout_ms=config.request_timeout_ms
    )
    async with available(config.bootstrap, "topic creation"):
        try:
            await admin.start()
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=topic,
                        num_partitions=config.partitions,
                        replication_factor=config.replication_factor,
                        topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
                    )
                    for topic in topics
                ]
            )
        finally:
            await admin.close()
    for topic, code, *_ in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"cannot create topic {topic!r}")


async def reach(config: KafkaConfig, timeout: float) -> None:
    """One metadata request to the brokers (a fresh admin client's bootstrap), bounded by `timeout` seconds;
    LogUnavailable naming the bootstrap address when none answers in time."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap, client_id=config.client_id, request_timeout_ms=max(1, int(timeout * 1000))
    )
    try:
        async with available(config.bootstrap, "a metadata request"), asyncio.timeout(timeout):
            await admin.start()
    finally:
        await admin.close()


class KafkaReadiness:
    """The brokers as a readiness check (`ping`, as the stores have): one bounded metadata request, its
    outcome kept for `ttl` seconds, so frequent /readyz probes cost one request per `ttl` and never wait
    longer than `timeout`."""

    def __init__(self, config: KafkaConfig, *, timeout: float = 3.0, ttl: float = 5.0) -> None:
        self.config = config
        self.timeout = timeout
        self.ttl = ttl
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._failure: str | None = None

    async def ping(self) -> None:
        async with self._lock:  # concurrent probes share one request
            loop = asyncio.get_running_loop()
            if self._checked_at is None or loop.time() - self._checked_at >= self.ttl:
                self._failure = await self._request()
                self._checked_at = loop.time()
        if self._failure is not None:
            raise LogUnavailable(self._failure)

    async def _request(self) -> str | None:
        try:
            await reach(self.config, self.timeout)
        except LogUnavailable as error:
            return str(error)
        return None


async def topic_partitions(
    bootstrap: str, topics: Sequence[str], client_id: str, request_timeout_ms: int = 30_000
) -> dict[str, int]:
    """Each topic's partition count; UnknownSource names the topics that do not exist (and the event topics that do)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, request_timeout_ms=request_timeout_ms)
    async with available(bootstrap, "connect"):
        try:
            await admin.start()
        except BaseException:
            await admin.close()
            raise
    try:
        async with available(bootstrap, "topic lookup"):
            known = set(await admin.list_topics())
            unknown = [topic for topic in topics if topic not in known]
            if unknown:
                raise UnknownSource("topic", unknown, sorted(topic for topic in known if topic.endswith(".events")))
            described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {entry["topic"]: len(entry["partitions"]) for entry in described}


def new_producer(config: KafkaConfig) -> AIOKafkaProducer:
    """Idempotent, acks from every in-sync replica: a retried send is written once, in order."""
    return AIOKafkaProducer(
        bootstrap_servers=config.bootstrap,
        client_id=config.client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=config.request_timeout_ms,
    )


def event_headers(event: RecordedEvent, service: str) -> list[tuple[str, bytes]]:
    """CloudEvents attributes (Kafka binding, `ce_` prefix) and the W3C trace context the event was stored with."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(event.event_id).encode()),
        ("ce_type", event.type.encode()),
        ("ce_source", f"/{service}".encode()),
        ("ce_subject", event.stream_id.encode()),
        ("ce_time", event.occurred_at.isoformat().encode()),
        ("ce_schemaversion", str(event.version).encode()),
        ("ce_correlationid", str(event.correlation_id).encode()),
        ("content-type", b"application/json"),
    ]
    for name in TRACE_HEADERS:
        if event.trace_context.get(name):
            headers.append((name, event.trace_context[name].encode()))
    return headers


async def send_event(
    producer: AIOKafkaProducer, topic: str, service: str, event: RecordedEvent
) -> asyncio.Future[RecordMetadata]:
    """Queues one event as the relay publishes it: key = the stream id, value = the envelope JSON, the
    CloudEvents headers (`event_headers`). The future is Kafka's acknowledgement."""
    sent: asyncio.Future[RecordMetadata] = await producer.send(
        topic, value=event.to_json(), key=event.stream_id.encode(), headers=event_headers(event, service)
    )
    return sent


async def send_events(producer: AIOKafkaProducer, topic: str, service: str, events: Iterable[RecordedEvent]) -> None:
    """Sends `events` in order, each queued before the next (the producer batches them), and returns once
    Kafka has acknowledged every one; raises if any send failed."""
    acknowledgements = [await send_event(producer, topic, service, event) for event in events]
    await asyncio.gather(*acknowledgements)


def read_envelope(record: ConsumerRecord[Any, Any]) -> RecordedEvent | str:
    """The envelope a record holds, or why it holds none (not JSON, not an object, fields missing or wrong):
    the error's type (`describe`), never its message, which may quote the record."""
    try:
        return RecordedEvent.from_json(record.value)
    except (ValueError, ValidationError, TypeError) as error:
        return f"not an event envelope: {describe(error)}"


def decode(record: ConsumerRecord[Any, Any], group: str | None = None) -> RecordedEvent | None:
    """The envelope a record holds; None (logged) for a record that is no envelope at all: no consumer can
    apply it, and it must not block its partition."""
    read = read_envelope(record)
    if isinstance(read, str):
        _log_undecodable(record, group, read)
        return None
    return read


def _log_undecodable(record: ConsumerRecord[Any, Any], group: str | None, reason: str) -> None:
    log.error(
        "undecodable_record", group=group, topic=record.topic, partition=record.partition, offset=record.offset,
        error=reason,
    )  # fmt: skip


def _delivered_trace_context(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {key: bytes(value).decode(errors="replace") for key, value in record.headers or () if key in TRACE_HEADERS}


def encode_offsets(offsets: Mapping[int, int]) -> str:
    """A checkpoint: partition -> next offset to read, as JSON."""
    return json.dumps({str(partition): offset for partition, offset in sorted(offsets.items())})


def decode_offsets(checkpoint: str) -> dict[int, int]:
    return {int(partition): int(offset) for partition, offset in json.loads(checkpoint).items()}


class KafkaEventLog:
    def __init__(self, config: KafkaConfig, dead_letters: KafkaDeadLetters | None = None) -> None:
        self.config = config
        self.dead_letters = dead_letters
        """Shared by its consumers, closed by whoever made it; None: each consumer has its own (tools, tests)."""

    def consumer(self, group: str, sources: Sequence[str]) -> KafkaLogConsumer:
        return KafkaLogConsumer(self.config, group, sources, self.dead_letters)


class KafkaLogConsumer:
    """One member of a consumer group over the topics of `sources`; started on first use."""

    def __init__(
        self,
        config: KafkaConfig,
        group: str,
        sources: Sequence[str],
        dead_letters: KafkaDeadLetters | None = None,
    ) -> None:
        self.group = group
        self._config = config
        self._sources = {config.topic(source): source for source in sources}
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._uncommitted: dict[TopicPartition, tuple[int, int]] = {}
        """Delivered but not committed: partition -> (first offset, next offset)."""
        self._dead_letters = dead_letters or KafkaDeadLetters(config)
        """Where records that are no envelope go; its producer starts with the first of them. A shared one
        (the process's dead-letter sink) is closed by its owner, one of its own with this consumer."""
        self._owns_dead_letters = dead_letters is None
        self._dead_lettered: dict[TopicPartition, int] = {}
        """Per partition, the offset after the last record sent to the dead-letter topic: a batch fetched
        again (its read-model write failed) does not send its dead letters twice."""

    async def _started(self) -> AIOKafkaConsumer:
        async with self._lock:
            if self._consumer is None:
                await ensure_topics(self._config, list(self._sources))
                consumer = AIOKafkaConsumer(
                    *self._sources,
                    bootstrap_servers=self._config.bootstrap,
                    client_id=self._config.client_id,
                    group_id=self.group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    request_timeout_ms=self._config.request_timeout_ms,
                    session_timeout_ms=self._config.session_timeout_ms,
                    heartbeat_interval_ms=max(1000, self._config.session_timeout_ms // 3),
                )
                # joins the group and waits for its partitions
                await start_client(consumer, self._config.bootstrap, f"start of consumer {self.group}")
                self._consumer = consumer
            return self._consumer

    async def next_batch(self, max_events: int, timeout: float) -> LogBatch:
        consumer = await self._started()
        async with available(self._config.bootstrap, f"fetch of {self.group}"):
            self._rewind(consumer)
            fetched = await consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_events)
        events: list[RecordedEvent] = []
        unreadable: list[tuple[ConsumerRecord[Any, Any], str]] = []
        positions: dict[str, dict[int, int]] = {}
        delivered: dict[TopicPartition, tuple[int, int]] = {}
        for tp, records in fetched.items():
            if not records:
                continue
            delivered[tp] = (records[0].offset, records[-1].offset + 1)
            positions.setdefault(self._sources[tp.topic], {})[tp.partition] = records[-1].offset + 1
            for record in records:
                read = self._decode(record)
                if isinstance(read, str):
                    unreadable.append((record, read))
                else:
                    events.append(read)
        self._uncommitted.update(delivered)  # from here on, a failure fetches all of it again
        if unreadable:
            await self._dead_letter(unreadable)
        if delivered and not events:
            # Only records no consumer can read, now dead letters: a runner does not commit empty batches,
            # so they are committed here. Safe: after the rewind nothing before them is uncommitted.
            async with available(self._config.bootstrap, f"commit of {self.group}"):
                await consumer.commit({tp: end for tp, (_, end) in delivered.items()})
            for tp in delivered:
                self._uncommitted.pop(tp, None)
            return LogBatch([], {})
        return LogBatch(events, {source: encode_offsets(offsets) for source, offsets in positions.items()})

    async def _dead_letter(self, unreadable: Sequence[tuple[ConsumerRecord[Any, Any], str]]) -> None:
        """Sends the records that are no envelope to the dead-letter topic, each once; raises LogUnavailable
        (the batch is then fetched again) when Kafka does not take them."""
        fresh = [
            (record, reason)
            for record, reason in unreadable
            if record.offset >= self._dead_lettered.get(TopicPartition(record.topic, record.partition), 0)
        ]
        if not fresh:
            return
        for record, reason in fresh:
            _log_undecodable(record, self.group, reason)
        await self._dead_letters.unreadable(self.group, fresh)
        for record, _ in fresh:
            tp = TopicPartition(record.topic, record.partition)
            self._dead_lettered[tp] = max(self._dead_lettered.get(tp, 0), record.offset + 1)

    def _rewind(self, consumer: AIOKafkaConsumer) -> None:
        """What was delivered and not committed is fetched again, as the port promises."""
        assigned = consumer.assignment()
        for tp, (first, _) in self._uncommitted.items():
            if tp in assigned:
                consumer.seek(tp, first)
        self._uncommitted.clear()

    def _decode(self, record: ConsumerRecord[Any, Any]) -> RecordedEvent | str:
        """The envelope (or why there is none), its trace context the one it was delivered in. The relay sends
        the stored one; records published before it did carry a per-event publish span, which the consumer
        continues."""
        event = read_envelope(record)
        if isinstance(event, str):
            return event
        delivered = _delivered_trace_context(record)
        if delivered.get("traceparent") and delivered != event.trace_context:
            return event.model_copy(update={"trace_context": delivered})
        return event

    async def commit(self, batch: LogBatch) -> None:
        offsets: dict[TopicPartition, int] = {}
        for source, checkpoint in batch.checkpoints.items():
            for partition, offset in decode_offsets(checkpoint).items():
                offsets[TopicPartition(self._config.topic(source), partition)] = offset
        if not offsets:
            return
        consumer = await self._started()
        async with available(self._config.bootstrap, f"commit of {self.group}"):
            await consumer.commit(offsets)
        for tp, offset in offsets.items():
            first, end = self._uncommitted.get(tp, (offset, offset))
            if offset >= end:
                self._uncommitted.pop(tp, None)
            else:
                self._uncommitted[tp] = (max(first, offset), end)

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Every partition of the source topics (their metadata is tracked since the subscription)."""
        return [
            TopicPartition(topic, partition)
            for topic in self._sources
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]

    async def _committed(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int | None]:
        return {tp: await consumer.committed(tp) for tp in await self._partitions(consumer)}

    async def checkpoints(self) -> dict[str, str]:
        consumer = await self._started()
        async with available(self._config.bootstrap, f"checkpoints of {self.group}"):
            committed = await self._committed(consumer)
        per_source: dict[str, dict[int, int]] = {source: {} for source in self._sources.values()}
        for tp, offset in committed.items():
            if offset is not None:
                per_source[self._sources[tp.topic]][tp.partition] = offset
        return {source: encode_offsets(offsets) for source, offsets in per_source.items()}

    async def lag(self) -> dict[str, int]:
        consumer = await self._started()
        async with available(self._config.bootstrap, f"lag of {self.group}"):
            committed = await self._committed(consumer)
            ends = await consumer.end_offsets(list(committed))
            beginnings = await consumer.beginning_offsets(list(committed))
        lag = {source: 0 for source in self._sources.values()}
        for tp, offset in committed.items():
            position = offset if offset is not None else beginnings[tp]
            lag[self._sources[tp.topic]] += max(0, ends[tp] - position)
        return lag

    async def ends(self) -> dict[str, str]:
        consumer = await self._started()
        async with available(self._config.bootstrap, f"ends of {self.group}"):
            partitions = await self._partitions(consumer)
            ends = await consumer.end_offsets(partitions)
            beginnings = await consumer.beginning_offsets(partitions)
        per_source: dict[str, dict[int, int]] = {source: {} for source in self._sources.values()}
        for tp in partitions:
            if ends[tp] > beginnings[tp]:  # an empty partition needs no commit to be reached
                per_source[self._sources[tp.topic]][tp.partition] = ends[tp]
        return {source: encode_offsets(offsets) for source, offsets in per_source.items()}

    async def reached(self, target: Mapping[str, str]) -> bool:
        wanted = {
            TopicPartition(self._config.topic(source), partition): offset
            for source, checkpoint in target.items()
            for partition, offset in decode_offsets(checkpoint).items()
        }
        if not wanted:
            return True
        consumer = await self._started()
        async with available(self._config.bootstrap, f"checkpoints of {self.group}"):
            for tp, offset in wanted.items():
                committed = await consumer.committed(tp)
                if committed is None or committed < offset:
                    return False
        return True

    async def reset(self) -> None:
        """Commits the beginning of every partition: the group reads everything again (projection rebuild).

        Every partition must be assigned to this member: stop the group's other members first."""
        consumer = await self._started()
        async with available(self._config.bootstrap, f"reset of {self.group}"):
            partitions = await self._partitions(consumer)
            missing = set(partitions) - consumer.assignment()
            if missing:
                raise LogUnavailable(
                    f"cannot reset group {self.group!r}: partitions {sorted(map(str, missing))} belong to "
                    "other members; stop them first"
                )
            beginnings = await consumer.beginning_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, beginnings[tp])
            await consumer.commit(dict(beginnings))
        self._uncommitted.clear()

    async def close(self) -> None:
        async with self._lock:
            if self._consumer is not None:
                consumer, self._consumer = self._consumer, None
                await consumer.stop()  # leaves the group: its partitions move at once
        if self._owns_dead_letters:
            await self._dead_letters.close()


@dataclass(frozen=True)
class _Letter:
    """One record for the dead-letter topic, and why it is there."""

    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str


class KafkaDeadLetters:
    """The runners' dead-letter sink in Kafka mode: each dead letter also goes to `<namespace>.deadletters`.

    Value = the envelope JSON, key = the stream id, the event's CloudEvents headers plus `dlq_consumer`,
    `dlq_error` (the reason) and `dlq_recorded_at`. A record that is no envelope at all goes there as it
    came (`unreadable`)."""

    def __init__(self, config: KafkaConfig) -> None:
        self.config = config
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                await ensure_topics(self.config, [self.config.dead_letter_topic])
                producer = new_producer(self.config)
                await start_client(producer, self.config.bootstrap, "start of the dead-letter producer")
                self._producer = producer
            return self._producer

    async def __call__(self, consumer: str, failed: Sequence[tuple[RecordedEvent, str]]) -> None:
        await self._publish(
            _Letter(
                event.to_json(),
                event.stream_id.encode(),
                [*event_headers(event, event.source), ("dlq_consumer", consumer.encode())],
                reason,
            )
            for event, reason in failed
        )

    async def unreadable(self, group: str, failed: Sequence[tuple[ConsumerRecord[Any, Any], str]]) -> None:
        """Records no consumer can read, as they came (value, key, headers) plus `dlq_consumer_group`,
        `dlq_source_topic`, `dlq_source_partition`, `dlq_source_offset`, `dlq_error` (the reason, which
        never quotes the record) and `dlq_recorded_at`."""
        await self._publish(
            _Letter(
                record.value,
                record.key,
                [
                    *((name, bytes(value)) for name, value in record.headers or ()),
                    ("dlq_consumer_group", group.encode()),
                    ("dlq_source_topic", record.topic.encode()),
                    ("dlq_source_partition", str(record.partition).encode()),
                    ("dlq_source_offset", str(record.offset).encode()),
                ],
                reason,
            )
            for record, reason in failed
        )

    async def _publish(self, letters: Iterable[_Letter]) -> None:
        """Sends each letter with `dlq_error` and `dlq_recorded_at` added to its headers; returns once Kafka
        has acknowledged every one."""
        producer = await self._started()
        now = utc_now().isoformat().encode()
        async with available(self.config.bootstrap, "publishing dead letters"):
            sent = [
                await producer.send(
                    self.config.dead_letter_topic,
                    value=letter.value,
                    key=letter.key,
                    headers=[
                        *letter.headers,
                        ("dlq_error", letter.reason.encode()[:_MAX_ERROR_HEADER]),
                        ("dlq_recorded_at", now),
                    ],
                )
                for letter in letters
            ]
            await asyncio.gather(*sent)

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                producer, self._producer = self._producer, None
                await producer.stop()
