"""The live runner of a versioned projection reads the projection's alias once per batch: the check that
a rebuild dropped the version a batch wrote to rides on the next batch's read (libs/events/versions.py;
that it still removes what a late batch re-created: tests/events/test_rebuild_race.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from libs.events import Collection, Document
from libs.events.docstore import DocumentStore
from libs.events.versions import ALIASES
from tests.ops.harness import Ledger


class CountingAliasReads:
    """The runner's unaliased store, counting the reads of alias documents."""

    def __init__(self, inner: DocumentStore) -> None:
        self.inner = inner
        self.reads = 0

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        if collection.name == ALIASES.name:
            self.reads += 1
        return await self.inner.get(collection, doc_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    ledger = await Ledger(tmp_path).open(run_consumers=False)  # the test runs the live batches itself
    await ledger.live.load_status()
    yield ledger
    await ledger.close()


async def test_a_batch_costs_one_read_of_the_alias(ledger: Ledger) -> None:
    counting = CountingAliasReads(ledger.live.versions.inner)
    ledger.live.versions.inner = counting
    for amount in (5, 7, 11):
        await ledger.count("A", amount)
        assert await ledger.live.run_once() == 1
    assert counting.reads == 3
    assert (await ledger.served())["A"]["total"] == 23


async def test_a_batch_after_a_rebuild_follows_the_new_version_at_its_one_read(ledger: Ledger) -> None:
    await ledger.count("A", 5)
    assert await ledger.live.run_once() == 1
    await ledger.ops.rebuild("totals")
    counting = CountingAliasReads(ledger.live.versions.inner)
    ledger.live.versions.inner = counting
    await ledger.count("A", 7)
    assert await ledger.live.run_once() == 1
    assert (ledger.live.version, counting.reads) == (1, 1)
    assert (await ledger.served())["A"]["total"] == 12
