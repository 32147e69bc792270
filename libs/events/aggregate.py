"""Aggregates as pure decide/evolve, and the one command handler that runs them against a store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog
from opentelemetry.util.types import AttributeValue

from libs.events.envelope import DomainEvent, EventContext, NewEvent, RecordedEvent
from libs.events.registry import EventRegistry
from libs.events.service.tracing import current_trace_context, tracer
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

    def stream_id(self, aggregate_id: str) -> str:
        return f"{self.category}-{aggregate_id}"


@dataclass(frozen=True, slots=True)
class Decision(Generic[S]):
    state: S
    events: tuple[DomainEvent, ...]
    result: AppendResult | None
    """None when the command decided nothing (no events appended)."""


def idempotent_event_ids(idempotency_key: str, stream_id: str, count: int) -> list[UUID]:
    """Event ids derived from a caller's idempotency key: the same call appends the same ids, once."""
    return [uuid5(NAMESPACE_URL, f"urn:idempotency:{stream_id}:{idempotency_key}:{i}") for i in range(count)]


class CommandHandler:
    """Load, decide, append with the expected version; on a conflict, reload and decide again."""

    def __init__(self, store: EventStore, registry: EventRegistry, max_attempts: int = 5) -> None:
        self._store = store
        self._registry = registry
        self._max_attempts = max_attempts

    async def load(self, aggregate: Aggregate[S, C], aggregate_id: str) -> tuple[S, int]:
        recorded = await self._store.read_stream(aggregate.stream_id(aggregate_id))
        return self._fold(aggregate, recorded)

    def _fold(self, aggregate: Aggregate[S, C], recorded: Sequence[RecordedEvent]) -> tuple[S, int]:
        state = aggregate.initial()
        for event in recorded:
            state = aggregate.evolve(state, self._registry.decode(event))
        return state, recorded[-1].stream_version if recorded else NO_STREAM

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
            recorded = await self._store.read_stream(stream_id)
            state, version = self._fold(aggregate, recorded)
            if idempotency_key is not None:
                replayed = self._replayed(recorded, stream_id, idempotency_key, state)
                if replayed is not None:
                    return replayed
            events = tuple(aggregate.decide(state, command))
            if not events:
                return Decision(state, (), None)
            ids: Sequence[UUID | None] = (
                idempotent_event_ids(idempotency_key, stream_id, len(events))
                if idempotency_key is not None
                else [None] * len(events)
            )
            try:
                result = await self._append(aggregate.category, stream_id, events, ids, context, version)
            except WrongExpectedVersion:
                if attempt == self._max_attempts:
                    raise
                log.info("append_conflict_retry", stream_id=stream_id, attempt=attempt)
                continue
            for event in events:
                state = aggregate.evolve(state, event)
            return Decision(state, events, result)
        raise AssertionError("unreachable")

    async def _append(
        self,
        category: str,
        stream_id: str,
        events: Sequence[DomainEvent],
        ids: Sequence[UUID | None],
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
