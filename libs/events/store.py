"""Event store port: append with optimistic concurrency, read a stream, read and follow everything."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from libs.events.envelope import NewEvent, RecordedEvent

NO_STREAM: Final = -1
"""expected_version for a stream that must not exist yet."""

ANY_VERSION: Final = None
"""expected_version when the caller does not care (no concurrency check)."""


class WrongExpectedVersion(Exception):
    """Someone else appended to the stream first: reload and decide again, or answer 409."""

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(f"stream {stream_id!r}: expected version {expected}, actual version {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventIds(Exception):
    """Some but not all of a batch's event ids exist already: not a retry of the same append."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    stream_version: int
    """The stream's version after the append (the last event's stream version)."""
    global_position: int
    """The global position of the last appended event."""


class EventStore(Protocol):
    """Every adapter passes tests/contract/test_event_store.py.

    - append is atomic and checks `expected_version` (NO_STREAM, a version, or ANY_VERSION);
    - it is idempotent on event ids: repeating the same batch returns the first result, appends nothing;
    - stream versions start at 0; global positions increase in append order;
    - read_all(after) returns events strictly after a global position (None = from the start);
    - subscribe yields everything after a position, then new events as they are appended.
    """

    name: str

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult: ...

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]: ...

    async def read_all(self, after: int | None = None, limit: int = 1000) -> list[RecordedEvent]: ...

    async def head_position(self) -> int | None: ...

    def subscribe(self, after: int | None = None) -> AsyncGenerator[RecordedEvent, None]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


async def open_if_needed(store: EventStore) -> None:
    """Opens an adapter that needs opening (SQLite opens its file, EventStoreDB connects): not in the port,
    as a store handed over already open has nothing to do."""
    opener = getattr(store, "open", None)
    if callable(opener):
        await opener()
