"""The circuit breaker, with a clock the tests move."""

from __future__ import annotations

import asyncio

import pytest

from services.payments.breaker import CircuitBreaker, CircuitOpen
from services.payments.ports import GatewayRejected, GatewayUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Gateway:
    def __init__(self) -> None:
        self.calls = 0
        self.fail_with: Exception | None = None

    async def call(self) -> str:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return "ok"


def state(breaker: CircuitBreaker) -> str:
    return breaker.state


def setup() -> tuple[CircuitBreaker, Clock, Gateway]:
    clock = Clock()
    return CircuitBreaker("test", failure_threshold=3, reset_timeout=30, clock=clock), clock, Gateway()


async def fail(breaker: CircuitBreaker, gateway: Gateway, times: int) -> None:
    for _ in range(times):
        with pytest.raises(GatewayUnavailable):
            await breaker.call(gateway.call)


async def test_it_opens_after_consecutive_failures_and_refuses_without_calling() -> None:
    breaker, _, gateway = setup()
    gateway.fail_with = GatewayUnavailable("down")
    await fail(breaker, gateway, 2)
    assert state(breaker) == "closed"
    await fail(breaker, gateway, 1)
    assert state(breaker) == "open"
    assert not breaker.available
    with pytest.raises(CircuitOpen):
        await breaker.call(gateway.call)
    assert gateway.calls == 3


async def test_a_success_resets_the_count() -> None:
    breaker, _, gateway = setup()
    gateway.fail_with = GatewayUnavailable("down")
    await fail(breaker, gateway, 2)
    gateway.fail_with = None
    assert await breaker.call(gateway.call) == "ok"
    gateway.fail_with = GatewayUnavailable("down")
    await fail(breaker, gateway, 2)
    assert state(breaker) == "closed"


async def test_refusals_prove_the_gateway_answers() -> None:
    breaker, _, gateway = setup()
    gateway.fail_with = GatewayRejected("400")
    for _ in range(5):
        with pytest.raises(GatewayRejected):
            await breaker.call(gateway.call)
    assert state(breaker) == "closed"


async def test_it_recovers_by_itself_through_a_half_open_probe() -> None:
    breaker, clock, gateway = setup()
    gateway.fail_with = GatewayUnavailable("down")
    await fail(breaker, gateway, 3)
    clock.now += 29.9
    assert state(breaker) == "open"
    clock.now += 0.1
    assert state(breaker) == "half_open"
    assert breaker.available
    gateway.fail_with = None
    assert await breaker.call(gateway.call) == "ok"
    assert state(breaker) == "closed"


async def test_a_failed_probe_opens_it_again_for_another_period() -> None:
    breaker, clock, gateway = setup()
    gateway.fail_with = GatewayUnavailable("down")
    await fail(breaker, gateway, 3)
    clock.now += 30
    await fail(breaker, gateway, 1)
    assert state(breaker) == "open"
    clock.now += 29
    assert state(breaker) == "open"
    clock.now += 1
    assert state(breaker) == "half_open"


async def test_only_one_probe_at_a_time() -> None:
    breaker, clock, _ = setup()
    gate = asyncio.Event()

    async def down() -> str:
        raise GatewayUnavailable("down")

    for _ in range(3):
        with pytest.raises(GatewayUnavailable):
            await breaker.call(down)
    clock.now += 30

    async def slow() -> str:
        await gate.wait()
        return "ok"

    probe = asyncio.create_task(breaker.call(slow))
    await asyncio.sleep(0)
    assert not breaker.available
    with pytest.raises(CircuitOpen):
        await breaker.call(slow)
    gate.set()
    assert await probe == "ok"
    assert state(breaker) == "closed"


async def test_a_cancelled_probe_lets_the_next_one_through() -> None:
    breaker, clock, _ = setup()

    async def down() -> str:
        raise GatewayUnavailable("down")

    for _ in range(3):
        with pytest.raises(GatewayUnavailable):
            await breaker.call(down)
    clock.now += 30
    hang = asyncio.Event()

    async def stuck() -> str:
        await hang.wait()
        return "never"

    probe = asyncio.create_task(breaker.call(stuck))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    async def fine() -> str:
        return "ok"

    assert await breaker.call(fine) == "ok"


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("x", failure_threshold=0)
