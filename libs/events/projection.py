"""Projection runtime: pure folds over read-model documents, run in batches from an event log.

Idempotency: every document remembers, per stream, the last stream version folded into it
(`_applied`). A batch redelivered after a crash skips what a document already holds, so nothing is
counted twice, whether or not the checkpoint was written. Events are ordered per stream in every
event log (Kafka partitions by stream id), which is all this guard needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from opentelemetry.trace import Span, SpanKind

from libs.events.docstore import Collection, Document, DocumentStore, Index, StoreUnavailable
from libs.events.envelope import DomainEvent, RecordedEvent, utc_now
from libs.events.errors import describe
from libs.events.eventlog import LogBatch, LogConsumer, LogUnavailable
from libs.events.pii import PersonalData
from libs.events.registry import EventRegistry
from libs.events.service import metrics
from libs.events.service.tracing import event_span, mark_failed
from libs.events.sqlite_store import wait_for_signal
from libs.events.vault import SubjectErased

log = structlog.get_logger(__name__)

APPLIED = "_applied"
DEAD_LETTERS = Collection("_dead_letters", (Index.on("consumer"),))
STATUS = Collection("_consumers")

DeadLetterSink = Callable[[str, Sequence[tuple[RecordedEvent, str]]], Awaitable[None]]
"""Also told of every dead letter (consumer name, (event, reason) pairs), e.g. a dead-letter topic."""


@dataclass(frozen=True)
class Projection:
    """A read model: which events it reads, which documents each touches, and how it folds them."""

    name: str
    collection: Collection
    sources: tuple[str, ...]
    handles: frozenset[str]
    keys: Callable[[DomainEvent, RecordedEvent], Iterable[str]]
    fold: Callable[[Document | None, DomainEvent, RecordedEvent], Document]


@dataclass(frozen=True)
class Reactor:
    """Reacts to events by running commands; must be idempotent (derive event ids from the cause)."""

    name: str
    sources: tuple[str, ...]
    handles: frozenset[str]
    react: Callable[[DomainEvent, RecordedEvent], Awaitable[None]]


def log_crash(task: asyncio.Task[Any]) -> None:
    """A done callback: logs the error that ended a background task (nobody awaits it until the stop)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("task_crashed", task=task.get_name(), error=repr(error), exc_info=error)


def failure_reason(stage: str, event: RecordedEvent, error: BaseException) -> str:
    """Why `event` failed at `stage` (decode, keys, fold, reaction): see `describe`."""
    return f"{stage} failed on event {event.event_id}: {describe(error)}"


def already_applied(doc: Document | None, event: RecordedEvent) -> bool:
    if doc is None:
        return False
    applied: dict[str, int] = doc.get(APPLIED, {})
    return applied.get(event.stream_id, -1) >= event.stream_version


def public(doc: Document) -> Document:
    """A document without the runtime's bookkeeping, for API answers."""
    return {key: value for key, value in doc.items() if key != APPLIED}


@dataclass
class ConsumerStatus:
    name: str
    processed: int = 0
    dead_letters: int = 0
    last_error: str | None = None
    checkpoints: dict[str, str] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    running: bool = False
    updated_at: datetime | None = None

    def to_doc(self) -> Document:
        return {
            "_id": self.name,
            "processed": self.processed,
            "dead_letters": self.dead_letters,
            "last_error": self.last_error,
            "checkpoints": self.checkpoints,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


class DeadLetter(Exception):
    """An event this consumer cannot apply; it is recorded and the consumer goes on."""


class ConsumerRunner:
    """Reads batches from the log, hands them to `handle`, then commits. Subclasses decide `handle`."""

    batch_size = 500
    idle_timeout = 0.5
    retry_delay = 1.0

    def __init__(
        self,
        name: str,
        handles: frozenset[str],
        consumer: LogConsumer,
        store: DocumentStore,
        registry: EventRegistry,
        *,
        service: str,
        personal: PersonalData | None,
        dead_letter_sink: DeadLetterSink | None = None,
    ) -> None:
        self.name = name
        self.handles = handles
        self.consumer = consumer
        self.store = store
        self.registry = registry
        self.service = service
        """The service it runs in: names it in spans and metrics, as consumer names repeat across
        services (every service has `access`)."""
        self.personal = personal
        """Opens the personal fields of the events before decoding (None: the service has no vault, its
        events are plain); the events themselves, and so the dead letters, keep them sealed."""
        self.dead_letter_sink = dead_letter_sink
        self.status = ConsumerStatus(name)
        self._task: asyncio.Task[None] | None = None
        self._committed = asyncio.Event()
        """Set by the next commit of this runner: `wait_caught_up` looks again then."""

    async def handle(self, events: Sequence[tuple[RecordedEvent, DomainEvent]]) -> list[tuple[RecordedEvent, str]]:
        """Applies decoded events; returns the (event, reason) pairs that must become dead letters."""
        raise NotImplementedError

    async def load_status(self) -> None:
        await self.store.ensure(STATUS)
        await self.store.ensure(DEAD_LETTERS)
        saved = await self.store.get(STATUS, self.name)
        if saved:
            self.status.processed = saved.get("processed", 0)
            self.status.dead_letters = saved.get("dead_letters", 0)
            self.status.last_error = saved.get("last_error")

    async def run_once(self) -> int:
        """Processes one batch; returns how many events it held."""
        batch = await self.consumer.next_batch(self.batch_size, self.idle_timeout)
        if not batch.events:
            return 0
        await self.process(batch)
        return len(batch.events)

    async def process(self, batch: LogBatch) -> None:
        decoded: list[tuple[RecordedEvent, DomainEvent]] = []
        failed: list[tuple[RecordedEvent, str]] = []
        handled = [event for event in batch.events if event.type in self.handles]
        opened = await self.personal.open(handled) if self.personal is not None else handled
        for event, clear in zip(handled, opened, strict=True):
            try:
                decoded.append((event, self.registry.decode(clear)))
            except (LookupError, ValueError) as error:
                failed.append((event, failure_reason("decode", event, error)))
        failed.extend(await self.handle(decoded))
        if failed:
            await self._record_dead_letters(failed)
        await self.consumer.commit(batch)
        self._committed.set()
        self._committed = asyncio.Event()
        self.status.processed += len(batch.events)
        self.status.checkpoints = dict(batch.checkpoints)
        self.status.updated_at = utc_now()
        await self.store.upsert_many(STATUS, [self.status.to_doc()])

    @property
    def qualified_name(self) -> str:
        return f"{self.service}.{self.name}" if self.service else self.name

    @property
    def metric_attributes(self) -> dict[str, str]:
        return {"service": self.service, "consumer": self.name}

    def consumer_span(self, verb: str, event: RecordedEvent) -> AbstractContextManager[Span]:
        """The span of this consumer's handling of one event, in the event's trace (consumer kind)."""
        return event_span(
            f"{verb} {self.qualified_name}",
            SpanKind.CONSUMER,
            event,
            {
                "messaging.operation.type": "process",
                "messaging.consumer.group.name": self.consumer.group,
                "strefa.consumer": self.qualified_name,
                "strefa.event.source": event.source,
            },
        )

    async def _record_dead_letters(self, failed: Sequence[tuple[RecordedEvent, str]]) -> None:
        now = utc_now().isoformat()
        docs = [
            {
                "_id": f"{self.name}:{event.event_id}",
                "consumer": self.name,
                "event_id": str(event.event_id),
                "type": event.type,
                "version": event.version,
                "stream_id": event.stream_id,
                "stream_version": event.stream_version,
                "reason": reason,
                "recorded_at": now,
                "event": event.model_dump(mode="json"),
            }
            for event, reason in failed
        ]
        await self.store.upsert_many(DEAD_LETTERS, docs)
        if self.dead_letter_sink is not None:
            await self.dead_letter_sink(self.name, failed)
        self.status.dead_letters += len(docs)
        self.status.last_error = failed[-1][1]
        metrics.dead_letters.add(len(docs), self.metric_attributes)
        for event, reason in failed:
            with self.consumer_span("dead letter", event) as span:
                mark_failed(span, reason)
                log.error(
                    "dead_letter", consumer=self.name, event_id=str(event.event_id), type=event.type, reason=reason
                )

    async def run(self) -> None:
        await self.load_status()
        self.status.running = True
        try:
            while True:
                try:
                    await self.run_once()
                except (StoreUnavailable, LogUnavailable) as error:  # the next batch starts at the checkpoint
                    self.status.last_error = describe(error)
                    log.warning("consumer_waiting_for_store", consumer=self.name, error=describe(error))
                    await asyncio.sleep(self.retry_delay)
        finally:
            self.status.running = False

    async def current_status(self) -> ConsumerStatus:
        self.status.checkpoints = await self.consumer.checkpoints()
        self.status.lag = await self.measure_lag()
        return self.status

    async def measure_lag(self) -> dict[str, int]:
        """Events not yet processed per source, also set on the `strefa.consumer.lag` gauge."""
        lag = await self.consumer.lag()
        for source, behind in lag.items():
            metrics.consumer_lag.set(behind, {**self.metric_attributes, "source": source})
        return lag

    async def wait_caught_up(self, target: Mapping[str, str], timeout: float) -> bool:
        """Waits until this consumer has committed up to `target` (its sources' ends taken earlier with
        `consumer.ends()`), at most `timeout` seconds; returns whether it got there. It looks again after
        each commit of this runner, and every `idle_timeout` for commits made elsewhere (another member of
        the group, or a rebuild that switched the version this runner follows)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            committed = self._committed  # taken before looking, so no commit is missed
            if await self.consumer.reached(target):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await wait_for_signal(committed, min(remaining, self.idle_timeout))

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name=f"consumer:{self.qualified_name}")
        self._task.add_done_callback(log_crash)
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # a crash was logged when it happened
                await self._task
            self._task = None
        await self.consumer.close()


class ProjectionRunner(ConsumerRunner):
    def __init__(
        self,
        projection: Projection,
        consumer: LogConsumer,
        store: DocumentStore,
        registry: EventRegistry,
        *,
        service: str,
        personal: PersonalData | None,
        dead_letter_sink: DeadLetterSink | None = None,
    ) -> None:
        super().__init__(
            projection.name,
            projection.handles,
            consumer,
            store,
            registry,
            service=service,
            personal=personal,
            dead_letter_sink=dead_letter_sink,
        )
        self.projection = projection

    async def handle(self, events: Sequence[tuple[RecordedEvent, DomainEvent]]) -> list[tuple[RecordedEvent, str]]:
        projection = self.projection
        touched: list[tuple[RecordedEvent, DomainEvent, list[str]]] = []
        failed: list[tuple[RecordedEvent, str]] = []
        for event, data in events:
            try:
                touched.append((event, data, list(dict.fromkeys(projection.keys(data, event)))))
            except Exception as error:  # a projection bug must not stop the others: dead-letter it
                failed.append((event, failure_reason("keys", event, error)))
        ids = [key for _, _, keys in touched for key in keys]
        docs: dict[str, Document] = await self.store.get_many(projection.collection, ids)
        changed: set[str] = set()
        for event, data, keys in touched:
            with self.consumer_span("apply", event) as span:
                span.set_attribute("strefa.documents", keys)
                try:
                    folded = {key: self._fold_one(docs.get(key), key, data, event) for key in keys}
                except Exception as error:
                    failed.append((event, failure_reason("fold", event, error)))
                    mark_failed(span, failed[-1][1])
                    continue
            for key, doc in folded.items():
                if doc is not None:
                    docs[key] = doc
                    changed.add(key)
        await self.store.upsert_many(projection.collection, [docs[key] for key in changed])
        return failed

    def _fold_one(self, doc: Document | None, key: str, data: DomainEvent, event: RecordedEvent) -> Document | None:
        if already_applied(doc, event):
            return None
        folded = self.projection.fold(doc, data, event)
        applied: dict[str, Any] = dict((doc or {}).get(APPLIED, {}))
        applied[event.stream_id] = event.stream_version
        return {**folded, "_id": key, APPLIED: applied}


class ReactorRunner(ConsumerRunner):
    attempts = 3

    def __init__(
        self,
        reactor: Reactor,
        consumer: LogConsumer,
        store: DocumentStore,
        registry: EventRegistry,
        *,
        service: str,
        personal: PersonalData | None,
        dead_letter_sink: DeadLetterSink | None = None,
    ) -> None:
        super().__init__(
            reactor.name,
            reactor.handles,
            consumer,
            store,
            registry,
            service=service,
            personal=personal,
            dead_letter_sink=dead_letter_sink,
        )
        self.reactor = reactor

    async def handle(self, events: Sequence[tuple[RecordedEvent, DomainEvent]]) -> list[tuple[RecordedEvent, str]]:
        failed: list[tuple[RecordedEvent, str]] = []
        for event, data in events:
            with self.consumer_span("react", event) as span:
                for attempt in range(1, self.attempts + 1):
                    try:
                        await self.reactor.react(data, event)
                        break
                    except SubjectErased:  # about a person erased meanwhile: nothing to do, not a failure
                        log.info("reaction_skipped_person_erased", consumer=self.name, event_id=str(event.event_id))
                        break
                    except Exception as error:  # its type only: a message may quote personal data
                        span.add_event("exception", {"exception.type": type(error).__name__, "strefa.attempt": attempt})
                        if attempt == self.attempts:
                            failed.append((event, failure_reason("reaction", event, error)))
                            mark_failed(span, failed[-1][1])
                        else:
                            await asyncio.sleep(self.retry_delay * attempt)
        return failed
