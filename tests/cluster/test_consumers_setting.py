"""`<NAME>_CONSUMERS` decides which process of a service runs its projections and reactors.

Contracts as compose and Kubernetes run it (deploy/README.md), as real processes on Kafka and
FerretDB: an API process with CONTRACTS_CONSUMERS=false and the relay first. The API takes a
contract (201) and the relay publishes it, yet no consumer group of the test's namespace exists and
the read model stays empty: nothing in the API joined a group. Then the worker (the same command,
consumers on) starts, and the contract shows in the read model the API serves.
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
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from libs.events.cluster import ClusterInfra, cluster_env
from libs.events.docstore import StoreUnavailable
from libs.events.mongo_docstore import MongoDocumentStore
from tests.cluster.processes import Cluster, contract_body, eventually, free_ports, spawn, stop
from tests.servers import KAFKA_SKIP, MONGO_SKIP, delete_namespace, server_setting

pytestmark = pytest.mark.cluster

STARTUP_TIMEOUT = 60.0


@dataclass
class Contracts:
    cluster: Cluster
    api: str
    worker: str
    infra: ClusterInfra
    env: dict[str, str]
    namespace: str


@pytest.fixture
async def contracts(tmp_path: Path) -> AsyncIterator[Contracts]:
    bootstrap, mongo_uri = server_setting("KAFKA_BOOTSTRAP"), server_setting("MONGO_URI")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    if mongo_uri is None:
        pytest.skip(MONGO_SKIP)
    namespace = f"consumers{uuid4().hex[:10]}"
    api_port, worker_port = free_ports(2)
    root = tmp_path / "cluster"
    settings = cluster_env(
        root,
        f"http://127.0.0.1:{api_port}",
        kafka_bootstrap=bootstrap,
        mongo_uri=mongo_uri,
        namespace=namespace,
        ports={"contracts": api_port},
    )
    env = {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
    logs = tmp_path / "logs"
    logs.mkdir()
    token = (root / "secrets" / "backoffice-token").read_text().strip()
    cluster = Cluster(f"http://127.0.0.1:{api_port}", token, logs)
    infra = ClusterInfra.from_env(settings)
    try:
        yield Contracts(cluster, cluster.url, f"http://127.0.0.1:{worker_port}", infra, env, namespace)
    finally:
        stop(cluster.processes)
        with contextlib.suppress(Exception):
            await delete_namespace(infra.kafka)
        for name in ("contracts", "vault"):
            store = await MongoDocumentStore(mongo_uri, infra.database(name)).open()
            with contextlib.suppress(StoreUnavailable):
                await store.drop_database()
            await store.close()


def serve(contracts: Contracts, name: str, url: str, consumers: bool) -> None:
    port = url.rsplit(":", 1)[1]
    env = {**contracts.env, "CONTRACTS_CONSUMERS": "true" if consumers else "false"}
    spawn(contracts.cluster, name, [sys.executable, "-m", "services.contracts", "--port", port], env)


async def ready(contracts: Contracts, url: str, what: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:

        async def answers() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(contracts.cluster, answers, what, STARTUP_TIMEOUT)


async def published(contracts: Contracts) -> int:
    """Records in contracts' topic now (0 while the topic does not exist)."""
    topic = contracts.infra.kafka.topic("contracts")
    bootstrap = contracts.infra.kafka.bootstrap
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await reader.start()
    try:
        if topic not in await admin.list_topics():
            return 0
        (described,) = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, entry["partition"]) for entry in described["partitions"]]
        return sum((await reader.end_offsets(partitions)).values())
    finally:
        await reader.stop()
        await admin.close()


async def groups_of(contracts: Contracts) -> list[str]:
    """The consumer groups of the test's namespace the broker knows (a group exists once a member joined)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=contracts.infra.kafka.bootstrap)
    await admin.start()
    try:
        return sorted(group for group, _ in await admin.list_consumer_groups() if group.startswith(contracts.namespace))
    finally:
        await admin.close()


async def test_the_api_with_consumers_off_leaves_the_read_model_to_the_worker(contracts: Contracts) -> None:
    cluster = contracts.cluster
    spawn(cluster, "relay", [sys.executable, "-m", "libs.events.relay", "--service", "contracts"], contracts.env)
    serve(contracts, "api", contracts.api, consumers=False)
    await ready(contracts, contracts.api, "the API's /readyz")

    async with httpx.AsyncClient(base_url=contracts.api, timeout=10.0, headers=cluster.backoffice) as api:
        elsewhere = await api.get("/ops/consumers")
        assert elsewhere.status_code == 409, elsewhere.text
        assert elsewhere.headers["content-type"] == "application/problem+json"
        assert elsewhere.json()["code"] == "consumers_not_in_this_process"
        assert "CONTRACTS_CONSUMERS=false" in elsewhere.json()["detail"]

        client_id = f"CL-{uuid4().hex[:6]}"
        body = contract_body("UL/2026/11/7002", f"ewa.{uuid4().hex[:8]}@klaster.pl", client_id)
        registered = await api.post("/backoffice/contracts", json=body)
        assert registered.status_code == 201, registered.text
        contract_id = registered.json()["contract_id"]

        async def relayed() -> bool:
            return await published(contracts) >= 1

        await eventually(cluster, relayed, "ContractRegistered on contracts' topic")

        async def listed() -> list[str]:
            found = await api.get("/backoffice/contracts", params={"client_id": client_id})
            assert found.status_code == 200, found.text
            return [doc["contract_id"] for doc in found.json()]

        # The API has been up since before the command: a consumer of its own would have joined by now.
        assert await groups_of(contracts) == []
        assert await listed() == []

        serve(contracts, "worker", contracts.worker, consumers=True)
        await ready(contracts, contracts.worker, "the worker's /readyz")

        async def projected() -> bool:
            return await listed() == [contract_id]

        await eventually(cluster, projected, "the contract in the read model, projected by the worker")
        groups = await groups_of(contracts)
        assert f"{contracts.namespace}.contracts.contract_list" in groups

    async with httpx.AsyncClient(base_url=contracts.worker, timeout=10.0, headers=cluster.backoffice) as worker:
        statuses = (await worker.get("/ops/consumers")).json()
        contract_list = next(status for status in statuses if status["name"] == "contract_list")
        assert contract_list["running"] is True
        assert contract_list["processed"] >= 1
    assert not cluster.dead(), cluster.explain()
