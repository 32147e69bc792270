"""The event log contract: consumers follow sources from committed checkpoints; every adapter passes these."""

from __future__ import annotations

from uuid import uuid4

from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.eventlog import LogConsumer
from tests.contract.conftest import LogHarness


def events(*numbers: int) -> list[NewEvent]:
    return [NewEvent(type="Tested", version=1, data={"n": n}) for n in numbers]


async def drain(consumer: LogConsumer, expected: int, commit: bool = True) -> list[RecordedEvent]:
    received: list[RecordedEvent] = []
    for _ in range(50):
        batch = await consumer.next_batch(max_events=100, timeout=0.5)
        received.extend(batch.events)
        if commit and batch.events:
            await consumer.commit(batch)
        if len(received) >= expected:
            break
    return received


async def test_a_consumer_reads_every_source_in_stream_order(log_harness: LogHarness) -> None:
    await log_harness.publish("contracts", "contracts-a-1", events(1, 2))
    await log_harness.publish("billing", "billing-b-1", events(10))
    await log_harness.publish("contracts", "contracts-a-1", events(3))
    consumer = log_harness.log.consumer(f"g-{uuid4().hex}", ["contracts", "billing"])
    received = await drain(consumer, 4)
    assert sorted(e.data["n"] for e in received) == [1, 2, 3, 10]
    per_stream = [e.data["n"] for e in received if e.stream_id == "contracts-a-1"]
    assert per_stream == [1, 2, 3]
    await consumer.close()


async def test_a_consumer_only_reads_its_sources(log_harness: LogHarness) -> None:
    await log_harness.publish("contracts", "contracts-a-1", events(1))
    await log_harness.publish("billing", "billing-b-1", events(2))
    consumer = log_harness.log.consumer(f"g-{uuid4().hex}", ["billing"])
    received = await drain(consumer, 1)
    assert [e.data["n"] for e in received] == [2]
    await consumer.close()


async def test_a_new_consumer_of_the_group_resumes_after_the_commit(log_harness: LogHarness) -> None:
    group = f"g-{uuid4().hex}"
    await log_harness.publish("contracts", "contracts-a-1", events(1, 2))
    first = log_harness.log.consumer(group, ["contracts"])
    assert [e.data["n"] for e in await drain(first, 2)] == [1, 2]
    await first.close()
    await log_harness.publish("contracts", "contracts-a-1", events(3))
    second = log_harness.log.consumer(group, ["contracts"])
    assert [e.data["n"] for e in await drain(second, 1)] == [3]
    await second.close()


async def test_uncommitted_events_are_delivered_again(log_harness: LogHarness) -> None:
    group = f"g-{uuid4().hex}"
    await log_harness.publish("contracts", "contracts-a-1", events(1, 2))
    crashed = log_harness.log.consumer(group, ["contracts"])
    assert len(await drain(crashed, 2, commit=False)) == 2
    await crashed.close()
    restarted = log_harness.log.consumer(group, ["contracts"])
    assert [e.data["n"] for e in await drain(restarted, 2)] == [1, 2]
    await restarted.close()


async def test_an_idle_log_answers_an_empty_batch(log_harness: LogHarness) -> None:
    consumer = log_harness.log.consumer(f"g-{uuid4().hex}", ["contracts"])
    batch = await consumer.next_batch(max_events=10, timeout=0.2)
    assert batch.events == []
    await consumer.close()


async def test_lag_counts_what_is_not_committed_and_reset_starts_over(log_harness: LogHarness) -> None:
    group = f"g-{uuid4().hex}"
    await log_harness.publish("contracts", "contracts-a-1", events(1, 2, 3))
    consumer = log_harness.log.consumer(group, ["contracts"])
    assert (await consumer.lag())["contracts"] == 3
    await drain(consumer, 3)
    assert (await consumer.lag())["contracts"] == 0
    await consumer.reset()
    assert [e.data["n"] for e in await drain(consumer, 3)] == [1, 2, 3]
    await consumer.close()


async def test_a_target_taken_from_the_ends_is_reached_by_committing_that_far_whatever_comes_after(
    log_harness: LogHarness,
) -> None:
    consumer = log_harness.log.consumer(f"g-{uuid4().hex}", ["contracts", "billing"])
    assert await consumer.reached(await consumer.ends())  # nothing published: nothing to read first
    await log_harness.publish("contracts", "contracts-a-1", events(1, 2))
    await log_harness.publish("billing", "billing-b-1", events(10))
    target = await consumer.ends()
    assert not await consumer.reached(target)
    await drain(consumer, 3)
    await log_harness.publish("contracts", "contracts-a-2", events(3))
    assert await consumer.reached(target)
    assert not await consumer.reached(await consumer.ends())
    assert (await consumer.lag())["contracts"] == 1
    await consumer.close()


async def test_reading_without_committing_does_not_reach_a_target(log_harness: LogHarness) -> None:
    consumer = log_harness.log.consumer(f"g-{uuid4().hex}", ["contracts"])
    await log_harness.publish("contracts", "contracts-a-1", events(1, 2))
    target = await consumer.ends()
    assert len(await drain(consumer, 2, commit=False)) == 2
    assert not await consumer.reached(target)
    await consumer.close()
