"""What the SQLite event store promises beyond the contract: files shared by processes, live and
cross-process wake-up, batches longer than one statement."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import NO_STREAM, DuplicateEventIds, WrongExpectedVersion
from tests.contract.test_event_store import new_event
from tests.servers import ROOT

StoreOpener = Callable[[], Awaitable[SqliteEventStore]]


async def test_live_subscribers_are_woken_by_the_append_not_by_polling(tmp_path: Path) -> None:
    store = await SqliteEventStore(tmp_path / "events.db", cross_process_poll_interval=3600).open()
    subscription = store.subscribe()
    first = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0.1)  # the follower is now waiting, with nothing to read
    assert not first.done()
    await store.append("contracts-x-1", [new_event(7)], NO_STREAM)
    event = await asyncio.wait_for(first, 10)  # would take an hour if it polled
    assert event.data["n"] == 7
    await subscription.aclose()
    await store.close()


async def test_subscribers_and_the_relays_wait_are_all_woken_by_one_append(tmp_path: Path) -> None:
    """Each follower keeps its own mark: one append wakes every subscriber and the wait, none takes it
    from the others."""
    store = await SqliteEventStore(tmp_path / "events.db", cross_process_poll_interval=3600).open()
    subscriptions = [store.subscribe(), store.subscribe()]
    firsts = [asyncio.ensure_future(anext(subscription)) for subscription in subscriptions]
    waiting = asyncio.ensure_future(store.wait_for_append(timeout=3600))
    await asyncio.sleep(0.1)  # every follower is now waiting, with nothing to read
    assert not any(future.done() for future in [*firsts, waiting])
    await store.append("contracts-x-1", [new_event(7)], NO_STREAM)
    events = await asyncio.wait_for(asyncio.gather(*firsts), 10)
    await asyncio.wait_for(waiting, 10)
    assert [event.data["n"] for event in events] == [7, 7]
    for subscription in subscriptions:
        await subscription.aclose()
    await store.close()


async def test_a_subscriber_sees_what_another_connection_appends(tmp_path: Path) -> None:
    """The appends of another process are found by the same look at the file as `wait_for_append`'s."""
    follower = await SqliteEventStore(tmp_path / "events.db").open()
    writer = await SqliteEventStore(tmp_path / "events.db").open()
    await writer.append("contracts-x-1", [new_event(1)], NO_STREAM)
    subscription = follower.subscribe()
    assert (await asyncio.wait_for(anext(subscription), 10)).data["n"] == 1
    second = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0.1)  # the subscriber is now waiting, with nothing to read
    assert not second.done()
    await writer.append("contracts-x-1", [new_event(2)], 0)
    assert (await asyncio.wait_for(second, 10)).data["n"] == 2
    await subscription.aclose()
    await writer.close()
    await follower.close()


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


@pytest.fixture
async def open_store(tmp_path: Path) -> AsyncIterator[StoreOpener]:
    """Opens stores (connections) on one file, closed even when the test fails: their threads would
    keep pytest from exiting."""
    stores: list[SqliteEventStore] = []

    async def open_one() -> SqliteEventStore:
        stores.append(await SqliteEventStore(tmp_path / "events.db").open())
        return stores[-1]

    yield open_one
    for store in stores:
        await store.close()


async def test_an_append_through_another_connection_ends_the_wait(open_store: StoreOpener) -> None:
    """The relay's case in the local cluster: the API appends in another process, on the same file."""
    follower = await open_store()
    writer = await open_store()
    waiting = asyncio.ensure_future(follower.wait_for_append(timeout=30))
    await asyncio.sleep(0.1)  # the follower is now polling, with nothing appended
    assert not waiting.done()
    await writer.append("contracts-x-1", [new_event(1)], NO_STREAM)
    await asyncio.wait_for(waiting, 10)  # would take 30 s if only the timeout ended it


async def test_an_append_by_another_process_ends_the_wait(open_store: StoreOpener, tmp_path: Path) -> None:
    follower = await open_store()
    waiting = asyncio.ensure_future(follower.wait_for_append(timeout=3600))
    script = (
        "import asyncio, sys\n"
        "from libs.events.envelope import NewEvent\n"
        "from libs.events.sqlite_store import SqliteEventStore\n"
        "async def main():\n"
        "    store = await SqliteEventStore(sys.argv[1]).open()\n"
        "    await store.append('contracts-x-1', [NewEvent(type='Tested', version=1, data={'n': 1})], -1)\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
    )
    writer = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(tmp_path / "events.db"), cwd=ROOT)
    assert await writer.wait() == 0
    await asyncio.wait_for(waiting, 10)  # the timeout is an hour away: the append ended it
    assert [e.data["n"] for e in await follower.read_stream("contracts-x-1")] == [1]


async def test_an_append_in_this_process_ends_the_wait_without_polling(open_store: StoreOpener) -> None:
    store = await open_store()
    store.cross_process_poll_interval = 3600  # so only the append itself can end the wait
    waiting = asyncio.ensure_future(store.wait_for_append(timeout=30))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await store.append("contracts-x-1", [new_event(1)], NO_STREAM)
    await asyncio.wait_for(waiting, 10)


async def test_appends_between_two_waits_end_the_next_wait_at_once(open_store: StoreOpener) -> None:
    """A follower reads, finds nothing, then waits: what was appended in between must not be slept through."""
    follower = await open_store()
    follower.cross_process_poll_interval = 3600  # once the file changed, the next look must see it
    writer = await open_store()
    await writer.append("contracts-x-1", [new_event(1)], NO_STREAM)
    await asyncio.wait_for(follower.wait_for_append(timeout=30), 10)
    await follower.append("contracts-x-2", [new_event(2)], NO_STREAM)
    await asyncio.wait_for(follower.wait_for_append(timeout=30), 10)


async def test_the_wait_ends_after_the_timeout_when_nothing_is_appended(open_store: StoreOpener) -> None:
    store = await open_store()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(store.wait_for_append(timeout=0.3), 10)
    assert loop.time() - started >= 0.3  # it did not return early: nothing was appended
    assert await store.head_position() is None


async def test_a_batch_longer_than_one_statement_is_appended_whole_or_not_at_all(open_store: StoreOpener) -> None:
    store = await open_store()
    store.rows_per_statement = 2
    taken = new_event(99)
    await store.append("contracts-y-1", [taken], NO_STREAM)
    with pytest.raises(DuplicateEventIds):  # the duplicate is in the last statement of five events
        await store.append("contracts-x-1", [new_event(n) for n in range(4)] + [taken], NO_STREAM)
    assert await store.read_stream("contracts-x-1") == []
    batch = [new_event(n) for n in range(5)]
    result = await store.append("contracts-x-1", batch, NO_STREAM)
    read = await store.read_stream("contracts-x-1")
    assert [e.data["n"] for e in read] == [0, 1, 2, 3, 4]
    assert [e.stream_version for e in read] == [0, 1, 2, 3, 4]
    assert result.stream_version == 4
    assert result.global_position == read[-1].global_position
    assert await store.append("contracts-x-1", batch, NO_STREAM) == result  # re-sent: nothing appended
    with pytest.raises(WrongExpectedVersion) as raised:
        await store.append("contracts-x-1", [new_event(n) for n in range(5)], expected_version=3)
    assert (raised.value.expected, raised.value.actual) == (3, 4)
    assert len(await store.read_stream("contracts-x-1")) == 5


async def test_a_batch_repeating_an_event_id_is_refused(open_store: StoreOpener) -> None:
    store = await open_store()
    event = new_event(1)
    with pytest.raises(DuplicateEventIds):
        await store.append("contracts-x-1", [event, new_event(2), event], NO_STREAM)
    assert await store.read_stream("contracts-x-1") == []
