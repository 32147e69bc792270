"""The key vault contract: every adapter passes these (SQLite file, MongoDB-wire server)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import uuid4

import pytest

from libs.events.docstore import StoreUnavailable
from libs.events.vault import KEY_BYTES, KeyVault, MongoKeyVault, SqliteKeyVault, SubjectErased
from tests.servers import MONGO_SKIP, server_setting

VaultFactory = Callable[[], Awaitable[KeyVault]]
"""Opens another vault on the same storage (another process of the same deployment)."""


@pytest.fixture(params=["sqlite", "mongo"])
async def vaults(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VaultFactory]:
    opened: list[SqliteKeyVault | MongoKeyVault] = []
    database = f"contract_vault_{uuid4().hex[:12]}"
    uri = server_setting("MONGO_URI")
    if request.param == "mongo" and uri is None:
        pytest.skip(MONGO_SKIP)

    async def open_vault() -> KeyVault:
        vault = MongoKeyVault(uri, database) if uri and request.param == "mongo" else SqliteKeyVault(tmp_path / "k.db")
        opened.append(await vault.open())
        return opened[-1]

    yield open_vault
    for vault in opened:
        if isinstance(vault, MongoKeyVault):
            await vault.drop_database()
        await vault.close()


async def test_a_subject_gets_one_key_made_on_first_use(vaults: VaultFactory) -> None:
    vault = await vaults()
    first = await vault.keys_for({"acc-1", "acc-2"})
    assert set(first) == {"acc-1", "acc-2"}
    assert len(first["acc-1"].secret) == KEY_BYTES
    assert first["acc-1"].key_id != first["acc-2"].key_id
    assert first["acc-1"].secret != first["acc-2"].secret
    again = await (await vaults()).keys_for({"acc-1"})
    assert again["acc-1"] == first["acc-1"]
    assert await vault.keys_for(set()) == {}


async def test_two_processes_asking_at_once_get_the_same_key(vaults: VaultFactory) -> None:
    one, two = await vaults(), await vaults()
    found = await asyncio.gather(*(vault.keys_for({"acc-race"}) for vault in (one, two, one, two)))
    assert len({keys["acc-race"] for keys in found}) == 1


async def test_find_returns_the_secrets_of_existing_keys_only(vaults: VaultFactory) -> None:
    vault = await vaults()
    keys = await vault.keys_for({"acc-1"})
    key = keys["acc-1"]
    assert await vault.find({key.key_id, "no-such-key"}) == {key.key_id: key.secret}
    assert await vault.find(set()) == {}


async def test_erase_deletes_the_key_for_good(vaults: VaultFactory) -> None:
    vault = await vaults()
    key = (await vault.keys_for({"acc-1", "acc-2"}))["acc-1"]
    assert not await vault.erased("acc-1")
    assert await vault.erase("acc-1") is True
    assert await vault.find({key.key_id}) == {}
    assert await vault.erased("acc-1")
    with pytest.raises(SubjectErased) as refused:
        await (await vaults()).keys_for({"acc-2", "acc-1"})
    assert refused.value.subject == "acc-1"
    assert await vault.erase("acc-1") is False  # twice: harmless
    assert set(await vault.keys_for({"acc-2"})) == {"acc-2"}  # the others are untouched


async def test_delete_removes_the_key_and_a_new_one_may_follow(vaults: VaultFactory) -> None:
    vault = await vaults()
    old = (await vault.keys_for({"contact-1"}))["contact-1"]
    assert await vault.delete("contact-1") is True
    assert await vault.delete("contact-1") is False
    assert await vault.find({old.key_id}) == {}
    assert not await vault.erased("contact-1")
    new = (await vault.keys_for({"contact-1"}))["contact-1"]
    assert new.key_id != old.key_id
    assert new.secret != old.secret


async def test_key_material_never_shows_in_a_repr(vaults: VaultFactory) -> None:
    key = (await (await vaults()).keys_for({"acc-1"}))["acc-1"]
    assert key.secret.hex() not in repr(key)
    assert repr(key.secret) not in repr(key)
    assert key.key_id in repr(key)


async def test_the_sqlite_vault_gives_existing_keys_while_another_process_writes(tmp_path: Path) -> None:
    """Only making or deleting a key waits for SQLite's write lock; past its wait the vault is unavailable."""
    path = tmp_path / "keys.db"
    vault = await SqliteKeyVault(path, busy_timeout=0.05).open()
    try:
        known = (await vault.keys_for({"acc-1"}))["acc-1"]
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other_process:
            other_process.execute("BEGIN IMMEDIATE")
            assert await vault.keys_for({"acc-1"}) == {"acc-1": known}
            assert await vault.find({known.key_id}) == {known.key_id: known.secret}
            with pytest.raises(StoreUnavailable, match="locked"):
                await vault.keys_for({"acc-1", "acc-2"})
            with pytest.raises(StoreUnavailable):
                await vault.erase("acc-1")
            other_process.execute("ROLLBACK")
        keys = await vault.keys_for({"acc-1", "acc-2"})
        assert keys["acc-1"] == known
        assert set(keys) == {"acc-1", "acc-2"}
    finally:
        await vault.close()
