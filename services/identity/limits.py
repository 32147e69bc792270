"""Rate limits and failure backoff, shared by every identity process.

The counters live in identity's document store and every hit is counted atomically there
(`DocumentStore.add_hit`), so several identity API replicas count together: N replicas never allow N
times the attempts. Counter ids are HMACs (`CounterKeys`), so no e-mail or client address can be read
or matched from them. The worker's sweep (`sweep_expired_limits`) deletes counters whose window has
passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from libs.events.docstore import Collection, DocumentStore, Index, stamp
from libs.events.errors import TooManyRequests, describe
from services.identity.domain import Backoff, retry_after

log = structlog.get_logger(__name__)

LIMITS = Collection("rate_limits", (Index.on("expires_at"),))
SWEEP_BATCH = 1000


class CounterKeys:
    """A counter's id: an HMAC of the limit's name and the key (an e-mail or client address) with
    identity's secret, so a stored id cannot be matched against a list of addresses."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __call__(self, name: str, key: str) -> str:
        return hmac.new(self._secret, f"{name}\0{key}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Rate:
    limit: int
    per_seconds: int


class RateLimiter:
    """At most `limit` hits per key in a window of `per_seconds` that starts at the key's first hit."""

    def __init__(self, name: str, rate: Rate, store: DocumentStore, keys: CounterKeys) -> None:
        self.name = name
        self.rate = rate
        self.store = store
        self.keys = keys

    async def hit(self, key: str, now: datetime) -> None:
        """Counts a hit; TooManyRequests (429) once over the limit."""
        period = timedelta(seconds=self.rate.per_seconds)
        window = await self.store.add_hit(LIMITS, self.keys(self.name, key), now, period)
        if window.hits > self.rate.limit:
            wait = retry_after(window.start + period, now)
            raise TooManyRequests("too_many_requests", "too many requests; wait and try again", wait)


class FailureBackoff:
    """Counts failures per key; after `backoff.free` of them, refuses until an exponentially growing
    delay after the last one has passed. A success clears the key; failures are forgotten after a
    quiet `memory` (none since)."""

    def __init__(self, name: str, backoff: Backoff, store: DocumentStore, keys: CounterKeys, memory: timedelta) -> None:
        self.name = name
        self.backoff = backoff
        self.store = store
        self.keys = keys
        self.memory = memory

    async def check(self, key: str, now: datetime) -> None:
        counter = await self.store.get(LIMITS, self.keys(self.name, key))
        if counter is None or counter["expires_at"] <= stamp(now):
            return
        until = self.backoff.locked_until(int(counter["hits"]), datetime.fromisoformat(counter["last"]))
        if until is not None and now < until:
            raise TooManyRequests("too_many_attempts", "too many failed attempts; wait", retry_after(until, now))

    async def failed(self, key: str, now: datetime) -> int:
        return (await self.store.add_hit(LIMITS, self.keys(self.name, key), now, self.memory, sliding=True)).hits

    async def succeeded(self, key: str) -> None:
        await self.store.delete(LIMITS, [self.keys(self.name, key)])


async def sweep_expired_limits(store: DocumentStore, now: datetime) -> int:
    """Deletes the counters whose window has passed; returns how many."""
    swept = 0
    while expired := await store.find(LIMITS, {"expires_at": {"$lte": stamp(now)}}, limit=SWEEP_BATCH):
        await store.delete(LIMITS, [counter["_id"] for counter in expired])
        swept += len(expired)
        if len(expired) < SWEEP_BATCH:
            break
    return swept


async def sweep_limits_forever(store: DocumentStore, clock: Callable[[], datetime], interval: float) -> None:
    """A sweep every `interval`; a failed one (the store unreachable) is logged and the next one tries again."""
    while True:
        try:
            swept = await sweep_expired_limits(store, clock())
        except Exception as error:
            log.warning("rate_limit_sweep_failed", error=describe(error))
        else:
            if swept:
                log.info("rate_limits_swept", counters=swept)
        await asyncio.sleep(interval)
