"""Read-model document store port: JSON documents keyed by `_id`, queried on declared indexes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

Document = dict[str, Any]
Filter = Mapping[str, Any]
"""`{field: value}` or `{field: {"$in" | "$nin" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte": value}}`,
all conditions combined with AND, on `_id` or declared index fields only."""
Sort = Sequence[tuple[str, Literal[1, -1]]]

OPERATORS = frozenset({"$in", "$nin", "$ne", "$gt", "$gte", "$lt", "$lte"})


class StoreUnavailable(Exception):
    """The read-model store cannot be reached: answer 503, retry later, lose nothing."""


class DuplicateKey(Exception):
    """An upsert would put two documents under one key of a unique index."""


class UndeclaredIndex(ValueError):
    def __init__(self, collection: str, field_name: str) -> None:
        super().__init__(f"collection {collection!r} has no declared index on {field_name!r}")


@dataclass(frozen=True)
class Index:
    fields: tuple[str, ...]
    unique: bool = False

    @classmethod
    def on(cls, *fields: str, unique: bool = False) -> Index:
        return cls(tuple(fields), unique)


@dataclass(frozen=True)
class Collection:
    name: str
    indexes: tuple[Index, ...] = field(default=())

    def indexed_fields(self) -> frozenset[str]:
        return frozenset({"_id", *(name for index in self.indexes for name in index.fields)})

    def check_query(self, filter_: Filter, sort: Sort = ()) -> None:
        indexed = self.indexed_fields()
        for name, condition in filter_.items():
            if name not in indexed:
                raise UndeclaredIndex(self.name, name)
            if isinstance(condition, Mapping):
                unknown = set(condition) - OPERATORS
                if unknown:
                    raise ValueError(f"unsupported operators {sorted(unknown)} on {name!r}")
        for name, _direction in sort:
            if name not in indexed:
                raise UndeclaredIndex(self.name, name)


def stamp(moment: datetime) -> str:
    """A moment as stored in documents: UTC ISO 8601 to the microsecond, so stamps compare as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class HitWindow:
    """A counter's current window: when it started and the hits counted in it so far (this one included)."""

    start: datetime
    hits: int

    @classmethod
    def from_doc(cls, doc: Document) -> HitWindow:
        return cls(datetime.fromisoformat(doc["start"]), int(doc["hits"]))


def fresh_window(doc_id: str, now: datetime, window: timedelta) -> Document:
    """A counter document (see `DocumentStore.add_hit`) whose window starts with this hit."""
    return {"_id": doc_id, "start": stamp(now), "last": stamp(now), "hits": 1, "expires_at": stamp(now + window)}


class DocumentStore(Protocol):
    """Every adapter passes tests/contract/test_document_store.py."""

    async def ensure(self, collection: Collection) -> None:
        """Creates the collection and its indexes if missing (idempotent)."""

    async def get(self, collection: Collection, doc_id: str) -> Document | None: ...

    async def get_many(self, collection: Collection, doc_ids: Sequence[str]) -> dict[str, Document]: ...

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        """Replaces or inserts whole documents by `_id`; a duplicate on a unique index raises."""

    async def find(
        self,
        collection: Collection,
        filter_: Filter | None = None,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
    ) -> list[Document]: ...

    async def count(self, collection: Collection, filter_: Filter | None = None) -> int: ...

    async def delete(self, collection: Collection, doc_ids: Sequence[str]) -> None: ...

    async def drop(self, collection: Collection) -> None: ...

    async def add_hit(
        self, collection: Collection, doc_id: str, now: datetime, window: timedelta, *, sliding: bool = False
    ) -> HitWindow:
        """Counts one hit on the counter `doc_id`, atomically for every process using the store, and
        returns its current window. A window starts at the first hit after the previous one expired and
        lasts `window`; `sliding`: it lasts until `window` after the latest hit (forgotten after a quiet
        `window`). The counter is the document `{_id, start, last, hits, expires_at}` (`stamp`s);
        `collection` declares an index on `expires_at` so expired counters can be found and deleted."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
