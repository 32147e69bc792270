"""Aggregates as pure decide/evolve, and the one command handler that runs them against a store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import structlog
from opentelemetry.util.types import AttributeValue

from libs.events.envelope import DomainEvent, EventContext, NewEvent, RecordedEvent
from libs.events.errors import describe
from libs.events.registry import EventRegistry
from libs.events.service.tracing import current_trace_context, tracer
from libs.events.snapshots import Snapshot, SnapshotCodec, SnapshotStore, derived_id_digests
from libs.events.store import NO_STREAM, AppendResult, EventStore, WrongExpectedVersion

S = TypeVar("S")
C = TypeVar("C")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Aggregate(Generic[S, C]):
    """A consistency boundary: `decide` turns a command into events, `evolve` folds events into state.

    Both are pure. `decide` raises a DomainError subclass to refuse a command.
    """

    category: str
    """Streams are `<category>-<id>`, the category being `<service>-<aggregate>`."""
    initial: Callable[[], S]
    decide: Callable[[S, C], Sequence[DomainEvent]]
    evolve: Callable[[S, DomainEvent], S]
    snapshot: SnapshotCodec[S] | None = None
    """Set for an aggregate whose streams grow long: the command handler then starts from a snapshot."""

    def stream_id(self, aggregate_id: str) -> str:
        return f"{self.category}-{aggregate_id}"


@dataclass(frozen=True, slots=True)
class Decision(Generic[S]):
    state: S
    events: tuple[DomainEvent, ...]
    result: AppendResult | None
    """None when the command decided nothing (no events appended)."""


@dataclass(frozen=True, slots=True)
class Loaded(Generic[S]):
    state: S
    version: int
    """The stream version of the last event folded: the expected version of the next append."""
    recorded: Sequence[RecordedEvent]
    """The events folded after the snapshot (the whole stream without one)."""
    snapshot: Snapshot | None

    @property
    def snapshot_version(self) -> int:
        return self.snapshot.version if self.snapshot is not None else NO_STREAM


def idempotent_event_ids(idempotency_key: str, stream_id: str, count: int) -> list[UUID]:
    """Event ids derived from a caller's idempotency key: the same call appends the same ids, once."""
    return [uuid5(NAMESPACE_URL, f"urn:idempotency:{stream_id}:{idempotency_key}:{i}") for i in range(count)]


class CommandHandler:
    """Load, decide, append with the expected version; on a conflict, reload and decide again.

    With `snapshots`, an aggregate that has a snapshot codec is loaded from its latest snapshot and the
    events after it, and snapshotted again once its stream has grown by `snapshot_every` events."""

    def __init__(
        self,
        store: EventStore,
        registry: EventRegistry,
        max_attempts: int = 5,
        snapshots: SnapshotStore | None = None,
        snapshot_every: int = 200,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self._store = store
        self._registry = registry
        self._max_attempts = max_attempts
        self._snapshots = snapshots
        self._snapshot_every = snapshot_every

    async def load(self, aggregate: Aggregate[S, C], aggregate_id: str) -> tuple[S, int]:
        loaded = await self._load(aggregate, aggregate.stream_id(aggregate_id))
        return loaded.state, loaded.version

    async def _load(self, aggregate: Aggregate[S, C], stream_id: str) -> Loaded[S]:
        start = await self._snapshot(aggregate, stream_id)
        if start is not None:
            snapshot, state = start
            recorded = await self._store.read_stream(stream_id, from_version=snapshot.version)
            if recorded and (recorded[0].stream_version, recorded[0].event_id) == (snapshot.version, snapshot.event_id):
                return self._fold(aggregate, state, recorded[1:], snapshot)
            log.warning("snapshot_ignored", stream_id=stream_id, reason="not_of_this_stream")
        return self._fold(aggregate, aggregate.initial(), await self._store.read_stream(stream_id), None)

    async def _snapshot(self, aggregate: Aggregate[S, C], stream_id: str) -> tuple[Snapshot, S] | None:
        """The stream's snapshot and its state, if it has a usable one."""
        codec = aggregate.snapshot
        if codec is None or self._snapshots is None:
            return None
        try:
            snapshot = await self._snapshots.load(stream_id)
            if snapshot is None:
                return None
            if snapshot.schema != codec.schema:
                log.info("snapshot_ignored", stream_id=stream_id, reason="another_schema")
                return None
            return snapshot, codec.from_json(snapshot.state)
        except Exception as error:  # a snapshot is only a cache: whatever is wrong with it, fold the stream
            log.warning("snapshot_ignored", stream_id=stream_id, reason=describe(error))
            return None

    def _fold(
        self, aggregate: Aggregate[S, C], state: S, recorded: Sequence[RecordedEvent], snapshot: Snapshot | None
    ) -> Loaded[S]:
        for event in recorded:
            state = aggregate.evolve(state, self._registry.decode(event))
        version = recorded[-1].stream_version if recorded else (snapshot.version if snapshot else NO_STREAM)
        return Loaded(state, version, recorded, snapshot)

    async def handle(
        self,
        aggregate: Aggregate[S, C],
        aggregate_id: str,
        command: C,
        context: EventContext,
        idempotency_key: str | None = None,
    ) -> Decision[S]:
        """Runs `command`; with an idempotency key, a repeated call returns the first call's outcome."""
        stream_id = aggregate.stream_id(aggregate_id)
        for attempt in range(1, self._max_attempts + 1):
            loaded = await self._load(aggregate, stream_id)
            if idempotency_key is not None:
                replayed = await self._earlier_outcome(loaded, stream_id, idempotency_key)
                if replayed is not None:
                    return replayed
            events = tuple(aggregate.decide(loaded.state, command))
            if not events:
                return Decision(loaded.state, (), None)
            ids = (
                idempotent_event_ids(idempotency_key, stream_id, len(events))
                if idempotency_key is not None
                else [uuid4() for _ in events]
            )
            try:
                result = await self._append(aggregate.category, stream_id, events, ids, context, loaded.version)
            except WrongExpectedVersion:
                if attempt == self._max_attempts:
                    raise
                log.info("append_conflict_retry", stream_id=stream_id, attempt=attempt)
                continue
            state = loaded.state
            for event in events:
                state = aggregate.evolve(state, event)
            if result.stream_version == loaded.version + len(events):  # else the store answered an earlier append
                await self._save_snapshot(aggregate, stream_id, loaded, result, ids)
            return Decision(state, events, result)
        raise AssertionError("unreachable")

    async def _earlier_outcome(self, loaded: Loaded[S], stream_id: str, idempotency_key: str) -> Decision[S] | None:
        """The first outcome of a call repeated with this key: among the events after the snapshot, or, if
        the snapshot may hold the key's first event, anywhere in the stream."""
        replayed = self._replayed(loaded.recorded, stream_id, idempotency_key, loaded.state)
        if replayed is not None or loaded.snapshot is None:
            return replayed
        (first_id,) = idempotent_event_ids(idempotency_key, stream_id, 1)
        if not loaded.snapshot.may_hold(first_id):
            return None
        whole = await self._store.read_stream(stream_id)
        return self._replayed(whole, stream_id, idempotency_key, loaded.state)

    async def _save_snapshot(
        self,
        aggregate: Aggregate[S, C],
        stream_id: str,
        loaded: Loaded[S],
        appended: AppendResult,
        ids: Sequence[UUID],
    ) -> None:
        """Snapshots the stream up to `appended` once it has grown by `snapshot_every` events since the last
        snapshot; a failure is logged, never raised: the events are appended. The state is folded from the
        events as stored, read back: a store answering a repeated key with an earlier append of the same ids
        may hold other payloads than this call decided, and the snapshot must be of the stream."""
        codec = aggregate.snapshot
        if codec is None or self._snapshots is None:
            return
        if appended.stream_version - loaded.snapshot_version < self._snapshot_every:
            return
        earlier = loaded.snapshot.derived_ids if loaded.snapshot is not None else frozenset()
        try:
            stored = (await self._store.read_stream(stream_id, from_version=loaded.version + 1))[: len(ids)]
            if [event.event_id for event in stored] != list(ids):
                return
            state = loaded.state
            for event in stored:
                state = aggregate.evolve(state, self._registry.decode(event))
            snapshot = Snapshot(
                stream_id=stream_id,
                version=appended.stream_version,
                event_id=ids[-1],
                schema=codec.schema,
                state=codec.to_json(state),
                derived_ids=earlier | derived_id_digests([*(event.event_id for event in loaded.recorded), *ids]),
            )
            await self._snapshots.save(snapshot)
        except Exception as error:
            log.warning(
                "snapshot_not_saved", stream_id=stream_id, version=appended.stream_version, error=describe(error)
            )

    async def _append(
        self,
        category: str,
        stream_id: str,
        events: Sequence[DomainEvent],
        ids: Sequence[UUID],
        context: EventContext,
        expected_version: int,
    ) -> AppendResult:
        """Appends in a span of its own; the events store that span's trace context, so whatever reacts to
        them continues this trace (the context's own trace context when tracing is off)."""
        attributes: dict[str, AttributeValue] = {
            "strefa.stream.id": stream_id,
            "strefa.stream.expected_version": expected_version,
            "strefa.event.types": [event.event_type for event in events],
        }
        with tracer.start_as_current_span(f"append {category}", attributes=attributes) as span:
            traced = context.model_copy(update={"trace_context": current_trace_context() or context.trace_context})
            batch = [NewEvent.from_domain(event, traced, event_id) for event, event_id in zip(events, ids, strict=True)]
            result = await self._store.append(stream_id, batch, expected_version=expected_version)
            span.set_attribute("strefa.stream.version", result.stream_version)
            span.set_attribute("strefa.event.position", result.global_position)
            return result

    def _replayed(
        self, recorded: Sequence[RecordedEvent], stream_id: str, idempotency_key: str, state: S
    ) -> Decision[S] | None:
        """The earlier outcome of a call repeated with the same idempotency key, if there was one."""
        by_id = {event.event_id: event for event in recorded}
        earlier: list[RecordedEvent] = []
        while True:
            (next_id,) = idempotent_event_ids(idempotency_key, stream_id, len(earlier) + 1)[-1:]
            if next_id not in by_id:
                break
            earlier.append(by_id[next_id])
        if not earlier:
            return None
        last = earlier[-1]
        return Decision(
            state,
            tuple(self._registry.decode(event) for event in earlier),
            AppendResult(last.stream_version, last.global_position),
        )
