"""Collection versions: a projection's documents live in a physical collection chosen by an alias.

The logical collection (`invoices`, as the service's queries name it) resolves through the
`_aliases` collection to the active physical one: `invoices` itself (version 0, before any rebuild)
or `invoices__v<N>`. `VersionedDocumentStore` wraps any `DocumentStore` and resolves the alias on
every call, so queries keep using the logical `Collection` and notice a switch at once:

- queries cache the alias for `alias_ttl` (0.5 s): on SQLite the read is a primary-key lookup in
  the same file, and a switch made by another process (the ops CLI) is seen by the running portal
  within that time (WAL readers see every committed write); a switch made through this store is
  seen at once;
- projection runners read the alias afresh before every batch (`VersionedProjectionRunner`);
- on MongoDB the same holds with one `find_one` on the alias document; a switch is one replace
  (upsert) of that document, atomic on its own, so no transaction is needed.

The ops tool drops the old physical collection only a grace period (default 2 s, more than
`alias_ttl`) after the switch, so a query or a batch that resolved the alias before the switch still
finds its collection. A batch can still write to the old version after the drop (a short grace, a
batch that took longer), which re-creates it: so the drop is marked in the alias first
(`dropped_below`), and the alias read that starts a live runner's next batch, the first read after the
write, checks the version the previous batch wrote to: when it is marked dropped, the runner drops it
again (`drop_version`, idempotent) and follows the new version. Either that read comes after the mark,
or the write came before the ops tool's drop: nothing the batch wrote survives, and a batch costs no
read of its own for it (a runner starts its next batch, and so makes that read, right after a batch).

The bookkeeping collections (checkpoints, consumer status, dead letters, the aliases themselves) are
never aliased.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog

from libs.events.docstore import Collection, Document, DocumentStore, Filter, HitWindow, Sort
from libs.events.envelope import DomainEvent, RecordedEvent, utc_now
from libs.events.eventlog import CHECKPOINTS, LogConsumer
from libs.events.pii import PersonalData
from libs.events.projection import ConsumerStatus, DeadLetterSink, Projection, ProjectionRunner, already_applied
from libs.events.registry import EventRegistry

log = structlog.get_logger(__name__)

ALIASES = Collection("_aliases")
BOOKKEEPING = frozenset({ALIASES.name, "_checkpoints", "_consumers", "_dead_letters"})


def physical_name(logical: str, version: int) -> str:
    return logical if version == 0 else f"{logical}__v{version}"


def group_name(service: str, projection: str, version: int) -> str:
    """The consumer group (checkpoint) of one version of a projection: each version has its own."""
    return f"{service}.{projection}" if version == 0 else f"{service}.{projection}@v{version}"


@dataclass(frozen=True)
class Alias:
    logical: str
    version: int = 0
    highest: int = 0
    """The highest version ever made (a rebuild that was interrupted leaves one unused)."""
    lease_until: datetime | None = None
    """While set and in the future, the ops tool is filling the active version: live runners wait."""
    dropped_below: int = 0
    """Every version below this one is dropped, or is being dropped (set just before the drop)."""

    @property
    def active(self) -> str:
        return physical_name(self.logical, self.version)

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    def to_doc(self) -> Document:
        return {
            "_id": self.logical,
            "active": self.active,
            "version": self.version,
            "highest": self.highest,
            "lease_until": self.lease_until.isoformat() if self.lease_until else None,
            "dropped_below": self.dropped_below,
        }

    @classmethod
    def from_doc(cls, logical: str, doc: Document | None) -> Alias:
        if not doc:
            return cls(logical)
        lease = doc.get("lease_until")
        version = int(doc.get("version", 0))
        return cls(
            logical,
            version,
            max(version, int(doc.get("highest", 0))),
            datetime.fromisoformat(lease) if lease else None,
            int(doc.get("dropped_below", 0)),
        )


class VersionedDocumentStore:
    """A `DocumentStore` resolving each logical collection to its active version (see module doc)."""

    alias_ttl = 0.5

    def __init__(self, inner: DocumentStore) -> None:
        self.inner = inner
        self._cached: dict[str, tuple[float, str]] = {}

    async def alias(self, logical: str) -> Alias:
        """Read afresh (not cached)."""
        alias = Alias.from_doc(logical, await self.inner.get(ALIASES, logical))
        self._cached[logical] = (time.monotonic() + self.alias_ttl, alias.active)
        return alias

    async def save_alias(self, alias: Alias) -> None:
        """The switch: one upsert of one document."""
        await self.inner.upsert_many(ALIASES, [alias.to_doc()])
        self._cached[alias.logical] = (time.monotonic() + self.alias_ttl, alias.active)

    async def physical(self, collection: Collection) -> Collection:
        if collection.name in BOOKKEEPING:
            return collection
        cached = self._cached.get(collection.name)
        active = cached[1] if cached and cached[0] > time.monotonic() else (await self.alias(collection.name)).active
        return collection if active == collection.name else replace(collection, name=active)

    async def ensure(self, collection: Collection) -> None:
        await self.inner.ensure(await self.physical(collection))

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        return await self.inner.get(await self.physical(collection), doc_id)

    async def get_many(self, collection: Collection, doc_ids: Sequence[str]) -> dict[str, Document]:
        return await self.inner.get_many(await self.physical(collection), doc_ids)

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        if docs:
            await self.inner.upsert_many(await self.physical(collection), docs)

    async def find(
        self,
        collection: Collection,
        filter_: Filter | None = None,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
    ) -> list[Document]:
        physical = await self.physical(collection)
        return await self.inner.find(physical, filter_, sort, limit, skip)

    async def count(self, collection: Collection, filter_: Filter | None = None) -> int:
        return await self.inner.count(await self.physical(collection), filter_)

    async def delete(self, collection: Collection, doc_ids: Sequence[str]) -> None:
        await self.inner.delete(await self.physical(collection), doc_ids)

    async def drop(self, collection: Collection) -> None:
        await self.inner.drop(await self.physical(collection))

    async def add_hit(
        self, collection: Collection, doc_id: str, now: datetime, window: timedelta, *, sliding: bool = False
    ) -> HitWindow:
        return await self.inner.add_hit(await self.physical(collection), doc_id, now, window, sliding=sliding)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


def versioned(store: DocumentStore) -> VersionedDocumentStore:
    return store if isinstance(store, VersionedDocumentStore) else VersionedDocumentStore(store)


async def drop_version(store: DocumentStore, service: str, projection: Projection, version: int) -> None:
    """Drops one version of a projection from the (unaliased) store: its collection and its checkpoint."""
    await store.drop(replace(projection.collection, name=physical_name(projection.collection.name, version)))
    await store.delete(CHECKPOINTS, [group_name(service, projection.name, version)])


class VersionedProjectionRunner(ProjectionRunner):
    """The live runner of a projection: before each batch it reads the alias and, when the active
    version changed (a rebuild or reset switched it), hands over to that version's consumer group,
    i.e. its checkpoint. While the ops tool holds a lease on the active version it waits.

    Each batch is pinned to the physical version resolved at its start: its reads and writes go to
    that one collection, so a batch of the old version's group never writes into the new version
    (which would overwrite newer documents with older ones). A batch whose collection disappeared
    under it (dropped after a switch) is abandoned uncommitted and the new version's group goes on.
    A batch that wrote to a version dropped meanwhile has re-created it: the alias read of the next
    batch notices and the runner drops it again (see the module doc).
    """

    def __init__(
        self,
        projection: Projection,
        consumer_for: Callable[[int], LogConsumer],
        store: VersionedDocumentStore,
        registry: EventRegistry,
        *,
        service: str,
        personal: PersonalData | None,
        dead_letter_sink: DeadLetterSink | None = None,
    ) -> None:
        super().__init__(
            projection,
            consumer_for(0),
            store.inner,
            registry,
            service=service,
            personal=personal,
            dead_letter_sink=dead_letter_sink,
        )
        self.logical = projection
        self.versions = store
        self.consumer_for = consumer_for
        self.version: int | None = None
        self._written_to: int | None = None
        """The version the previous batch wrote to, until an alias read made after that write checked it."""

    async def sync_version(self) -> Alias:
        """Reads the alias, follows the active version's consumer group and pins the collection."""
        alias = await self.versions.alias(self.logical.collection.name)
        if alias.version != self.version:
            if self.version is not None:
                await self.consumer.close()
                log.info("projection_version_switched", consumer=self.name, version=alias.version)
            if self.version is not None or alias.version != 0:
                self.consumer = self.consumer_for(alias.version)
            self.version = alias.version
        self.projection = replace(self.logical, collection=replace(self.logical.collection, name=alias.active))
        return alias

    async def run_once(self) -> int:
        alias = await self.sync_version()
        await self._drop_if_rewritten(alias)
        if alias.leased(utc_now()):
            await asyncio.sleep(self.idle_timeout)
            return 0
        self._written_to = alias.version  # from here on it may write, even if cancelled or failing midway
        try:
            events = await super().run_once()
        except Exception:
            current = await self.versions.alias(self.logical.collection.name)
            await self._drop_if_rewritten(current)
            if current.version == alias.version:
                raise
            log.info("batch_abandoned_after_switch", consumer=self.name, version=alias.version)
            return 0
        return events

    async def _drop_if_rewritten(self, current: Alias) -> None:
        """`current` was read after the previous batch's writes: when the version they went to was dropped
        meanwhile, drops what they re-created of it."""
        written_to = self._written_to
        if written_to is not None and written_to < current.dropped_below:
            await drop_version(self.versions.inner, self.service, self.logical, written_to)
            log.info("dropped_version_removed_again", consumer=self.name, version=written_to)
        self._written_to = None  # kept while the drop fails: the next attempt's read checks again

    async def stop(self) -> None:
        """Stops; a batch written since the last alias read is checked once more, so a runner stopped
        right after a late batch (a rollout, a scale-down) leaves nothing of a dropped version behind."""
        await super().stop()
        if self._written_to is not None:
            with contextlib.suppress(Exception):  # the store is down: the next rebuild's sweep drops it
                await self._drop_if_rewritten(await self.versions.alias(self.logical.collection.name))

    async def current_status(self) -> ConsumerStatus:
        await self.sync_version()
        return await super().current_status()

    async def held_by_documents(self, event: RecordedEvent, data: DomainEvent) -> bool:
        """Whether every document this event touches already holds it (or a later event of its stream)."""
        await self.sync_version()
        keys = list(dict.fromkeys(self.projection.keys(data, event)))
        docs = await self.store.get_many(self.projection.collection, keys)
        return bool(keys) and all(already_applied(docs.get(key), event) for key in keys)


LEASE = timedelta(seconds=30)
