"""The Parquet export against a real broker: layout, columns, exact values, and each event exactly once
across stops, crashes between the files and the commit, a killed process and duplicates on the topic."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.kafka import KafkaConfig
from libs.events.relay import FileCheckpoint, Relay
from services.analytics.cli import app
from services.analytics.export import ParquetExporter
from services.analytics.sources import KafkaSource, SourcePartition
from tests.analytics.conftest import Services
from tests.helpers import eventually
from tests.servers import ROOT

pytestmark = pytest.mark.cluster

cli = CliRunner()

COLUMNS = [
    "event_id",
    "type",
    "version",
    "service",
    "stream_id",
    "stream_version",
    "position",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "client_id",
    "actor",
    "data",
    "log_partition",
    "log_offset",
]
CAUSE = UUID("6f1c1f5e-8f8e-4f7a-9a57-3f9c6f0d2b11")


def event(
    event_type: str,
    at: datetime,
    data: Mapping[str, Any],
    *,
    version: int = 1,
    client: str | None = None,
    actor: str | None = None,
    causation: UUID | None = None,
) -> NewEvent:
    return NewEvent(
        type=event_type,
        version=version,
        data=data,
        occurred_at=at,
        client_id=client,
        actor=actor,
        causation_id=causation,
    )


async def sample(services: Services) -> dict[str, RecordedEvent]:
    """24 events of billing and payments: three types, two versions of one, five (type, Warsaw date) pairs."""
    named: dict[str, RecordedEvent] = {}
    (named["before_midnight"],) = await services.append(
        "billing-invoice-a",
        [
            event(
                "InvoiceIssued",
                datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC),  # 23:59:59 in Warsaw (summer time)
                {"number": "FV/2026/03/1", "gross": Decimal("1230.00"), "vat": Decimal("230.00")},
                client="CL-1",
                actor="backoffice",
            )
        ],
    )
    (named["after_midnight"],) = await services.append(
        "billing-invoice-b",
        [
            event(
                "InvoiceIssued",
                datetime(2026, 3, 31, 22, 0, tzinfo=UTC),  # 00:00 on 1 April in Warsaw
                {"number": "FV/2026/04/1", "gross": Decimal("99.99"), "currency": "PLN"},
                version=2,
                client="CL-2",
            )
        ],
    )
    (named["paid"],) = await services.append(
        "billing-invoice-a",
        [
            event(
                "InvoicePaid",
                datetime(2026, 4, 1, 10, 0, tzinfo=UTC),
                {"paid": Decimal("1230.00")},
                client="CL-1",
                causation=CAUSE,
            )
        ],
    )
    (named["winter"],) = await services.append(
        "payments-payment-1",
        [
            event(
                "PaymentAccepted",
                datetime(2026, 1, 15, 23, 30, tzinfo=UTC),  # 00:30 on 16 January in Warsaw (winter time)
                {"amount": Decimal("0.10")},
                client="CL-1",
            )
        ],
    )
    start = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
    for n in range(20):
        await services.append(
            f"billing-invoice-bulk{n % 5}",
            [event("InvoiceIssued", start + timedelta(minutes=n), {"gross": Decimal(f"{n}.50")}, client=f"CL-{n % 3}")],
        )
    assert await services.publish() == 24
    return named


def topics(services: Services) -> str:
    return f"{services.topic('billing')},{services.topic('payments')}"


async def export(services: Services, out: Path, *args: str, group: str = "analytics-test") -> Any:
    return await asyncio.to_thread(
        cli.invoke,
        app,
        ["export", "--out", str(out), "--topics", topics(services), "--bootstrap", services.config.bootstrap,
         "--group", f"{services.config.namespace}.{group}", *args],
    )  # fmt: skip


def exported(out: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ds.dataset(out, format="parquet", partitioning="hive").to_table().to_pylist()
    return rows


def files(out: Path) -> list[Path]:
    return sorted(out.glob("event_type=*/date=*/*.parquet"))


async def all_event_ids(services: Services) -> list[str]:
    ids: list[str] = []
    for store in services.stores.values():
        ids.extend(str(recorded.event_id) for recorded in await store.read_all())
    return ids


def exactly_once(rows: list[dict[str, Any]], expected: list[str]) -> None:
    counts = Counter(row["event_id"] for row in rows)
    assert [event_id for event_id, count in counts.items() if count > 1] == []
    assert sorted(counts) == sorted(expected)


async def test_the_export_is_partitioned_by_type_and_warsaw_date_with_exact_values(
    services: Services, tmp_path: Path
) -> None:
    named = await sample(services)
    out = tmp_path / "export"

    result = await export(services, out)

    assert result.exit_code == 0, result.output
    assert "24/24 records" in result.stdout  # the progress bar, against the end offsets
    assert "exported 24 events" in result.stdout
    assert "caught up" in result.stdout
    partitions = {(path.parent.parent.name, path.parent.name) for path in files(out)}
    assert partitions == {
        ("event_type=InvoiceIssued", "date=2026-03-31"),
        ("event_type=InvoiceIssued", "date=2026-04-01"),
        ("event_type=InvoiceIssued", "date=2026-02-10"),
        ("event_type=InvoicePaid", "date=2026-04-01"),
        ("event_type=PaymentAccepted", "date=2026-01-16"),
    }
    for path in files(out):
        assert pq.read_schema(path).names == COLUMNS

    rows = exported(out)
    exactly_once(rows, await all_event_ids(services))
    per_partition = Counter((row["event_type"], str(row["date"])) for row in rows)
    assert per_partition == {
        ("InvoiceIssued", "2026-02-10"): 20,
        ("InvoiceIssued", "2026-03-31"): 1,
        ("InvoiceIssued", "2026-04-01"): 1,
        ("InvoicePaid", "2026-04-01"): 1,
        ("PaymentAccepted", "2026-01-16"): 1,
    }
    by_id = {row["event_id"]: row for row in rows}

    first = by_id[str(named["before_midnight"].event_id)]
    stored = named["before_midnight"]
    assert {key: first[key] for key in COLUMNS if key not in ("data", "log_partition", "log_offset")} == {
        "event_id": str(stored.event_id),
        "type": "InvoiceIssued",
        "version": 1,
        "service": "billing",
        "stream_id": "billing-invoice-a",
        "stream_version": 0,
        "position": stored.global_position,
        "occurred_at": datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC),
        "correlation_id": str(stored.correlation_id),
        "causation_id": None,
        "client_id": "CL-1",
        "actor": "backoffice",
    }
    data = json.loads(first["data"])
    assert data == {"number": "FV/2026/03/1", "gross": "1230.00", "vat": "230.00"}
    assert Decimal(data["gross"]) - Decimal(data["vat"]) == Decimal("1000.00")  # exact, never a float
    assert (first["event_type"], str(first["date"])) == ("InvoiceIssued", "2026-03-31")

    second = by_id[str(named["after_midnight"].event_id)]
    assert (second["version"], str(second["date"])) == (2, "2026-04-01")
    assert json.loads(second["data"]) == {"number": "FV/2026/04/1", "gross": "99.99", "currency": "PLN"}
    assert by_id[str(named["paid"].event_id)]["causation_id"] == str(CAUSE)
    winter = by_id[str(named["winter"].event_id)]
    assert (winter["service"], str(winter["date"]), json.loads(winter["data"])) == (
        "payments",
        "2026-01-16",
        {"amount": "0.10"},
    )
    # where each row was read: the partition of its stream, offsets in stream order
    bulk = sorted((row for row in rows if row["stream_id"] == "billing-invoice-bulk0"), key=lambda r: r["log_offset"])
    assert len({row["log_partition"] for row in bulk}) == 1
    assert [row["stream_version"] for row in bulk] == [0, 1, 2, 3]


async def test_stopping_after_n_and_running_again_exports_each_event_once(services: Services, tmp_path: Path) -> None:
    await sample(services)
    out = tmp_path / "export"

    stopped = await export(services, out, "--max-events", "7", "--batch-size", "3")
    assert stopped.exit_code == 0, stopped.output
    assert "run again to go on" in stopped.stdout
    assert len(exported(out)) == 7

    resumed = await export(services, out, "--batch-size", "5")
    assert resumed.exit_code == 0, resumed.output
    assert "17 records read" in resumed.stdout  # from the committed offsets, not from the beginning
    exactly_once(exported(out), await all_event_ids(services))

    await services.append(
        "billing-invoice-late", [event("InvoiceIssued", datetime(2026, 5, 4, 8, tzinfo=UTC), {"gross": "1.00"})]
    )
    await services.publish()
    later = await export(services, out)
    assert later.exit_code == 0, later.output
    assert "exported 1 events" in later.stdout
    rows = exported(out)
    exactly_once(rows, await all_event_ids(services))
    assert {str(row["date"]) for row in rows if row["stream_id"] == "billing-invoice-late"} == {"2026-05-04"}


class Crash(Exception):
    """The process died here."""


class CrashBeforeCommit(KafkaSource):
    async def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        raise Crash("after the files, before the commit")


class CrashAfterCommit(KafkaSource):
    async def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        await super().commit(positions)
        raise Crash("after the commit, before the index settled the parts")


@pytest.mark.parametrize("crashing", [CrashBeforeCommit, CrashAfterCommit])
async def test_a_crash_around_the_commit_leaves_every_event_exactly_once(
    services: Services, tmp_path: Path, crashing: type[KafkaSource]
) -> None:
    await sample(services)
    out = tmp_path / "export"
    group = f"{services.config.namespace}.analytics-test"
    source = crashing(services.config.bootstrap, topics(services).split(","), group)

    with pytest.raises(Crash):
        await ParquetExporter(out, source, group, batch_size=6).run()
    written = exported(out)
    assert 0 < len(written) <= 6  # the first batch's files are on disk
    crashed_files = set(files(out))

    result = await export(services, out)  # another batch size: other file names for the same offsets

    assert result.exit_code == 0, result.output
    exactly_once(exported(out), await all_event_ids(services))
    if crashing is CrashBeforeCommit:
        assert "24 records read" in result.stdout  # the uncommitted batch was read again, its files replaced
    else:
        assert crashed_files <= set(files(out))  # committed: kept, and not read again
        assert f"{24 - len(written)} records read" in result.stdout


async def test_a_killed_exporter_resumes_without_duplicates(services: Services, tmp_path: Path) -> None:
    await sample(services)
    out = tmp_path / "export"
    group = f"{services.config.namespace}.analytics-test"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.analytics", "export", "--out", str(out), "--topics", topics(services),
        "--bootstrap", services.config.bootstrap, "--group", group, "--follow", "--batch-size", "2",
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await eventually(lambda: len(files(out)) >= 2, timeout=60, what="the exporter wrote files")
    finally:
        os.kill(process.pid, signal.SIGKILL)  # no chance to finish its batch
        await process.wait()

    result = await export(services, out, "--batch-size", "3")

    assert result.exit_code == 0, result.output
    exactly_once(exported(out), await all_event_ids(services))


async def test_events_on_the_topic_twice_are_exported_once(services: Services, tmp_path: Path) -> None:
    await sample(services)
    # a relay that lost its checkpoint publishes everything again
    again = Relay(
        "billing", services.stores["billing"], services.config, FileCheckpoint(tmp_path / "lost-checkpoint.json")
    )
    try:
        assert await again.publish_pending() == 23
    finally:
        await again.stop()
    out = tmp_path / "export"

    result = await export(services, out)

    assert result.exit_code == 0, result.output
    assert "47 records read, 23 duplicates skipped" in result.stdout
    exactly_once(exported(out), await all_event_ids(services))


async def test_an_export_folder_belongs_to_one_group(services: Services, tmp_path: Path) -> None:
    await sample(services)
    out = tmp_path / "export"
    assert (await export(services, out)).exit_code == 0

    other = await export(services, out, group="someone-else")

    assert other.exit_code == 2
    assert "belongs to the kafka export of group" in other.stderr
    assert "Traceback" not in other.output
    assert len(exported(out)) == 24


async def test_an_unknown_topic_is_bad_usage(kafka_config: KafkaConfig, tmp_path: Path) -> None:
    missing = f"{kafka_config.namespace}.nope.events"
    result = await asyncio.to_thread(
        cli.invoke,
        app,
        ["export", "--out", str(tmp_path / "out"), "--topics", missing, "--bootstrap", kafka_config.bootstrap],
    )
    assert result.exit_code == 2
    assert f"no topic '{missing}'" in result.stderr
    assert not (tmp_path / "out").exists()
