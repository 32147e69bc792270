"""EventStoreDB / KurrentDB event store through kurrentdbclient's asyncio client.

Mapping of the envelope: `event_id` is the ESDB event id (ESDB deduplicates a resent append by it),
`type` the event type, `data` the event data (JSON); every other envelope field (schema version,
occurred_at, correlation and causation ids, client id, actor, trace context) goes into the event's
metadata JSON. `stream_version` is the ESDB stream position and `global_position` the commit position
in `$all` (unique per event, increasing, not dense).

Reads of `$all` use a server-side filter: system events (`$`-prefixed types) are excluded and, with
`stream_prefix`, only the streams `<prefix>-...` of this service are read (one database may hold the
streams of several services). A position given to `read_all` and `subscribe` is exclusive.

Differences from the SQLite store, by ESDB's design: an event id is deduplicated per stream (not across
streams); a batch that repeats only some ids of an earlier batch is refused by the server as a wrong
expected version, reported here as DuplicateEventIds when no version was expected. An unreachable
server raises StoreUnavailable (answered 503).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from kurrentdbclient import DEFAULT_EXCLUDE_FILTER, AsyncKurrentDBClient, StreamState
from kurrentdbclient import NewEvent as EsdbNewEvent
from kurrentdbclient import RecordedEvent as EsdbRecordedEvent
from kurrentdbclient.exceptions import (
    DeadlineExceededError,
    DiscoveryFailedError,
    NotFoundError,
    ServiceUnavailableError,
    WrongCurrentVersionError,
)

from libs.events import jsonutil
from libs.events.docstore import StoreUnavailable
from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.store import NO_STREAM, AppendResult, DuplicateEventIds, WrongExpectedVersion


def to_esdb(event: NewEvent) -> EsdbNewEvent:
    metadata = {
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "correlation_id": str(event.correlation_id),
        "causation_id": str(event.causation_id) if event.causation_id else None,
        "client_id": event.client_id,
        "actor": event.actor,
        "trace_context": dict(event.trace_context),
    }
    return EsdbNewEvent(
        type=event.type,
        data=jsonutil.dumps(event.data),
        metadata=jsonutil.dumps(metadata),
        content_type="application/json",
        id=event.event_id,
    )


def from_esdb(recorded: EsdbRecordedEvent) -> RecordedEvent:
    metadata: dict[str, Any] = jsonutil.loads(recorded.metadata) if recorded.metadata else {}
    causation = metadata.get("causation_id")
    occurred = metadata.get("occurred_at")
    return RecordedEvent(
        event_id=recorded.id,
        type=recorded.type,
        version=metadata.get("version", 1),
        data=jsonutil.loads(recorded.data) if recorded.data else {},
        occurred_at=datetime.fromisoformat(occurred) if occurred else recorded.recorded_at,
        correlation_id=UUID(metadata["correlation_id"]) if metadata.get("correlation_id") else recorded.id,
        causation_id=UUID(causation) if causation else None,
        client_id=metadata.get("client_id"),
        actor=metadata.get("actor"),
        trace_context=metadata.get("trace_context") or {},
        stream_id=recorded.stream_name,
        stream_version=recorded.stream_position,
        global_position=recorded.commit_position,
    )


def _expected(expected_version: int | None) -> int | StreamState:
    if expected_version is None:
        return StreamState.ANY
    if expected_version == NO_STREAM:
        return StreamState.NO_STREAM
    return expected_version


@asynccontextmanager
async def _reachable(what: str) -> AsyncIterator[None]:
    try:
        yield
    except (ServiceUnavailableError, DeadlineExceededError, DiscoveryFailedError) as error:
        raise StoreUnavailable(f"EventStoreDB unavailable during {what} ({type(error).__name__})") from error


class EsdbEventStore:
    def __init__(self, uri: str, name: str, stream_prefix: str | None = None) -> None:
        """`uri`: an `esdb://` / `kurrentdb://` connection string, e.g. `esdb://127.0.0.1:2113?tls=false`."""
        self.name = name
        self._client = AsyncKurrentDBClient(uri)
        if stream_prefix:
            self._filter: dict[str, Any] = {
                "filter_include": (f"{stream_prefix}-.*",),
                "filter_by_stream_name": True,
            }
        else:
            self._filter = {"filter_exclude": DEFAULT_EXCLUDE_FILTER}

    async def open(self) -> EsdbEventStore:
        async with _reachable("connect"):
            await self._client.connect()
        return self

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> None:
        await self.head_position()

    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        if not events:
            raise ValueError("nothing to append")
        async with _reachable(f"append to {stream_id}"):
            try:
                position = await self._client.append_to_stream(
                    stream_id, events=[to_esdb(event) for event in events], current_version=_expected(expected_version)
                )
            except WrongCurrentVersionError as error:
                if expected_version is None:  # no version was checked: only a partial id repeat gets here
                    message = f"stream {stream_id!r}: some event ids of this batch exist already"
                    raise DuplicateEventIds(message) from error
                actual = error.actual_version
                if not isinstance(actual, int):
                    actual = await self._current_version(stream_id)
                raise WrongExpectedVersion(stream_id, expected_version, actual) from error
            if expected_version is not None:
                return AppendResult(stream_version=expected_version + len(events), global_position=position)
            (last,) = await self._read_all_from(position, limit=1)  # the event at `position` is ours
            return AppendResult(stream_version=last.stream_version, global_position=position)

    async def _current_version(self, stream_id: str) -> int:
        version = await self._client.get_current_version(stream_id)
        return version if isinstance(version, int) else NO_STREAM

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]:
        async with _reachable(f"read of {stream_id}"):
            try:
                recorded = await self._client.get_stream(stream_id, stream_position=from_version)
            except NotFoundError:
                return []
        return [from_esdb(event) for event in recorded]

    async def read_all(self, after: int | None = None, limit: int = 1000) -> list[RecordedEvent]:
        if after is None:
            return await self._read_all_from(None, limit)
        # reading forwards from a commit position includes the event there: read one more, drop it
        events = await self._read_all_from(after, limit + 1)
        return [event for event in events if event.global_position > after][:limit]

    async def _read_all_from(self, position: int | None, limit: int) -> list[RecordedEvent]:
        async with _reachable("read of $all"):
            response = await self._client.read_all(commit_position=position, limit=limit, **self._filter)
            async with response:
                return [from_esdb(event) async for event in response]

    async def head_position(self) -> int | None:
        async with _reachable("read of $all"):
            response = await self._client.read_all(backwards=True, limit=1, **self._filter)
            async with response:
                last = [event async for event in response]
        return last[0].commit_position if last else None

    async def subscribe(self, after: int | None = None) -> AsyncGenerator[RecordedEvent, None]:
        """A catch-up subscription to `$all` with the server-side filter, from after the commit position."""
        async with _reachable("subscription to $all"):
            subscription = await self._client.subscribe_to_all(commit_position=after, **self._filter)
        async with subscription:
            async for event in subscription:
                yield from_esdb(event)
