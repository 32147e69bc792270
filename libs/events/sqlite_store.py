"""SQLite event store: one file per service, WAL, live subscribers woken on append."""

from __future__ import annotations

import asyncio
import contextlib
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
# A writer in another process cannot wake us; followers look again at least this often.
_CROSS_PROCESS_POLL_SECONDS = 0.5


class SqliteEventStore:
    def __init__(self, path: Path | str, name: str = "events") -> None:
        self.name = name
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._appended = asyncio.Event()

    async def open(self) -> SqliteEventStore:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=10000")
        await self._db.executescript(_SCHEMA)
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
        async with self._write_lock:
            try:  # BEGIN inside: a writer cancelled while BEGIN is queued must still roll back
                await self.db.execute("BEGIN IMMEDIATE")
                result = await self._append_locked(stream_id, events, expected_version)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")
        woken, self._appended = self._appended, asyncio.Event()
        woken.set()
        return result

    async def _append_locked(
        self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> AppendResult:
        previous = await self._already_appended(stream_id, events)
        if previous is not None:
            return previous
        async with self.db.execute(
            "SELECT COALESCE(MAX(stream_version), -1) FROM events WHERE stream_id = ?", (stream_id,)
        ) as cursor:
            row = await cursor.fetchone()
        actual = int(row[0]) if row else -1
        if expected_version is not None and expected_version != actual:
            raise WrongExpectedVersion(stream_id, expected_version, actual)
        rows = [
            (
                str(event.event_id),
                stream_id,
                actual + offset,
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
            for offset, event in enumerate(events, start=1)
        ]
        await self.db.executemany(
            "INSERT INTO events (event_id, stream_id, stream_version, type, version, occurred_at, "
            "correlation_id, causation_id, client_id, actor, data, trace_context) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        async with self.db.execute("SELECT last_insert_rowid()") as cursor:
            last = await cursor.fetchone()
        assert last is not None
        return AppendResult(stream_version=actual + len(events), global_position=int(last[0]))

    async def _already_appended(self, stream_id: str, events: Sequence[NewEvent]) -> AppendResult | None:
        ids = [str(event.event_id) for event in events]
        marks = ",".join("?" * len(ids))
        async with self.db.execute(
            f"SELECT event_id, stream_id, stream_version, position FROM events WHERE event_id IN ({marks}) "  # noqa: S608
            "ORDER BY position",
            ids,
        ) as cursor:
            found = list(await cursor.fetchall())
        if not found:
            return None
        if len(found) != len(ids) or any(row[1] != stream_id for row in found):
            raise DuplicateEventIds(f"stream {stream_id!r}: some event ids of this batch exist already")
        last = found[-1]
        return AppendResult(stream_version=int(last[2]), global_position=int(last[3]))

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
        async with self.db.execute("SELECT MAX(position) FROM events") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def subscribe(self, after: int | None = None) -> AsyncGenerator[RecordedEvent, None]:
        position = after
        while True:
            appended = self.append_signal()
            batch = await self.read_all(after=position, limit=500)
            for event in batch:
                yield event
                position = event.global_position
            if not batch:
                await wait_for_signal(appended, _CROSS_PROCESS_POLL_SECONDS)

    def append_signal(self) -> asyncio.Event:
        """Set by the next append in this process. Take it before reading, so no append is missed."""
        return self._appended

    async def _select(self, where: str, params: tuple[Any, ...]) -> list[RecordedEvent]:
        async with self.db.execute(f"SELECT {_COLUMNS} FROM events {where}", params) as cursor:  # noqa: S608
            rows = await cursor.fetchall()
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
