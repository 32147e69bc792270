"""The projection runtime: batches, checkpoints, crash and redelivery, dead letters, status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from libs.events import Collection, Document, DomainEvent, EventRegistry, Index, Projection, RecordedEvent
from libs.events.docstore import DocumentStore
from libs.events.envelope import NewEvent
from libs.events.eventlog import EmbeddedEventLog
from libs.events.projection import DEAD_LETTERS, ProjectionRunner, public
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION

registry = EventRegistry()


@registry.register
class InvoiceIssued(DomainEvent):
    event_type = "InvoiceIssued"
    client_id: str
    gross: str


TOTALS = Collection("client_totals", (Index.on("client_id"),))


def fold(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    assert isinstance(event, InvoiceIssued)
    if event.gross == "poison":
        raise ValueError("cannot read the amount")
    from decimal import Decimal

    current = doc or {"client_id": event.client_id, "total": "0.00", "invoices": 0}
    return {
        **current,
        "total": str(Decimal(current["total"]) + Decimal(event.gross)),
        "invoices": current["invoices"] + 1,
    }


totals = Projection(
    name="client_totals",
    collection=TOTALS,
    sources=("billing",),
    handles=frozenset({"InvoiceIssued"}),
    keys=lambda event, _: [event.client_id] if isinstance(event, InvoiceIssued) else [],
    fold=fold,
)


class Platform:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    async def open(self) -> None:
        self.events = await SqliteEventStore(self.tmp_path / "billing.db", "billing").open()
        self.documents = await SqliteDocumentStore(self.tmp_path / "readmodels.db").open()
        self.log = EmbeddedEventLog({"billing": self.events}, self.documents)

    def runner(self, documents: DocumentStore | None = None, group: str = "billing.client_totals") -> ProjectionRunner:
        store = documents or self.documents
        consumer = EmbeddedEventLog({"billing": self.events}, store).consumer(group, ["billing"])
        runner = ProjectionRunner(totals, consumer, store, registry, service="billing", personal=None)
        runner.idle_timeout = 0.05
        return runner

    async def issue(self, client: str, *amounts: str) -> None:
        for amount in amounts:
            data = {"client_id": client, "gross": amount}
            await self.events.append(
                f"billing-invoice-{client}", [NewEvent(type="InvoiceIssued", version=1, data=data)], ANY_VERSION
            )

    async def close(self) -> None:
        await self.events.close()
        await self.documents.close()


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    platform = Platform(tmp_path)
    await platform.open()
    yield platform
    await platform.close()


async def run_until_idle(runner: ProjectionRunner) -> None:
    await runner.load_status()
    while await runner.run_once():
        pass


async def test_a_projection_folds_every_event_once(platform: Platform) -> None:
    await platform.issue("C1", "100.10", "200.20")
    await platform.issue("C2", "0.01")
    await run_until_idle(platform.runner())
    c1 = await platform.documents.get(TOTALS, "C1")
    assert c1 is not None
    assert public(c1) == {"_id": "C1", "client_id": "C1", "total": "300.30", "invoices": 2}
    await platform.issue("C1", "0.05")
    await run_until_idle(platform.runner())
    c1 = await platform.documents.get(TOTALS, "C1")
    assert c1 is not None
    assert c1["total"] == "300.35"


class CrashingStore:
    """Writes the first `survive` documents of an upsert, then dies, like a process killed mid-batch."""

    def __init__(self, inner: DocumentStore, survive: int) -> None:
        self.inner = inner
        self.survive = survive

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        if collection == TOTALS:
            await self.inner.upsert_many(collection, docs[: self.survive])
            raise KeyboardInterrupt("killed mid-batch")
        await self.inner.upsert_many(collection, docs)


@pytest.mark.parametrize("survive", [0, 1, 2])
async def test_killed_mid_batch_and_restarted_equals_a_clean_run(
    platform: Platform, tmp_path: Path, survive: int
) -> None:
    for n in range(30):
        await platform.issue(f"C{n % 3}", f"{n}.{n:02d}")
    crashing = platform.runner(CrashingStore(platform.documents, survive))
    await crashing.load_status()
    with pytest.raises(KeyboardInterrupt):
        await crashing.run_once()
    await run_until_idle(platform.runner())

    clean_store = await SqliteDocumentStore(tmp_path / "clean.db").open()
    await run_until_idle(platform.runner(clean_store, group="clean"))
    recovered = await platform.documents.find(TOTALS, sort=[("_id", 1)])
    clean = await clean_store.find(TOTALS, sort=[("_id", 1)])
    await clean_store.close()
    assert [public(d) for d in recovered] == [public(d) for d in clean]
    assert sum(d["invoices"] for d in recovered) == 30


async def test_redelivering_a_committed_batch_changes_nothing(platform: Platform) -> None:
    await platform.issue("C1", "10.00", "20.00")
    runner = platform.runner()
    await run_until_idle(runner)
    await runner.consumer.reset()  # as if the checkpoint had been lost
    await run_until_idle(runner)
    c1 = await platform.documents.get(TOTALS, "C1")
    assert c1 is not None
    assert (c1["total"], c1["invoices"]) == ("30.00", 2)


async def test_an_event_that_cannot_be_applied_becomes_a_dead_letter_and_the_rest_goes_on(platform: Platform) -> None:
    await platform.issue("C1", "10.00", "poison", "5.00")
    unknown = NewEvent(type="InvoiceIssued", version=9, data={})
    await platform.events.append("billing-invoice-C9", [unknown], ANY_VERSION)
    runner = platform.runner()
    await run_until_idle(runner)
    c1 = await platform.documents.get(TOTALS, "C1")
    assert c1 is not None
    assert (c1["total"], c1["invoices"]) == ("15.00", 2)
    found = await platform.documents.find(DEAD_LETTERS, {"consumer": "client_totals"})
    letters = sorted(found, key=lambda letter: letter["stream_id"])
    assert [letter["stream_id"] for letter in letters] == ["billing-invoice-C1", "billing-invoice-C9"]
    assert letters[0]["reason"].endswith(": ValueError")  # its type only: a message may quote personal data
    assert "'InvoiceIssued' version 9" in letters[1]["reason"]
    assert letters[0]["event"]["data"] == {"client_id": "C1", "gross": "poison"}
    status = await runner.current_status()
    assert status.dead_letters == 2
    assert status.processed == 4
    assert status.lag == {"billing": 0}
    assert status.last_error is not None


async def test_status_shows_position_and_lag(platform: Platform) -> None:
    await platform.issue("C1", "1.00", "2.00", "3.00")
    runner = platform.runner()
    status = await runner.current_status()
    assert status.lag == {"billing": 3}
    await run_until_idle(runner)
    status = await runner.current_status()
    assert status.lag == {"billing": 0}
    assert status.checkpoints == {"billing": "3"}


async def test_waiting_for_a_target_ends_once_the_runner_committed_it_whatever_came_after(platform: Platform) -> None:
    await platform.issue("C1", "1.00", "2.00")
    runner = platform.runner()
    await runner.load_status()
    target = await runner.consumer.ends()
    waiting = asyncio.create_task(runner.wait_caught_up(target, timeout=60))
    await platform.issue("C2", "4.00")  # after the target was taken: not waited for
    runner.batch_size = 2
    assert await runner.run_once() == 2
    assert await waiting
    assert await runner.consumer.lag() == {"billing": 1}


async def test_waiting_for_a_target_nobody_processes_gives_up_after_the_timeout(platform: Platform) -> None:
    await platform.issue("C1", "1.00")
    runner = platform.runner()
    assert not await runner.wait_caught_up(await runner.consumer.ends(), timeout=0.05)
    assert await runner.consumer.lag() == {"billing": 1}
