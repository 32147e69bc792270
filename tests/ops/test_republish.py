"""`ops republish`: a service's stored events sent to its topic again from a position; consumers see them
again and their read models do not change."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from libs.events.envelope import RecordedEvent
from libs.events.projection import ProjectionRunner
from libs.events.sqlite_docstore import SqliteDocumentStore
from services.ops.cli import app
from tests.analytics.conftest import Services
from tests.cluster.conftest import header, read_topic
from tests.cluster.model import TOTALS, invoice, projector, totals_by_client
from tests.helpers import eventually

cli = CliRunner()

AMOUNTS = [("C1", "10.05"), ("C2", "0.10"), ("C1", "5.00"), ("C2", "7.77"), ("C1", "1.01"), ("C3", "99.99")]
TOTALS_BEFORE = {"C1": (3, Decimal("16.06")), "C2": (2, Decimal("7.87")), "C3": (1, Decimal("99.99"))}


@pytest.fixture
async def stored(services: Services) -> list[RecordedEvent]:
    for n, (client, gross) in enumerate(AMOUNTS):
        await services.append(f"billing-invoice-{n}", [invoice(client, gross)])
    assert await services.publish() == len(AMOUNTS)
    return await services.stores["billing"].read_all()


@pytest.fixture
async def read_model(tmp_path: Path) -> AsyncIterator[SqliteDocumentStore]:
    store = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    await store.ensure(TOTALS)
    yield store
    await store.close()


def republish(services: Services, *args: str, input: str | None = None) -> Any:
    return cli.invoke(
        app,
        ["--data-dir", str(services.data_dir), "republish", *args,
         "--bootstrap", services.config.bootstrap, "--namespace", services.config.namespace],
        input=input,
    )  # fmt: skip


async def times_on_topic(services: Services) -> dict[int, int]:
    """How often each stored event (by global position) is on billing's topic."""
    positions = {str(event.event_id): event.global_position for event in await services.stores["billing"].read_all()}
    records = await read_topic(services.config, services.topic("billing"))
    return dict(Counter(positions[header(record, "ce_id") or ""] for record in records))


async def caught_up(runner: ProjectionRunner, processed: int) -> None:
    async def done() -> bool:
        await runner.run_once()
        return runner.status.processed >= processed and await runner.consumer.lag() == {"billing": 0}

    await eventually(done, timeout=60, what=f"the projection read {processed} records")


@pytest.mark.cluster
async def test_republish_from_a_position_is_seen_again_and_changes_no_read_model(
    services: Services, stored: list[RecordedEvent], read_model: SqliteDocumentStore
) -> None:
    runner = projector(services.config, read_model, f"totals-{uuid4().hex}")
    await runner.load_status()
    try:
        await caught_up(runner, 6)
        assert await totals_by_client(read_model) == TOTALS_BEFORE

        result = await asyncio.to_thread(republish, services, "billing", "--from-position", "3", "--yes")
        assert result.exit_code == 0, result.output
        assert "4/4" in result.stdout  # the progress bar
        assert "re-sent 4 events of billing" in result.stdout
        assert await times_on_topic(services) == {1: 1, 2: 1, 3: 2, 4: 2, 5: 2, 6: 2}

        await caught_up(runner, 10)  # the projection read the four again...
        assert await totals_by_client(read_model) == TOTALS_BEFORE  # ...and counted none twice

        between = await asyncio.to_thread(
            republish, services, "billing", "--from-position", "1", "--to-position", "2", input="y\n"
        )
        assert between.exit_code == 0, between.output
        assert "re-sent 2 events" in between.stdout
        assert await times_on_topic(services) == {1: 2, 2: 2, 3: 2, 4: 2, 5: 2, 6: 2}
        await caught_up(runner, 12)
        assert await totals_by_client(read_model) == TOTALS_BEFORE
    finally:
        await runner.consumer.close()


@pytest.mark.cluster
async def test_republish_asks_first_and_sends_nothing_when_refused(
    services: Services, stored: list[RecordedEvent]
) -> None:
    refused = await asyncio.to_thread(republish, services, "billing", "--from-position", "1", input="n\n")
    assert refused.exit_code == 1
    assert f"positions 1..6 to {services.topic('billing')} again?" in refused.stdout
    assert "nothing sent" in refused.stderr
    assert await times_on_topic(services) == {n: 1 for n in range(1, 7)}


@pytest.mark.cluster
async def test_positions_outside_the_store_are_bad_usage(services: Services, stored: list[RecordedEvent]) -> None:
    cases = {
        ("--from-position", "7"): "--from-position 7 is beyond the end of billing's event store (last position 6)",
        ("--from-position", "2", "--to-position", "9"): "--to-position 9 is beyond the end",
        ("--from-position", "4", "--to-position", "3"): "--to-position 3 is before --from-position 4",
    }
    for args, message in cases.items():
        result = await asyncio.to_thread(republish, services, "billing", *args, "--yes")
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr
        assert "Traceback" not in result.output
    zero = await asyncio.to_thread(republish, services, "billing", "--from-position", "0", "--yes")
    assert zero.exit_code == 2
    assert await times_on_topic(services) == {n: 1 for n in range(1, 7)}


@pytest.mark.cluster
async def test_unknown_services_missing_stores_and_an_unreachable_broker(
    services: Services, stored: list[RecordedEvent]
) -> None:
    unknown = await asyncio.to_thread(republish, services, "ledger", "--from-position", "1", "--yes")
    assert unknown.exit_code == 2
    assert "unknown service 'ledger'; known: identity, contracts, billing" in unknown.stderr

    no_store = await asyncio.to_thread(republish, services, "profile", "--from-position", "1", "--yes")
    assert no_store.exit_code == 1
    assert "no event store of profile" in no_store.stderr

    unreachable = await asyncio.to_thread(
        cli.invoke,
        app,
        ["--data-dir", str(services.data_dir), "republish", "billing", "--from-position", "1", "--yes",
         "--bootstrap", "127.0.0.1:1"],
    )  # fmt: skip
    assert unreachable.exit_code == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in unreachable.stderr
    assert "Traceback" not in unreachable.output


def test_without_a_broker_address_it_says_how_to_give_one(tmp_path: Path) -> None:
    result = cli.invoke(
        app,
        ["--data-dir", str(tmp_path), "republish", "billing", "--from-position", "1"],
        env={"KAFKA_BOOTSTRAP": None},
    )
    assert result.exit_code == 2
    assert "pass --bootstrap or set KAFKA_BOOTSTRAP" in result.stderr


def test_the_help_says_consumers_deduplicate() -> None:
    result = cli.invoke(app, ["republish", "--help"])
    assert result.exit_code == 0
    assert "deduplicate by event_id" in " ".join(result.output.split())
