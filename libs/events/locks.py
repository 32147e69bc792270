"""One asyncio lock per key (an account, a payment): commands on one key run one at a time in this
process, so parallel attempts queue instead of racing; optimistic concurrency still guards across
processes. A key's lock is dropped when nobody holds or waits for it, so the table stays small."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class LockBusy(Exception):
    """The lock was not free within the wait allowed."""


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str, wait: float | None = None) -> AsyncIterator[None]:
        """Holds `key`'s lock; with `wait`, LockBusy when it is not free within that many seconds."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(wait):
                    await lock.acquire()
            except TimeoutError:
                raise LockBusy(key) from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
