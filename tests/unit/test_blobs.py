from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from libs.events.blobs import BlobNotFound, FileBlobStore


async def test_a_blob_is_stored_and_read_back_with_its_digest(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    content = b"%PDF-1.7 faktura"
    ref = await store.put("documents/CL-1/fv-2026-001.pdf", content, "application/pdf")
    assert ref.sha256 == hashlib.sha256(content).hexdigest()
    assert ref.size == len(content)
    assert await store.get("documents/CL-1/fv-2026-001.pdf") == content
    assert list(tmp_path.rglob(".*.tmp")) == []


async def test_a_missing_blob_and_a_deleted_one_are_not_found(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    await store.put("a/b.pdf", b"x", "application/pdf")
    await store.delete("a/b.pdf")
    with pytest.raises(BlobNotFound):
        await store.get("a/b.pdf")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", "", "a//b"])
async def test_keys_cannot_escape_the_root(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="bad blob key"):
        await FileBlobStore(tmp_path).put(key, b"x", "application/pdf")


async def test_puts_of_one_key_at_the_same_time_leave_one_whole_version(tmp_path: Path) -> None:
    """Two replicas sharing the folder (both pid 1), or one process putting a key twice at once: each put
    writes its own temporary file, so the blob is one put's content, whole, and every put succeeds."""
    store = FileBlobStore(tmp_path)
    versions = [bytes([n]) * 200_000 for n in range(12)]
    await asyncio.gather(*(store.put("documents/CL-1/fv.pdf", content, "application/pdf") for content in versions))
    assert await store.get("documents/CL-1/fv.pdf") in versions
    assert list(tmp_path.rglob(".*.tmp")) == []
