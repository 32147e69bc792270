"""Fixtures for tests against the real servers (Kafka, the MongoDB-wire FerretDB).

Skipped when the servers are not configured (KAFKA_BOOTSTRAP / MONGO_URI, or `.infra/env`). The fault
tests also stop and start servers with deploy/local/infra.sh: those run only when the configured
servers are the ones that script manages, and they always start them again in `finally`. With CI=true
each of these skips is a failure instead (tests/conftest.py): CI runs the servers under infra.sh.
Every test uses its own topics (a namespace), consumer groups and database.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

from libs.events.docstore import StoreUnavailable
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.relay import Relay
from libs.events.sqlite_store import SqliteEventStore
from tests.servers import FAULT_SKIP, INFRA_SH, KAFKA_SKIP, MONGO_SKIP, delete_namespace, infra_env, server_setting

INFRA_TIMEOUT = 240.0


@pytest.fixture
async def kafka_config() -> AsyncIterator[KafkaConfig]:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    # a short session timeout: a killed consumer's partitions move within seconds
    config = KafkaConfig(bootstrap, namespace=f"cluster-{uuid4().hex[:12]}", session_timeout_ms=6000)
    yield config
    with contextlib.suppress(KafkaError, LogUnavailable, OSError, TimeoutError):
        await asyncio.wait_for(delete_namespace(config), 30)


@pytest.fixture
async def mongo() -> AsyncIterator[MongoDocumentStore]:
    uri = server_setting("MONGO_URI")
    if uri is None:
        pytest.skip(MONGO_SKIP)
    store = await MongoDocumentStore(uri, f"cluster_{uuid4().hex[:12]}").open()
    yield store
    with contextlib.suppress(StoreUnavailable):
        await store.drop_database()
    await store.close()


@pytest.fixture
async def billing_store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    store = await SqliteEventStore(tmp_path / "billing" / "events.db", "billing").open()
    yield store
    await store.close()


@pytest.fixture
async def billing_relay(
    billing_store: SqliteEventStore, kafka_config: KafkaConfig, tmp_path: Path
) -> AsyncIterator[Relay]:
    relay = Relay.next_to(tmp_path / "billing", "billing", billing_store, kafka_config)
    yield relay
    await relay.stop()


@dataclass
class Infra:
    """Stops and starts the local servers through deploy/local/infra.sh (bounded by INFRA_TIMEOUT)."""

    stopped: set[str] = field(default_factory=set)

    async def run(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            str(INFRA_SH), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), INFRA_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"infra.sh {' '.join(args)} did not finish within {INFRA_TIMEOUT} s") from None
        text = output.decode(errors="replace")
        assert process.returncode == 0, f"infra.sh {' '.join(args)} failed:\n{text}"
        return text

    async def down(self, service: str) -> None:
        self.stopped.add(service)
        await self.run("down", service)

    async def up(self, service: str) -> None:
        await self.run("up", service)
        self.stopped.discard(service)


def _managed(service: str, setting: str) -> str | None:
    """Why infra.sh cannot restart the configured server, or None when it can."""
    if not INFRA_SH.exists():
        return f"{INFRA_SH} is missing"
    if server_setting(setting) != infra_env().get(setting):
        return f"{setting} does not point at the server deploy/local/infra.sh runs"
    status = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [str(INFRA_SH), "status", service], capture_output=True, timeout=60, check=False
    )
    if status.returncode != 0:
        return f"{service} is not running under deploy/local/infra.sh"
    return None


@pytest.fixture
def infra() -> Iterator[Infra]:
    """For fault tests: both servers configured and run by infra.sh; whatever a test stopped is started again."""
    for service, setting in (("kafka", "KAFKA_BOOTSTRAP"), ("ferretdb", "MONGO_URI")):
        if server_setting(setting) is None:
            pytest.skip(KAFKA_SKIP if service == "kafka" else MONGO_SKIP)
        reason = _managed(service, setting)
        if reason:
            pytest.skip(f"{FAULT_SKIP}: {reason}")
    servers = Infra()
    yield servers
    for service in sorted(servers.stopped):
        subprocess.run([str(INFRA_SH), "up", service], capture_output=True, timeout=INFRA_TIMEOUT, check=False)  # noqa: S603


async def read_topic(config: KafkaConfig, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything in a topic now, from every partition (no consumer group: all partitions are ours)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=config.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        for _ in range(200):  # bounded: each round waits at most 0.5 s
            positions = [await consumer.position(tp) for tp in partitions]
            if all(position >= ends[tp] for position, tp in zip(positions, partitions, strict=True)):
                break
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return bytes(value).decode()
    return None
