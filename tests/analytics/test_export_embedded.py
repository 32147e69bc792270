"""The export without Kafka: from the embedded portal's SQLite stores, same layout, its own checkpoint file;
and the command line's answers that need no broker."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from libs.events.envelope import NewEvent
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from services.analytics import export as export_module
from services.analytics.cli import app
from services.analytics.export import ParquetExporter, write_atomically
from services.analytics.sources import EmbeddedSource, SourcePartition

cli = CliRunner()


async def append(data_dir: Path, stream_id: str, events: list[NewEvent]) -> None:
    store = await SqliteEventStore(data_dir / stream_id.split("-", 1)[0] / "events.db").open()
    try:
        await store.append(stream_id, events, ANY_VERSION)
    finally:
        await store.close()


def issued(n: int, at: datetime) -> NewEvent:
    return NewEvent(
        type="InvoiceIssued", version=1, data={"gross": Decimal(f"{n}.01")}, occurred_at=at, client_id="CL-1"
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    start = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # the last hours of 24 and the first of 25 October in Warsaw

    async def fill() -> None:
        for n in range(12):
            await append(tmp_path / "data", f"billing-invoice-{n % 3}", [issued(n, start + timedelta(minutes=30 * n))])
        paid = NewEvent(type="PaymentAccepted", version=1, data={"amount": "5.00"}, occurred_at=start)
        await append(tmp_path / "data", "payments-payment-1", [paid])

    asyncio.run(fill())
    return tmp_path / "data"


def export(data_dir: Path, out: Path, *args: str) -> Any:
    return cli.invoke(app, ["export", "--embedded", "--data-dir", str(data_dir), "--out", str(out), *args])


def exported(out: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ds.dataset(out, format="parquet", partitioning="hive").to_table().to_pylist()
    return rows


def test_the_embedded_export_has_the_same_layout_and_resumes_from_its_checkpoint(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"

    first = export(data_dir, out, "--max-events", "5", "--batch-size", "2")
    assert first.exit_code == 0, first.output
    second = export(data_dir, out)
    assert second.exit_code == 0, second.output
    assert "8 records read" in second.stdout

    rows = exported(out)
    assert len(rows) == 13
    assert len({row["event_id"] for row in rows}) == 13
    # 21:00Z..02:30Z: 23:00 to 23:30 on the 24th in Warsaw (summer time), the rest on the 25th
    assert Counter((row["event_type"], str(row["date"])) for row in rows) == {
        ("InvoiceIssued", "2026-10-24"): 2,
        ("InvoiceIssued", "2026-10-25"): 10,
        ("PaymentAccepted", "2026-10-24"): 1,
    }
    assert sorted(Decimal(json.loads(row["data"])["gross"]) for row in rows if row["type"] == "InvoiceIssued") == [
        Decimal(f"{n}.01") for n in range(12)
    ]
    assert json.loads((out / "_export" / "embedded-checkpoint.json").read_text()) == {"billing": 13, "payments": 2}
    assert {path.name.split("-")[1] for path in out.glob("event_type=*/date=*/*.parquet")} == {"billing", "payments"}


class Crash(Exception):
    pass


class CrashBeforeCommit(EmbeddedSource):
    async def commit(self, positions: Mapping[SourcePartition, int]) -> None:
        raise Crash("after the files, before the checkpoint")


async def test_a_crash_before_the_checkpoint_is_repaired_by_the_next_run(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    source = CrashBeforeCommit(data_dir, ["billing"], out / "_export" / "embedded-checkpoint.json")
    with pytest.raises(Crash):
        await ParquetExporter(out, source, "g", batch_size=4).run()
    assert len(exported(out)) == 4  # on disk, not committed

    stats = await ParquetExporter(
        out, EmbeddedSource(data_dir, ["billing"], out / "_export" / "embedded-checkpoint.json"), "g"
    ).run()

    assert (stats.read, stats.written, stats.duplicates, stats.caught_up) == (12, 12, 0, True)
    rows = exported(out)
    assert len(rows) == len({row["event_id"] for row in rows}) == 12


async def test_a_crash_between_two_files_of_a_batch_loses_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "export"
    checkpoint = out / "_export" / "embedded-checkpoint.json"
    written: list[Path] = []

    def write_one_then_die(table: pa.Table, target: Path) -> None:
        if written:
            raise Crash("while writing the second file of the batch")
        write_atomically(table, target)
        written.append(target)

    monkeypatch.setattr(export_module, "write_atomically", write_one_then_die)
    with pytest.raises(Crash):  # one batch, two files (both Warsaw dates)
        await ParquetExporter(out, EmbeddedSource(data_dir, ["billing"], checkpoint), "g").run()
    assert len(exported(out)) == 2  # the 24 October file made it, the 25 October one did not
    monkeypatch.undo()

    stats = await ParquetExporter(out, EmbeddedSource(data_dir, ["billing"], checkpoint), "g").run()

    assert (stats.read, stats.written) == (12, 12)
    rows = exported(out)
    assert len(rows) == len({row["event_id"] for row in rows}) == 12


def test_an_unknown_service_and_a_missing_data_folder_are_bad_usage(data_dir: Path, tmp_path: Path) -> None:
    unknown = export(data_dir, tmp_path / "out", "--topics", "leasing.nope.events")
    assert unknown.exit_code == 2
    assert "no event store" in unknown.stderr
    assert "'nope'" in unknown.stderr
    assert "billing, payments" in unknown.stderr
    nowhere = export(tmp_path / "nowhere", tmp_path / "out")
    assert nowhere.exit_code == 2
    assert "no event stores under" in nowhere.stderr


def test_an_unreachable_broker_fails_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = cli.invoke(app, ["export", "--out", str(tmp_path / "out"), "--bootstrap", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "Kafka at 127.0.0.1:1 unavailable" in result.stderr
    assert "Traceback" not in result.output


def test_without_a_broker_address_it_says_how_to_give_one(tmp_path: Path) -> None:
    result = cli.invoke(app, ["export", "--out", str(tmp_path / "out")], env={"KAFKA_BOOTSTRAP": ""})
    assert result.exit_code == 2
    assert "pass --bootstrap or set KAFKA_BOOTSTRAP" in result.stderr


@pytest.mark.parametrize("command", [[], ["export"]])
def test_help(command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
