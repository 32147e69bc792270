"""The command handler: load, decide, append with the expected version, retry on conflict."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from libs.events import Aggregate, Conflict, DomainEvent, EventContext, EventRegistry
from libs.events.aggregate import CommandHandler
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import WrongExpectedVersion

registry = EventRegistry()


@registry.register
class Deposited(DomainEvent):
    event_type = "Deposited"
    amount: int


@dataclass(frozen=True)
class Deposit:
    amount: int
    limit: int = 1_000_000


def decide(balance: int, command: Deposit) -> Sequence[DomainEvent]:
    if balance + command.amount > command.limit:
        raise Conflict("limit_exceeded", "over the limit")
    return [Deposited(amount=command.amount)]


def evolve(balance: int, event: DomainEvent) -> int:
    return balance + event.amount if isinstance(event, Deposited) else balance


account = Aggregate[int, Deposit](category="billing-account", initial=lambda: 0, decide=decide, evolve=evolve)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    store = await SqliteEventStore(tmp_path / "events.db").open()
    yield store
    await store.close()


async def test_a_command_appends_its_events_and_returns_the_new_state(store: SqliteEventStore) -> None:
    handler = CommandHandler(store, registry)
    first = await handler.handle(account, "a1", Deposit(100), EventContext())
    second = await handler.handle(account, "a1", Deposit(50), EventContext())
    assert (first.state, second.state) == (100, 150)
    assert second.result is not None
    assert second.result.stream_version == 1
    assert await handler.load(account, "a1") == (150, 1)


async def test_concurrent_commands_are_retried_and_none_is_lost(store: SqliteEventStore) -> None:
    handler = CommandHandler(store, registry, max_attempts=30)
    await asyncio.gather(*(handler.handle(account, "a1", Deposit(1), EventContext()) for _ in range(20)))
    balance, version = await handler.load(account, "a1")
    assert (balance, version) == (20, 19)


async def test_retries_decide_again_on_fresh_state(store: SqliteEventStore) -> None:
    handler = CommandHandler(store, registry, max_attempts=30)
    results = await asyncio.gather(
        *(handler.handle(account, "a1", Deposit(10, limit=50), EventContext()) for _ in range(8)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 3
    assert (await handler.load(account, "a1"))[0] == 50


async def test_retries_are_bounded(store: SqliteEventStore) -> None:
    class AlwaysLate:
        """A store where someone else always appended first."""

        def __getattr__(self, name: str) -> object:
            return getattr(store, name)

        async def append(self, stream_id: str, events: object, expected_version: int | None) -> None:
            raise WrongExpectedVersion(stream_id, expected_version, (expected_version or 0) + 1)

    handler = CommandHandler(AlwaysLate(), registry, max_attempts=3)  # type: ignore[arg-type]
    with pytest.raises(WrongExpectedVersion):
        await handler.handle(account, "a1", Deposit(1), EventContext())


async def test_the_same_idempotency_key_applies_a_command_once(store: SqliteEventStore) -> None:
    handler = CommandHandler(store, registry)
    first = await handler.handle(account, "a1", Deposit(100), EventContext(), idempotency_key="k-1")
    again = await handler.handle(account, "a1", Deposit(100), EventContext(), idempotency_key="k-1")
    other = await handler.handle(account, "a1", Deposit(100), EventContext(), idempotency_key="k-2")
    assert again.result == first.result
    assert again.events == first.events
    assert other.state == 200
    assert len(await store.read_stream("billing-account-a1")) == 2


async def test_a_refused_command_appends_nothing(store: SqliteEventStore) -> None:
    handler = CommandHandler(store, registry)
    with pytest.raises(Conflict):
        await handler.handle(account, "a1", Deposit(5, limit=1), EventContext())
    assert await store.read_stream("billing-account-a1") == []
