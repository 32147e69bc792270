"""The event store contract: every adapter passes these."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.store import ANY_VERSION, NO_STREAM, DuplicateEventIds, EventStore, WrongExpectedVersion
from tests.helpers import eventually


def new_event(n: int = 0, **data: object) -> NewEvent:
    return NewEvent(
        type="Tested", version=1, data={"n": n, "amount": "1234.56", **data}, client_id="C1", actor="tester"
    )


def stream() -> str:
    return f"contracts-test-{uuid4().hex}"


async def test_append_to_a_new_stream_and_read_it_back(event_store: EventStore) -> None:
    stream_id = stream()
    events = [new_event(1), new_event(2, text="zażółć gęślą jaźń")]
    result = await event_store.append(stream_id, events, expected_version=NO_STREAM)
    assert result.stream_version == 1
    read = await event_store.read_stream(stream_id)
    assert [e.stream_version for e in read] == [0, 1]
    assert [e.event_id for e in read] == [e.event_id for e in events]
    assert read[1].data == {"n": 2, "amount": "1234.56", "text": "zażółć gęślą jaźń"}
    assert read[0].client_id == "C1"
    assert read[0].actor == "tester"
    assert read[0].correlation_id == events[0].correlation_id
    assert read[0].occurred_at == events[0].occurred_at
    assert read[0].occurred_at.tzinfo is not None
    assert read[1].global_position == result.global_position
    assert read[0].global_position < read[1].global_position


async def test_read_stream_from_a_version(event_store: EventStore) -> None:
    stream_id = stream()
    await event_store.append(stream_id, [new_event(i) for i in range(5)], NO_STREAM)
    assert [e.data["n"] for e in await event_store.read_stream(stream_id, from_version=3)] == [3, 4]
    assert await event_store.read_stream(stream()) == []


async def test_wrong_expected_version_names_expected_and_actual(event_store: EventStore) -> None:
    stream_id = stream()
    await event_store.append(stream_id, [new_event(), new_event()], NO_STREAM)
    with pytest.raises(WrongExpectedVersion) as raised:
        await event_store.append(stream_id, [new_event()], expected_version=0)
    assert raised.value.expected == 0
    assert raised.value.actual == 1
    assert "expected version 0" in str(raised.value)
    assert "actual version 1" in str(raised.value)
    assert len(await event_store.read_stream(stream_id)) == 2


async def test_no_stream_refuses_an_existing_stream(event_store: EventStore) -> None:
    stream_id = stream()
    await event_store.append(stream_id, [new_event()], NO_STREAM)
    with pytest.raises(WrongExpectedVersion):
        await event_store.append(stream_id, [new_event()], NO_STREAM)


async def test_expected_version_of_a_missing_stream_is_refused(event_store: EventStore) -> None:
    with pytest.raises(WrongExpectedVersion) as raised:
        await event_store.append(stream(), [new_event()], expected_version=3)
    assert raised.value.actual == NO_STREAM


async def test_any_version_appends_without_a_check(event_store: EventStore) -> None:
    stream_id = stream()
    await event_store.append(stream_id, [new_event()], ANY_VERSION)
    result = await event_store.append(stream_id, [new_event()], ANY_VERSION)
    assert result.stream_version == 1


async def test_resending_the_same_batch_appends_nothing(event_store: EventStore) -> None:
    stream_id = stream()
    batch = [new_event(1), new_event(2)]
    first = await event_store.append(stream_id, batch, NO_STREAM)
    again = await event_store.append(stream_id, batch, NO_STREAM)
    assert again == first
    assert len(await event_store.read_stream(stream_id)) == 2


async def test_a_batch_overlapping_an_earlier_one_is_refused(event_store: EventStore) -> None:
    stream_id = stream()
    batch = [new_event(1), new_event(2)]
    await event_store.append(stream_id, batch, NO_STREAM)
    with pytest.raises(DuplicateEventIds):
        await event_store.append(stream_id, [batch[0], new_event(3)], ANY_VERSION)
    assert len(await event_store.read_stream(stream_id)) == 2


async def test_read_all_after_a_position_in_order(event_store: EventStore) -> None:
    start = await event_store.head_position()
    a, b = stream(), stream()
    await event_store.append(a, [new_event(1)], NO_STREAM)
    await event_store.append(b, [new_event(2), new_event(3)], NO_STREAM)
    await event_store.append(a, [new_event(4)], 0)
    everything = await event_store.read_all(after=start)
    assert [e.data["n"] for e in everything] == [1, 2, 3, 4]
    positions = [e.global_position for e in everything]
    assert positions == sorted(positions)
    assert len(set(positions)) == 4
    assert [e.data["n"] for e in await event_store.read_all(after=positions[1])] == [3, 4]
    assert [e.data["n"] for e in await event_store.read_all(after=start, limit=2)] == [1, 2]
    assert await event_store.head_position() == positions[-1]


async def test_subscribe_catches_up_then_follows_live(event_store: EventStore) -> None:
    start = await event_store.head_position()
    stream_id = stream()
    await event_store.append(stream_id, [new_event(1), new_event(2)], NO_STREAM)
    seen: list[RecordedEvent] = []

    async def follow() -> None:
        async for event in event_store.subscribe(after=start):
            seen.append(event)
            if len(seen) == 3:
                return

    follower = asyncio.create_task(follow())
    await eventually(lambda: len(seen) == 2, what="catch-up")
    await event_store.append(stream_id, [new_event(3)], 1)
    await asyncio.wait_for(follower, 10)
    assert [e.data["n"] for e in seen] == [1, 2, 3]


async def test_concurrent_writers_on_one_stream_exactly_one_wins(event_store: EventStore) -> None:
    stream_id = stream()
    await event_store.append(stream_id, [new_event(0)], NO_STREAM)

    async def write(n: int) -> str:
        try:
            await event_store.append(stream_id, [new_event(n)], expected_version=0)
        except WrongExpectedVersion:
            return "conflict"
        return "won"

    outcomes = await asyncio.gather(*(write(n) for n in range(1, 9)))
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    assert [e.stream_version for e in await event_store.read_stream(stream_id)] == [0, 1]


async def test_occurred_at_is_kept_in_utc(event_store: EventStore) -> None:
    stream_id = stream()
    moment = datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=UTC)
    event = NewEvent(type="Tested", version=1, data={}, occurred_at=moment)
    await event_store.append(stream_id, [event], NO_STREAM)
    (read,) = await event_store.read_stream(stream_id)
    assert read.occurred_at == moment
