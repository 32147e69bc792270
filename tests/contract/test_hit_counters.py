"""Counters shared by every process of a service (identity's rate limits): `DocumentStore.add_hit`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from libs.events.docstore import Collection, DocumentStore, HitWindow, Index, stamp
from libs.events.mongo_docstore import MongoDocumentStore

HOUR = timedelta(hours=1)
T0 = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)


def counters() -> Collection:
    return Collection(f"limits_{uuid4().hex[:8]}", (Index.on("expires_at"),))


async def test_hits_count_in_a_window_that_starts_at_the_first_hit(document_store: DocumentStore) -> None:
    coll = counters()
    first = await document_store.add_hit(coll, "login-ip:a", T0, HOUR)
    second = await document_store.add_hit(coll, "login-ip:a", T0 + timedelta(minutes=59), HOUR)
    other = await document_store.add_hit(coll, "login-ip:b", T0 + timedelta(minutes=59), HOUR)
    assert (first, second) == (HitWindow(T0, 1), HitWindow(T0, 2))
    assert other == HitWindow(T0 + timedelta(minutes=59), 1)
    stored = await document_store.get(coll, "login-ip:a")
    assert stored is not None
    assert (stored["last"], stored["expires_at"]) == (stamp(T0 + timedelta(minutes=59)), stamp(T0 + HOUR))


async def test_a_hit_after_the_window_expired_starts_a_new_one(document_store: DocumentStore) -> None:
    coll = counters()
    for _ in range(3):
        await document_store.add_hit(coll, "k", T0, HOUR)
    assert await document_store.add_hit(coll, "k", T0 + HOUR, HOUR) == HitWindow(T0 + HOUR, 1)
    assert await document_store.add_hit(coll, "k", T0 + HOUR, HOUR) == HitWindow(T0 + HOUR, 2)


async def test_expired_counters_are_found_by_their_expiry(document_store: DocumentStore) -> None:
    coll = counters()
    await document_store.add_hit(coll, "old", T0, timedelta(minutes=1))
    await document_store.add_hit(coll, "new", T0, HOUR)
    expired = await document_store.find(coll, {"expires_at": {"$lte": stamp(T0 + timedelta(minutes=5))}})
    assert [doc["_id"] for doc in expired] == ["old"]


async def test_hits_from_two_connections_at_once_are_each_counted_once(
    document_store_pair: tuple[DocumentStore, DocumentStore],
) -> None:
    coll = counters()
    first, second = document_store_pair
    if isinstance(first, MongoDocumentStore) and "ferretdbVersion" in await first.db.command("buildInfo"):
        pytest.skip(
            "FerretDB 1.24 applies concurrent updates of one document without isolation, so hits at the same "
            "moment may be lost there; MongoDB updates a single document atomically"
        )
    await first.ensure(coll)
    await second.ensure(coll)
    windows = await asyncio.gather(*(store.add_hit(coll, "burst", T0, HOUR) for store in (first, second) * 20))
    assert sorted(window.hits for window in windows) == list(range(1, 41))
    assert {window.start for window in windows} == {T0}


async def test_a_sliding_window_lasts_until_a_quiet_window_after_the_latest_hit(document_store: DocumentStore) -> None:
    coll = counters()
    for minutes in (0, 50, 100):
        window = await document_store.add_hit(coll, "failures", T0 + timedelta(minutes=minutes), HOUR, sliding=True)
    assert window == HitWindow(T0, 3)
    stored = await document_store.get(coll, "failures")
    assert stored is not None
    assert stored["expires_at"] == stamp(T0 + timedelta(minutes=160))
    later = T0 + timedelta(minutes=160)
    assert await document_store.add_hit(coll, "failures", later, HOUR, sliding=True) == HitWindow(later, 1)
