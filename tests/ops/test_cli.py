"""The ops CLI against a portal data folder: --help, exit codes, status, rebuild, reset, dead letters."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from libs.events.envelope import NewEvent
from libs.events.store import ANY_VERSION
from services.gateway.embedded import EmbeddedPortal, PortalSettings
from services.ops.cli import app

cli = CliRunner()


def ops(data_dir: Path, *args: str, input: str | None = None) -> Any:
    return cli.invoke(app, ["--data-dir", str(data_dir), "--grace", "0", *args], input=input)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["projections"],
        ["projections", "status"],
        ["projections", "rebuild"],
        ["projections", "reset"],
        ["dead-letters"],
        ["dead-letters", "list"],
        ["dead-letters", "show"],
        ["dead-letters", "retry"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_an_unknown_projection_exits_2_naming_the_known_ones(data_dir: Path) -> None:
    result = ops(data_dir, "projections", "rebuild", "nope")
    assert result.exit_code == 2
    assert "unknown projection 'nope'" in result.stderr
    assert "billing.invoices" in result.stderr
    assert "notifications.notification_log" in result.stderr


def test_an_ambiguous_name_exits_2_naming_the_candidates(data_dir: Path) -> None:
    result = ops(data_dir, "projections", "reset", "invoices", "--yes")
    assert result.exit_code == 2
    assert "billing.invoices" in result.stderr
    assert "payments.invoices" in result.stderr


def test_a_reactor_cannot_be_rebuilt(data_dir: Path) -> None:
    result = ops(data_dir, "projections", "rebuild", "notifications.deliveries")
    assert result.exit_code == 2
    assert "not a projection" in result.stderr


def test_a_missing_data_folder_and_cluster_mode_are_clear_errors(tmp_path: Path, data_dir: Path) -> None:
    missing = ops(tmp_path / "nowhere", "projections", "status")
    assert missing.exit_code == 1
    assert "no data folder" in missing.stderr
    cluster = cli.invoke(
        app, ["--mode", "cluster", "projections", "status"], env={"KAFKA_BOOTSTRAP": "", "MONGO_URI": ""}
    )
    assert cluster.exit_code == 1
    assert "cluster mode needs KAFKA_BOOTSTRAP and MONGO_URI" in cluster.stderr


def status(data_dir: Path) -> dict[str, dict[str, Any]]:
    result = ops(data_dir, "projections", "status", "--json")
    assert result.exit_code == 0, result.output
    return {f"{row['service']}.{row['name']}": row for row in json.loads(result.stdout)}


def test_status_rebuild_and_reset(data_dir: Path) -> None:
    before = status(data_dir)
    assert before["billing.invoices"]["collection"] == "invoices"
    assert before["notifications.deliveries"]["kind"] == "reactor"
    table = ops(data_dir, "projections", "status")
    assert table.exit_code == 0
    assert "Projections and reactors" in table.stdout

    rebuilt = ops(data_dir, "projections", "rebuild", "billing.invoices")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "now serving invoices__v1" in rebuilt.stdout
    assert status(data_dir)["billing.invoices"]["collection"] == "invoices__v1"

    refused = ops(data_dir, "projections", "reset", "contract_list", input="n\n")
    assert refused.exit_code == 1
    assert "serve empty" in refused.stderr
    reset = ops(data_dir, "projections", "reset", "contract_list", "--yes")
    assert reset.exit_code == 0, reset.output
    assert status(data_dir)["contracts.contract_list"]["collection"] == "contracts__v1"


async def _poison(data_dir: Path) -> None:
    """A NotificationSent of a version nobody knows, run through the live notification_log runner."""
    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir))
    await portal.start(run_consumers=False)
    try:
        runtime = portal.runtimes["notifications"]
        await runtime.events.append(
            "notifications-notification-x", [NewEvent(type="NotificationSent", version=99, data={})], ANY_VERSION
        )
        await runtime.runner("notification_log").run_once()
    finally:
        await portal.stop()


def test_dead_letters_list_show_retry(data_dir: Path) -> None:
    assert ops(data_dir, "dead-letters", "list").stdout.strip() == "no dead letters"
    asyncio.run(_poison(data_dir))

    listed = ops(data_dir, "dead-letters", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [letter] = json.loads(listed.stdout)
    assert (letter["service"], letter["consumer"], letter["version"]) == ("notifications", "notification_log", 99)
    table = ops(data_dir, "dead-letters", "list", "--consumer", "notification_log")
    assert "1 dead letters" in table.stdout

    shown = ops(data_dir, "dead-letters", "show", letter["_id"])
    assert shown.exit_code == 0, shown.output
    assert "unknown event type 'NotificationSent' version 99" in shown.stdout
    assert '"stream_id": "notifications-notification-x"' in shown.stdout

    retried = ops(data_dir, "dead-letters", "retry", letter["_id"])
    assert retried.exit_code == 1
    assert "still failing" in retried.stderr
    assert len(json.loads(ops(data_dir, "dead-letters", "list", "--json").stdout)) == 1

    assert ops(data_dir, "dead-letters", "show", "nope").exit_code == 2
    assert ops(data_dir, "dead-letters", "retry", "nope").exit_code == 2
    assert status(data_dir)["notifications.notification_log"]["dead_letters"] == 1
