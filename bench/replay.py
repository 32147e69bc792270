"""Projection replay: events per second folded into the read-model store over the MongoDB wire (FerretDB).

Setup (not timed): the cloned log's stores are published to Kafka by the services' relays, as in
the local cluster. Measured: each of billing's projections (and its `access` read model), run by the
live runner of the cluster mode (`VersionedProjectionRunner` over a Kafka consumer group and
`MongoDocumentStore`), from the beginning of its source topics to their end, one after another; the
figure is every event they consumed over the time they took (the consumer group's join is not timed).
The runners open personal fields with the log's key vault, as a service does.
Baseline: the very documents those runners wrote, batch by batch, written again into an empty
database with PyMongo alone: `bulk_write` of `ReplaceOne(upsert=True)`, `ordered=False`.

The database and consumer groups are named as the billing service of this run's namespace names
them, so the cluster HTTP figure can serve the replayed read models right after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne

from bench.core import Figure, Stopwatch, Workspace, per_second, rate_figure
from bench.infra import Infra
from libs.events.access import access_projection
from libs.events.docstore import Collection, Document, DocumentStore, Filter, HitWindow, Sort
from libs.events.kafka import KafkaEventLog
from libs.events.mongo_docstore import MongoDocumentStore, stored_form
from libs.events.pii import PersonalData
from libs.events.projection import Projection
from libs.events.registry import registry
from libs.events.relay import FileCheckpoint, Relay
from libs.events.sqlite_store import SqliteEventStore
from libs.events.vault import SqliteKeyVault
from libs.events.versions import BOOKKEEPING, VersionedProjectionRunner, group_name, versioned
from services.billing.projections import PROJECTIONS

SERVICE = "billing"


@dataclass
class RecordingStore:
    """Passes every call to the real store and keeps each batch of read-model documents written."""

    inner: DocumentStore
    batches: list[tuple[str, list[Document]]] = field(default_factory=list)

    async def ensure(self, collection: Collection) -> None:
        await self.inner.ensure(collection)

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        return await self.inner.get(collection, doc_id)

    async def get_many(self, collection: Collection, doc_ids: Sequence[str]) -> dict[str, Document]:
        return await self.inner.get_many(collection, doc_ids)

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        await self.inner.upsert_many(collection, docs)
        if collection.name not in BOOKKEEPING and docs:
            self.batches.append((collection.name, list(docs)))

    async def find(
        self,
        collection: Collection,
        filter_: Filter | None = None,
        sort: Sort = (),
        limit: int | None = None,
        skip: int = 0,
    ) -> list[Document]:
        return await self.inner.find(collection, filter_, sort, limit, skip)

    async def count(self, collection: Collection, filter_: Filter | None = None) -> int:
        return await self.inner.count(collection, filter_)

    async def delete(self, collection: Collection, doc_ids: Sequence[str]) -> None:
        await self.inner.delete(collection, doc_ids)

    async def drop(self, collection: Collection) -> None:
        await self.inner.drop(collection)

    async def add_hit(
        self, collection: Collection, doc_id: str, now: datetime, window: timedelta, *, sliding: bool = False
    ) -> HitWindow:
        return await self.inner.add_hit(collection, doc_id, now, window, sliding=sliding)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


async def publish_log(infra: Infra, log_dir: Path, services: Sequence[str]) -> dict[str, int]:
    """Publishes each service's store to this run's topics (setup, not timed); events per service."""
    published: dict[str, int] = {}
    for service in services:
        path = log_dir / service / "events.db"
        if not path.exists():
            published[service] = 0
            continue
        store = await SqliteEventStore(path, service).open()
        relay = Relay(service, store, infra.kafka(), FileCheckpoint(log_dir / service / "bench-relay.json"))
        try:
            published[service] = await relay.publish_pending()
        finally:
            await relay.stop()
            await store.close()
    return published


async def replay_projection(
    projection: Projection, infra: Infra, store: RecordingStore, personal: PersonalData, expected: int
) -> tuple[int, float, int]:
    """Runs the projection's live runner from the beginning until it consumed `expected` events:
    (events, seconds, dead letters)."""
    log = KafkaEventLog(infra.kafka())

    def consumer(version: int) -> Any:
        return log.consumer(f"{infra.namespace}.{group_name(SERVICE, projection.name, version)}", projection.sources)

    runner = VersionedProjectionRunner(
        projection, consumer, versioned(store), registry, service=SERVICE, personal=personal
    )
    await runner.load_status()
    await runner.consumer.checkpoints()  # joins the group: not part of the replay
    try:
        watch = Stopwatch()
        while runner.status.processed < expected:
            await runner.run_once()
        return runner.status.processed, watch.elapsed, runner.status.dead_letters
    finally:
        await runner.stop()


async def raw_upserts(uri: str, database: str, batches: Sequence[tuple[str, list[Document]]]) -> float:
    """Seconds to write the same batches with PyMongo alone (documents already in their JSON form)."""
    plain = [
        (name, [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in map(stored_form, docs)])
        for name, docs in batches
    ]
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri)
    try:
        await client.drop_database(database)
        db = client[database]
        watch = Stopwatch()
        for name, requests in plain:
            await db[name].bulk_write(requests, ordered=False)
        return watch.elapsed
    finally:
        await client.drop_database(database)
        await client.close()


def sources_total(projection: Projection, published: Mapping[str, int]) -> int:
    return sum(published.get(source, 0) for source in projection.sources)


async def measure(work: Workspace, infra: Infra, log_dir: Path) -> Figure:
    published = await publish_log(infra, log_dir, ("identity", "contracts", "billing"))
    mongo = await MongoDocumentStore(infra.mongo_uri, infra.database(SERVICE)).open()
    vault = await SqliteKeyVault(log_dir / "vault" / "keys.db").open()
    personal = PersonalData(vault, registry)
    recording = RecordingStore(mongo)
    per_projection: dict[str, dict[str, Any]] = {}
    consumed, seconds = 0, 0.0
    try:
        for projection in (*PROJECTIONS, access_projection):
            expected = sources_total(projection, published)
            events, elapsed, dead = await replay_projection(projection, infra, recording, personal, expected)
            per_projection[projection.name] = {"events": events, "seconds": round(elapsed, 3), "dead_letters": dead}
            consumed += events
            seconds += elapsed
    finally:
        await mongo.close()
        await vault.close()
    # one round: on FerretDB a round takes as long as the replay itself
    raw_seconds = [await raw_upserts(infra.mongo_uri, f"{infra.namespace}raw_{SERVICE}", recording.batches)]
    documents = sum(len(docs) for _, docs in recording.batches)
    return rate_figure(
        "replay.mongo",
        "Projection replay into the read-model store (MongoDB wire)",
        "cluster",
        "events/s",
        per_second(consumed, seconds),
        per_second(consumed, min(raw_seconds)),
        "PyMongo bulk_write of the same documents, ReplaceOne upserts, ordered=False",
        0.5,
        {
            "projections": [p.name for p in (*PROJECTIONS, access_projection)],
            "service": SERVICE,
            "source_events": published,
            "log": "Kafka (3 partitions per topic), published by the relays",
            "runner": "VersionedProjectionRunner, batches of 500",
            "store": "MongoDocumentStore on FerretDB",
            "raw_rounds": 1,
        },
        {
            "per_projection": per_projection,
            "documents_written": documents,
            "dead_letters": sum(int(item["dead_letters"]) for item in per_projection.values()),
            "upsert_batches": len(recording.batches),
            "raw_seconds": [round(value, 3) for value in raw_seconds],
            "replay_seconds": round(seconds, 3),
        },
    )
