"""SQLite event store: one file per service, WAL, live subscribers woken on append."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import sqlite3
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosqlite

from libs.events import jsonutil
from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.store import AppendResult, DuplicateEventIds, WrongExpectedVersion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id TEXT,
    client_id TEXT,
    actor TEXT,
    data BLOB NOT NULL,
    trace_context BLOB NOT NULL,
    UNIQUE (stream_id, stream_version)
);
"""
_COLUMNS = (
    "position, event_id, stream_id, stream_version, type, version, occurred_at, correlation_id, "
    "causation_id, client_id, actor, data, trace_context"
)

# One statement, so one trip to the database thread and atomic on its own: it inserts the batch's rows
# only if the stream is still at the expected version (the last two parameters; NULL = any) and none of
# the event ids exists yet, and returns where they went. No rows back: nothing was written.
_INSERT_UNLESS_CHANGED = (
    "WITH current (version) AS (SELECT COALESCE(MAX(stream_version), -1) FROM events WHERE stream_id = ?), "
    "batch (ordinal, event_id, type, version, occurred_at, correlation_id, causation_id, client_id, actor, "
    "data, trace_context) AS (VALUES {rows}) "
    "INSERT INTO events (event_id, stream_id, stream_version, type, version, occurred_at, correlation_id, "
    "causation_id, client_id, actor, data, trace_context) "
    "SELECT batch.event_id, ?, current.version + batch.ordinal, batch.type, batch.version, batch.occurred_at, "
    "batch.correlation_id, batch.causation_id, batch.client_id, batch.actor, batch.data, batch.trace_context "
    "FROM batch, current "
    "WHERE (? IS NULL OR current.version = ?) "
    "AND NOT EXISTS (SELECT 1 FROM events WHERE event_id IN (SELECT event_id FROM batch)) "
    "ORDER BY batch.ordinal "
    "RETURNING position, stream_version"
)


@functools.lru_cache(maxsize=64)
def _insert_unless_changed(rows: int) -> str:
    return _INSERT_UNLESS_CHANGED.format(rows=", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows))


class SqliteEventStore:
    rows_per_statement = 500
    """A bigger batch is written in several statements inside one transaction (SQLite bounds the
    number of parameters of one statement)."""

    def __init__(self, path: Path | str, name: str = "events", *, cross_process_poll_interval: float = 0.05) -> None:
        self.name = name
        self.cross_process_poll_interval = cross_process_poll_interval
        """How often a waiting follower (`wait_for_append`, `subscribe`) asks the file whether another
        connection committed; appends through this store wake it at once. Each look wakes the event loop
        and SQLite's thread: a waiter looking every 10 ms costs 3 to 5 % of a core, every 50 ms about 1 %."""
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._appended = asyncio.Event()
        self._appends = 0
        self._seen_changes = (0, 0)  # (appends in this process, PRAGMA data_version) when a wait last returned

    async def open(self) -> SqliteEventStore:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=10000")
        await self._db.executescript(_SCHEMA)
        self._seen_changes = await self._changes()
        return self

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError(f"event store {self.name!r} is not open")
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        await self.db.execute("SELECT 1")

    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        if not events:
            raise ValueError("nothing to append")
        if len({event.event_id for event in events}) != len(events):
            raise DuplicateEventIds(f"stream {stream_id!r}: the batch repeats an event id")
        while True:
            async with self._write_lock:
                try:
                    written = await self._insert(stream_id, events, expected_version)
                except asyncio.CancelledError:
                    self._wake_followers()  # the database thread may still commit what its caller gave up on
                    raise
            if written is not None:
                self._wake_followers()
                return written
            earlier = await self._earlier_append_or_refusal(stream_id, events, expected_version)
            if earlier is not None:
                return earlier
            # nothing stands in the way any more (cannot happen while events are never deleted): write again

    async def _insert(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult | None:
        if len(events) <= self.rows_per_statement:
            return await self._insert_unless_changed(stream_id, events, expected_version)
        try:  # BEGIN inside: a writer cancelled while BEGIN is queued must still roll back
            await self.db.execute("BEGIN IMMEDIATE")
            written: AppendResult | None = None
            for start in range(0, len(events), self.rows_per_statement):
                chunk = events[start : start + self.rows_per_statement]
                written = await self._insert_unless_changed(
                    stream_id, chunk, written.stream_version if written else expected_version
                )
                if written is None:
                    break
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("ROLLBACK" if written is None else "COMMIT")
        return written

    async def _insert_unless_changed(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult | None:
        parameters: list[Any] = [stream_id]
        for ordinal, event in enumerate(events, start=1):
            parameters += (
                ordinal,
                str(event.event_id),
                event.type,
                event.version,
                event.occurred_at.isoformat(),
                str(event.correlation_id),
                str(event.causation_id) if event.causation_id else None,
                event.client_id,
                event.actor,
                jsonutil.dumps(event.data),
                jsonutil.dumps(event.trace_context),
            )
        parameters += (stream_id, expected_version, expected_version)
        rows = list(await self.db.execute_fetchall(_insert_unless_changed(len(events)), parameters))
        if not rows:
            return None
        return AppendResult(
            stream_version=max(int(row[1]) for row in rows), global_position=max(int(row[0]) for row in rows)
        )

    async def _earlier_append_or_refusal(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult | None:
        """Why an insert wrote nothing: this very batch is there already (its result), part of it is
        (DuplicateEventIds), or the stream moved on (WrongExpectedVersion). None: none of these any more."""
        ids = [str(event.event_id) for event in events]
        found = list(
            await self.db.execute_fetchall(
                "SELECT stream_id, stream_version, position FROM events "
                "WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY position",
                (jsonutil.dumps(ids).decode(),),
            )
        )
        if found:
            if len(found) != len(ids) or any(row[0] != stream_id for row in found):
                raise DuplicateEventIds(f"stream {stream_id!r}: some event ids of this batch exist already")
            return AppendResult(stream_version=int(found[-1][1]), global_position=int(found[-1][2]))
        (row,) = await self.db.execute_fetchall(
            "SELECT COALESCE(MAX(stream_version), -1) FROM events WHERE stream_id = ?", (stream_id,)
        )
        actual = int(row[0])
        if expected_version is not None and expected_version != actual:
            raise WrongExpectedVersion(stream_id, expected_version, actual)
        return None

    def _wake_followers(self) -> None:
        self._appends += 1
        woken, self._appended = self._appended, asyncio.Event()
        woken.set()

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]:
        return await self._select(
            "WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version", (stream_id, from_version)
        )

    async def read_all(self, after: int | None = None, limit: int = 1000) -> list[RecordedEvent]:
        return await self._select("WHERE position > ? ORDER BY position LIMIT ?", (after or 0, limit))

    async def read_event(self, event_id: UUID) -> RecordedEvent | None:
        found = await self._select("WHERE event_id = ?", (str(event_id),))
        return found[0] if found else None

    async def head_position(self) -> int | None:
        (row,) = await self.db.execute_fetchall("SELECT MAX(position) FROM events")
        return int(row[0]) if row[0] is not None else None

    async def subscribe(self, after: int | None = None) -> AsyncGenerator[RecordedEvent, None]:
        """Everything after `after`, then each new event, woken as `wait_for_append` is (with a mark of its
        own, so any number of subscribers and the relay's waits do not take appends from one another)."""
        position = after
        seen = await self._changes()  # taken before reading, so no append after the read is slept through
        while True:
            batch = await self.read_all(after=position, limit=500)
            for event in batch:
                yield event
                position = event.global_position
            if not batch:
                seen = await self._next_change(seen, math.inf)

    def append_signal(self) -> asyncio.Event:
        """Set by the next append in this process. Take it before reading, so no append is missed."""
        return self._appended

    async def wait_for_append(self, timeout: float) -> None:
        """Returns once an append was committed since the previous wait returned (or since `open`), by this
        store or by another connection to its file (another process), else after `timeout` seconds.

        So a follower that reads until it finds nothing and then waits misses no append, at the price of
        an occasional early return. Appends in this process wake it at once; other writers are noticed by
        asking SQLite every `cross_process_poll_interval` seconds, and only while someone waits. Meant for
        one follower per store: the mark is shared, so a second follower may sleep until its timeout
        through an append the first one's wait already returned for (`subscribe` keeps its own mark)."""
        self._seen_changes = await self._next_change(self._seen_changes, timeout)

    async def _next_change(self, seen: tuple[int, int], timeout: float) -> tuple[int, int]:
        """Waits until the changes differ from `seen` (an append committed since it was taken), at most
        `timeout` seconds; returns the changes it saw last, the mark for the next wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            appended = self._appended  # taken before looking, so an append during the look is not missed
            changes = await self._changes()
            remaining = deadline - loop.time()
            if changes != seen or remaining <= 0:
                return changes
            await wait_for_signal(appended, min(self.cross_process_poll_interval, remaining))

    async def _changes(self) -> tuple[int, int]:
        """(appends through this store, PRAGMA data_version): differs from an earlier reading once anyone
        committed an append to the file since."""
        return self._appends, await self._data_version()

    async def _data_version(self) -> int:
        """Changes whenever another connection commits to the file; not by this connection's commits."""
        (row,) = await self.db.execute_fetchall("PRAGMA data_version")
        return int(row[0])

    async def _select(self, where: str, params: tuple[Any, ...]) -> list[RecordedEvent]:
        rows = await self.db.execute_fetchall(f"SELECT {_COLUMNS} FROM events {where}", params)  # noqa: S608
        return [_to_event(row) for row in rows]


def _to_event(row: Any) -> RecordedEvent:
    return RecordedEvent.model_construct(
        global_position=row[0],
        event_id=UUID(row[1]),
        stream_id=row[2],
        stream_version=row[3],
        type=row[4],
        version=row[5],
        occurred_at=datetime.fromisoformat(row[6]),
        correlation_id=UUID(row[7]),
        causation_id=UUID(row[8]) if row[8] else None,
        client_id=row[9],
        actor=row[10],
        data=jsonutil.loads(row[11]),
        trace_context=jsonutil.loads(row[12]),
    )


async def wait_for_signal(signal: asyncio.Event, timeout: float) -> None:
    """Waits until `signal` is set, or `timeout` seconds (writers in other processes cannot set it)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(signal.wait(), timeout)
