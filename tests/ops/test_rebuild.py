"""Rebuild, reset, status and dead letters on the embedded platform (libs/events/rebuild.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from libs.events import Collection, DomainEvent
from libs.events.projection import DEAD_LETTERS
from libs.events.rebuild import UnknownConsumer
from libs.events.versions import ALIASES
from tests.ops.harness import TOTALS, Ledger


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    ledger = await Ledger(tmp_path).open(run_consumers=True)
    yield ledger
    await ledger.close()


async def table_exists(ledger: Ledger, name: str) -> bool:
    db = ledger.platform.document_stores["ledger"].db
    async with db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (f"rm_{name}",)) as cur:
        return await cur.fetchone() is not None


async def test_rebuild_while_events_keep_coming_equals_the_live_projection(ledger: Ledger) -> None:
    for n in range(300):
        await ledger.count(f"A{n % 7}", n)
    await ledger.live_caught_up(0)

    appended = asyncio.Event()
    producing = True
    empty_reads: list[int] = []
    reads = 0

    async def produce() -> None:
        # Bounded: an append is one trip to SQLite, so an endless producer in this event loop can outrun the
        # rebuild's catch-up for ever; a rebuild under a real write rate reaches the head.
        n = 0
        while (producing and n < 1500) or n < 50:
            await ledger.count(f"A{n % 11}", n)
            n += 1
            if n == 20:
                appended.set()
            await asyncio.sleep(0)

    async def read() -> None:
        nonlocal reads
        while producing:
            if await ledger.runtime.documents.count(TOTALS) == 0:
                empty_reads.append(reads)
            found = await ledger.runtime.documents.find(TOTALS, {"account": "A1"})
            if not found:
                empty_reads.append(reads)
            reads += 1
            await asyncio.sleep(0)

    # The production grace: a live batch that resolved the alias just before the switch finishes its
    # write to the old version before that version is dropped (with no grace it could re-create it).
    ledger.ops.grace = 2.0
    producer = asyncio.create_task(produce())
    reader = asyncio.create_task(read())
    progress: list[tuple[int, int]] = []
    try:
        await appended.wait()
        result = await ledger.ops.rebuild("totals", lambda done, total: progress.append((done, total)))
    finally:
        producing = False
        await producer
        await reader

    assert result.old_collection == "totals"
    assert result.new_collection == "totals__v1"
    assert result.events >= 300
    assert progress[-1][0] == progress[-1][1]  # finished at lag 0
    assert reads > 0
    assert empty_reads == []  # the alias switch never left a query without its documents
    alias = await ledger.platform.document_stores["ledger"].get(ALIASES, "totals")
    assert alias is not None
    assert alias["active"] == "totals__v1"
    assert not await table_exists(ledger, "totals")  # the old version is dropped

    # the live runner handed over to the new version's checkpoint and keeps it up to date
    await ledger.count("late", 5)
    await ledger.live_caught_up(1)
    served = await ledger.served()
    assert served["late"]["total"] == 5
    assert served == await ledger.reference()


async def test_a_second_rebuild_makes_the_next_version(ledger: Ledger) -> None:
    await ledger.count("A", 1)
    await ledger.ops.rebuild("ledger.totals")
    second = await ledger.ops.rebuild("totals")
    assert (second.old_collection, second.new_collection) == ("totals__v1", "totals__v2")
    await ledger.live_caught_up(2)
    assert await ledger.served() == await ledger.reference()
    assert not await table_exists(ledger, "totals__v1")


async def test_reset_drops_and_rebuilds_in_place(ledger: Ledger) -> None:
    for n in range(50):
        await ledger.count(f"A{n % 3}", n)
    await ledger.live_caught_up(0)
    before = await ledger.served()
    result = await ledger.ops.reset("totals")
    assert result.events == 50
    assert result.documents == 3
    await ledger.live_caught_up(result_version(result.new_collection))
    assert await ledger.served() == before
    await ledger.count("A0", 1000)
    await ledger.live_caught_up(result_version(result.new_collection))
    assert (await ledger.served())["A0"]["total"] == before["A0"]["total"] + 1000


def result_version(collection: str) -> int:
    return int(collection.rsplit("__v", 1)[1])


async def test_status_names_each_consumer_with_its_position_and_version(ledger: Ledger) -> None:
    for n in range(10):
        await ledger.count("A", n)
    await ledger.live_caught_up(0)
    await ledger.live_counted(10)  # counted just after the checkpoint is committed
    reports = {report.name: report for report in await ledger.ops.status()}
    assert set(reports) == {"totals", "access"}
    totals = reports["totals"]
    assert (totals.kind, totals.collection, totals.version, totals.lag) == ("projection", "totals", 0, 0)
    assert totals.checkpoints == {"ledger": "10"}
    assert totals.processed == 10
    assert totals.dead_letters == 0
    await ledger.ops.rebuild("totals")
    await ledger.live_caught_up(1)
    totals = next(report for report in await ledger.ops.status() if report.name == "totals")
    assert (totals.collection, totals.version, totals.lag, totals.rebuilding) == ("totals__v1", 1, 0, False)


async def test_unknown_names_list_the_known_projections(ledger: Ledger) -> None:
    with pytest.raises(UnknownConsumer) as raised:
        await ledger.ops.rebuild("nope")
    assert "ledger.totals" in str(raised.value)


async def test_a_poison_event_is_dead_lettered_and_retried_once_fixed(ledger: Ledger) -> None:
    await ledger.count("A", 1)
    await ledger.count("Z", 7, version=2)  # no model for version 2 of OpsCounted: a poison event
    await ledger.count("A", 2)
    await ledger.live_caught_up(0)
    assert "Z" not in await ledger.served()

    letters = await ledger.ops.dead_letters()
    assert len(letters) == 1
    service, letter = letters[0]
    assert (service, letter["consumer"], letter["version"]) == ("ledger", "totals", 2)
    assert "unknown event type 'OpsCounted' version 2" in letter["reason"]
    assert (await ledger.ops.dead_letter(letter["_id"]))[1]["event"]["data"] == {"account": "Z", "amount": 7}
    report = next(report for report in await ledger.ops.status() if report.name == "totals")
    assert report.dead_letters == 1
    assert report.last_error is not None

    still = await ledger.ops.retry(letter["_id"])
    assert still.outcome == "failed"
    assert len(await ledger.ops.dead_letters("totals")) == 1

    # the fix: version 2 of the event, and the upcaster bringing version 1 to it
    @ledger.registry.register
    class CountedV2(DomainEvent):
        event_type = "OpsCounted"
        schema_version = 2
        account: str
        amount: int

    @ledger.registry.upcaster("OpsCounted", 1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return data

    done = await ledger.ops.retry(letter["_id"])
    assert done.outcome == "applied"
    assert await ledger.ops.dead_letters() == []
    assert (await ledger.served())["Z"]["total"] == 7
    assert await ledger.platform.document_stores["ledger"].count(DEAD_LETTERS) == 0


async def test_a_retry_behind_later_events_of_its_stream_is_held_for_a_rebuild(ledger: Ledger) -> None:
    await ledger.count("A", 1, version=2)  # poison, then a later event of the same stream
    await ledger.count("A", 2)
    await ledger.live_caught_up(0)
    [(_, letter)] = await ledger.ops.dead_letters()

    @ledger.registry.register
    class CountedV2(DomainEvent):
        event_type = "OpsCounted"
        schema_version = 2
        account: str
        amount: int

    ledger.registry.upcaster("OpsCounted", 1)(lambda data: data)
    held = await ledger.ops.retry(letter["_id"])
    assert held.outcome == "held"
    assert len(await ledger.ops.dead_letters()) == 1
    await ledger.ops.rebuild("totals")  # applies it in order
    await ledger.live_caught_up(1)
    assert (await ledger.served())["A"]["total"] == 3


async def test_a_rebuild_from_another_process_is_noticed_by_the_running_portal(ledger: Ledger, tmp_path: Path) -> None:
    """The ops CLI opens the same SQLite files with its own connections: the portal's queries and
    live runner follow the alias it switches."""
    for n in range(40):
        await ledger.count(f"A{n % 4}", n)
    await ledger.live_caught_up(0)
    cli_side = await Ledger(tmp_path).open(run_consumers=False)
    cli_side.ops.grace = 1.0  # more than the portal's alias cache (VersionedDocumentStore.alias_ttl)
    try:
        result = await cli_side.ops.rebuild("totals")
    finally:
        await cli_side.close()
    assert result.new_collection == "totals__v1"
    await ledger.count("A0", 1)
    await ledger.live_caught_up(1)
    assert await ledger.served() == await ledger.reference()
    assert not await table_exists(ledger, "totals")


async def test_an_interrupted_rebuild_leaves_nothing_behind_the_next_one(ledger: Ledger) -> None:
    await ledger.count("A", 1)
    raw = ledger.platform.document_stores["ledger"]
    await raw.upsert_many(ALIASES, [{"_id": "totals", "active": "totals", "version": 0, "highest": 1}])
    await raw.upsert_many(Collection("totals__v1"), [{"_id": "half-built"}])
    result = await ledger.ops.rebuild("totals")
    assert result.new_collection == "totals__v2"
    assert not await table_exists(ledger, "totals__v1")
    await ledger.live_caught_up(2)
    assert await ledger.served() == await ledger.reference()
