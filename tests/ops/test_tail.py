"""`ops tail topic` against a real broker, `ops tail stream` on the event store in both modes."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.kafka import KafkaConfig
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from services.ops.cli import app
from tests.analytics.conftest import Services
from tests.servers import ROOT

cli = CliRunner()
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def event(event_type: str, hours: int, client: str, data: dict[str, Any], version: int = 1) -> NewEvent:
    return NewEvent(
        type=event_type, version=version, data=data, occurred_at=T0 + timedelta(hours=hours), client_id=client
    )


STREAMS: list[tuple[str, NewEvent]] = [
    ("billing-invoice-1", event("InvoiceIssued", 0, "CL-1", {"gross": Decimal("10.00")})),
    ("billing-invoice-1", event("InvoicePaid", 1, "CL-1", {"paid": Decimal("10.00")})),
    ("billing-invoice-2", event("InvoiceIssued", 2, "CL-2", {"gross": Decimal("20.00")})),
    ("billing-invoice-3", event("InvoiceIssued", 3, "CL-1", {"gross": Decimal("30.00")})),
    ("billing-invoice-3", event("InvoiceCorrected", 4, "CL-1", {"gross": Decimal("29.99")}, version=2)),
    *[(f"billing-invoice-{n}", event("InvoiceIssued", n, "CL-3", {"gross": f"{n}.00"})) for n in range(5, 11)],
]


async def fill(store: SqliteEventStore) -> list[RecordedEvent]:
    for stream_id, new in STREAMS:
        await store.append(stream_id, [new], ANY_VERSION)
    return await store.read_all()


def ops(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return cli.invoke(app, list(args), env=env)


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


# --- topics ---------------------------------------------------------------------------------------


@pytest.fixture
async def published(services: Services) -> list[RecordedEvent]:
    recorded = await fill(await services.store("billing"))
    assert await services.publish() == len(STREAMS)
    return recorded


async def tail_topic(services: Services, *args: str) -> Any:
    topic = services.topic("billing")
    return await asyncio.to_thread(ops, "tail", "topic", topic, "--bootstrap", services.config.bootstrap, *args)


@pytest.mark.cluster
async def test_tail_topic_from_the_beginning_shows_the_filtered_events(
    services: Services, published: list[RecordedEvent]
) -> None:
    result = await tail_topic(services, "--from-beginning", "--type", "InvoiceIssued", "--client", "CL-1", "--json")

    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    expected = [e for e in published if e.type == "InvoiceIssued" and e.client_id == "CL-1"]
    assert sorted(line["event_id"] for line in lines) == sorted(str(e.event_id) for e in expected)
    assert all({"partition", "offset"} <= set(line) for line in lines)
    envelopes = [RecordedEvent.model_validate({k: v for k, v in line.items() if k not in ("partition", "offset")})
                 for line in lines]  # fmt: skip
    assert sorted(envelopes, key=lambda e: e.global_position) == expected  # the whole envelope, as stored

    readable = await tail_topic(services, "--from-beginning", "--type", "InvoicePaid")
    assert readable.exit_code == 0, readable.output
    (line,) = readable.stdout.splitlines()
    paid = next(e for e in published if e.type == "InvoicePaid")
    assert line.startswith("2026-05-04 11:00:00+02:00")  # occurred_at in Warsaw
    for part in (
        "InvoicePaid v1",
        "billing-invoice-1#1",
        f"pos {paid.global_position}",
        "client CL-1",
        '"paid":"10.00"',
    ):
        assert part in line

    two = await tail_topic(services, "--from-beginning", "--limit", "2")
    assert len(two.stdout.splitlines()) == 2


@pytest.mark.cluster
async def test_tail_topic_without_from_beginning_shows_the_recent_events_in_time_order(
    services: Services, published: list[RecordedEvent]
) -> None:
    by_time = sorted(published, key=lambda e: e.occurred_at)

    last_three = await tail_topic(services, "--limit", "3", "--json")
    assert last_three.exit_code == 0, last_three.output
    assert [line["event_id"] for line in json_lines(last_three.stdout)] == [str(e.event_id) for e in by_time[-3:]]

    recent = await tail_topic(services, "--json")
    assert [line["event_id"] for line in json_lines(recent.stdout)] == [str(e.event_id) for e in by_time[-10:]]

    nothing = await tail_topic(services, "--type", "NoSuchEvent")
    assert nothing.exit_code == 0
    assert nothing.stdout == ""
    assert "no events" in nothing.stderr


@pytest.mark.cluster
async def test_tail_topic_follow_prints_new_events_as_they_come(services: Services) -> None:
    store = await services.store("billing")
    await services.relays["billing"].start()  # the topic exists, empty
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.ops", "tail", "topic", services.topic("billing"), "--follow", "--limit", "2",
        "--json", "--bootstrap", services.config.bootstrap,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await store.append("billing-invoice-1", [STREAMS[0][1]], ANY_VERSION)
        await store.append("billing-invoice-2", [STREAMS[2][1]], ANY_VERSION)
        await services.publish()
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    shown = {line["event_id"] for line in json_lines(stdout.decode())}
    assert shown == {str(STREAMS[0][1].event_id), str(STREAMS[2][1].event_id)}


@pytest.mark.cluster
async def test_an_unknown_topic_is_bad_usage(kafka_config: KafkaConfig) -> None:
    missing = f"{kafka_config.namespace}.nope.events"
    result = await asyncio.to_thread(ops, "tail", "topic", missing, "--bootstrap", kafka_config.bootstrap)
    assert result.exit_code == 2
    assert f"no topic '{missing}'" in result.stderr
    assert "Traceback" not in result.output


def test_an_unreachable_broker_or_none_given_is_a_clear_error() -> None:
    unreachable = ops("tail", "topic", "leasing.billing.events", "--bootstrap", "127.0.0.1:1")
    assert unreachable.exit_code == 1
    assert "Kafka at 127.0.0.1:1 unavailable" in unreachable.stderr
    assert "Traceback" not in unreachable.output
    missing = ops("tail", "topic", "leasing.billing.events", env={"KAFKA_BOOTSTRAP": None})
    assert missing.exit_code == 2
    assert "pass --bootstrap or set KAFKA_BOOTSTRAP" in missing.stderr


# --- streams --------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    async def make() -> None:
        store = await SqliteEventStore(tmp_path / "data" / "billing" / "events.db", "billing").open()
        try:
            await fill(store)
        finally:
            await store.close()

    asyncio.run(make())
    return tmp_path / "data"


def test_tail_stream_prints_the_stream_in_order(data_dir: Path) -> None:
    whole = ops("--data-dir", str(data_dir), "tail", "stream", "billing-invoice-3", "--json")
    assert whole.exit_code == 0, whole.output
    lines = json_lines(whole.stdout)
    assert [(line["type"], line["version"], line["stream_version"]) for line in lines] == [
        ("InvoiceIssued", 1, 0),
        ("InvoiceCorrected", 2, 1),
    ]
    assert lines[1]["data"] == {"gross": "29.99"}

    last = ops("--data-dir", str(data_dir), "tail", "stream", "billing-invoice-3", "--limit", "1")
    (line,) = last.stdout.splitlines()
    assert "InvoiceCorrected v2  billing-invoice-3#1" in line

    issued = ops("--data-dir", str(data_dir), "tail", "stream", "billing-invoice-3", "--type", "InvoiceIssued")
    assert len(issued.stdout.splitlines()) == 1
    assert "InvoiceIssued v1" in issued.stdout


def test_tail_stream_in_cluster_mode_reads_the_services_own_store(data_dir: Path) -> None:
    cluster_env: dict[str, str | None] = {
        "BILLING_DATA_DIR": str(data_dir / "billing"),
        "BILLING_DEV_MODE": "true",
        "KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "MONGO_URI": "mongodb://127.0.0.1:1/",
        "EVENTSTORE_URI": None,
    }
    result = ops("--mode", "cluster", "tail", "stream", "billing-invoice-1", "--json", env=cluster_env)
    assert result.exit_code == 0, result.output
    assert [line["type"] for line in json_lines(result.stdout)] == ["InvoiceIssued", "InvoicePaid"]

    unconfigured = ops("--mode", "cluster", "tail", "stream", "billing-invoice-1", env={"MONGO_URI": None})
    assert unconfigured.exit_code == 1
    assert "cluster mode needs" in unconfigured.stderr


def test_unknown_streams_and_missing_stores_are_clear_errors(data_dir: Path, tmp_path: Path) -> None:
    unknown = ops("--data-dir", str(data_dir), "tail", "stream", "billing-invoice-404")
    assert unknown.exit_code == 2
    assert "no stream 'billing-invoice-404' in billing's event store" in unknown.stderr

    nobody = ops("--data-dir", str(data_dir), "tail", "stream", "ledger-account-1")
    assert nobody.exit_code == 2
    assert "stream ids start with their service's name" in nobody.stderr

    no_store = ops("--data-dir", str(data_dir), "tail", "stream", "profile-client-1")
    assert no_store.exit_code == 1
    assert "no event store of profile" in no_store.stderr
    assert not (data_dir / "profile").exists()  # looked for, never created

    no_folder = ops("--data-dir", str(tmp_path / "nowhere"), "tail", "stream", "billing-invoice-1")
    assert no_folder.exit_code == 1
    assert "no data folder" in no_folder.stderr


@pytest.mark.parametrize("command", [["tail"], ["tail", "topic"], ["tail", "stream"], ["republish"]])
def test_every_new_command_has_help(command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
