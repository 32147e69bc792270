"""Fault tests against the real servers: a projector killed mid-batch, a Kafka restart while the relay
publishes, FerretDB stopped under a running service. Every wait is bounded; servers a test stops are
started again in `finally` (and by the `infra` fixture)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from libs.events.kafka import KafkaConfig, KafkaEventLog
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.projection import ProjectionRunner
from libs.events.relay import Relay
from libs.events.service.app import create_service_app
from libs.events.service.runtime import ServiceRuntime
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from tests.cluster.conftest import Infra, header, read_topic
from tests.cluster.model import invoice, projector, registry, totals_by_client, totals_service
from tests.helpers import eventually
from tests.servers import ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


async def committed_offsets(config: KafkaConfig, group: str) -> int:
    """The sum of a group's committed offsets on billing's topic, read without joining the group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == config.topic("billing"))


async def caught_up(runner: ProjectionRunner, expected: dict[str, tuple[int, Decimal]]) -> bool:
    """One more batch; then: does the read model hold `expected` and has everything been committed?"""
    await runner.run_once()
    if await totals_by_client(runner.store) != expected:
        return False
    return (await runner.consumer.lag()) == {"billing": 0}


def running(*tasks: asyncio.Task[Any]) -> None:
    """A background task that died would make a bounded wait time out; fail with its error instead."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise AssertionError(f"{task.get_name()} died") from task.exception()


async def test_a_projector_killed_mid_batch_gets_the_batch_again_and_counts_nothing_twice(
    billing_store: SqliteEventStore,
    billing_relay: Relay,
    kafka_config: KafkaConfig,
    mongo: MongoDocumentStore,
    tmp_path: Path,
) -> None:
    for n in range(60):  # 60 streams, spread over the 3 partitions
        await billing_store.append(f"billing-invoice-{n}", [invoice(f"C{n % 3}", "12.34")], ANY_VERSION)
    await billing_relay.publish_pending()
    group, marker, output = f"totals-{uuid4().hex}", tmp_path / "hung", tmp_path / "projector.log"
    arguments = {
        "bootstrap": kafka_config.bootstrap,
        "namespace": kafka_config.namespace,
        "mongo-uri": mongo.uri,
        "database": mongo.database_name,
        "group": group,
        "marker": str(marker),
        "batch-size": "10",
        "hang-after-writes": "3",
        "session-timeout-ms": str(kafka_config.session_timeout_ms),
    }
    with output.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.cluster.projector",
            *(part for name, value in arguments.items() for part in (f"--{name}", value)),
            cwd=ROOT,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        await eventually(
            lambda: marker.exists() or process.returncode is not None, timeout=120, what="the projector's 3rd write"
        )
        assert process.returncode is None, output.read_text()
        written = sum(count for count, _ in (await totals_by_client(mongo)).values())
        committed = await committed_offsets(kafka_config, group)
        assert committed < written, "the projector must die with a written, uncommitted batch"
    finally:
        if process.returncode is None:
            process.kill()  # SIGKILL: no goodbye to the group, no commit
        await process.wait()

    restarted = projector(kafka_config, mongo, group)
    await restarted.load_status()
    already_counted = restarted.status.processed
    expected = {f"C{n}": (20, Decimal("246.80")) for n in range(3)}
    try:
        await eventually(lambda: caught_up(restarted, expected), timeout=120, what="the restarted projector caught up")
    finally:
        await restarted.consumer.close()
    # it got everything after the committed offsets again, the batch the killed one had written included
    assert restarted.status.processed - already_counted == 60 - committed


async def test_a_kafka_restart_while_the_relay_publishes_loses_nothing_and_counts_nothing_twice(
    billing_store: SqliteEventStore,
    kafka_config: KafkaConfig,
    mongo: MongoDocumentStore,
    infra: Infra,
    tmp_path: Path,
) -> None:
    config = replace(kafka_config, request_timeout_ms=10_000)  # unacknowledged sends fail (and retry) sooner
    relay = Relay.next_to(tmp_path / "billing", "billing", billing_store, config)
    relay.retry_delay = 0.5
    runner = projector(config, mongo, f"totals-{uuid4().hex}")
    relay_task = asyncio.create_task(relay.run(), name="relay")
    runner_task = runner.start()
    appended: list[str] = []

    async def issue(count: int) -> None:
        for _ in range(count):
            n = len(appended)
            event = invoice(f"C{n % 4}", "0.10")
            await billing_store.append(f"billing-invoice-{n % 17}", [event], ANY_VERSION)
            appended.append(str(event.event_id))
            await asyncio.sleep(0.02)

    try:
        await issue(40)
        await eventually(lambda: relay.published >= 20, timeout=60, what="the relay publishing")
        restart = asyncio.create_task(_restart(infra, "kafka"), name="kafka restart")
        while not restart.done():  # keep appending while the broker goes down and comes back
            await issue(5)
        await restart
        await issue(40)
        total = len(appended)
        expected = {f"C{c}": (n, Decimal("0.10") * n) for c in range(4) if (n := len(range(c, total, 4)))}

        async def settled() -> bool:
            running(relay_task, runner_task)
            return await relay.lag() == 0 and await totals_by_client(mongo) == expected

        await eventually(settled, timeout=240, what="the relay and the projection after the broker restart")
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await relay.stop()
        await runner.stop()

    records = await read_topic(config, config.topic("billing"))
    published = [header(record, "ce_id") for record in records]
    assert set(published) == set(appended)  # nothing lost (the read model above counted each once)


async def _restart(infra: Infra, service: str) -> None:
    await infra.down(service)
    await infra.up(service)


async def test_while_ferretdb_is_down_readyz_is_false_queries_answer_503_and_nothing_is_lost(
    billing_store: SqliteEventStore,
    billing_relay: Relay,
    kafka_config: KafkaConfig,
    mongo: MongoDocumentStore,
    infra: Infra,
    tmp_path: Path,
) -> None:
    settings = ServiceSettings(data_dir=tmp_path, jwks_location=str(tmp_path / "jwks.json"))
    runtime = ServiceRuntime(
        totals_service, settings, billing_store, mongo, event_log=KafkaEventLog(kafka_config), registry=registry
    )
    relay_task = asyncio.create_task(billing_relay.run(), name="relay")
    await runtime.start()
    transport = httpx.ASGITransport(app=create_service_app(runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test", timeout=30) as http:

            async def listed(expected: list[dict[str, Any]]) -> bool:
                running(relay_task, *(runner._task for runner in runtime.runners if runner._task))
                response = await http.get("/totals")
                return response.status_code == 200 and response.json() == expected

            assert (await http.post("/invoices", json={"client_id": "C1", "gross": "10.00"})).status_code == 201
            one = [{"_id": "C1", "client_id": "C1", "total": "10.00", "invoices": 1}]
            await eventually(lambda: listed(one), timeout=60, what="the first invoice in the read model")

            try:
                await infra.down("ferretdb")
                ready = await http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["event_store"] == "ok"
                assert ready.json()["checks"]["read_models"].startswith("unavailable")
                query = await http.get("/totals")
                assert query.status_code == 503
                assert query.headers["content-type"] == "application/problem+json"
                assert query.json()["code"] == "temporarily_unavailable"
                assert query.headers["retry-after"] == "5"
                # commands go on: they need only the event store; the relay keeps publishing
                for client, gross in (("C1", "5.55"), ("C2", "1.00")):
                    assert (await http.post("/invoices", json={"client_id": client, "gross": gross})).status_code == 201
                await eventually(lambda: _published(billing_relay), timeout=60, what="the relay publishing")
            finally:
                await infra.up("ferretdb")

            await eventually(lambda: _ready(http), timeout=60, what="readiness after FerretDB is back")
            both = [
                {"_id": "C1", "client_id": "C1", "total": "15.55", "invoices": 2},
                {"_id": "C2", "client_id": "C2", "total": "1.00", "invoices": 1},
            ]
            await eventually(lambda: listed(both), timeout=120, what="the projection catching up")
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await runtime.stop()


async def _published(relay: Relay) -> bool:
    return await relay.lag() == 0


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 200
