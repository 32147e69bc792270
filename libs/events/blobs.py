"""Blob port: files (document PDFs, request attachments) kept outside events and read models.

Events and documents hold a BlobRef (key, size, SHA-256, content type), never the bytes.
The embedded adapter is the local file system; production puts an object store behind the same port.

A service stores the bytes first and then appends the event that refers to them; when the append
fails (a conflict, a crash) the bytes stay behind with nothing referring to them. `BlobSweeper`
deletes such orphans once older than a grace period, after asking the event store (never a read
model, which may be rebuilding) whether any event of the stream the key belongs to refers to them.
A service keys its blobs `<folder>/<aggregate id>/<name>` and sweeps them with `orphan_sweeper`, its
settings mixing in `OrphanBlobSettings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, Field

from libs.events.envelope import utc_now
from libs.events.pii import PersonalDataStore
from libs.events.store import EventStore

if TYPE_CHECKING:
    from libs.events.service.runtime import ServiceRuntime

log = structlog.get_logger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]+\.(?P<kind>tmp|sweep)$")
"""A put's temporary file (`.<name>.<nonce>.tmp`) or a blob moved aside to be deleted (`.<name>.<nonce>.sweep`).
The nonce is random: pods sharing the folder all run as pid 1, and one process may put a key twice at once.
(Files left by older versions carry the pid there, which the pattern matches too.)"""


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

    async def clean_leftovers(self, before: datetime) -> None:
        """Clears what a crash left between the steps of a put or a `delete_if_unchanged`, untouched since
        `before`: a blob moved aside to be deleted goes back under its key (unless that key was written
        again meanwhile), so the next sweep judges it afresh; half-written bytes go."""
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

    async def clean_leftovers(self, before: datetime) -> None:
        await asyncio.to_thread(self._clean_leftovers, before.timestamp())

    def _clean_leftovers(self, before: float) -> None:
        for folder, _, names in os.walk(self.root):
            for name in names:
                leftover = _LEFTOVER.match(name)
                if leftover is not None:
                    path = Path(folder) / name
                    blob = path.with_name(leftover["name"])
                    key = blob.relative_to(self.root).as_posix()
                    _clean_leftover(path, blob, key, moved_aside=leftover["kind"] == "sweep", before=before)


def _version(found: os.stat_result) -> str:
    return f"{found.st_ino}:{found.st_mtime_ns}:{found.st_size}"


def _delete_if_unchanged(path: Path, version: str) -> bool:
    """Moves the file aside first (a rename: atomic, and a put meanwhile makes a new file), then looks at
    what it moved: the version listed goes; a newer one goes back unless a newer still is in place."""
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}.sweep")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if _version(aside.stat()) == version:
        aside.unlink()
        return True
    _put_back(aside, path)
    return False


def _put_back(aside: Path, path: Path) -> bool:
    """The file moved aside goes back under its name, unless a newer one is in place there already."""
    try:
        os.link(aside, path)
    except FileExistsError:
        return False
    finally:
        aside.unlink(missing_ok=True)
    return True


def _clean_leftover(path: Path, blob: Path, key: str, *, moved_aside: bool, before: float) -> None:
    try:
        changed = path.stat().st_ctime  # a rename keeps the mtime, not the ctime
    except FileNotFoundError:
        return
    if changed >= before:
        return  # a put or a delete may still be at it
    if not moved_aside:
        path.unlink(missing_ok=True)
        log.info("half_written_blob_removed", key=key)
    else:
        with contextlib.suppress(FileNotFoundError):  # another sweeper got there first
            if _put_back(path, blob):
                log.warning("blob_put_back_after_an_interrupted_delete", key=key)


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
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


class OrphanBlobSettings(BaseModel):
    """The orphan sweep's settings: mixed into the settings of each service that keeps blobs
    (`class BillingSettings(OrphanBlobSettings, ServiceSettings)`), so they take its env prefix."""

    orphan_blob_grace_seconds: int = Field(
        default=3600,
        ge=60,
        description="A stored file no event refers to (its event was never appended) is deleted once this old.",
    )
    orphan_blob_sweep_seconds: float = Field(
        default=3600, ge=0, description="Seconds between sweeps for such files, the first at start; 0: none."
    )


class BlobSweeper:
    """Deletes a service's blobs older than `grace` that no event refers to.

    `stream_of(key)` names the stream whose events would refer to a key (the service makes its keys
    from the aggregate's id), or None for a key the service does not make: such a blob is left alone.
    Events are read as stored (blob references are no personal data: nothing is opened, no key vault
    asked). A key found referenced is remembered, the `remembered` most recently seen at most: events
    are never changed, so it stays referenced. The grace must be longer than any upload takes from
    storing its bytes to appending its event.
    """

    remembered = 10_000

    def __init__(
        self,
        blobs: BlobStore,
        events: EventStore,
        stream_of: Callable[[str], str | None],
        grace: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.blobs = blobs
        self.events = events.inner if isinstance(events, PersonalDataStore) else events
        self.stream_of = stream_of
        self.grace = grace
        self.clock = clock
        self._referenced: OrderedDict[str, None] = OrderedDict()
        """Keys found referenced, least recently seen first."""

    async def sweep(self) -> list[StoredBlob]:
        """One pass: what a crash left behind is cleared (`clean_leftovers`), then the orphans go; returns those."""
        now = self.clock()
        await self.blobs.clean_leftovers(now - self.grace)
        deleted: list[StoredBlob] = []
        async for blob in self.blobs.scan():
            age = now - blob.created_at
            if age < self.grace or self._known_referenced(blob.key):
                continue
            stream = self.stream_of(blob.key)
            if stream is None or await self._is_referenced(blob.key, stream):
                continue
            if await self.blobs.delete_if_unchanged(blob):
                log.info("orphan_blob_deleted", key=blob.key, size=blob.size, age_seconds=int(age.total_seconds()))
                deleted.append(blob)
        return deleted

    def _known_referenced(self, key: str) -> bool:
        if key not in self._referenced:
            return False
        self._referenced.move_to_end(key)
        return True

    async def _is_referenced(self, key: str, stream: str) -> bool:
        found = {ref for event in await self.events.read_stream(stream) for ref in referenced_keys(event.data)}
        self._remember(found)
        return key in found

    def _remember(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._referenced[key] = None
            self._referenced.move_to_end(key)
        while len(self._referenced) > self.remembered:
            self._referenced.popitem(last=False)

    async def sweep_forever(self, interval_seconds: float) -> None:
        """A pass now, then one every `interval_seconds`; a pass that fails (a store unreachable) is logged
        and the next one tries again."""
        while True:
            try:
                await self.sweep()
            except Exception as error:
                log.warning("orphan_blob_sweep_failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(interval_seconds)


def _orphan_settings(runtime: ServiceRuntime) -> OrphanBlobSettings:
    settings = runtime.settings
    return settings if isinstance(settings, OrphanBlobSettings) else OrphanBlobSettings()


def orphan_sweeper(
    runtime: ServiceRuntime,
    blobs: BlobStore,
    folder: str,
    stream_id: Callable[[str], str],
    clock: Callable[[], datetime] = utc_now,
) -> BlobSweeper:
    """The sweeper of a service's blobs keyed `<folder>/<aggregate id>/<name>`, each referred to by an
    event of the stream `stream_id(aggregate id)` (e.g. `Aggregate.stream_id`); other keys are left
    alone. The grace is the runtime's `orphan_blob_grace_seconds`."""

    def stream_of(key: str) -> str | None:
        top, _, rest = key.partition("/")
        aggregate_id, _, name = rest.partition("/")
        return stream_id(aggregate_id) if top == folder and aggregate_id and name else None

    grace = timedelta(seconds=_orphan_settings(runtime).orphan_blob_grace_seconds)
    return BlobSweeper(blobs, runtime.events, stream_of, grace, clock)


async def run_orphan_sweeps(runtime: ServiceRuntime, sweeper: BlobSweeper) -> None:
    """A service's background loop: a sweep at start, then one every `orphan_blob_sweep_seconds` (0: none)."""
    interval = _orphan_settings(runtime).orphan_blob_sweep_seconds
    if interval > 0:
        await sweeper.sweep_forever(interval)
