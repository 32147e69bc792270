"""End-to-end lag: from a command accepted (the back office's 201) until the read model shows it.

The command is a contract registration (`POST .../backoffice/contracts`, one contact person, so
identity provisions an account as it would); the read model is the contracts service's `contracts`
collection, which the bench reads directly every `POLL_SECONDS` (SQLite file of the portal, or
FerretDB), so the lag is "document written" minus "201 received", to within one poll.

First the maximum command rate (closed loop, `lag_senders` back-office clients for `lag_max_seconds`),
then commands on a fixed schedule at half that rate (open loop) for `lag_rate_seconds`, each one's lag
recorded. Embedded: the portal process. Cluster: the services in `Scale.cluster_services` (identity,
contracts, billing in the full run) each as its own process with its relay, on Kafka and FerretDB,
in a namespace of their own, called directly (no nginx): the event goes contracts' SQLite store ->
relay -> Kafka -> contracts' projector -> FerretDB.

Baseline: the sum of the parts measured alone, each with its raw driver and nothing else running
from the bench: one append (aiosqlite: BEGIN IMMEDIATE, INSERT, COMMIT), one upsert (aiosqlite
INSERT ... ON CONFLICT embedded; PyMongo replace_one(upsert=True) on FerretDB in cluster mode), and
in cluster mode a Kafka round trip (an idempotent acks=all producer's send until a waiting consumer
has it). p50 = sum of the p50s, p99 = sum of the p99s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiosqlite
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient

from bench.core import Figure, Workspace, latency_summary, percentile
from bench.infra import Infra
from bench.processes import MemorySampler, Server, free_port, python, spawn, stop, wait_until_ready
from bench.world import Portal
from libs.events.cluster import cluster_env
from libs.events.kafka import ensure_topics
from libs.events.sqlite_store import _SCHEMA

POLL_SECONDS = 0.002
DRAIN_SECONDS = 60.0
"""After the schedule, how long commands may still take to show before they count as missing."""
TARGET_MS = {"embedded": 50.0, "cluster": 150.0}

Visible = Callable[[list[str]], Awaitable[set[str]]]


def contract_body(run: str, index: int) -> dict[str, Any]:
    return {
        "contract_number": f"BENCH/{run}/{index:06d}",
        "client": {
            "client_id": f"CL-BENCH-{index % 50:03d}",
            "name": "Bench Transport Sp. z o.o.",
            "nip": "5260250274",
        },
        "contract_type": "operating",
        "start_date": "2026-01-15",
        "end_date": "2029-01-15",
        "net_value": "99000.00",
        "currency": "PLN",
        "asset": {"kind": "samochód osobowy", "make": "Škoda", "model": "Octavia", "year": 2025},
        "contact_persons": [
            {
                "first_name": "Ewa",
                "last_name": "Kowalska",
                "email": f"ewa.{run}.{index}@bench.example.pl",
                "phone": "+48601234567",
            }
        ],
    }


@dataclass
class Commands:
    """The back office of one mode: where contracts are registered and how their documents are seen."""

    http: httpx.AsyncClient
    path: str
    visible: Visible
    run: str
    numbers: itertools.count[int] = field(default_factory=itertools.count)

    async def register(self) -> tuple[str | None, float]:
        """Registers a contract; (its id or None when refused, the time the answer arrived)."""
        response = await self.http.post(self.path, json=contract_body(self.run, next(self.numbers)))
        accepted = time.perf_counter()
        if response.status_code != 201:
            return None, accepted
        contract_id: str = response.json()["contract_id"]
        return contract_id, accepted


async def max_command_rate(commands: Commands, senders: int, seconds: float) -> dict[str, Any]:
    accepted, refused = 0, 0
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def sender() -> None:
        nonlocal accepted, refused
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            contract_id, answered = await commands.register()
            latencies.append(answered - started)
            if contract_id is None:
                refused += 1
            else:
                accepted += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    elapsed = time.perf_counter() - started
    return {
        "rate": round(accepted / elapsed, 2),
        "accepted": accepted,
        "refused": refused,
        "seconds": round(elapsed, 2),
        "senders": senders,
        "command_latency": latency_summary(latencies),
    }


async def lag_at_rate(commands: Commands, rate: float, seconds: float) -> dict[str, Any]:
    pending: dict[str, float] = {}
    lags: list[float] = []
    command_latencies: list[float] = []
    refused = 0
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set() or pending:
            if pending:
                seen = await commands.visible(list(pending))
                now = time.perf_counter()
                for contract_id in seen:
                    lags.append(max(0.0, now - pending.pop(contract_id)))
            await asyncio.sleep(POLL_SECONDS)

    async def one(scheduled: float) -> None:
        nonlocal refused
        contract_id, accepted = await commands.register()
        command_latencies.append(accepted - scheduled)
        if contract_id is None:
            refused += 1
        else:
            pending[contract_id] = accepted

    poller = asyncio.create_task(poll())
    total = max(1, round(rate * seconds))
    start = time.perf_counter() + 0.05
    tasks = []
    for index in range(total):
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    done.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(poller), DRAIN_SECONDS)
    missing = len(pending)
    poller.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await poller
    return {
        "offered_rate": round(rate, 2),
        "commands": total,
        "refused": refused,
        "missing": missing,
        "lag": latency_summary(lags),
        "command_latency": latency_summary(command_latencies),
    }


# --- the baseline: the parts measured alone -----------------------------------------------------------


async def sqlite_parts(folder: Path, samples: int) -> dict[str, list[float]]:
    """One-row append and one-document upsert with aiosqlite, each timed alone."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    body = orjson.dumps(contract_body("baseline", 0))
    doc = orjson.dumps(
        {"_id": "x", "contract": contract_body("baseline", 0), "instalments": [{"n": i} for i in range(48)]}
    )
    events = await aiosqlite.connect(folder / "events.db", isolation_level=None)
    documents = await aiosqlite.connect(folder / "readmodels.db", isolation_level=None)
    appends: list[float] = []
    upserts: list[float] = []
    try:
        for db in (events, documents):
            for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
                await db.execute(pragma)
        await events.executescript(_SCHEMA)
        await documents.execute("CREATE TABLE IF NOT EXISTS rm_contracts (id TEXT PRIMARY KEY, doc BLOB NOT NULL)")
        for index in range(samples):
            started = time.perf_counter()
            await events.execute("BEGIN IMMEDIATE")
            await events.execute(
                "INSERT INTO events (event_id, stream_id, stream_version, type, version, occurred_at, "
                "correlation_id, causation_id, client_id, actor, data, trace_context) "
                "VALUES (?, ?, 0, 'ContractRegistered', 1, '2026-01-01T00:00:00+00:00', ?, NULL, 'CL', 'bo', ?, '{}')",
                (str(uuid4()), f"contracts-contract-{index}", str(uuid4()), body),
            )
            await events.execute("COMMIT")
            appends.append(time.perf_counter() - started)
            started = time.perf_counter()
            await documents.execute("BEGIN IMMEDIATE")
            await documents.execute(
                "INSERT INTO rm_contracts (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                (f"c-{index}", doc),
            )
            await documents.execute("COMMIT")
            upserts.append(time.perf_counter() - started)
    finally:
        await events.close()
        await documents.close()
    return {"append": appends, "upsert": upserts}


async def kafka_round_trips(infra: Infra, samples: int) -> list[float]:
    """Idempotent acks=all producer send until a consumer already waiting on the partition has it."""
    config = infra.kafka(f"{infra.namespace}rtt")
    topic = config.topic("contracts")
    await ensure_topics(config, [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    trips: list[float] = []
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        for index in range(samples):
            value = orjson.dumps({"i": index, "body": contract_body("rtt", index)})
            started = time.perf_counter()
            await producer.send_and_wait(topic, value=value, partition=0)
            while True:
                record = await asyncio.wait_for(consumer.getone(partition), 30)
                if record.value == value:
                    break
            trips.append(time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()
    return trips


async def mongo_upserts(infra: Infra, samples: int) -> list[float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    database = f"{infra.namespace}upsert"
    upserts: list[float] = []
    try:
        collection = client[database]["contracts"]
        for index in range(samples):
            doc = {"_id": f"c-{index}", "contract": contract_body("baseline", index)}
            started = time.perf_counter()
            await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
            upserts.append(time.perf_counter() - started)
    finally:
        await client.drop_database(database)
        await client.close()
    return upserts


def summed(parts: Mapping[str, Sequence[float]]) -> dict[str, float]:
    return {
        "p50_ms": round(sum(percentile(values, 50) for values in parts.values()) * 1000, 3),
        "p99_ms": round(sum(percentile(values, 99) for values in parts.values()) * 1000, 3),
    }


# --- the figures ----------------------------------------------------------------------------------------


async def run_mode(work: Workspace, commands: Commands) -> tuple[dict[str, Any], dict[str, Any]]:
    scale = work.scale
    maximum = await max_command_rate(commands, scale.lag_senders, scale.lag_max_seconds)
    at_half = await lag_at_rate(commands, max(0.5, maximum["rate"] / 2), scale.lag_rate_seconds)
    return maximum, at_half


def lag_figure(
    mode: str,
    maximum: dict[str, Any],
    at_half: dict[str, Any],
    parts: Mapping[str, Sequence[float]],
    settings: dict[str, Any],
) -> Figure:
    value = float(at_half["lag"]["p99_ms"])
    baseline = summed(parts)
    target = TARGET_MS[mode]
    return Figure(
        key=f"lag.{mode}",
        title=f"End-to-end lag, command accepted -> read model ({mode}), p99",
        mode="embedded" if mode == "embedded" else "cluster",
        unit="ms",
        value=value,
        baseline=baseline["p99_ms"],
        baseline_label="sum of the parts alone: " + " + ".join(parts),
        ratio=baseline["p99_ms"] / value if value > 0 else None,
        target=f"p99 <= {target:g} ms at half the max command rate",
        passed=value <= target and at_half["missing"] == 0,
        settings=settings,
        details={
            "p50_ms": at_half["lag"]["p50_ms"],
            "baseline_p50_ms": baseline["p50_ms"],
            "parts": {name: latency_summary(values) for name, values in parts.items()},
            "max_command_rate": maximum,
            "at_half_rate": at_half,
        },
    )


def _settings(work: Workspace, extra: dict[str, Any]) -> dict[str, Any]:
    scale = work.scale
    return {
        "command": "POST backoffice/contracts (one contact person)",
        "read_model": "contracts.contracts, read directly by the bench",
        "poll_ms": POLL_SECONDS * 1000,
        "max_rate": f"closed loop, {scale.lag_senders} senders, {scale.lag_max_seconds:g} s",
        "lag": f"open loop at half the max rate for {scale.lag_rate_seconds:g} s",
        "baseline_samples": scale.latency_samples,
        **extra,
    }


async def measure_embedded(work: Workspace, portal: Portal) -> Figure:
    database = portal.data_dir / "contracts" / "readmodels.db"
    reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)

    async def visible(ids: list[str]) -> set[str]:
        marks = ",".join("?" * len(ids))
        rows = reader.execute(f"SELECT id FROM rm_contracts WHERE id IN ({marks})", ids).fetchall()  # noqa: S608
        return {row[0] for row in rows}

    headers = {"Authorization": f"Bearer {portal.backoffice_token}"}
    try:
        async with httpx.AsyncClient(base_url=portal.url, headers=headers, timeout=60.0) as http:
            commands = Commands(http, "/api/contracts/backoffice/contracts", visible, f"e{work.run_id}")
            maximum, at_half = await run_mode(work, commands)
    finally:
        reader.close()
    parts = await sqlite_parts(work.root / "lag-baseline", work.scale.latency_samples)
    settings = _settings(work, {"server": "the portal (embedded gateway, one process)"})
    return lag_figure("embedded", maximum, at_half, parts, settings)


@dataclass
class ClusterProcesses:
    servers: list[Server]
    ports: dict[str, int]
    labels: list[str]


async def start_cluster(work: Workspace, infra: Infra, namespace: str, sampler: MemorySampler) -> ClusterProcesses:
    services = work.scale.cluster_services
    ports = {name: free_port() for name in services}
    env = cluster_env(
        work.root / "cluster",
        "http://127.0.0.1:1",
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=infra.mongo_uri,
        namespace=namespace,
        ports=ports,
        log_format="json",
    )
    env.update({f"{name.upper()}_LOG_LEVEL": "WARNING" for name in services})
    servers: list[Server] = []
    labels: list[str] = []
    try:
        for name in services:  # identity first: it makes the signing key and JWKS the others read
            server = spawn(
                f"cluster-{name}",
                python("-m", f"services.{name}", "--port", str(ports[name])),
                env,
                work.root / "logs",
                ports[name],
            )
            relay = spawn(
                f"cluster-{name}-relay", python("-m", "libs.events.relay", "--service", name), env, work.root / "logs"
            )
            servers += [server, relay]
            for label, process in ((f"{name} service (cluster)", server), (f"{name} relay (cluster)", relay)):
                sampler.watch(label, process.pid)
                labels.append(label)
            if name == "identity":
                await wait_until_ready(server, f"http://127.0.0.1:{ports[name]}/readyz")
        for name in services:
            server = next(s for s in servers if s.name == f"cluster-{name}")
            await wait_until_ready(server, f"http://127.0.0.1:{ports[name]}/readyz")
    except BaseException:
        stop(servers)
        raise
    return ClusterProcesses(servers, ports, labels)


async def measure_cluster(work: Workspace, infra: Infra, sampler: MemorySampler) -> Figure:
    namespace = f"{infra.namespace}lag"
    cluster = await start_cluster(work, infra, namespace, sampler)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    read_model = mongo[infra.database("contracts", namespace)]["contracts"]

    async def visible(ids: list[str]) -> set[str]:
        return {doc["_id"] async for doc in read_model.find({"_id": {"$in": ids}}, {"_id": 1})}

    backoffice = (work.root / "cluster" / "secrets" / "backoffice-token").read_text().strip()
    try:
        url = f"http://127.0.0.1:{cluster.ports['contracts']}"
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {backoffice}"}, timeout=60.0
        ) as http:
            commands = Commands(http, "/backoffice/contracts", visible, f"c{work.run_id}")
            maximum, at_half = await run_mode(work, commands)
    finally:
        stop(cluster.servers)
        for label in cluster.labels:
            sampler.unwatch(label)
        await mongo.close()
    samples = work.scale.latency_samples
    local = await sqlite_parts(work.root / "lag-baseline-cluster", samples)
    parts = {
        "append": local["append"],
        "kafka round trip": await kafka_round_trips(infra, samples),
        "upsert": await mongo_upserts(infra, samples),
    }
    settings = _settings(
        work,
        {
            "server": "services as their own processes with their relays: " + ", ".join(work.scale.cluster_services),
            "gateway": "none (contracts service called directly)",
            "log": "Kafka, 3 partitions per topic",
            "read_models": "FerretDB",
        },
    )
    return lag_figure("cluster", maximum, at_half, parts, settings)
