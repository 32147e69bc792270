"""SQLite read-model store: a table per collection, a JSON document per row, indexes on JSON paths.

Reads use `execute_fetchall`: one trip to aiosqlite's thread per query (execute, fetch and close
separately cost three, which showed as a sixth of a dashboard request in bench/notes.md)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from libs.events import jsonutil
from libs.events.docstore import (
    Collection,
    Document,
    DuplicateKey,
    Filter,
    HitWindow,
    Sort,
    fresh_window,
    stamp,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_SQL_OPERATORS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _table(collection: Collection) -> str:
    if not _NAME.match(collection.name):
        raise ValueError(f"bad collection name {collection.name!r}")
    return '"rm_' + collection.name.replace(".", "__") + '"'


def _path(name: str) -> str:
    if name == "_id":
        return "id"
    if not _NAME.match(name):
        raise ValueError(f"bad field name {name!r}")
    return f"json_extract(doc, '$.{name}')"


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str | int | float) or value is None:
        return value
    return str(value)


class SqliteDocumentStore:
    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._ensured: set[str] = set()

    async def open(self) -> SqliteDocumentStore:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=10000")
        return self

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("document store is not open")
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        await self.db.execute("SELECT 1")

    async def ensure(self, collection: Collection) -> None:
        if collection.name in self._ensured:
            return
        table = _table(collection)
        async with self._write_lock:
            await self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc BLOB NOT NULL)")
            for index in collection.indexes:
                suffix = "__".join(f.replace(".", "_") for f in index.fields)
                name = f'"ix_{collection.name.replace(".", "__")}__{suffix}"'
                columns = ", ".join(_path(f) for f in index.fields)
                unique = "UNIQUE " if index.unique else ""
                await self.db.execute(f"CREATE {unique}INDEX IF NOT EXISTS {name} ON {table} ({columns})")
        self._ensured.add(collection.name)

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        found = await self.get_many(collection, [doc_id])
        return found.get(doc_id)

    async def get_many(self, collection: Collection, doc_ids: Sequence[str]) -> dict[str, Document]:
        await self.ensure(collection)
        result: dict[str, Document] = {}
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, doc FROM {_table(collection)} WHERE id IN ({marks})"  # noqa: S608
            for row in await self.db.execute_fetchall(sql, chunk):
                result[row[0]] = jsonutil.loads(row[1])
        return result

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        if not docs:
            return
        await self.ensure(collection)
        rows = [(str(doc["_id"]), jsonutil.dumps(doc)) for doc in docs]
        sql = (
            f"INSERT INTO {_table(collection)} (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"  # noqa: S608
        )
        async with self._write_lock:
            try:  # BEGIN inside: a writer cancelled while BEGIN is queued must still roll back
                await self.db.execute("BEGIN IMMEDIATE")
                await self.db.executemany(sql, rows)
            except sqlite3.IntegrityError as error:
                await self.db.execute("ROLLBACK")
                raise DuplicateKey(f"{collection.name}: {error}") from error
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def find(
        self,
        collection: Collection,
        filter_: Filter | None = None,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
    ) -> list[Document]:
        await self.ensure(collection)
        where, params = self._where(collection, filter_ or {}, sort)
        order = ""
        if sort:
            order = " ORDER BY " + ", ".join(f"{_path(f)} {'ASC' if d == 1 else 'DESC'}" for f, d in sort)
        page = ""
        if limit is not None or skip:
            page = " LIMIT ? OFFSET ?"
            params.extend([-1 if limit is None else limit, skip])
        sql = f"SELECT doc FROM {_table(collection)}{where}{order}{page}"  # noqa: S608
        return [jsonutil.loads(row[0]) for row in await self.db.execute_fetchall(sql, params)]

    async def count(self, collection: Collection, filter_: Filter | None = None) -> int:
        await self.ensure(collection)
        where, params = self._where(collection, filter_ or {}, ())
        rows = list(await self.db.execute_fetchall(f"SELECT COUNT(*) FROM {_table(collection)}{where}", params))  # noqa: S608
        return int(rows[0][0]) if rows else 0

    async def delete(self, collection: Collection, doc_ids: Sequence[str]) -> None:
        await self.ensure(collection)
        async with self._write_lock:
            await self.db.executemany(
                f"DELETE FROM {_table(collection)} WHERE id = ?",  # noqa: S608
                [(doc_id,) for doc_id in doc_ids],
            )

    async def add_hit(
        self, collection: Collection, doc_id: str, now: datetime, window: timedelta, *, sliding: bool = False
    ) -> HitWindow:
        await self.ensure(collection)
        table = _table(collection)
        async with self._write_lock:
            try:  # BEGIN IMMEDIATE takes the write lock first: the read and the write are one step
                await self.db.execute("BEGIN IMMEDIATE")
                rows = list(await self.db.execute_fetchall(f"SELECT doc FROM {table} WHERE id = ?", (doc_id,)))  # noqa: S608
                doc = jsonutil.loads(rows[0][0]) if rows else None
                if doc is None or doc["expires_at"] <= stamp(now):
                    doc = fresh_window(doc_id, now, window)
                else:
                    doc |= {"hits": int(doc["hits"]) + 1, "last": stamp(now)}
                    if sliding:
                        doc["expires_at"] = stamp(now + window)
                await self.db.execute(
                    f"INSERT INTO {table} (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",  # noqa: S608
                    (doc_id, jsonutil.dumps(doc)),
                )
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")
        return HitWindow.from_doc(doc)

    async def drop(self, collection: Collection) -> None:
        # DROP TABLE fails with "database table is locked" while a read of this connection is
        # between its execute and its fetch (readers do not take the write lock): try again shortly.
        for attempt in range(50):
            try:
                async with self._write_lock:
                    await self.db.execute(f"DROP TABLE IF EXISTS {_table(collection)}")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 49:
                    raise
                await asyncio.sleep(0.02)
        self._ensured.discard(collection.name)

    @staticmethod
    def _where(collection: Collection, filter_: Filter, sort: Sort) -> tuple[str, list[Any]]:
        collection.check_query(filter_, sort)
        clauses: list[str] = []
        params: list[Any] = []
        for name, condition in filter_.items():
            path = _path(name)
            conditions = condition if isinstance(condition, Mapping) else {"$eq": condition}
            for operator, value in conditions.items():
                if operator in ("$in", "$nin"):
                    values = [_sql_value(v) for v in value]
                    if not values:
                        clauses.append("0" if operator == "$in" else "1")
                        continue
                    marks = ",".join("?" * len(values))
                    if operator == "$in":
                        clauses.append(f"{path} IN ({marks})")
                    else:  # like MongoDB, a missing field is "not in" any list
                        clauses.append(f"({path} IS NULL OR {path} NOT IN ({marks}))")
                    params.extend(values)
                elif operator == "$eq" and value is None:
                    clauses.append(f"{path} IS NULL")
                elif operator == "$eq":
                    clauses.append(f"{path} = ?")
                    params.append(_sql_value(value))
                elif operator == "$ne":
                    clauses.append(f"({path} IS NULL OR {path} != ?)")
                    params.append(_sql_value(value))
                else:
                    clauses.append(f"{path} {_SQL_OPERATORS[operator]} ?")
                    params.append(_sql_value(value))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
