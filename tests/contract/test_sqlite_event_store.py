"""What the SQLite event store promises beyond the contract: files shared by processes, live wake-up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from libs.events import sqlite_store
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import NO_STREAM, WrongExpectedVersion
from tests.contract.test_event_store import new_event


async def test_live_subscribers_are_woken_by_the_append_not_by_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "_CROSS_PROCESS_POLL_SECONDS", 3600)
    store = await SqliteEventStore(tmp_path / "events.db").open()
    subscription = store.subscribe()
    first = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0.1)  # the follower is now waiting, with nothing to read
    assert not first.done()
    await store.append("contracts-x-1", [new_event(7)], NO_STREAM)
    event = await asyncio.wait_for(first, 10)  # would take an hour if it polled
    assert event.data["n"] == 7
    await subscription.aclose()
    await store.close()


async def test_two_connections_on_one_file_cannot_both_win(tmp_path: Path) -> None:
    """Two processes (two connections) writing one stream: the file itself arbitrates."""
    one = await SqliteEventStore(tmp_path / "events.db").open()
    two = await SqliteEventStore(tmp_path / "events.db").open()
    await one.append("contracts-x-1", [new_event(0)], NO_STREAM)

    async def write(store: SqliteEventStore, n: int) -> str:
        try:
            await store.append("contracts-x-1", [new_event(n)], expected_version=0)
        except WrongExpectedVersion:
            return "conflict"
        return "won"

    outcomes = await asyncio.gather(*(write(store, n) for n, store in enumerate([one, two] * 4)))
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    assert len(await two.read_stream("contracts-x-1")) == 2
    await one.close()
    await two.close()


async def test_events_survive_reopening_the_file(tmp_path: Path) -> None:
    store = await SqliteEventStore(tmp_path / "events.db").open()
    await store.append("contracts-x-1", [new_event(1), new_event(2)], NO_STREAM)
    await store.close()
    reopened = await SqliteEventStore(tmp_path / "events.db").open()
    assert [e.data["n"] for e in await reopened.read_stream("contracts-x-1")] == [1, 2]
    await reopened.close()
