"""Key vault port: one secret key per data subject (a person), kept apart from every event store.

Personal fields of events are sealed with their subject's key (libs/events/pii.py). Deleting the key
erases the data wherever the events went: event stores, Kafka topics, dead letters, backups of them.
So the vault lives on its own: a SQLite file of its own in the embedded mode (`data/vault/keys.db`),
a database of its own in MongoDB in the cluster (`strefa_vault`). Key material is never logged and
never in a repr. Backups of the vault must expire: a restored key would undo an erasure.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

import aiosqlite
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from libs.events.docstore import StoreUnavailable
from libs.events.envelope import utc_now

KEY_BYTES = 32
"""A libsodium secretbox key (XSalsa20-Poly1305)."""


@dataclass(frozen=True)
class SubjectKey:
    key_id: str
    """Random, named in every sealed value: says nothing about the subject."""
    secret: bytes = field(repr=False)


class SubjectErased(Exception):
    """The subject was erased: no new personal data may be sealed for it."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"data subject {subject!r} was erased; nothing new is kept about it")
        self.subject = subject


class KeyVault(Protocol):
    """Every adapter passes tests/contract/test_key_vault.py."""

    async def keys_for(self, subjects: Collection[str]) -> dict[str, SubjectKey]:
        """Each subject's key, made on first use (one key per subject, also across processes).
        Raises SubjectErased for an erased subject."""

    async def find(self, key_ids: Collection[str]) -> dict[str, bytes]:
        """The secrets of the keys that still exist, by key id; a deleted key is simply absent."""

    async def delete(self, subject: str) -> bool:
        """Deletes the subject's key (what it sealed can never be opened again); a later `keys_for`
        makes a new one. True if there was a key."""

    async def erase(self, subject: str) -> bool:
        """`delete`, and remembers the subject as erased: `keys_for` refuses it from now on."""

    async def erased(self, subject: str) -> bool: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


def new_key() -> SubjectKey:
    return SubjectKey(uuid4().hex, secrets.token_bytes(KEY_BYTES))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    secret BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erased_subjects (
    subject TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);
"""


class SqliteKeyVault:
    """The embedded vault: a SQLite file (WAL) that the portal and the ops CLI may share.

    Reads take no lock: only making a key or erasing one takes SQLite's write lock, which every process
    sharing the file waits for (at most `busy_timeout` seconds, then StoreUnavailable: answer 503)."""

    def __init__(self, path: Path | str, busy_timeout: float = 10.0) -> None:
        self._path = str(path)
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        """One transaction of this connection at a time, and no read of it while one is open."""

    async def open(self) -> SqliteKeyVault:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = await aiosqlite.connect(self._path, isolation_level=None)
        if self._path != ":memory:":  # before WAL: SQLite gives its -wal and -shm files the same mode
            await asyncio.to_thread(Path(self._path).chmod, 0o600)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        await self._db.executescript(_SCHEMA)
        return self

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("key vault is not open")
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        async with self._available("ping"):
            await self.db.execute("SELECT 1")

    @contextlib.asynccontextmanager
    async def _available(self, what: str) -> AsyncIterator[None]:
        """SQLite's operational errors ("database is locked": another process kept the write lock past
        the busy timeout; the file unreadable) mean the vault is unavailable now, not that it is broken.
        Told in our words and the error's type, never SQLite's message (it stays the `__cause__`)."""
        try:
            yield
        except sqlite3.OperationalError as error:
            locked = ": locked by another writer" if error.sqlite_errorcode == sqlite3.SQLITE_BUSY else ""
            raise StoreUnavailable(f"key vault unavailable during {what}{locked} ({type(error).__name__})") from error

    async def _rows(self, sql: str, values: Iterable[Any]) -> list[Any]:
        values = list(values)
        if not values:
            return []
        marks = ",".join("?" * len(values))
        async with self.db.execute(sql.format(marks=marks), values) as cursor:
            return list(await cursor.fetchall())

    async def _refuse_erased(self, subjects: Collection[str]) -> None:
        erased = await self._rows("SELECT subject FROM erased_subjects WHERE subject IN ({marks})", subjects)
        if erased:
            raise SubjectErased(erased[0][0])

    async def _stored(self, subjects: Collection[str]) -> dict[str, SubjectKey]:
        rows = await self._rows("SELECT subject, key_id, secret FROM subject_keys WHERE subject IN ({marks})", subjects)
        return {subject: SubjectKey(key_id, bytes(secret)) for subject, key_id, secret in rows}

    async def keys_for(self, subjects: Collection[str]) -> dict[str, SubjectKey]:
        if not subjects:
            return {}
        async with self._available("keys_for"):
            async with self._write_lock:
                await self._refuse_erased(subjects)
                keys = await self._stored(subjects)
            missing = [subject for subject in subjects if subject not in keys]
            if not missing:
                return keys
            async with self._transaction():  # the write lock, only to make the missing keys
                await self._refuse_erased(subjects)
                now = utc_now().isoformat()
                await self.db.executemany(
                    "INSERT OR IGNORE INTO subject_keys (key_id, subject, secret, created_at) VALUES (?, ?, ?, ?)",
                    [(key.key_id, subject, key.secret, now) for subject, key in ((s, new_key()) for s in missing)],
                )
                keys.update(await self._stored(missing))
        return keys

    async def find(self, key_ids: Collection[str]) -> dict[str, bytes]:
        async with self._available("find"):
            rows = await self._rows("SELECT key_id, secret FROM subject_keys WHERE key_id IN ({marks})", key_ids)
        return {key_id: bytes(secret) for key_id, secret in rows}

    async def delete(self, subject: str) -> bool:
        async with self._available("delete"), self._transaction():
            cursor = await self.db.execute("DELETE FROM subject_keys WHERE subject = ?", (subject,))
        return cursor.rowcount > 0

    async def erase(self, subject: str) -> bool:
        async with self._available("erase"), self._transaction():
            await self.db.execute(
                "INSERT OR IGNORE INTO erased_subjects (subject, erased_at) VALUES (?, ?)",
                (subject, utc_now().isoformat()),
            )
            cursor = await self.db.execute("DELETE FROM subject_keys WHERE subject = ?", (subject,))
        return cursor.rowcount > 0

    async def erased(self, subject: str) -> bool:
        async with self._available("erased"):
            return bool(await self._rows("SELECT 1 FROM erased_subjects WHERE subject IN ({marks})", [subject]))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One writer at a time, also across processes (BEGIN IMMEDIATE takes SQLite's write lock)."""
        async with self._write_lock:
            try:
                await self.db.execute("BEGIN IMMEDIATE")
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")


class MongoKeyVault:
    """The cluster's vault: collections `keys` (unique per subject) and `erased` in a database of its own.

    No transactions: `erase` marks the subject before deleting its key, and `keys_for` checks the mark
    again after making a key, so a key made while an erasure runs is deleted, never used."""

    def __init__(self, uri: str, database: str, server_selection_timeout: float = 2.0) -> None:
        self.uri = uri
        self.database_name = database
        self._timeout_ms = int(server_selection_timeout * 1000)
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self._indexed = False

    async def open(self) -> MongoKeyVault:
        self._client = AsyncMongoClient(
            self.uri,
            appname="strefa-klienta-vault",
            serverSelectionTimeoutMS=self._timeout_ms,
            connectTimeoutMS=self._timeout_ms,
        )
        return self

    @property
    def db(self) -> AsyncDatabase[dict[str, Any]]:
        if self._client is None:
            raise RuntimeError("key vault is not open")
        return self._client[self.database_name]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def drop_database(self) -> None:
        """Tests only."""
        if self._client is not None:
            await self._client.drop_database(self.database_name)

    @contextlib.asynccontextmanager
    async def _reachable(self, what: str) -> AsyncIterator[None]:
        """The driver's error only by its type (it stays the `__cause__`): its message names the servers."""
        try:
            if not self._indexed:
                await self.db["keys"].create_index([("subject", ASCENDING)], name="ix_subject", unique=True)
                self._indexed = True
            yield
        except ConnectionFailure as error:
            raise StoreUnavailable(f"key vault unavailable during {what} ({type(error).__name__})") from error

    async def ping(self) -> None:
        async with self._reachable("ping"):
            await self.db.command("ping")

    async def _first_erased(self, subjects: Collection[str]) -> str | None:
        found = await self.db["erased"].find_one({"_id": {"$in": list(subjects)}})
        return str(found["_id"]) if found else None

    async def _stored(self, subjects: Collection[str]) -> dict[str, SubjectKey]:
        cursor = self.db["keys"].find({"subject": {"$in": list(subjects)}})
        return {doc["subject"]: SubjectKey(doc["_id"], bytes(doc["secret"])) async for doc in cursor}

    async def keys_for(self, subjects: Collection[str]) -> dict[str, SubjectKey]:
        if not subjects:
            return {}
        async with self._reachable("keys_for"):
            if (erased := await self._first_erased(subjects)) is not None:
                raise SubjectErased(erased)
            keys = await self._stored(subjects)
            missing = [subject for subject in subjects if subject not in keys]
            for subject in missing:
                key = new_key()
                with contextlib.suppress(DuplicateKeyError):  # another process made it first: use that one
                    doc = {"_id": key.key_id, "subject": subject, "secret": key.secret, "created_at": utc_now()}
                    await self.db["keys"].insert_one(doc)
            if missing:
                keys.update(await self._stored(missing))
                if (erased := await self._first_erased(missing)) is not None:
                    await self.db["keys"].delete_many({"subject": erased})
                    raise SubjectErased(erased)
        return keys

    async def find(self, key_ids: Collection[str]) -> dict[str, bytes]:
        if not key_ids:
            return {}
        async with self._reachable("find"):
            cursor = self.db["keys"].find({"_id": {"$in": list(key_ids)}})
            return {doc["_id"]: bytes(doc["secret"]) async for doc in cursor}

    async def delete(self, subject: str) -> bool:
        async with self._reachable("delete"):
            result = await self.db["keys"].delete_many({"subject": subject})
        return result.deleted_count > 0

    async def erase(self, subject: str) -> bool:
        async with self._reachable("erase"):
            await self.db["erased"].update_one(
                {"_id": subject}, {"$setOnInsert": {"erased_at": utc_now()}}, upsert=True
            )
            result = await self.db["keys"].delete_many({"subject": subject})
        return result.deleted_count > 0

    async def erased(self, subject: str) -> bool:
        async with self._reachable("erased"):
            return await self._first_erased([subject]) is not None
