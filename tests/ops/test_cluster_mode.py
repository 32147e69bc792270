"""The ops tool in cluster mode, against the real Kafka and FerretDB.

A `ledger` service (tests/ops/harness.py's `totals` projection) runs in this process as its own
processes would: ClusterService with its live consumers, and its relay. The ops backend opens it
again beside it, as `python -m services.ops --mode cluster` opens the portal's services
(`open_cluster_operations`): status, rebuild and reset while the live runner keeps folding, dead
letters. The CLI itself runs in cluster mode over the portal's six services, and fails clearly
without its servers. Every test has a namespace of its own (topics, groups, databases), dropped after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic_settings import SettingsConfigDict
from typer.testing import CliRunner

from libs.events import Collection, Document, DomainEvent, EventRegistry
from libs.events.cluster import SERVICE_NAMES, ClusterInfra, ClusterService, cluster_env, settings_for
from libs.events.docstore import StoreUnavailable
from libs.events.envelope import NewEvent
from libs.events.eventlog import LogUnavailable
from libs.events.kafka import KafkaConfig, decode_offsets
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.projection import DEAD_LETTERS, public
from libs.events.rebuild import Operations
from libs.events.relay import Relay
from libs.events.service.runtime import ServiceDefinition
from libs.events.service.settings import ServiceSettings
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from libs.events.versions import VersionedProjectionRunner
from services.ops.backend import open_cluster_operations
from services.ops.cli import app
from tests.helpers import eventually
from tests.ops.harness import TOTALS, make_registry, totals
from tests.servers import KAFKA_SKIP, MONGO_SKIP, delete_namespace, server_setting

pytestmark = pytest.mark.cluster

cli = CliRunner()
TIMEOUT = 60.0


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")


definition = ServiceDefinition(
    name="ledger", title="ops cluster-mode test ledger", projections=[totals], settings=LedgerSettings
)


def servers() -> tuple[str, str]:
    bootstrap, mongo_uri = server_setting("KAFKA_BOOTSTRAP"), server_setting("MONGO_URI")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    if mongo_uri is None:
        pytest.skip(MONGO_SKIP)
    return bootstrap, mongo_uri


async def drop_databases(mongo_uri: str, names: list[str]) -> None:
    for name in names:
        store = await MongoDocumentStore(mongo_uri, name).open()
        with contextlib.suppress(StoreUnavailable):
            await store.drop_database()
        await store.close()


async def forget_namespace(kafka: KafkaConfig) -> None:
    with contextlib.suppress(KafkaError, LogUnavailable, OSError, TimeoutError):
        await asyncio.wait_for(delete_namespace(kafka), 30)


async def group_members(kafka: KafkaConfig, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    return sum(len(found["members"]) for found in response.to_object()["groups"] if found["group"] == group)


async def committed(kafka: KafkaConfig, group: str) -> int:
    """How many records the group has committed past, over all partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == kafka.topic("ledger") and meta.offset > 0)


# --- a live ledger service and the ops backend beside it ------------------------------------------


@dataclass
class Live:
    node: ClusterService
    registry: EventRegistry
    kafka: KafkaConfig
    expected: dict[str, Document] = field(default_factory=dict)
    """What folding every appended event once gives, per account."""

    @property
    def group(self) -> str:
        return f"{self.kafka.namespace}.ledger.totals"

    @property
    def runner(self) -> VersionedProjectionRunner:
        runner = self.node.runtime.runner("totals")
        assert isinstance(runner, VersionedProjectionRunner)
        return runner

    def operations(self, grace: float = 1.0) -> AbstractAsyncContextManager[Operations]:
        """What `--mode cluster` opens, with this ledger for the portal's services."""
        return open_cluster_operations([definition], grace, self.registry)

    async def count(self, account: str, amount: int, version: int = 1) -> None:
        data: dict[str, Any] = {"account": account, "amount": amount}
        await self.node.events.append(
            f"ledger-account-{account}", [NewEvent(type="OpsCounted", version=version, data=data)], ANY_VERSION
        )
        if version == 1:
            doc = self.expected.get(account, {"_id": account, "account": account, "total": 0, "count": 0})
            self.expected[account] = {**doc, "total": doc["total"] + amount, "count": doc["count"] + 1}

    async def served(self) -> dict[str, Document]:
        return {doc["_id"]: public(doc) for doc in await self.node.runtime.documents.find(TOTALS)}

    async def folded(self) -> bool:
        return await self.served() == self.expected

    async def all_folded(self) -> None:
        await eventually(self.folded, timeout=TIMEOUT, what="every appended event folded once")


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Live]:
    bootstrap, mongo_uri = servers()
    for name, value in {
        "KAFKA_BOOTSTRAP": bootstrap,
        "MONGO_URI": mongo_uri,
        "STREFA_NAMESPACE": f"ops-{uuid4().hex[:12]}",
        "LEDGER_DATA_DIR": str(tmp_path / "ledger"),
        "LEDGER_DEV_MODE": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EVENTSTORE_URI", raising=False)
    infra = ClusterInfra.from_env()
    settings = settings_for(definition)
    registry = make_registry()
    node = ClusterService(definition, settings, infra, registry)
    await node.open()
    relay = Relay.next_to(settings.data_dir, "ledger", node.events, infra.kafka)
    relaying = asyncio.create_task(relay.run())
    try:
        await node.runtime.start()
        yield Live(node, registry, infra.kafka)
    finally:
        await node.runtime.stop()
        relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        await relay.stop()
        await node.close()
        await drop_databases(mongo_uri, [infra.database("ledger"), infra.database("vault")])
        await forget_namespace(infra.kafka)


async def test_status_reads_the_live_groups_without_joining_them(live: Live) -> None:
    for n in range(12):
        await live.count(f"A{n}", n + 1)
    await live.all_folded()

    async with live.operations() as ops:
        await eventually(lambda: _processed(ops, 12), timeout=TIMEOUT, what="the live runner's status saved")
        reports = {f"{report.service}.{report.name}": report for report in await ops.status()}
        report = reports["ledger.totals"]
        assert (report.kind, report.collection, report.version, report.rebuilding) == ("projection", "totals", 0, False)
        assert (report.lag, report.processed, report.dead_letters, report.last_error) == (0, 12, 0, None)
        assert sum(decode_offsets(report.checkpoints["ledger"]).values()) == 12
        assert reports["ledger.access"].collection == "_access"

        # the live runner keeps every partition while this process looks on
        assert await group_members(live.kafka, live.group) == 1
        for n in range(12):
            await live.count(f"A{n}", 100)
        await live.all_folded()
        await eventually(lambda: _processed(ops, 24), timeout=TIMEOUT, what="the live runner's status saved")
        report = next(report for report in await ops.status() if report.name == "totals")
        assert report.lag == 0


async def test_rebuild_fills_a_new_version_and_hands_the_live_runner_over(live: Live) -> None:
    for n in range(30):
        await live.count(f"A{n % 7}", n)
    await live.all_folded()

    async def keep_counting() -> None:
        for n in range(20):
            await live.count(f"A{n % 7}", 1000 + n)
            await asyncio.sleep(0.02)

    async with live.operations() as ops:
        counting = asyncio.create_task(keep_counting())
        result = await ops.rebuild("ledger.totals")
        await counting
    assert (result.old_collection, result.new_collection, result.documents) == ("totals", "totals__v1", 7)
    assert result.events >= 30

    await live.all_folded()  # the same documents, each event once, served from the new version
    await live.count("B", 5)  # after the switch: the live runner folds it into the new version
    await live.all_folded()
    assert live.runner.version == 1
    raw = live.node.documents
    assert {doc["_id"] for doc in await raw.find(Collection("totals__v1"))} == {*live.expected}
    assert "totals" not in await raw.db.list_collection_names()
    # the rebuild read under a group of its own: the live group's offsets stayed where the live runner left them
    assert await committed(live.kafka, live.group) >= 30
    assert await group_members(live.kafka, live.group) == 0
    assert await group_members(live.kafka, f"{live.group}@v1") == 1


async def test_reset_refills_the_projection_in_place(live: Live) -> None:
    for n in range(20):
        await live.count(f"A{n % 5}", n)
    await live.all_folded()

    async with live.operations(grace=0) as ops:
        result = await ops.reset("totals")
        report = next(report for report in await ops.status() if report.name == "totals")
    assert (result.new_collection, result.events, result.documents) == ("totals__v1", 20, 5)
    assert (report.collection, report.version, report.rebuilding) == ("totals__v1", 1, False)

    await live.count("C", 3)
    await live.all_folded()
    assert live.runner.version == 1


async def test_a_poison_event_is_listed_shown_and_retried_after_the_fix(live: Live) -> None:
    await live.count("A", 1)
    await live.count("Z", 7, version=2)  # no model for version 2 of OpsCounted: a poison event
    await live.count("A", 2)
    await live.all_folded()

    async with live.operations() as ops:
        await eventually(lambda: _processed(ops, 3), timeout=TIMEOUT, what="the live runner's status saved")
        [(service, letter)] = await ops.dead_letters()
        assert (service, letter["consumer"], letter["version"]) == ("ledger", "totals", 2)
        assert "unknown event type 'OpsCounted' version 2" in letter["reason"]
        assert (await ops.dead_letter(letter["_id"]))[1]["event"]["data"] == {"account": "Z", "amount": 7}
        assert await ops.dead_letters("ledger.totals") == [(service, letter)]
        report = next(report for report in await ops.status() if report.name == "totals")
        assert report.dead_letters == 1
        assert "version 2" in (report.last_error or "")

        assert (await ops.retry(letter["_id"])).outcome == "failed"
        assert len(await ops.dead_letters()) == 1

        # the fix: version 2 of the event, and the upcaster bringing version 1 to it
        @live.registry.register
        class CountedV2(DomainEvent):
            event_type = "OpsCounted"
            schema_version = 2
            account: str
            amount: int

        live.registry.upcaster("OpsCounted", 1)(lambda data: data)
        assert (await ops.retry(letter["_id"])).outcome == "applied"
        assert await ops.dead_letters() == []
    assert (await live.served())["Z"]["total"] == 7
    assert await live.node.documents.count(DEAD_LETTERS) == 0


async def _processed(ops: Operations, events: int) -> bool:
    """Whether the live runner's saved status (written after each batch) counts `events`."""
    return any(report.name == "totals" and report.processed == events for report in await ops.status())


# --- the CLI --------------------------------------------------------------------------------------


def ops(*args: str) -> Any:
    return cli.invoke(app, ["--mode", "cluster", "--grace", "0", *args])


def one_line_error(result: Any, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


@pytest.fixture
def portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The portal's six services' settings as the local cluster has them, in a namespace of the test's own."""
    bootstrap, mongo_uri = servers()
    namespace = f"ops-{uuid4().hex[:12]}"
    env = cluster_env(
        tmp_path, "http://portal.test", kafka_bootstrap=bootstrap, mongo_uri=mongo_uri, namespace=namespace
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EVENTSTORE_URI", raising=False)
    yield tmp_path
    infra = ClusterInfra.from_env()
    asyncio.run(drop_databases(mongo_uri, [infra.database(name) for name in (*SERVICE_NAMES, "vault")]))
    asyncio.run(forget_namespace(infra.kafka))


async def _make_event_stores(root: Path) -> None:
    for name in SERVICE_NAMES:
        store = await SqliteEventStore(root / name / "events.db", name).open()
        await store.close()


def test_the_cli_in_cluster_mode_runs_over_every_service(portal: Path) -> None:
    missing = one_line_error(ops("projections", "status"))
    assert f"no event store of identity at {portal / 'identity' / 'events.db'}" in missing

    asyncio.run(_make_event_stores(portal))
    listed = ops("projections", "status", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {f"{row['service']}.{row['name']}": row for row in json.loads(listed.stdout)}
    assert {row["service"] for row in rows.values()} == set(SERVICE_NAMES)
    assert (rows["billing.invoices"]["collection"], rows["billing.invoices"]["lag"]) == ("invoices", 0)
    assert rows["notifications.deliveries"]["kind"] == "reactor"
    assert "Projections and reactors" in ops("projections", "status").stdout

    rebuilt = ops("projections", "rebuild", "billing.invoices")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "now serving invoices__v1" in rebuilt.stdout

    assert ops("dead-letters", "list").stdout.strip() == "no dead letters"
    assert "no dead letter 'nope'" in one_line_error(ops("dead-letters", "show", "nope"), exit_code=2)
    assert "unknown projection 'nope'" in one_line_error(ops("projections", "rebuild", "nope"), exit_code=2)


def test_cluster_mode_without_its_servers_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("MONGO_URI", raising=False)
    assert "cluster mode needs KAFKA_BOOTSTRAP and MONGO_URI" in one_line_error(ops("projections", "status"))
    assert "cluster mode needs KAFKA_BOOTSTRAP" in one_line_error(ops("dead-letters", "list"))


def test_unreachable_kafka_or_mongodb_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap, mongo_uri = servers()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    assert "Kafka at 127.0.0.1:1 unreachable" in one_line_error(ops("projections", "status"))

    monkeypatch.setenv("KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("MONGO_URI", "mongodb://ops:s3cret@127.0.0.1:1/")
    result = ops("dead-letters", "list")
    assert "MongoDB at 127.0.0.1:1 unreachable" in one_line_error(result)
    assert "s3cret" not in result.output
