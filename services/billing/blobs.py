"""Billing's document PDFs in the blob port, and the sweep of those no DocumentPublished refers to
(stored, then the append failed: libs/events/blobs.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from libs.events import blobs as blob_port
from libs.events.blobs import BlobStore, BlobSweeper, FileBlobStore
from libs.events.envelope import utc_now
from libs.events.service.runtime import ServiceRuntime
from services.billing.domain import document

DOCUMENTS = "documents"


def document_files(runtime: ServiceRuntime) -> BlobStore:
    """Files under <data>/billing/blobs in embedded mode."""
    return FileBlobStore(runtime.settings.data_dir / "blobs")


def document_key(document_id: str, digest: str) -> str:
    return f"{DOCUMENTS}/{document_id}/{digest}.pdf"


def orphan_sweeper(runtime: ServiceRuntime, clock: Callable[[], datetime] = utc_now) -> BlobSweeper:
    """Each key made by `document_key` is checked against its document's DocumentPublished."""
    return blob_port.orphan_sweeper(runtime, document_files(runtime), DOCUMENTS, document.stream_id, clock)


async def sweep_orphans(runtime: ServiceRuntime) -> None:
    """Billing's ServiceDefinition.background: a sweep at start, then one every interval."""
    await blob_port.run_orphan_sweeps(runtime, orphan_sweeper(runtime))
