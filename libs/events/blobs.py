"""Blob port: files (document PDFs, request attachments) kept outside events and read models.

Events and documents hold a BlobRef (key, size, SHA-256, content type), never the bytes.
The embedded adapter is the local file system; production puts an object store behind the same port.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class BlobRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    size: int
    sha256: str
    content_type: str


class BlobNotFound(LookupError):
    pass


class BlobStore(Protocol):
    async def put(self, key: str, content: bytes, content_type: str) -> BlobRef: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


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


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
