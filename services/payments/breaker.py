"""A small circuit breaker for calls to the payment gateway.

closed: calls go through; `failure_threshold` failures in a row open it.
open: calls fail at once with CircuitOpen, for `reset_timeout` seconds.
half-open: then one call at a time goes through as a probe; its success closes the breaker, its
failure opens it again for another `reset_timeout`. Nobody has to reset it: it recovers by itself.

Only failures that say the gateway is unhealthy count (by default GatewayUnavailable: connection
errors, timeouts, 5xx); a refusal (4xx) proves the gateway answers and counts as a success.
The clock is injected, so the tests move time instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import structlog

from services.payments.ports import GatewayUnavailable

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]

log = structlog.get_logger(__name__)


class CircuitOpen(GatewayUnavailable):
    """The breaker is open: the call was not made."""


def _unhealthy(error: Exception) -> bool:
    return isinstance(error, GatewayUnavailable)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        is_failure: Callable[[Exception], bool] = _unhealthy,
    ) -> None:
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout >= 0")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._is_failure = is_failure
        self._open = False
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        if not self._open:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return "open"

    @property
    def available(self) -> bool:
        """False while open; half-open counts as available (the next call is the probe)."""
        return self.state != "open" and not (self._probing and self._open)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        probe = self._admit()
        try:
            result = await fn()
        except Exception as error:
            if self._is_failure(error):
                self._failed(probe)
            else:
                self._succeeded(probe)
            raise
        finally:
            if probe:
                self._probing = False
        self._succeeded(probe)
        return result

    def _admit(self) -> bool:
        """Lets a call through; True when it is the half-open probe."""
        state = self.state
        if state == "open":
            raise CircuitOpen(f"{self.name}: circuit open")
        if state == "half_open":
            if self._probing:
                raise CircuitOpen(f"{self.name}: circuit half-open, a probe is under way")
            self._probing = True
            return True
        return False

    def _succeeded(self, probe: bool) -> None:
        if self._open and probe:
            log.info("circuit_closed", breaker=self.name)
        if probe or not self._open:
            self._open = False
            self._failures = 0

    def _failed(self, probe: bool) -> None:
        self._failures += 1
        if probe or (not self._open and self._failures >= self.failure_threshold):
            self._open = True
            self._opened_at = self._clock()
            log.warning("circuit_opened", breaker=self.name, failures=self._failures, reset_timeout=self.reset_timeout)
