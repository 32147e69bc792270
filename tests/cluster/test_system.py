"""The local cluster as a system: six service processes, their relays and nginx, on Kafka and FerretDB.

Started from the test (subprocesses on free ports, own topic namespace, consumer groups and databases),
stopped in `finally`. Through nginx: every service is healthy and ready; the back office registers a
contract in contracts, and identity (another process, its own event store) provisions the contact
person's account by reacting to ContractRegistered read from Kafka; contracts' read model in FerretDB
lists the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from libs.events.cluster import SERVICE_NAMES, ClusterInfra, cluster_env, render_gateway
from libs.events.docstore import StoreUnavailable
from libs.events.mongo_docstore import MongoDocumentStore
from tests.cluster.processes import Cluster, contract_body, eventually, free_ports, spawn, stop
from tests.servers import KAFKA_SKIP, MONGO_SKIP, NGINX_SKIP, delete_namespace, server_setting

pytestmark = pytest.mark.cluster

STARTUP_TIMEOUT = 90.0
"""Bounds the start of all processes (six services, six relays, nginx) until every /readyz answers."""
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture
def servers() -> tuple[str, str]:
    bootstrap, mongo_uri = server_setting("KAFKA_BOOTSTRAP"), server_setting("MONGO_URI")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    if mongo_uri is None:
        pytest.skip(MONGO_SKIP)
    if NGINX is None:
        pytest.skip(f"{NGINX_SKIP}: the local cluster's gateway")
    return bootstrap, mongo_uri


@pytest.fixture
async def cluster(servers: tuple[str, str], tmp_path: Path) -> AsyncIterator[Cluster]:
    bootstrap, mongo_uri = servers
    namespace = f"system{uuid4().hex[:10]}"
    *service_ports, gateway_port = free_ports(len(SERVICE_NAMES) + 1)
    ports = dict(zip(SERVICE_NAMES, service_ports, strict=True))
    listen = f"127.0.0.1:{gateway_port}"
    root = tmp_path / "cluster"
    settings = cluster_env(
        root, f"http://{listen}", kafka_bootstrap=bootstrap, mongo_uri=mongo_uri, namespace=namespace, ports=ports
    )
    env = {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
    nginx_conf = render_gateway(root / "nginx", settings, listen)
    logs = tmp_path / "logs"
    logs.mkdir()
    token = (root / "secrets" / "backoffice-token").read_text().strip()
    cluster = Cluster(f"http://{listen}", token, logs)
    infra = ClusterInfra.from_env(settings)
    try:
        # identity first: it makes the signing key and the JWKS file the others read
        for name in SERVICE_NAMES:
            spawn(cluster, name, [sys.executable, "-m", f"services.{name}", "--port", str(ports[name])], env)
            spawn(cluster, f"{name}-relay", [sys.executable, "-m", "libs.events.relay", "--service", name], env)
        assert NGINX is not None
        nginx_args = [NGINX, "-p", str(nginx_conf.parent), "-c", str(nginx_conf), "-g", "daemon off;"]
        spawn(cluster, "nginx", nginx_args, env)
        async with httpx.AsyncClient(base_url=cluster.url, timeout=5.0) as http:

            async def all_ready() -> bool:
                for name in SERVICE_NAMES:
                    if (await http.get(f"/api/{name}/readyz")).status_code != 200:
                        return False
                return True

            await eventually(cluster, all_ready, "every service ready through nginx", STARTUP_TIMEOUT)
        yield cluster
    finally:
        stop(cluster.processes)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(delete_namespace(infra.kafka), 30)
        for name in (*SERVICE_NAMES, "vault"):
            store = await MongoDocumentStore(mongo_uri, infra.database(name)).open()
            with contextlib.suppress(StoreUnavailable):
                await store.drop_database()
            await store.close()


async def test_a_contract_registered_in_contracts_provisions_an_account_in_identity_through_kafka(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10.0) as http:
        for name in SERVICE_NAMES:
            health = await http.get(f"/api/{name}/healthz")
            assert health.status_code == 200, (name, health.text)
            assert health.json() == {"status": "ok", "service": name}
            assert health.headers["x-content-type-options"] == "nosniff"  # nginx's security headers
            ready = await http.get(f"/api/{name}/readyz")
            assert ready.json()["checks"] == {
                "event_store": "ok",
                "read_models": "ok",
                "key_vault": "ok",
                "kafka": "ok",
            }, (
                name,
                ready.text,
            )

        email = f"ewa.{uuid4().hex[:8]}@klaster.pl"
        registered = await http.post(
            "/api/contracts/backoffice/contracts",
            json=contract_body("UL/2026/11/7001", email),
            headers=cluster.backoffice,
        )
        assert registered.status_code == 201, registered.text
        contract_id = registered.json()["contract_id"]

        account: dict[str, Any] = {}

        async def provisioned() -> bool:
            found = await http.get(
                "/api/identity/backoffice/accounts", params={"email": email}, headers=cluster.backoffice
            )
            if found.status_code == 200:
                account.update(found.json())
                return True
            assert found.status_code == 404, found.text
            return False

        await eventually(cluster, provisioned, "identity's account for the contract's contact person")
        assert account["email"] == email
        assert "CL-7001" in {grant["client_id"] for grant in account["grants"]}

        async def listed() -> bool:
            found = await http.get(
                "/api/contracts/backoffice/contracts", params={"client_id": "CL-7001"}, headers=cluster.backoffice
            )
            assert found.status_code == 200, found.text
            return [doc["contract_id"] for doc in found.json()] == [contract_id]

        await eventually(cluster, listed, "the contract in contracts' read model (FerretDB)")

        unknown = await http.get("/api/nothing/healthz")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert not cluster.dead(), cluster.explain()
