"""Opening the embedded platform is all or nothing: a store that cannot open closes the ones already open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from libs.events.embedded import EmbeddedPlatform


async def test_a_store_that_cannot_open_closes_the_ones_already_open(tmp_path: Path) -> None:
    platform = EmbeddedPlatform(tmp_path, ["contracts", "billing"])
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "events.db").mkdir()  # a folder where the database file should be

    with pytest.raises(sqlite3.OperationalError):
        await platform.open()

    assert platform.vault._db is None
    assert platform.event_stores["contracts"]._db is None
    assert all(documents._db is None for documents in platform.document_stores.values())


async def test_an_opened_platform_serves_every_service(tmp_path: Path) -> None:
    platform = EmbeddedPlatform(tmp_path, ["contracts", "billing"])
    await platform.open()
    try:
        for store in platform.event_stores.values():
            assert await store.head_position() is None
    finally:
        await platform.close()
