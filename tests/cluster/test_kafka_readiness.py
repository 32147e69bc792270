"""/readyz of a cluster service process asks Kafka only when the process runs the service's consumers.

Contracts as a real process on FerretDB, with the real broker or with KAFKA_BOOTSTRAP pointing at a
port nothing listens on. A worker (consumers on) whose Kafka is unreachable answers 503 naming the
broker, instead of answering ready while its consumers wait without end; an API process (consumers
off) needs no Kafka to serve, so it stays ready.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from libs.events.cluster import ClusterInfra, cluster_env
from libs.events.docstore import StoreUnavailable
from libs.events.mongo_docstore import MongoDocumentStore
from tests.cluster.processes import Cluster, eventually, free_ports, spawn, stop
from tests.servers import KAFKA_SKIP, MONGO_SKIP, delete_namespace, server_setting

pytestmark = pytest.mark.cluster

STARTUP_TIMEOUT = 90.0


@dataclass(frozen=True)
class Started:
    readiness: httpx.Response
    """The first answer of its /readyz."""
    bootstrap: str
    """The KAFKA_BOOTSTRAP it was given."""


@contextlib.asynccontextmanager
async def contracts(tmp_path: Path, *, kafka_up: bool, consumers: bool) -> AsyncIterator[Started]:
    """Starts contracts and waits for its first /readyz answer; stops it and drops what it made afterwards."""
    bootstrap, mongo_uri = server_setting("KAFKA_BOOTSTRAP"), server_setting("MONGO_URI")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    if mongo_uri is None:
        pytest.skip(MONGO_SKIP)
    port, dead_port = free_ports(2)
    url = f"http://127.0.0.1:{port}"
    root = tmp_path / "cluster"
    settings = cluster_env(
        root,
        url,
        kafka_bootstrap=bootstrap if kafka_up else f"127.0.0.1:{dead_port}",
        mongo_uri=mongo_uri,
        namespace=f"ready{uuid4().hex[:10]}",
        ports={"contracts": port},
    )
    env = {**os.environ, **settings, "CONTRACTS_CONSUMERS": str(consumers).lower(), "PYTHONUNBUFFERED": "1"}
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = Cluster(url, "", logs)
    infra = ClusterInfra.from_env(settings)
    try:
        spawn(cluster, "contracts", [sys.executable, "-m", "services.contracts", "--port", str(port)], env)
        answers: list[httpx.Response] = []
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as http:

            async def answered() -> bool:
                answers.append(await http.get("/readyz"))
                return True

            await eventually(cluster, answered, "contracts' /readyz", STARTUP_TIMEOUT)
        yield Started(answers[-1], infra.kafka.bootstrap)
        assert not cluster.dead(), cluster.explain()
    finally:
        stop(cluster.processes)
        if kafka_up:
            with contextlib.suppress(Exception):
                await delete_namespace(infra.kafka)
        for name in ("contracts", "vault"):
            store = await MongoDocumentStore(mongo_uri, infra.database(name)).open()
            with contextlib.suppress(StoreUnavailable):
                await store.drop_database()
            await store.close()


async def test_a_worker_whose_kafka_is_unreachable_is_not_ready_and_names_the_broker(tmp_path: Path) -> None:
    async with contracts(tmp_path, kafka_up=False, consumers=True) as started:
        readiness = started.readiness
        assert readiness.status_code == 503, readiness.text
        body = readiness.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["kafka"].startswith(f"unavailable: Kafka at {started.bootstrap} unavailable"), body
        # the stores answer: only Kafka keeps the worker out of service
        assert {name: value for name, value in body["checks"].items() if name != "kafka"} == {
            "event_store": "ok",
            "read_models": "ok",
            "key_vault": "ok",
        }


async def test_a_worker_with_its_kafka_is_ready(tmp_path: Path) -> None:
    async with contracts(tmp_path, kafka_up=True, consumers=True) as started:
        readiness = started.readiness
        assert readiness.status_code == 200, readiness.text
        assert readiness.json() == {
            "status": "ready",
            "checks": {"event_store": "ok", "read_models": "ok", "key_vault": "ok", "kafka": "ok"},
        }


async def test_an_api_process_without_consumers_stays_ready_without_kafka(tmp_path: Path) -> None:
    async with contracts(tmp_path, kafka_up=False, consumers=False) as started:
        readiness = started.readiness
        assert readiness.status_code == 200, readiness.text
        assert readiness.json() == {
            "status": "ready",
            "checks": {"event_store": "ok", "read_models": "ok", "key_vault": "ok"},
        }
