"""Snapshots: an aggregate's state at a stream version, so a long stream is not folded from its start on
every command. Opt-in per aggregate (`Aggregate.snapshot`); the command handler reads and writes them.

A snapshot is a cache, never the source of truth. It names the stream version it was taken at and the id
of the event at that version, and the shape of the state (`SnapshotCodec.schema`): the handler folds the
whole stream instead whenever a snapshot is missing, unreadable, of another schema, or not of this stream
(the event at its version is another one: a store restored or recreated). Writing one is best effort.

It also remembers which events at or before its version have ids derived from an idempotency key (uuid5,
`idempotent_event_ids`), by their first 8 bytes: a call repeated with its key after a snapshot is found
without reading the stream, unless the snapshot says it may be there (then the handler reads it all).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from libs.events.docstore import Collection, Document, DocumentStore

S = TypeVar("S")

SNAPSHOTS = Collection("_snapshots")
"""One document per stream (`_id` = stream id), in the service's document store beside its read models."""

_DIGEST_BYTES = 8


@dataclass(frozen=True)
class SnapshotCodec(Generic[S]):
    """How an aggregate's state becomes a JSON-able dict and back (money as decimal strings). Only for a
    state of ids and amounts: a snapshot must hold no personal data, as an erasure does not reach it."""

    schema: str
    """Names the state's shape and meaning: a snapshot written under another schema is ignored. Change it
    when the state or `evolve` changes (`shape_of` follows the state's fields on its own)."""
    to_json: Callable[[S], dict[str, Any]]
    from_json: Callable[[Mapping[str, Any]], S]


def shape_of(*types: type) -> str:
    """A short digest of dataclasses' names, field names and annotations, for a `SnapshotCodec.schema`:
    a state whose fields change ignores the old snapshots even if nobody remembers to bump the version."""
    described = [(kind.__qualname__, [(f.name, str(f.type)) for f in dataclasses.fields(kind)]) for kind in types]
    return hashlib.sha256(repr(described).encode()).hexdigest()[:12]


def derived_id_digests(event_ids: Iterable[UUID]) -> frozenset[bytes]:
    """The ids derived from idempotency keys (uuid5) among `event_ids`, each by its first 8 bytes."""
    return frozenset(event_id.bytes[:_DIGEST_BYTES] for event_id in event_ids if event_id.version == 5)


@dataclass(frozen=True)
class Snapshot:
    stream_id: str
    version: int
    """The stream version of the last event folded into `state`."""
    event_id: UUID
    """The id of that event: a snapshot whose event is not at its version in the stream is not of this stream."""
    schema: str
    state: dict[str, Any]
    """The state as `SnapshotCodec.to_json` made it."""
    derived_ids: frozenset[bytes]
    """`derived_id_digests` of every event up to `version`."""

    def may_hold(self, derived_id: UUID) -> bool:
        """False when no event up to `version` has this derived id; True when one may have."""
        return derived_id.bytes[:_DIGEST_BYTES] in self.derived_ids

    def to_doc(self) -> Document:
        return {
            "_id": self.stream_id,
            "schema": self.schema,
            "version": self.version,
            "event_id": str(self.event_id),
            "state": self.state,
            "derived_ids": base64.b64encode(b"".join(sorted(self.derived_ids))).decode(),
        }

    @classmethod
    def from_doc(cls, doc: Document) -> Snapshot:
        """Raises (KeyError, ValueError, TypeError) on a document that is not a whole snapshot."""
        packed = base64.b64decode(doc["derived_ids"], validate=True)
        if len(packed) % _DIGEST_BYTES:
            raise ValueError("derived ids are not whole digests")
        state = doc["state"]
        if not isinstance(state, dict):
            raise TypeError("the state is not an object")
        return cls(
            stream_id=str(doc["_id"]),
            version=int(doc["version"]),
            event_id=UUID(doc["event_id"]),
            schema=str(doc["schema"]),
            state=state,
            derived_ids=frozenset(packed[i : i + _DIGEST_BYTES] for i in range(0, len(packed), _DIGEST_BYTES)),
        )


class SnapshotStore(Protocol):
    async def load(self, stream_id: str) -> Snapshot | None:
        """The stream's latest snapshot, None if there is none; raises if it cannot be read."""

    async def save(self, snapshot: Snapshot) -> None:
        """Replaces the stream's snapshot."""


class DocumentSnapshots:
    """Snapshots in a service's document store: pass the store itself (`ServiceRuntime.documents.inner`),
    not the versioned wrapper, since `_snapshots` is no projection."""

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    async def load(self, stream_id: str) -> Snapshot | None:
        doc = await self._documents.get(SNAPSHOTS, stream_id)
        return None if doc is None else Snapshot.from_doc(doc)

    async def save(self, snapshot: Snapshot) -> None:
        await self._documents.upsert_many(SNAPSHOTS, [snapshot.to_doc()])
