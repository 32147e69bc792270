"""The blob port's listing and conditional delete, and the sweep of blobs no event refers to, on the real
file blob store and the real SQLite event store."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pytest

from libs.events.blobs import BlobRef, BlobSweeper, FileBlobStore, StoredBlob
from libs.events.envelope import DomainEvent, NewEvent, RecordedEvent, utc_now
from libs.events.pii import SEALED_PREFIX, Personal, PersonalData, PersonalDataStore, Subject
from libs.events.registry import EventRegistry
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import NO_STREAM, WrongExpectedVersion
from libs.events.vault import SqliteKeyVault
from tests.helpers import eventually

GRACE = timedelta(hours=1)


def stream_of(key: str) -> str | None:
    folder, _, rest = key.partition("/")
    return f"test-thing-{rest.split('/')[0]}" if folder == "things" else None


def published(ref: BlobRef) -> NewEvent:
    return NewEvent(type="ThingPublished", version=1, data={"thing": {"files": [{"file": ref.model_dump()}]}})


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    store = await SqliteEventStore(tmp_path / "events.db", "test").open()
    yield store
    await store.close()


def sweeper(blobs: FileBlobStore, events: Any, after: timedelta = timedelta(0)) -> BlobSweeper:
    return BlobSweeper(blobs, events, stream_of, GRACE, clock=lambda: utc_now() + after)


async def listed(blobs: FileBlobStore) -> dict[str, StoredBlob]:
    return {blob.key: blob async for blob in blobs.scan()}


async def test_the_listing_gives_each_blob_with_its_size_and_time_and_no_temporary_file(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    before = utc_now() - timedelta(seconds=1)
    await blobs.put("things/1/a.pdf", b"%PDF-1", "application/pdf")
    await blobs.put("other/2.png", b"png", "image/png")
    (tmp_path / "blobs" / "things" / "1" / ".a.pdf.123.tmp").write_bytes(b"half")
    found = await listed(blobs)
    assert set(found) == {"things/1/a.pdf", "other/2.png"}
    assert found["things/1/a.pdf"].size == 6
    assert before <= found["things/1/a.pdf"].created_at <= utc_now()
    assert {blob.key async for blob in blobs.scan("things/")} == {"things/1/a.pdf"}


async def test_a_blob_written_again_after_the_listing_is_not_deleted(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    await blobs.put("things/1/a.pdf", b"first", "application/pdf")
    seen = (await listed(blobs))["things/1/a.pdf"]
    await blobs.put("things/1/a.pdf", b"again", "application/pdf")
    assert await blobs.delete_if_unchanged(seen) is False
    assert await blobs.get("things/1/a.pdf") == b"again"
    assert [path.name for path in (tmp_path / "blobs" / "things" / "1").iterdir()] == ["a.pdf"]

    unchanged = (await listed(blobs))["things/1/a.pdf"]
    assert await blobs.delete_if_unchanged(unchanged) is True
    assert await listed(blobs) == {}
    assert await blobs.delete_if_unchanged(unchanged) is False


async def test_a_blob_whose_append_failed_is_swept_once_past_the_grace_and_a_referenced_one_never(
    tmp_path: Path, events: SqliteEventStore
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    kept = await blobs.put("things/1/kept.pdf", b"referenced", "application/pdf")
    await events.append("test-thing-1", [published(kept)], NO_STREAM)
    orphan = await blobs.put("things/2/orphan.pdf", b"lost", "application/pdf")
    with pytest.raises(WrongExpectedVersion):
        await events.append("test-thing-1", [published(orphan)], NO_STREAM)

    assert await sweeper(blobs, events).sweep() == []
    assert await sweeper(blobs, events, GRACE - timedelta(minutes=1)).sweep() == []
    (swept,) = await sweeper(blobs, events, GRACE + timedelta(seconds=1)).sweep()
    assert (swept.key, swept.size) == ("things/2/orphan.pdf", 4)
    assert set(await listed(blobs)) == {"things/1/kept.pdf"}
    assert await sweeper(blobs, events, timedelta(days=3650)).sweep() == []
    assert await blobs.get("things/1/kept.pdf") == b"referenced"


async def test_a_key_the_service_does_not_make_is_left_alone(tmp_path: Path, events: SqliteEventStore) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    await blobs.put("elsewhere/x.pdf", b"not ours", "application/pdf")
    assert await sweeper(blobs, events, timedelta(days=30)).sweep() == []
    assert set(await listed(blobs)) == {"elsewhere/x.pdf"}


class _Unreachable:
    """The event store, unreachable until `back` is set."""

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store
        self.back = False
        self.calls = 0

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[Any]:
        self.calls += 1
        if not self.back:
            raise ConnectionError("event store unreachable")
        return await self.store.read_stream(stream_id, from_version)


async def test_an_unreachable_event_store_deletes_nothing_and_the_next_sweep_tries_again(
    tmp_path: Path, events: SqliteEventStore
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    await blobs.put("things/3/orphan.pdf", b"lost", "application/pdf")
    flaky = _Unreachable(events)
    loop = asyncio.create_task(sweeper(blobs, flaky, GRACE * 2).sweep_forever(0.01))
    try:
        await eventually(lambda: flaky.calls >= 2, what="two sweeps")
        assert set(await listed(blobs)) == {"things/3/orphan.pdf"}
        flaky.back = True
        orphan = tmp_path / "blobs" / "things" / "3" / "orphan.pdf"
        await eventually(lambda: not orphan.exists(), what="the orphan swept")
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert os.listdir(tmp_path / "blobs" / "things" / "3") == []


class _CountingReads:
    """The event store, counting the streams read."""

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store
        self.reads = 0

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]:
        self.reads += 1
        return await self.store.read_stream(stream_id, from_version)


async def test_referenced_keys_are_remembered_up_to_a_bound_and_a_forgotten_one_is_read_again_not_deleted(
    tmp_path: Path, events: SqliteEventStore
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    for thing in ("1", "2", "3"):
        ref = await blobs.put(f"things/{thing}/a.pdf", thing.encode(), "application/pdf")
        await events.append(f"test-thing-{thing}", [published(ref)], NO_STREAM)
    counted = _CountingReads(events)

    remembering = sweeper(blobs, counted, GRACE * 2)
    assert await remembering.sweep() == []
    assert counted.reads == 3
    assert await remembering.sweep() == []
    assert counted.reads == 3  # all three remembered: no stream read again

    forgetful = sweeper(blobs, counted, GRACE * 2)
    forgetful.remembered = 2
    assert await forgetful.sweep() == []
    assert await forgetful.sweep() == []
    assert counted.reads > 6  # the keys it could not keep were looked up again...
    assert set(await listed(blobs)) == {"things/1/a.pdf", "things/2/a.pdf", "things/3/a.pdf"}  # ...and kept


def _registry_with_personal_data() -> EventRegistry:
    registry = EventRegistry()

    @registry.register
    class ThingPublished(DomainEvent):
        event_type = "ThingPublished"
        data_subject: ClassVar[Subject] = Subject("owner")
        owner: str
        owner_email: Annotated[str, Personal]
        thing: dict[str, Any]

    return registry


async def test_the_sweep_reads_the_stored_events_without_the_key_vault(
    tmp_path: Path, events: SqliteEventStore
) -> None:
    vault = await SqliteKeyVault(tmp_path / "vault" / "keys.db").open()
    personal = PersonalDataStore(events, PersonalData(vault, _registry_with_personal_data()))
    blobs = FileBlobStore(tmp_path / "blobs")
    kept = await blobs.put("things/1/kept.pdf", b"referenced", "application/pdf")
    data = {"owner": "person-1", "owner_email": "zofia@nowak.pl", **published(kept).data}
    await personal.append("test-thing-1", [NewEvent(type="ThingPublished", version=1, data=data)], NO_STREAM)
    await blobs.put("things/1/orphan.pdf", b"lost", "application/pdf")
    (stored,) = await events.read_stream("test-thing-1")
    assert stored.data["owner_email"].startswith(SEALED_PREFIX)

    await vault.close()  # the key vault unreachable: opening the personal data fails
    with pytest.raises(RuntimeError):
        await personal.read_stream("test-thing-1")
    (swept,) = await sweeper(blobs, personal, GRACE * 2).sweep()
    assert swept.key == "things/1/orphan.pdf"
    assert set(await listed(blobs)) == {"things/1/kept.pdf"}


def _moved_aside(blobs: FileBlobStore, key: str) -> Path:
    """What a sweep that crashed between moving a blob aside and deleting it leaves."""
    path = blobs.root / key
    aside = path.with_name(f".{path.name}.4242.sweep")
    os.rename(path, aside)
    return aside


async def test_a_blob_left_aside_by_a_crashed_sweep_is_put_back_and_judged_again(
    tmp_path: Path, events: SqliteEventStore
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    kept = await blobs.put("things/1/kept.pdf", b"referenced", "application/pdf")
    await events.append("test-thing-1", [published(kept)], NO_STREAM)
    await blobs.put("things/2/orphan.pdf", b"lost", "application/pdf")
    await blobs.put("things/3/again.pdf", b"old", "application/pdf")
    referenced_aside = _moved_aside(blobs, "things/1/kept.pdf")
    orphan_aside = _moved_aside(blobs, "things/2/orphan.pdf")
    replaced_aside = _moved_aside(blobs, "things/3/again.pdf")
    again = await blobs.put("things/3/again.pdf", b"written again", "application/pdf")
    await events.append("test-thing-3", [published(again)], NO_STREAM)

    assert await sweeper(blobs, events).sweep() == []  # young leftovers: a sweep may still be at them
    assert all(aside.exists() for aside in (referenced_aside, orphan_aside, replaced_aside))

    swept = await sweeper(blobs, events, GRACE + timedelta(seconds=1)).sweep()
    assert [blob.key for blob in swept] == ["things/2/orphan.pdf"]
    assert await blobs.get("things/1/kept.pdf") == b"referenced"
    assert await blobs.get("things/3/again.pdf") == b"written again"
    assert not any(aside.exists() for aside in (referenced_aside, orphan_aside, replaced_aside))
    assert sorted(path.name for path in (tmp_path / "blobs" / "things").rglob("*") if path.is_file()) == [
        "again.pdf",
        "kept.pdf",
    ]


async def test_half_written_bytes_of_a_crashed_put_are_removed_once_past_the_grace(
    tmp_path: Path, events: SqliteEventStore
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    whole = await blobs.put("things/1/a.pdf", b"whole", "application/pdf")
    await events.append("test-thing-1", [published(whole)], NO_STREAM)
    half = tmp_path / "blobs" / "things" / "1" / ".b.pdf.4242.tmp"
    half.write_bytes(b"hal")

    await sweeper(blobs, events).sweep()
    assert half.exists()  # a put may still be writing it
    await sweeper(blobs, events, GRACE + timedelta(seconds=1)).sweep()
    assert not half.exists()
    assert await blobs.get("things/1/a.pdf") == b"whole"
