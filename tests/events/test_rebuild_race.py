"""A live batch that resolved the alias before a rebuild's switch and writes after the old version was
dropped (no grace) re-creates that version: the runner removes it again at its next batch, and the new
version loses nothing (libs/events/versions.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from libs.events import Collection, Document
from libs.events.docstore import DocumentStore
from libs.events.eventlog import CHECKPOINTS
from libs.events.rebuild import RebuildResult
from tests.helpers import eventually
from tests.ops.harness import Ledger
from tests.ops.test_rebuild import table_exists


class HeldWrite:
    """The live runner's store: holds its next write to one collection until released, as if the batch
    were slow between resolving the alias (and folding) and writing."""

    def __init__(self, inner: DocumentStore, collection: str) -> None:
        self.inner = inner
        self.collection = collection
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self._armed = True

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        if self._armed and collection.name == self.collection:
            self._armed = False
            self.held.set()
            await self.release.wait()
        await self.inner.upsert_many(collection, docs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    ledger = await Ledger(tmp_path).open(run_consumers=False)  # the test runs the live batches itself
    await ledger.live.load_status()
    yield ledger
    await ledger.close()


async def checkpoint_exists(ledger: Ledger, group: str) -> bool:
    return await ledger.platform.document_stores["ledger"].get(CHECKPOINTS, group) is not None


async def run_live_until_idle(ledger: Ledger) -> None:
    while await ledger.live.run_once():
        pass


async def hold_a_live_batch(ledger: Ledger) -> tuple[HeldWrite, asyncio.Task[int]]:
    """Starts a live batch of two new events on version 0 and waits until it is about to write."""
    for n in range(30):
        await ledger.count(f"A{n % 3}", n)
    await run_live_until_idle(ledger)
    held = HeldWrite(ledger.live.store, "totals")
    ledger.live.store = held
    await ledger.count("A0", 1000)
    await ledger.count("late", 7)
    batch = asyncio.create_task(ledger.live.run_once())
    await held.held.wait()
    return held, batch


@pytest.mark.parametrize("operation", ["rebuild", "reset"])
async def test_a_batch_writing_after_the_drop_leaves_no_stale_version_and_the_new_one_loses_nothing(
    ledger: Ledger, operation: str
) -> None:
    held, batch = await hold_a_live_batch(ledger)
    ledger.ops.grace = 0
    result: RebuildResult = await getattr(ledger.ops, operation)("totals")
    assert result.new_collection == "totals__v1"
    assert not await table_exists(ledger, "totals")

    held.release.set()
    assert await batch == 2  # the batch wrote to the dropped version (re-creating it) and committed there
    assert await table_exists(ledger, "totals")

    await ledger.count("after", 1)
    await run_live_until_idle(ledger)  # the next batch's alias read finds the version it wrote to dropped
    assert not await table_exists(ledger, "totals")
    assert not await checkpoint_exists(ledger, "ledger.totals")
    assert ledger.live.version == 1
    served = await ledger.served()
    assert (served["late"]["total"], served["after"]["total"]) == (7, 1)
    assert served == await ledger.reference()


async def test_a_batch_ending_within_the_grace_leaves_the_old_version_to_in_flight_reads(ledger: Ledger) -> None:
    held, batch = await hold_a_live_batch(ledger)
    ledger.ops.grace = 60  # only bounds the test: the batch is released as soon as the alias switched
    rebuild = asyncio.create_task(ledger.ops.rebuild("totals"))
    try:

        async def switched() -> bool:
            return (await ledger.live.versions.alias("totals")).version == 1

        await eventually(switched, what="the alias switch")
        held.release.set()
        assert await batch == 2
        assert await table_exists(ledger, "totals")  # the grace is the ops tool's: the runner keeps off
        assert not rebuild.done()
    finally:
        rebuild.cancel()
        with pytest.raises(asyncio.CancelledError):
            await rebuild


async def test_a_runner_stopped_right_after_a_late_batch_leaves_no_stale_version(ledger: Ledger) -> None:
    held, batch = await hold_a_live_batch(ledger)
    ledger.ops.grace = 0
    await ledger.ops.rebuild("totals")
    held.release.set()
    assert await batch == 2
    assert await table_exists(ledger, "totals")  # re-created by the late batch

    await ledger.live.stop()  # a rollout: no next batch will read the alias

    assert not await table_exists(ledger, "totals")
    assert not await checkpoint_exists(ledger, "ledger.totals")


async def test_the_next_rebuild_drops_a_version_a_crashed_runner_re_created(ledger: Ledger) -> None:
    held, batch = await hold_a_live_batch(ledger)
    ledger.ops.grace = 0
    await ledger.ops.rebuild("totals")
    held.release.set()
    assert await batch == 2
    ledger.live._written_to = None  # the process died before it could look again
    assert await table_exists(ledger, "totals")

    result = await ledger.ops.rebuild("totals")

    assert result.new_collection == "totals__v2"
    assert not await table_exists(ledger, "totals")
    assert not await checkpoint_exists(ledger, "ledger.totals")
    assert await ledger.served() == await ledger.reference()
