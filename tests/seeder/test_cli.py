"""The command line and the first-start rule of `python -m services.gateway --seed-demo`."""

from __future__ import annotations

import json
from pathlib import Path

import uvicorn
from typer.testing import CliRunner

from services.seeder.__main__ import cli
from services.seeder.devserver import MARKER, DemoSeed, DevServer


def test_dry_run_counts_the_calls_and_names_the_demo_login() -> None:
    result = CliRunner().invoke(cli, ["--dry-run", "--clients", "3", "--today", "2026-03-10", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "invoice" in result.output
    assert "demo login" in result.output
    assert "Zielony-Ciagnik-48" in result.output


def _server(data_dir: Path) -> DevServer:
    config = uvicorn.Config("services.gateway.embedded:create_app", factory=True, port=8999)
    return DevServer(config, data_dir, ["billing"], DemoSeed(clients=3))


def test_an_empty_data_folder_is_seeded_and_remembered(tmp_path: Path) -> None:
    world, seeding = _server(tmp_path / "data")._plan()
    assert seeding
    assert world is not None
    assert world.clients == 3
    marker = json.loads((tmp_path / "data" / MARKER).read_text())
    assert marker["state"] == "seeding"
    # interrupted: the next start seeds again with the same date
    again, seeding = _server(tmp_path / "data")._plan()
    assert seeding
    assert again == world
    (tmp_path / "data" / MARKER).write_text(json.dumps({**marker, "state": "done"}))
    done, seeding = _server(tmp_path / "data")._plan()
    assert not seeding
    assert done == world


def test_a_folder_with_other_data_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "data" / "billing").mkdir(parents=True)
    world, seeding = _server(tmp_path / "data")._plan()
    assert world is None
    assert not seeding
    assert not (tmp_path / "data" / MARKER).exists()
