"""An unreachable store, key vault or broker is described (`describe`: status, dead letters, logs) by our own
words and the driver error's type, never by the driver's message, which names hosts and may quote a URI
with its password; the driver's error stays the cause, for logs that choose to show it. No servers needed:
nothing answers where these look."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from libs.events.docstore import StoreUnavailable
from libs.events.errors import describe
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig, KafkaDeadLetters, KafkaEventLog, available
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.vault import MongoKeyVault, SqliteKeyVault

HOST = "db.internal:27017"
PASSWORD = "s3cret-Pa55"
URI = f"mongodb://portal:{PASSWORD}@{HOST}/?authSource=admin"
"""A server no name resolves to: the driver's error names it."""


def assert_quotes_nothing_of_the_driver(error: BaseException, reason: str) -> None:
    assert HOST not in reason
    assert "db.internal" not in reason
    assert PASSWORD not in reason
    assert "mongodb://" not in reason
    assert HOST in str(error.__cause__)  # the detail is still there, as the cause


async def test_an_unreachable_read_model_store_is_described_without_its_hosts() -> None:
    store = await MongoDocumentStore(URI, "billing", server_selection_timeout=0.3).open()
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.ping()
    finally:
        await store.close()
    reason = describe(raised.value)
    assert reason == "StoreUnavailable: MongoDB unavailable during ping (ServerSelectionTimeoutError)"
    assert_quotes_nothing_of_the_driver(raised.value, reason)


async def test_an_unreachable_key_vault_is_described_without_its_hosts() -> None:
    vault = await MongoKeyVault(URI, "vault", server_selection_timeout=0.3).open()
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await vault.ping()
    finally:
        await vault.close()
    reason = describe(raised.value)
    assert reason == "StoreUnavailable: key vault unavailable during ping (ServerSelectionTimeoutError)"
    assert_quotes_nothing_of_the_driver(raised.value, reason)


@pytest.fixture
async def locked_vault(tmp_path: Path) -> AsyncIterator[SqliteKeyVault]:
    """An embedded vault whose file another process holds the write lock of."""
    path = tmp_path / "keys.db"
    vault = await SqliteKeyVault(path, busy_timeout=0.1).open()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield vault
    holder.execute("ROLLBACK")
    holder.close()
    await vault.close()


async def test_a_locked_embedded_key_vault_is_described_by_its_error_type_only(locked_vault: SqliteKeyVault) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await locked_vault.erase("CL-1001")
    reason = describe(raised.value)
    assert reason == "StoreUnavailable: key vault unavailable during erase: locked by another writer (OperationalError)"
    assert "database is locked" in str(raised.value.__cause__)


async def test_an_unreachable_broker_is_described_by_the_configured_one_never_the_drivers_message() -> None:
    driver = KafkaConnectionError(f"Unable to connect to {HOST} (sasl_ssl://portal:{PASSWORD}@{HOST})")
    with pytest.raises(LogUnavailable) as raised:
        async with available("kafka-1:9092", "fetch of billing.totals"):
            raise driver
    reason = describe(raised.value)
    assert reason == (
        "LogUnavailable: Kafka at kafka-1:9092 unavailable during fetch of billing.totals (KafkaConnectionError)"
    )
    assert_quotes_nothing_of_the_driver(raised.value, reason)
    assert raised.value.__cause__ is driver


class ClosingCounted(KafkaDeadLetters):
    closed = 0

    async def close(self) -> None:
        self.closed += 1
        await super().close()


async def test_consumers_given_the_process_dead_letters_leave_them_open_for_their_owner() -> None:
    shared = ClosingCounted(KafkaConfig("127.0.0.1:1"))
    log = KafkaEventLog(shared.config, shared)
    consumers = [log.consumer("billing.totals", ["billing"]), log.consumer("billing.access", ["billing"])]
    for consumer in consumers:
        await consumer.close()
    assert shared.closed == 0
