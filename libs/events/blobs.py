"""Blob port: files (document PDFs, request attachments) kept outside events and read models.

Events and documents hold a BlobRef (key, size, SHA-256, content type), never the bytes.
The embedded adapter is the local file system; production puts an object store behind the same port.

A service stores the bytes first and then appends the event that refers to them; when the append
fails (a conflict, a crash) the bytes stay behind with nothing referring to them. `BlobSweeper`
deletes such orphans once older than a grace period, after asking the event store (never a read
model, which may be rebuilding) whether any event of the stream the key belongs to refers to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import structlog
from pydantic import BaseModel, ConfigDict

from libs.events.envelope import utc_now
from libs.events.store import EventStore

log = structlog.get_logger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class BlobRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    size: int
    sha256: str
    content_type: str


class BlobNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    created_at: datetime
    """When these bytes were written (a put of the same key again writes them anew)."""
    version: str
    """Opaque; changes whenever the key is written again."""


class BlobStore(Protocol):
    async def put(self, key: str, content: bytes, content_type: str) -> BlobRef: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    def scan(self, prefix: str = "") -> AsyncIterator[StoredBlob]:
        """Every blob whose key starts with `prefix`, in no particular order."""
        ...

    async def delete_if_unchanged(self, blob: StoredBlob) -> bool:
        """Deletes the blob only if it is still the version `scan` saw (not written again since): a put
        racing a sweep is never lost. False when it changed or is gone."""
        ...


def _check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"bad blob key {key!r}")
    return key


class FileBlobStore:
    """Blobs as files under `root`; written to a temporary name and renamed, so never half-written."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, content: bytes, content_type: str) -> BlobRef:
        path = self.root / _check_key(key)
        await asyncio.to_thread(_write_atomically, path, content)
        return BlobRef(
            key=key, size=len(content), sha256=hashlib.sha256(content).hexdigest(), content_type=content_type
        )

    async def get(self, key: str) -> bytes:
        path = self.root / _check_key(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    async def delete(self, key: str) -> None:
        path = self.root / _check_key(key)
        await asyncio.to_thread(path.unlink, True)

    async def scan(self, prefix: str = "") -> AsyncIterator[StoredBlob]:
        for blob in await asyncio.to_thread(lambda: list(self._walk(prefix))):
            yield blob

    def _walk(self, prefix: str) -> Iterator[StoredBlob]:
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix) or not _KEY.match(key):
                    continue  # temporary files (dot names) are not blobs
                try:
                    found = path.stat()
                except FileNotFoundError:
                    continue
                created_at = datetime.fromtimestamp(found.st_mtime, UTC)
                yield StoredBlob(key, found.st_size, created_at, _version(found))

    async def delete_if_unchanged(self, blob: StoredBlob) -> bool:
        path = self.root / _check_key(blob.key)
        return await asyncio.to_thread(_delete_if_unchanged, path, blob.version)


def _version(found: os.stat_result) -> str:
    return f"{found.st_ino}:{found.st_mtime_ns}:{found.st_size}"


def _delete_if_unchanged(path: Path, version: str) -> bool:
    """Moves the file aside first (a rename: atomic, and a put meanwhile makes a new file), then looks at
    what it moved: the version listed goes; a newer one goes back unless a newer still is in place."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.sweep")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if _version(aside.stat()) == version:
        aside.unlink()
        return True
    with contextlib.suppress(FileExistsError):
        os.link(aside, path)
    aside.unlink()
    return False


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


# --- orphans ------------------------------------------------------------------------------------------


def referenced_keys(data: Mapping[str, Any]) -> Iterator[str]:
    """The key of every BlobRef anywhere in an event's data."""
    for value in data.values():
        yield from _refs_in(value)


def _refs_in(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        if {"key", "size", "sha256"} <= value.keys() and isinstance(value["key"], str):
            yield value["key"]
        for item in value.values():
            yield from _refs_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _refs_in(item)


class BlobSweeper:
    """Deletes a service's blobs older than `grace` that no event refers to.

    `stream_of(key)` names the stream whose events would refer to a key (the service makes its keys
    from the aggregate's id), or None for a key the service does not make: such a blob is left alone.
    A key found referenced is remembered: events are never changed, so it stays referenced. The grace
    must be longer than any upload takes from storing its bytes to appending its event.
    """

    def __init__(
        self,
        blobs: BlobStore,
        events: EventStore,
        stream_of: Callable[[str], str | None],
        grace: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.blobs = blobs
        self.events = events
        self.stream_of = stream_of
        self.grace = grace
        self.clock = clock
        self._referenced: set[str] = set()

    async def sweep(self) -> list[StoredBlob]:
        """One pass: the orphans it deleted."""
        now = self.clock()
        deleted: list[StoredBlob] = []
        async for blob in self.blobs.scan():
            age = now - blob.created_at
            if age < self.grace or blob.key in self._referenced:
                continue
            stream = self.stream_of(blob.key)
            if stream is None or await self._is_referenced(blob.key, stream):
                continue
            if await self.blobs.delete_if_unchanged(blob):
                log.info("orphan_blob_deleted", key=blob.key, size=blob.size, age_seconds=int(age.total_seconds()))
                deleted.append(blob)
        return deleted

    async def _is_referenced(self, key: str, stream: str) -> bool:
        for event in await self.events.read_stream(stream):
            self._referenced.update(referenced_keys(event.data))
        return key in self._referenced

    async def sweep_forever(self, interval_seconds: float) -> None:
        """A pass now, then one every `interval_seconds`; a pass that fails (a store unreachable) is logged
        and the next one tries again."""
        while True:
            try:
                await self.sweep()
            except Exception as error:
                log.warning("orphan_blob_sweep_failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(interval_seconds)
