"""Event log port: follow the events of one or more services from per-source checkpoints.

A checkpoint is opaque to the caller: a global position in the embedded log, partition offsets in
Kafka, a commit position in EventStoreDB. Consumers commit only after their own writes succeeded, so
a crash redelivers; every consumer is idempotent (see projection.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from libs.events.docstore import Collection, DocumentStore
from libs.events.envelope import RecordedEvent
from libs.events.sqlite_store import SqliteEventStore, wait_for_signal


class LogUnavailable(Exception):
    """The event log cannot be reached (broker down, group rebalancing): retry later, lose nothing."""


@dataclass(frozen=True)
class LogBatch:
    events: list[RecordedEvent]
    checkpoints: Mapping[str, str] = field(default_factory=dict)
    """Where each source stands after this batch, for `commit`."""


class LogConsumer(Protocol):
    group: str

    async def next_batch(self, max_events: int, timeout: float) -> LogBatch:
        """The next events after the committed checkpoints; an empty batch after `timeout` seconds."""

    async def commit(self, batch: LogBatch) -> None: ...

    async def checkpoints(self) -> dict[str, str]: ...

    async def lag(self) -> dict[str, int]:
        """Events not yet committed, per source."""

    async def ends(self) -> dict[str, str]:
        """Where each source ends now, as checkpoints: a target for `reached`."""

    async def reached(self, target: Mapping[str, str]) -> bool:
        """Whether the committed checkpoints are at or past `target` (from `ends`) in every source."""

    async def reset(self) -> None:
        """Forget the committed checkpoints: the next batch starts from the beginning."""

    async def close(self) -> None: ...


class EventLog(Protocol):
    def consumer(self, group: str, sources: Sequence[str]) -> LogConsumer: ...


CHECKPOINTS = Collection("_checkpoints")


class EmbeddedEventLog:
    """Follows the services' own event stores in this process; checkpoints live in a document store."""

    def __init__(self, stores: Mapping[str, SqliteEventStore], checkpoints: DocumentStore) -> None:
        self._stores = dict(stores)
        self._checkpoints = checkpoints

    def consumer(self, group: str, sources: Sequence[str]) -> EmbeddedConsumer:
        unknown = set(sources) - set(self._stores)
        if unknown:
            raise ValueError(f"no event store for sources {sorted(unknown)}")
        return EmbeddedConsumer(group, {name: self._stores[name] for name in sources}, self._checkpoints)


class EmbeddedConsumer:
    def __init__(self, group: str, stores: Mapping[str, SqliteEventStore], checkpoints: DocumentStore) -> None:
        self.group = group
        self._stores = stores
        self._checkpoint_store = checkpoints
        self._positions: dict[str, int] | None = None

    async def checkpoints(self) -> dict[str, str]:
        return {source: str(position) for source, position in (await self._load()).items()}

    async def _load(self) -> dict[str, int]:
        if self._positions is None:
            doc = await self._checkpoint_store.get(CHECKPOINTS, self.group) or {}
            saved = doc.get("positions", {})
            self._positions = {source: int(saved.get(source, 0)) for source in self._stores}
        return self._positions

    async def next_batch(self, max_events: int, timeout: float) -> LogBatch:
        positions = await self._load()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            signals = [store.append_signal() for store in self._stores.values()]
            events: list[RecordedEvent] = []
            after = dict(positions)
            for source, store in self._stores.items():
                read = await store.read_all(after=positions[source], limit=max_events - len(events))
                if read:
                    after[source] = read[-1].global_position
                    events.extend(read)
                if len(events) >= max_events:
                    break
            remaining = deadline - asyncio.get_running_loop().time()
            if events or remaining <= 0:
                return LogBatch(events, {source: str(position) for source, position in after.items()})
            await _wait_any(signals, remaining)

    async def commit(self, batch: LogBatch) -> None:
        positions = await self._load()
        positions.update({source: int(value) for source, value in batch.checkpoints.items()})
        await self._checkpoint_store.upsert_many(
            CHECKPOINTS, [{"_id": self.group, "positions": {s: str(p) for s, p in positions.items()}}]
        )

    async def lag(self) -> dict[str, int]:
        positions = await self._load()
        lag: dict[str, int] = {}
        for source, store in self._stores.items():
            head = await store.head_position() or 0
            lag[source] = max(0, head - positions[source])
        return lag

    async def ends(self) -> dict[str, str]:
        return {source: str(await store.head_position() or 0) for source, store in self._stores.items()}

    async def reached(self, target: Mapping[str, str]) -> bool:
        positions = await self._load()
        return all(positions[source] >= int(end) for source, end in target.items())

    async def reset(self) -> None:
        self._positions = {source: 0 for source in self._stores}
        await self._checkpoint_store.delete(CHECKPOINTS, [self.group])

    async def close(self) -> None:
        return None


async def _wait_any(signals: Sequence[asyncio.Event], timeout: float) -> None:
    waiters = [asyncio.ensure_future(wait_for_signal(signal, timeout)) for signal in signals]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
