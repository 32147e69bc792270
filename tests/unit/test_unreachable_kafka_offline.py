"""An unreachable broker or event store gives a clear startup or readiness error, never a hang; a record
that is no envelope is described without quoting it. No servers needed: nothing listens where these look.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from libs.events.cluster import DEFAULT_RELAY_STARTUP_TIMEOUT, ClusterConfigError, ClusterInfra
from libs.events.docstore import StoreUnavailable
from libs.events.esdb_store import EsdbEventStore
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig, KafkaReadiness, read_envelope
from libs.events.relay import FileCheckpoint, Relay
from libs.events.sqlite_store import SqliteEventStore
from tests.cluster.processes import free_ports
from tests.servers import ROOT

NOBODY = "127.0.0.1:1"  # nothing listens there: connections are refused at once
EXIT_BOUND = 180.0
"""Only bounds a hang of the relay process (a 2 s startup timeout, plus a slow interpreter start)."""


def test_a_relay_that_cannot_reach_kafka_at_startup_exits_2_naming_the_broker(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    bootstrap = f"127.0.0.1:{port}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "MONGO_URI": f"mongodb://{NOBODY}/",
        "RELAY_STARTUP_TIMEOUT": "2",
        "BILLING_DATA_DIR": str(tmp_path / "billing"),
        "BILLING_DEV_MODE": "true",
        "BILLING_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("EVENTSTORE_URI", None)
    env.pop("STREFA_NAMESPACE", None)
    ended = subprocess.run(
        [sys.executable, "-m", "libs.events.relay", "--service", "billing"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=EXIT_BOUND,
        check=False,
    )
    output = (ended.stdout + ended.stderr).decode(errors="replace")
    assert ended.returncode == 2, output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    failures = [line for line in lines if (line.get("level"), line.get("event")) == ("error", "cluster_startup_failed")]
    assert len(failures) == 1, output
    error = failures[0]["error"]
    assert error.startswith(f"relay billing: Kafka at {bootstrap} could not be reached within 2 s: "), error
    assert "KafkaConnectionError" in error
    assert not (tmp_path / "billing" / "relay-checkpoint.json").exists()


@pytest.fixture
async def billing_store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    store = await SqliteEventStore(tmp_path / "billing" / "events.db", "billing").open()
    yield store
    await store.close()


async def test_a_relay_starting_without_kafka_stops_with_log_unavailable_after_its_timeout(
    billing_store: SqliteEventStore, tmp_path: Path
) -> None:
    relay = Relay("billing", billing_store, KafkaConfig(NOBODY), FileCheckpoint(tmp_path / "relay-checkpoint.json"))
    relay.retry_delay = 0.1
    with pytest.raises(LogUnavailable, match=r"relay billing: Kafka at 127\.0\.0\.1:1 could not be reached within 1 s"):
        await asyncio.wait_for(relay.connect(1.0), EXIT_BOUND)
    await relay.stop()


async def test_a_relay_whose_event_store_does_not_answer_stops_with_store_unavailable(tmp_path: Path) -> None:
    store = await EsdbEventStore(f"esdb://{NOBODY}?tls=false&defaultDeadline=5", "billing").open()
    relay = Relay("billing", store, KafkaConfig(NOBODY), FileCheckpoint(tmp_path / "relay-checkpoint.json"))
    relay.retry_delay = 0.1
    try:
        with pytest.raises(StoreUnavailable, match="relay billing: its event store did not answer within 1 s"):
            await asyncio.wait_for(relay.connect(1.0), EXIT_BOUND)
    finally:
        await relay.stop()
        await store.close()


class SlowToOpen(SqliteEventStore):
    """An event store whose file takes `delay` seconds to open (a slow or busy volume); None: it never opens."""

    def __init__(self, path: Path, delay: float | None) -> None:
        super().__init__(path, "billing")
        self.delay = delay

    async def open(self) -> SqliteEventStore:
        if self.delay is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay or 0)
        return await super().open()


class CountingRelay(Relay):
    """Counts its tries to reach Kafka."""

    kafka_tries = 0

    async def start(self) -> None:
        self.kafka_tries += 1
        await super().start()


async def test_a_store_slow_to_open_leaves_kafka_only_the_rest_of_the_startup_time(tmp_path: Path) -> None:
    store = SlowToOpen(tmp_path / "billing" / "events.db", delay=1.0)
    relay = CountingRelay("billing", store, KafkaConfig(NOBODY), FileCheckpoint(tmp_path / "relay-checkpoint.json"))
    relay.retry_delay = 1.5  # a second try fits only if Kafka got a whole timeout after the store opened
    try:
        with pytest.raises(LogUnavailable, match=r"relay billing: Kafka at 127\.0\.0\.1:1 .* within 2 s"):
            await asyncio.wait_for(relay.connect(2.0, open_store=True), EXIT_BOUND)
        await store.ping()  # the store did open, within the same deadline
    finally:
        await relay.stop()
        await store.close()
    assert relay.kafka_tries == 1


async def test_a_store_that_does_not_open_within_the_startup_time_stops_the_relay(tmp_path: Path) -> None:
    store = SlowToOpen(tmp_path / "billing" / "events.db", delay=None)
    relay = CountingRelay("billing", store, KafkaConfig(NOBODY), FileCheckpoint(tmp_path / "relay-checkpoint.json"))
    relay.retry_delay = 0.1
    try:
        with pytest.raises(StoreUnavailable, match="relay billing: its event store did not open within 1 s: no answer"):
            await asyncio.wait_for(relay.connect(1.0, open_store=True), EXIT_BOUND)
    finally:
        await relay.stop()
        await store.close()
    assert relay.kafka_tries == 0


def test_the_relay_startup_timeout_is_a_positive_number_of_seconds() -> None:
    base = {"KAFKA_BOOTSTRAP": "kafka:9092", "MONGO_URI": "mongodb://mongo:27017/"}
    assert ClusterInfra.from_env(base).relay_startup_timeout == DEFAULT_RELAY_STARTUP_TIMEOUT == 30.0
    assert ClusterInfra.from_env({**base, "RELAY_STARTUP_TIMEOUT": " 2.5 "}).relay_startup_timeout == 2.5
    for wrong in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ClusterConfigError, match=f"RELAY_STARTUP_TIMEOUT must be .* not '{wrong}'"):
            ClusterInfra.from_env({**base, "RELAY_STARTUP_TIMEOUT": wrong})


class CountingListener:
    """A TCP port that counts the connections made to it and closes each at once: a broker that never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def test_the_kafka_readiness_check_names_the_broker_and_keeps_its_answer_for_its_ttl() -> None:
    listener = CountingListener()
    async with listener as bootstrap:
        cached = KafkaReadiness(KafkaConfig(bootstrap), timeout=2.0, ttl=600.0)
        for _ in range(3):
            with pytest.raises(LogUnavailable, match=f"Kafka at {bootstrap} unavailable"):
                await asyncio.wait_for(cached.ping(), EXIT_BOUND)
        asked_once = listener.connections
        assert asked_once >= 1

        fresh = KafkaReadiness(KafkaConfig(bootstrap), timeout=2.0, ttl=0.0)
        for _ in range(3):
            with pytest.raises(LogUnavailable):
                await asyncio.wait_for(fresh.ping(), EXIT_BOUND)
        assert listener.connections - asked_once == 3 * asked_once  # each ping its own request


def record(value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "leasing.billing.events", 0, 7, 0, 0, b"billing-invoice-1", value, None, 17, len(value or b""), []
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\x00\xffanna.nowak@example.pl", "not an event envelope: JSONDecodeError"),
        (b'"anna.nowak@example.pl"', "not an event envelope: ValidationError"),
        (
            b'{"type": "InvoiceIssued", "data": {"e": "anna.nowak@example.pl"}}',
            "not an event envelope: ValidationError",
        ),
        (None, "not an event envelope: JSONDecodeError"),
    ],
)
def test_a_record_that_is_no_envelope_is_described_without_quoting_it(value: bytes | None, reason: str) -> None:
    assert read_envelope(record(value)) == reason
