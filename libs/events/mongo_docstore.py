"""MongoDB read-model store through PyMongo's async API (AsyncMongoClient, the successor of Motor).

Only what both MongoDB 7+ and FerretDB 1.24 support: plain CRUD, bulk writes, single- and multi-field
indexes (unique ones too). No transactions, change streams or $lookup: a batch of upserts is not
atomic (`ordered=False`), which the projections' per-document `_applied` guard makes safe to repeat.
Unlike the SQLite store, a batch refused with DuplicateKey may have written some of its documents.
An unreachable server raises StoreUnavailable after `server_selection_timeout` (2 s), never hangs.

Documents are stored as their JSON form (the same codec as the SQLite store), so both adapters hold
exactly the same values: Decimal as a string, tuples as lists.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure

from libs.events import jsonutil
from libs.events.docstore import (
    Collection,
    Document,
    DuplicateKey,
    Filter,
    HitWindow,
    Sort,
    StoreUnavailable,
    fresh_window,
    stamp,
)

_DUPLICATE_KEY = 11000
_CHUNK = 500
"""Documents per command: far below the 16 MB command and 100 000 writes limits for read-model documents."""
_POINT_LOOKUPS = 16
"""Up to this many ids are read with one `_id` equality query each, concurrently. FerretDB 1.24 on its
SQLite backend answers an `_id` equality from its primary key but scans the whole collection for an
`$in` (bench/notes.md: ~0.9 s for 10 ids among 3,000 documents against ~50 ms for one); MongoDB answers
both from the `_id` index. Requests read a handful of documents by id (the caller's access entries,
a ledger); projection batches read hundreds and keep `$in`."""


def _value(value: Any) -> Any:
    """A filter value as the SQLite store compares it: JSON scalars as they are, anything else as text."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _query(collection: Collection, filter_: Filter | None, sort: Sort = ()) -> dict[str, Any]:
    filter_ = filter_ or {}
    collection.check_query(filter_, sort)
    query: dict[str, Any] = {}
    for name, condition in filter_.items():
        if isinstance(condition, Mapping):
            query[name] = {
                op: [_value(v) for v in value] if op in ("$in", "$nin") else _value(value)
                for op, value in condition.items()
            }
        else:
            query[name] = _value(condition)
    return query


def stored_form(doc: Document) -> Document:
    """A document as this store writes it: its JSON form (Decimal as a string, tuples as lists, as in
    the SQLite store), with a string `_id`."""
    plain: Document = jsonutil.loads(jsonutil.dumps({**doc, "_id": str(doc["_id"])}))
    return plain


@asynccontextmanager
async def _reachable(what: str) -> AsyncIterator[None]:
    """Turns "cannot reach the server" (after the client's bounded timeouts) into StoreUnavailable: the
    driver's error only by its type, as its message names the servers (it stays the `__cause__`)."""
    try:
        yield
    except ConnectionFailure as error:  # server selection timeout, network error, socket timeout
        raise StoreUnavailable(f"MongoDB unavailable during {what} ({type(error).__name__})") from error


class MongoDocumentStore:
    def __init__(
        self,
        uri: str,
        database: str,
        server_selection_timeout: float = 2.0,
        socket_timeout: float = 30.0,
    ) -> None:
        self.uri = uri
        self.database_name = database
        self._selection_ms = int(server_selection_timeout * 1000)
        self._socket_ms = int(socket_timeout * 1000)
        self._client: AsyncMongoClient[Document] | None = None
        self._ensured: set[str] = set()

    async def open(self) -> MongoDocumentStore:
        """Creates the client (connections are made lazily: an unreachable server shows in ping)."""
        self._client = AsyncMongoClient(
            self.uri,
            appname="strefa-klienta",
            serverSelectionTimeoutMS=self._selection_ms,
            connectTimeoutMS=self._selection_ms,
            socketTimeoutMS=self._socket_ms,
        )
        return self

    @property
    def db(self) -> AsyncDatabase[Document]:
        if self._client is None:
            raise RuntimeError("document store is not open")
        return self._client[self.database_name]

    def _coll(self, collection: Collection) -> AsyncCollection[Document]:
        return self.db[collection.name]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ping(self) -> None:
        async with _reachable("ping"):
            await self.db.command("ping")

    async def ensure(self, collection: Collection) -> None:
        if collection.name in self._ensured:
            return
        async with _reachable(f"ensure {collection.name}"):
            for index in collection.indexes:
                name = "ix_" + "__".join(index.fields)
                keys = [(field, ASCENDING) for field in index.fields]
                await self._coll(collection).create_index(keys, name=name, unique=index.unique)
        self._ensured.add(collection.name)

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        found = await self.get_many(collection, [doc_id])
        return found.get(doc_id)

    async def get_many(self, collection: Collection, doc_ids: Sequence[str]) -> dict[str, Document]:
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        await self.ensure(collection)
        found: dict[str, Document] = {}
        async with _reachable(f"get in {collection.name}"):
            if len(ids) <= _POINT_LOOKUPS:
                coll = self._coll(collection)
                docs = await asyncio.gather(*(coll.find_one({"_id": doc_id}) for doc_id in ids))
                return {doc["_id"]: doc for doc in docs if doc is not None}
            for start in range(0, len(ids), _CHUNK):
                query = {"_id": {"$in": ids[start : start + _CHUNK]}}
                found.update({doc["_id"]: doc async for doc in self._coll(collection).find(query)})
        return found

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        """One `update` command per chunk of whole-document upserts by `_id` (ordered=False).

        This is what `bulk_write([ReplaceOne(..., upsert=True)], ordered=False)` sends; the command is
        issued directly because FerretDB 1.24 answers a duplicate key without the `nModified` field that
        PyMongo's bulk API requires (KeyError instead of BulkWriteError)."""
        if not docs:
            return
        await self.ensure(collection)
        updates = [{"q": {"_id": plain["_id"]}, "u": plain, "upsert": True} for plain in map(stored_form, docs)]
        async with _reachable(f"upsert into {collection.name}"):
            for start in range(0, len(updates), _CHUNK):
                chunk = updates[start : start + _CHUNK]
                reply = await self.db.command({"update": collection.name, "updates": chunk, "ordered": False})
                errors = reply.get("writeErrors") or []
                duplicates = [error for error in errors if error.get("code") == _DUPLICATE_KEY]
                if duplicates:
                    raise DuplicateKey(f"{collection.name}: {duplicates[0].get('errmsg', '')}")
                if errors:
                    raise OperationFailure(f"{collection.name}: upsert failed: {errors[0]}", errors[0].get("code"))

    async def find(
        self,
        collection: Collection,
        filter_: Filter | None = None,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
    ) -> list[Document]:
        query = _query(collection, filter_, sort)
        await self.ensure(collection)
        cursor = self._coll(collection).find(query)
        if sort:
            cursor = cursor.sort([(name, ASCENDING if direction == 1 else DESCENDING) for name, direction in sort])
        if skip:
            cursor = cursor.skip(skip)
        if limit is not None:
            if limit == 0:
                return []
            cursor = cursor.limit(limit)
        async with _reachable(f"find in {collection.name}"):
            return await cursor.to_list()

    async def count(self, collection: Collection, filter_: Filter | None = None) -> int:
        query = _query(collection, filter_)
        await self.ensure(collection)
        async with _reachable(f"count in {collection.name}"):
            return await self._coll(collection).count_documents(query)

    async def delete(self, collection: Collection, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        await self.ensure(collection)
        async with _reachable(f"deletion in {collection.name}"):
            await self._coll(collection).delete_many({"_id": {"$in": list(doc_ids)}})

    async def add_hit(
        self, collection: Collection, doc_id: str, now: datetime, window: timedelta, *, sliding: bool = False
    ) -> HitWindow:
        await self.ensure(collection)
        coll = self._coll(collection)
        extended = {"expires_at": stamp(now + window)} if sliding else {}
        async with _reachable(f"add_hit {collection.name}"):
            for _ in range(3):
                counted = await coll.find_one_and_update(
                    {"_id": doc_id, "expires_at": {"$gt": stamp(now)}},
                    {"$inc": {"hits": 1}, "$set": {"last": stamp(now)} | extended},
                    return_document=ReturnDocument.AFTER,
                )
                if counted is not None:
                    return HitWindow.from_doc(counted)
                fresh = fresh_window(doc_id, now, window)
                try:  # no counter, or an expired one: this hit starts the window, unless another process's did
                    await coll.replace_one({"_id": doc_id, "expires_at": {"$lte": stamp(now)}}, fresh, upsert=True)
                except DuplicateKeyError:
                    continue
                return HitWindow.from_doc(fresh)
        raise StoreUnavailable(f"add_hit {collection.name}: the counter kept changing under three tries")

    async def drop(self, collection: Collection) -> None:
        async with _reachable(f"drop {collection.name}"):
            await self._coll(collection).drop()
        self._ensured.discard(collection.name)

    async def drop_database(self) -> None:
        """Removes this store's whole database (tests and throw-away environments)."""
        async with _reachable(f"drop database {self.database_name}"):
            await self.db.client.drop_database(self.database_name)
        self._ensured.clear()
