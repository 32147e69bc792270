"""Snapshots in the command handler: a long stream is loaded from its latest snapshot and the events
after it, with the same state, version and idempotency as a fold from the start; a snapshot that is
missing, of another stream, unreadable or of another schema just means folding the whole stream, and a
snapshot store that fails never fails a command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from libs.events import Aggregate, Conflict, DomainEvent, EventContext, EventRegistry, RecordedEvent
from libs.events.aggregate import CommandHandler
from libs.events.snapshots import SNAPSHOTS, DocumentSnapshots, SnapshotCodec, shape_of
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore

registry = EventRegistry()


@registry.register
class Deposited(DomainEvent):
    event_type = "Deposited"
    amount: Decimal


@dataclass(frozen=True)
class Account:
    balance: Decimal = Decimal("0.00")
    deposits: int = 0


@dataclass(frozen=True)
class Deposit:
    amount: Decimal
    times: int = 1
    """Deposited `times` times by one command: one append of that many events."""
    limit: Decimal = Decimal(1_000_000)


def decide(state: Account, command: Deposit) -> Sequence[DomainEvent]:
    if state.balance + command.amount * command.times > command.limit:
        raise Conflict("limit_exceeded", "over the limit")
    return [Deposited(amount=command.amount)] * command.times


def evolve(state: Account, event: DomainEvent) -> Account:
    if isinstance(event, Deposited):
        return Account(state.balance + event.amount, state.deposits + 1)
    return state


CODEC = SnapshotCodec[Account](
    schema=f"account.1:{shape_of(Account)}",
    to_json=lambda state: {"balance": str(state.balance), "deposits": state.deposits},
    from_json=lambda doc: Account(Decimal(doc["balance"]), int(doc["deposits"])),
)
account = Aggregate[Account, Deposit](
    category="bank-account", initial=Account, decide=decide, evolve=evolve, snapshot=CODEC
)
STREAM = account.stream_id("a1")
EVERY = 5
ONE = Deposit(Decimal("1.00"))


class ReadsCounted:
    """The event store, noting the version each stream read starts from."""

    def __init__(self, store: SqliteEventStore) -> None:
        self._store = store
        self.reads_from: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]:
        self.reads_from.append(from_version)
        return await self._store.read_stream(stream_id, from_version)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    store = await SqliteEventStore(tmp_path / "events.db").open()
    yield store
    await store.close()


@pytest.fixture
async def documents(tmp_path: Path) -> AsyncIterator[SqliteDocumentStore]:
    documents = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    yield documents
    await documents.close()


def handler_for(
    store: SqliteEventStore | ReadsCounted, documents: SqliteDocumentStore, every: int = EVERY, attempts: int = 5
) -> CommandHandler:
    return CommandHandler(
        store,
        registry,
        max_attempts=attempts,
        snapshots=DocumentSnapshots(documents),
        snapshot_every=every,
    )


async def deposit(handler: CommandHandler, count: int, command: Deposit = ONE) -> None:
    for _ in range(count):
        await handler.handle(account, "a1", command, EventContext())


async def snapshot_version(documents: SqliteDocumentStore) -> int | None:
    snapshot = await DocumentSnapshots(documents).load(STREAM)
    return None if snapshot is None else snapshot.version


async def from_the_start(store: SqliteEventStore) -> tuple[Account, int]:
    return await CommandHandler(store, registry).load(account, "a1")


async def test_a_snapshot_is_written_each_time_the_stream_has_grown_by_snapshot_every(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    handler = handler_for(store, documents)
    await deposit(handler, EVERY - 1)
    assert await snapshot_version(documents) is None
    await deposit(handler, 1)
    assert await snapshot_version(documents) == EVERY - 1
    await deposit(handler, EVERY - 1)
    assert await snapshot_version(documents) == EVERY - 1
    await deposit(handler, 1)
    assert await snapshot_version(documents) == 2 * EVERY - 1


async def test_after_a_snapshot_only_the_events_after_it_are_read_and_the_state_is_the_same(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    await deposit(handler_for(store, documents), 12)
    counted = ReadsCounted(store)
    handler = handler_for(counted, documents)
    assert await handler.load(account, "a1") == await from_the_start(store) == (Account(Decimal("12.00"), 12), 11)
    assert counted.reads_from == [9]
    decision = await handler.handle(account, "a1", ONE, EventContext())
    assert decision.state == Account(Decimal("13.00"), 13)
    assert decision.result is not None
    assert decision.result.stream_version == 12
    assert counted.reads_from == [9, 9]


async def test_concurrent_commands_with_snapshots_are_retried_and_none_is_lost(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    handler = handler_for(store, documents, every=3, attempts=40)
    await asyncio.gather(*(handler.handle(account, "a1", ONE, EventContext()) for _ in range(20)))
    expected = (Account(Decimal("20.00"), 20), 19)
    assert await from_the_start(store) == expected
    assert await handler_for(store, documents, every=3).load(account, "a1") == expected


async def test_a_missing_snapshot_means_folding_the_stream_and_the_next_command_writes_one(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    await deposit(handler_for(store, documents), 7)
    await documents.delete(SNAPSHOTS, [STREAM])
    handler = handler_for(store, documents)
    assert await handler.load(account, "a1") == (Account(Decimal("7.00"), 7), 6)
    await deposit(handler, 1)
    assert await snapshot_version(documents) == 7


@pytest.mark.parametrize("events_in_new_store", [3, 8])
async def test_a_snapshot_of_another_stream_is_ignored(
    tmp_path: Path, store: SqliteEventStore, documents: SqliteDocumentStore, events_in_new_store: int
) -> None:
    """The event store was recreated (or restored from an older backup) beside the same document store:
    the snapshot's version is past its end, or holds another event."""
    await deposit(handler_for(store, documents), 5)
    assert await snapshot_version(documents) == 4
    recreated = await SqliteEventStore(tmp_path / "recreated.db").open()
    try:
        await deposit(CommandHandler(recreated, registry), events_in_new_store, Deposit(Decimal("10.00")))
        handler = handler_for(recreated, documents)
        expected = Account(Decimal(10 * events_in_new_store), events_in_new_store)
        assert await handler.load(account, "a1") == (expected, events_in_new_store - 1)
        decision = await handler.handle(account, "a1", ONE, EventContext())
        assert decision.state == replace(expected, balance=expected.balance + 1, deposits=events_in_new_store + 1)
    finally:
        await recreated.close()


@pytest.mark.parametrize(
    "damage",
    [
        {"state": {"balance": "lots", "deposits": 5}},
        {"state": {"deposits": 5}},
        {"state": "not a state"},
        {"version": "four"},
        {"event_id": "not-an-id"},
        {"derived_ids": "!!not base64!!"},
        {"derived_ids": "AAAA"},
    ],
)
async def test_a_corrupt_snapshot_means_folding_the_stream_and_is_replaced(
    store: SqliteEventStore, documents: SqliteDocumentStore, damage: dict[str, Any]
) -> None:
    await deposit(handler_for(store, documents), 5)
    doc = await documents.get(SNAPSHOTS, STREAM)
    assert doc is not None
    await documents.upsert_many(SNAPSHOTS, [{**doc, **damage}])
    handler = handler_for(store, documents)
    with structlog.testing.capture_logs() as logs:
        assert await handler.load(account, "a1") == (Account(Decimal("5.00"), 5), 4)
    assert [entry["event"] for entry in logs] == ["snapshot_ignored"]
    await deposit(handler, 1)
    assert await snapshot_version(documents) == 5
    assert await handler_for(store, documents).load(account, "a1") == (Account(Decimal("6.00"), 6), 5)


async def test_a_snapshot_of_another_schema_is_ignored(store: SqliteEventStore, documents: SqliteDocumentStore) -> None:
    """Written when the state had another shape: read under today's schema it would be wrong."""
    older = replace(account, snapshot=replace(CODEC, schema="account.0"))
    for _ in range(5):
        await handler_for(store, documents).handle(older, "a1", ONE, EventContext())
    doc = await documents.get(SNAPSHOTS, STREAM)
    assert doc is not None
    await documents.upsert_many(SNAPSHOTS, [{**doc, "state": {"balance": "999.00", "deposits": 999}}])
    assert await handler_for(store, documents).load(account, "a1") == (Account(Decimal("5.00"), 5), 4)


def test_the_schema_follows_the_states_shape() -> None:
    @dataclass(frozen=True)
    class Account:  # the same name, one field more
        balance: Decimal = Decimal("0.00")
        deposits: int = 0
        currency: str = "PLN"

    assert shape_of(Account) != CODEC.schema.split(":")[1]


async def test_a_failing_snapshot_store_never_fails_a_command(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    await deposit(handler_for(store, documents), 5)
    await documents.close()  # every snapshot read and write now fails
    handler = handler_for(store, documents)
    with structlog.testing.capture_logs() as logs:
        await deposit(handler, EVERY)
    assert await handler.load(account, "a1") == await from_the_start(store) == (Account(Decimal("10.00"), 10), 9)
    events = {entry["event"] for entry in logs}
    assert {"snapshot_ignored", "snapshot_not_saved"} <= events


async def test_a_call_repeated_with_its_key_after_a_snapshot_covers_it_is_not_applied_again(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    """Two snapshots later, and with the limit now refusing the command: the first outcome comes back."""
    handler = handler_for(store, documents, every=3)
    command = Deposit(Decimal("5.00"), times=2, limit=Decimal("12.00"))
    first = await handler.handle(account, "a1", command, EventContext(), "k-1")
    await deposit(handler, 6)
    assert await snapshot_version(documents) == 5
    with pytest.raises(Conflict):
        await handler.handle(account, "a1", command, EventContext(), "k-other")
    for repeating in (handler, handler_for(store, documents, every=3)):  # this process, and a new one
        again = await repeating.handle(account, "a1", command, EventContext(), "k-1")
        assert (again.result, again.events) == (first.result, first.events)
    assert await from_the_start(store) == (Account(Decimal("16.00"), 8), 7)


async def test_a_repeated_key_found_after_the_snapshot_and_a_new_key_read_only_the_events_after_it(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    await deposit(handler_for(store, documents), 5)
    counted = ReadsCounted(store)
    handler = handler_for(counted, documents)
    first = await handler.handle(account, "a1", Deposit(Decimal("5.00")), EventContext(), "k-2")
    again = await handler.handle(account, "a1", Deposit(Decimal("5.00")), EventContext(), "k-2")
    other = await handler.handle(account, "a1", Deposit(Decimal("5.00")), EventContext(), "k-3")
    assert (again.result, again.events) == (first.result, first.events)
    assert other.state == Account(Decimal("15.00"), 7)
    assert counted.reads_from == [4, 4, 4]
    assert await from_the_start(store) == (Account(Decimal("15.00"), 7), 6)


def test_snapshot_every_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="snapshot_every"):
        CommandHandler(SqliteEventStore(tmp_path / "events.db"), registry, snapshot_every=0)


class RacedByAnEarlierCall:
    """The event store, where the same call with its key but another amount lands between the handler's
    load and its append (another replica; a client that retried with an edited body)."""

    def __init__(self, store: SqliteEventStore) -> None:
        self._store = store
        self._raced = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]:
        read = await self._store.read_stream(stream_id, from_version)
        if not self._raced:
            self._raced = True
            earlier = CommandHandler(self._store, registry)
            await earlier.handle(account, "a1", Deposit(Decimal("7.00")), EventContext(), idempotency_key="k")
        return read


async def test_a_snapshot_is_of_the_events_stored_not_of_what_a_raced_call_decided(
    store: SqliteEventStore, documents: SqliteDocumentStore
) -> None:
    await deposit(handler_for(store, documents, every=1_000), EVERY - 1)
    raced = handler_for(RacedByAnEarlierCall(store), documents)  # type: ignore[arg-type]
    await raced.handle(account, "a1", ONE, EventContext(), idempotency_key="k")

    assert await snapshot_version(documents) == EVERY - 1
    assert await handler_for(store, documents).load(account, "a1") == await from_the_start(store)
    assert (await from_the_start(store))[0].balance == Decimal(EVERY - 1) + Decimal("7.00")
