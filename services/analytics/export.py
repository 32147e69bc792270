"""The Parquet export: every event of the source once, in Hive-style partitions by event type and date.

Layout (readable as one dataset: `pyarrow.dataset.dataset(DIR, partitioning="hive")`, DuckDB
`read_parquet('DIR/**/*.parquet', hive_partitioning=true)`, Spark, Athena...):

    DIR/event_type=<type>/date=<YYYY-MM-DD>/part-<source>-<partition>-<first>-<last>.parquet
    DIR/_export/index.sqlite      what the exporter knows (readers skip `_`- and `.`-prefixed names)

`date` is the day of `occurred_at` in Europe/Warsaw. `<source>-<partition>-<first>-<last>` is the
topic partition and the offsets of the fetched batch the file came from (in embedded mode: the service
and the global positions). Every file has the same columns (SCHEMA): the envelope (`event_id`,
`type`, `version`, `service`, `stream_id`, `stream_version`, `position` = global position in the
service's store, `occurred_at` as a UTC timestamp, `correlation_id`, `causation_id`, `client_id`,
`actor`), where it was read (`log_partition`, `log_offset`), and `data` as a JSON string.

Why `data` is a JSON string and not a struct column: each event type has its own fields and each type
changes them between schema versions (`version`), so one struct would make files of one directory
disagree on their schema, and a dataset over them would not open; as JSON every file has one schema,
amounts keep their exact Decimal text ("100.10", never a float), and a query unpacks what it needs
(`json_extract(data, '$.gross')::DECIMAL(18,2)` in DuckDB).

Exactly once into the files, even across crashes, with at-least-once input:

1. a fetched batch's events not already exported (by `event_id`, from the index) are grouped by
   (type, date); the index records their parts as pending and their ids, in one SQLite transaction;
2. each part is written to a temporary file beside its target, fsynced and renamed (atomic);
3. the source's offsets are committed (the consumer group in Kafka, the checkpoint file in embedded mode);
4. the index marks the parts settled.

At start a pending part is settled when the committed offset is past it (the crash came after step 3),
otherwise its file and its ids are removed and reading starts again at its first offset (the crash came
before step 3: the batch is read and written again, under the same name). Deduplicating on `event_id`
also keeps out what the topic holds twice: a relay's re-publication after a crash, or `ops republish`.
A new export folder starts at the beginning of the topics, whatever its group has committed; the folder
is a unit (delete it whole, `_export/` included, to export again) and belongs to one group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from libs.events import jsonutil
from libs.events.envelope import RecordedEvent
from libs.events.warsaw import warsaw_date
from services.analytics.sources import Chunk, Source, SourcePartition

log = structlog.get_logger(__name__)

SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("service", pa.string(), nullable=False),
        pa.field("stream_id", pa.string(), nullable=False),
        pa.field("stream_version", pa.int64(), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("correlation_id", pa.string(), nullable=False),
        pa.field("causation_id", pa.string()),
        pa.field("client_id", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("data", pa.string(), nullable=False),
        pa.field("log_partition", pa.int32(), nullable=False),
        pa.field("log_offset", pa.int64(), nullable=False),
    ]
)
STATE_DIR = "_export"


class ExportFolderTaken(Exception):
    """The export folder was made by another consumer group or source kind: bad usage."""


@dataclass(frozen=True)
class Part:
    """One Parquet file to write: the events of one (type, date) from one fetched chunk."""

    path: str
    """Relative to the export folder."""
    source: str
    partition: int
    first: int
    last: int
    rows: list[dict[str, Any]]

    @property
    def event_ids(self) -> list[str]:
        return [row["event_id"] for row in self.rows]


@dataclass
class ExportStats:
    read: int = 0
    """Records read from the source (duplicates and undecodable records included)."""
    total: int = 0
    """Records between the start and the end offsets seen at the start (grows while following)."""
    written: int = 0
    duplicates: int = 0
    undecodable: int = 0
    files: int = 0
    caught_up: bool = False


Progress = Callable[[ExportStats], None]


def row(event: RecordedEvent, partition: int, offset: int) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "type": event.type,
        "version": event.version,
        "service": event.source,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "position": event.global_position,
        "occurred_at": event.occurred_at,
        "correlation_id": str(event.correlation_id),
        "causation_id": str(event.causation_id) if event.causation_id else None,
        "client_id": event.client_id,
        "actor": event.actor,
        "data": jsonutil.dumps(event.data).decode(),
        "log_partition": partition,
        "log_offset": offset,
    }


def part_path(event_type: str, day: str, chunk: Chunk) -> str:
    name = f"part-{chunk.source}-{chunk.partition}-{chunk.first}-{chunk.last}.parquet"
    return f"event_type={quote(event_type, safe='')}/date={day}/{name}"


class ExportIndex:
    """`_export/index.sqlite`: the folder's owner, every exported event id and its part, the pending parts."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> ExportIndex:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS parts (
                path TEXT PRIMARY KEY, source TEXT NOT NULL, partition INTEGER NOT NULL,
                first INTEGER NOT NULL, last INTEGER NOT NULL, pending INTEGER NOT NULL
            );
            CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, path TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS events_by_path ON events (path);
            """
        )
        return self

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the export index is not open")
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        try:  # BEGIN inside: a writer cancelled while BEGIN is queued must still roll back
            await self.db.execute("BEGIN")
            yield self.db
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("COMMIT")

    async def bind(self, kind: str, group: str) -> bool:
        """Claims the folder for (kind, group); True when it is new. ExportFolderTaken if someone else has it."""
        owner: dict[str, str] = {
            key: value for key, value in await self.db.execute_fetchall("SELECT key, value FROM meta")
        }
        if not owner:
            async with self._transaction() as db:
                await db.executemany("INSERT INTO meta VALUES (?, ?)", [("kind", kind), ("group", group)])
            return True
        if (owner.get("kind"), owner.get("group")) != (kind, group):
            raise ExportFolderTaken(
                f"this export folder belongs to the {owner.get('kind')} export of group {owner.get('group')!r}; "
                f"pass --group {owner.get('group')} to go on with it, or export into another --out folder"
            )
        return False

    async def pending(self) -> list[tuple[str, str, int, int, int]]:
        """(path, source, partition, first, last) of the parts written but not known to be committed."""
        rows = await self.db.execute_fetchall(
            "SELECT path, source, partition, first, last FROM parts WHERE pending = 1"
        )
        return [(path, source, partition, first, last) for path, source, partition, first, last in rows]

    async def known(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(event_ids), 500):
            batch = event_ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            query = f"SELECT event_id FROM events WHERE event_id IN ({marks})"  # noqa: S608 (placeholders only)
            found.update(event_id for (event_id,) in await self.db.execute_fetchall(query, batch))
        return found

    async def record(self, parts: Sequence[Part]) -> None:
        async with self._transaction() as db:
            await db.executemany(
                "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, 1)",
                [(part.path, part.source, part.partition, part.first, part.last) for part in parts],
            )
            await db.executemany(
                "INSERT INTO events VALUES (?, ?)",
                [(event_id, part.path) for part in parts for event_id in part.event_ids],
            )

    async def settle(self, paths: Iterable[str]) -> None:
        async with self._transaction() as db:
            await db.executemany("UPDATE parts SET pending = 0 WHERE path = ?", [(path,) for path in paths])

    async def forget(self, paths: Iterable[str]) -> None:
        async with self._transaction() as db:
            for path in paths:
                await db.execute("DELETE FROM events WHERE path = ?", (path,))
                await db.execute("DELETE FROM parts WHERE path = ?", (path,))


def write_atomically(table: pa.Table, target: Path) -> None:
    """Temporary file beside the target (a dot name readers skip), fsync, rename, fsync the folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    with temporary.open("wb") as file:
        pq.write_table(table, file, compression="zstd")
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@dataclass
class ParquetExporter:
    out: Path
    source: Source
    group: str
    batch_size: int = 1000
    fetch_timeout: float = 1.0
    stats: ExportStats = field(default_factory=ExportStats)

    async def run(
        self,
        *,
        follow: bool = False,
        max_events: int | None = None,
        progress: Progress | None = None,
        stop: asyncio.Event | None = None,
    ) -> ExportStats:
        """Exports until caught up with the end offsets seen at the start (or, following, until `stop` is
        set); `max_events` stops after that many records (a later run goes on from there)."""
        keys = await self.source.open()
        index = ExportIndex(self.out / STATE_DIR / "index.sqlite")
        try:
            await index.open()
            start = await self._start_positions(index, keys)
            self.source.seek(start)
            ends = await self.source.ends()
            self.stats.total = sum(max(0, ends[key] - start[key]) for key in keys)
            tell = progress or (lambda _: None)
            tell(self.stats)
            while not (stop and stop.is_set()):
                if max_events is not None and self.stats.read >= max_events:
                    break
                if not follow and await self._caught_up(ends):
                    self.stats.caught_up = True
                    break
                room = self.batch_size if max_events is None else min(self.batch_size, max_events - self.stats.read)
                chunks = await self.source.fetch(room, self.fetch_timeout)
                if chunks:
                    await self._export(index, chunks)
                if follow:
                    self.stats.total = max(self.stats.total, self.stats.read)
                tell(self.stats)
            return self.stats
        finally:
            await index.close()
            await self.source.close()

    async def _start_positions(self, index: ExportIndex, keys: Sequence[SourcePartition]) -> dict[SourcePartition, int]:
        fresh = await index.bind(self.source.kind, self.group)
        await asyncio.to_thread(self._remove_temporary_files)
        committed = await self.source.committed()
        beginnings = await self.source.beginnings()
        start = {
            key: beginnings[key] if fresh or committed.get(key) is None else max(beginnings[key], committed[key] or 0)
            for key in keys
        }
        settled: list[str] = []
        undone: list[str] = []
        for path, source, partition, first, last in await index.pending():
            key = (source, partition)
            offset = committed.get(key)
            if offset is not None and offset > last:
                settled.append(path)  # the crash came after the commit
                continue
            undone.append(path)  # the crash came before the commit: the batch is read again
            if key in start:
                start[key] = min(start[key], first)
        if undone:
            await asyncio.to_thread(self._remove, undone)
            await index.forget(undone)
            log.warning("export_uncommitted_parts_removed", parts=len(undone))
        await index.settle(settled)
        return start

    def _remove_temporary_files(self) -> None:
        for leftover in self.out.glob("event_type=*/date=*/.part-*.tmp"):
            leftover.unlink(missing_ok=True)

    def _remove(self, paths: Iterable[str]) -> None:
        for path in paths:
            (self.out / path).unlink(missing_ok=True)

    async def _caught_up(self, ends: Mapping[SourcePartition, int]) -> bool:
        positions = await self.source.positions()
        return all(positions[key] >= end for key, end in ends.items())

    async def _export(self, index: ExportIndex, chunks: Sequence[Chunk]) -> None:
        parts = self._parts(chunks, await index.known(_event_ids(chunks)))
        await index.record(parts)
        await asyncio.to_thread(self._write, parts)
        await self.source.commit({chunk.key: chunk.last + 1 for chunk in chunks})
        await index.settle(part.path for part in parts)
        self.stats.read += sum(len(chunk.records) for chunk in chunks)
        self.stats.written += sum(len(part.rows) for part in parts)
        self.stats.files += len(parts)

    def _parts(self, chunks: Sequence[Chunk], seen: set[str]) -> list[Part]:
        """The parts of the events not `seen` (exported before, by event id), grouped by (type, date)."""
        parts: list[Part] = []
        for chunk in chunks:
            groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
            for offset, event in chunk.records:
                if event is None:
                    self.stats.undecodable += 1
                    continue
                event_id = str(event.event_id)
                if event_id in seen:
                    self.stats.duplicates += 1
                    continue
                seen.add(event_id)
                day = warsaw_date(event.occurred_at).isoformat()
                groups[(event.type, day)].append(row(event, chunk.partition, offset))
            parts.extend(
                Part(part_path(event_type, day, chunk), chunk.source, chunk.partition, chunk.first, chunk.last, rows)
                for (event_type, day), rows in sorted(groups.items())
            )
        return parts

    def _write(self, parts: Sequence[Part]) -> None:
        for part in parts:
            write_atomically(pa.Table.from_pylist(part.rows, schema=SCHEMA), self.out / part.path)


def _event_ids(chunks: Sequence[Chunk]) -> list[str]:
    return [str(event.event_id) for chunk in chunks for _, event in chunk.records if event is not None]
