"""A one-service platform for the ops tests: a `ledger` service whose `totals` projection sums amounts
per account, on the embedded (SQLite) platform, with its own event registry."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from libs.events import Collection, Document, DomainEvent, EventRegistry, Index, Projection, RecordedEvent
from libs.events.embedded import EmbeddedPlatform
from libs.events.envelope import NewEvent
from libs.events.eventlog import EmbeddedEventLog
from libs.events.projection import ProjectionRunner, public
from libs.events.rebuild import Operations
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.store import ANY_VERSION
from libs.events.versions import VersionedProjectionRunner


def make_registry() -> EventRegistry:
    registry = EventRegistry()

    @registry.register
    class Counted(DomainEvent):
        event_type = "OpsCounted"
        account: str
        amount: int

    return registry


TOTALS = Collection("totals", (Index.on("account"), Index.on("total")))


def fold(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    current = doc or {"account": getattr(event, "account"), "total": 0, "count": 0}  # noqa: B009
    return {**current, "total": current["total"] + getattr(event, "amount"), "count": current["count"] + 1}  # noqa: B009


totals = Projection(
    name="totals",
    collection=TOTALS,
    sources=("ledger",),
    handles=frozenset({"OpsCounted"}),
    keys=lambda event, _: [str(getattr(event, "account"))],  # noqa: B009
    fold=fold,
)

definition = ServiceDefinition(name="ledger", title="ops test ledger", projections=[totals])


class Ledger:
    def __init__(self, data_dir: Path, registry: EventRegistry | None = None) -> None:
        self.registry = registry or make_registry()
        self.platform = EmbeddedPlatform(data_dir, ["ledger", "identity"])  # access reads identity
        self.runtime: ServiceRuntime = self.platform.runtime(
            definition, ServiceSettings(data_dir=data_dir / "ledger"), self.registry
        )
        self.ops = Operations({"ledger": self.runtime}, grace=0)

    async def open(self, run_consumers: bool) -> Ledger:
        await self.platform.open()
        await self.runtime.start(run_consumers=False)
        for runner in self.runtime.runners:
            runner.idle_timeout = 0.02
            if run_consumers:
                runner.start()
        self.ops = Operations({"ledger": self.runtime}, grace=0)
        return self

    async def close(self) -> None:
        await self.runtime.stop()
        await self.platform.close()

    @property
    def live(self) -> VersionedProjectionRunner:
        runner = self.runtime.runner("totals")
        assert isinstance(runner, VersionedProjectionRunner)
        return runner

    async def count(self, account: str, amount: int, version: int = 1) -> None:
        data: dict[str, Any] = {"account": account, "amount": amount}
        await self.platform.event_stores["ledger"].append(
            f"ledger-account-{account}", [NewEvent(type="OpsCounted", version=version, data=data)], ANY_VERSION
        )

    async def live_caught_up(self, version: int) -> None:
        """Waits (no deadline but the test timeout) until the live runner follows `version` at the head."""
        while True:
            runner = self.live
            if runner.version == version and sum((await runner.consumer.lag()).values()) == 0:
                return
            await asyncio.sleep(0.01)

    async def live_counted(self, processed: int) -> None:
        """Waits (no deadline but the test timeout) until the live runner has counted `processed` events."""
        while True:
            if self.live.status.processed >= processed:
                return
            await asyncio.sleep(0.01)

    async def reference(self) -> dict[str, Document]:
        """The projection folded from scratch into a scratch collection, by a plain runner."""
        scratch = Collection("totals_reference", TOTALS.indexes)
        raw = self.platform.document_stores["ledger"]
        log = EmbeddedEventLog(self.platform.event_stores, raw)
        runner = ProjectionRunner(
            Projection(totals.name, scratch, totals.sources, totals.handles, totals.keys, totals.fold),
            log.consumer("reference", ["ledger"]),
            raw,
            self.registry,
            service=self.runtime.name,
            personal=self.runtime.personal,
        )
        runner.idle_timeout = 0.01
        while await runner.run_once():
            pass
        return {doc["_id"]: public(doc) for doc in await raw.find(scratch)}

    async def served(self) -> dict[str, Document]:
        return {doc["_id"]: public(doc) for doc in await self.runtime.documents.find(TOTALS)}
