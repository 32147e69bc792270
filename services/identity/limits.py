"""In-process rate limits, failure backoff and per-account locks.

In memory, per process: right for the embedded mode (one process). Behind several identity
processes each one counts on its own, so the effective limit is multiplied by their number; the
per-account lockout after failed logins is also kept in the account's events (LoginFailed), which
every process honours. Keys are hashed so no e-mail address is kept in plain form either.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from libs.events.errors import TooManyRequests
from services.identity.domain import Backoff

MAX_KEYS = 100_000


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Rate:
    limit: int
    per_seconds: int


class RateLimiter:
    """At most `limit` hits per key in a fixed window of `per_seconds`."""

    def __init__(self, name: str, rate: Rate) -> None:
        self.name = name
        self.rate = rate
        self._windows: OrderedDict[str, tuple[datetime, int]] = OrderedDict()

    def hit(self, key: str, now: datetime) -> None:
        """Counts a hit; TooManyRequests (429) once over the limit."""
        hashed = _key(self.name, key)
        start, count = self._windows.pop(hashed, (now, 0))
        window = timedelta(seconds=self.rate.per_seconds)
        if now - start >= window:
            start, count = now, 0
        self._windows[hashed] = (start, count + 1)
        _bound(self._windows)
        if count + 1 > self.rate.limit:
            wait = math.ceil((start + window - now).total_seconds())
            raise TooManyRequests("too_many_requests", "too many requests; wait and try again", wait)


class FailureBackoff:
    """Counts failures per key; after `backoff.free` of them, refuses until an exponentially growing
    delay has passed. A success resets the key; a key forgets after `forget_seconds` of quiet."""

    def __init__(self, name: str, backoff: Backoff, forget_seconds: int | None = None) -> None:
        self.name = name
        self.backoff = backoff
        self.forget_seconds = forget_seconds
        self._failures: OrderedDict[str, tuple[int, datetime]] = OrderedDict()

    def check(self, key: str, now: datetime) -> None:
        failures, last = self._failures.get(_key(self.name, key), (0, now))
        if self._forgotten(last, now):
            return
        until = self.backoff.locked_until(failures, last)
        if until is not None and now < until:
            wait = math.ceil((until - now).total_seconds())
            raise TooManyRequests("too_many_attempts", "too many failed attempts; wait", wait)

    def failed(self, key: str, now: datetime) -> int:
        hashed = _key(self.name, key)
        failures, last = self._failures.pop(hashed, (0, now))
        failures = 1 if self._forgotten(last, now) else failures + 1
        self._failures[hashed] = (failures, now)
        _bound(self._failures)
        return failures

    def succeeded(self, key: str) -> None:
        self._failures.pop(_key(self.name, key), None)

    def _forgotten(self, last: datetime, now: datetime) -> bool:
        return self.forget_seconds is not None and (now - last).total_seconds() > self.forget_seconds


def _bound(table: OrderedDict[str, Any]) -> None:
    while len(table) > MAX_KEYS:
        table.popitem(last=False)
