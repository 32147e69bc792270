"""Billing's document PDFs in the blob port, and the sweep of those no DocumentPublished refers to
(stored, then the append failed: libs/events/blobs.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from libs.events.blobs import BlobStore, BlobSweeper, FileBlobStore
from libs.events.envelope import utc_now
from libs.events.service.runtime import ServiceRuntime
from services.billing.domain import document
from services.billing.settings import BillingSettings


def _settings(runtime: ServiceRuntime) -> BillingSettings:
    settings = runtime.settings
    return settings if isinstance(settings, BillingSettings) else BillingSettings.model_validate(settings.model_dump())


def document_files(runtime: ServiceRuntime) -> BlobStore:
    """Files under <data>/billing/blobs in embedded mode."""
    return FileBlobStore(runtime.settings.data_dir / "blobs")


def document_key(document_id: str, digest: str) -> str:
    return f"documents/{document_id}/{digest}.pdf"


def document_stream_of(key: str) -> str | None:
    """The stream whose DocumentPublished refers to a key made by `document_key`."""
    folder, _, rest = key.partition("/")
    document_id, _, name = rest.partition("/")
    return document.stream_id(document_id) if folder == "documents" and document_id and name else None


def orphan_sweeper(runtime: ServiceRuntime, clock: Callable[[], datetime] = utc_now) -> BlobSweeper:
    grace = timedelta(seconds=_settings(runtime).orphan_blob_grace_seconds)
    return BlobSweeper(document_files(runtime), runtime.events, document_stream_of, grace, clock)


async def sweep_orphans(runtime: ServiceRuntime) -> None:
    """Billing's ServiceDefinition.background: a sweep at start, then one every interval."""
    interval = _settings(runtime).orphan_blob_sweep_seconds
    if interval > 0:
        await orphan_sweeper(runtime).sweep_forever(interval)
