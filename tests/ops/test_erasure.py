"""`python -m services.ops erase-person` against a portal data folder: erases, asks first, clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from typer.testing import CliRunner

from libs.events.pii import ERASED
from libs.events.registry import registry
from libs.events.schemas.identity import AccountProvisioned
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from services.ops.cli import app

cli = CliRunner()
EMAIL = "jadwiga.wrobel@transport-wrobel.pl"


def ops(data_dir: Path, *args: str, input: str | None = None) -> Any:
    return cli.invoke(app, ["--data-dir", str(data_dir), *args], input=input)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


async def _provision(data_dir: Path) -> str:
    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir))
    await portal.start(run_consumers=False)
    try:
        transport = httpx.ASGITransport(app=portal.app())
        async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
            body = {
                "client_id": "CL-77",
                "client_name": "Transport Wróbel Sp. z o.o.",
                "first_name": "Jadwiga",
                "last_name": "Wróbel",
                "email": EMAIL,
                "phone": "605 111 222",
            }
            headers = {"Authorization": f"Bearer {backoffice_token(data_dir)}"}
            response = await http.post("/api/identity/backoffice/accounts", json=body, headers=headers)
            assert response.status_code == 201, response.text
            account_id: str = response.json()["account_id"]
            return account_id
    finally:
        await portal.stop()


async def _provisioned(data_dir: Path, account_id: str) -> AccountProvisioned:
    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir))
    await portal.start(run_consumers=False)
    try:
        events = await portal.runtimes["identity"].events.read_stream(f"identity-account-{account_id}")
        decoded = registry.decode(events[0])
        assert isinstance(decoded, AccountProvisioned)
        return decoded
    finally:
        await portal.stop()


def test_erase_person_has_help() -> None:
    result = cli.invoke(app, ["erase-person", "--help"])
    assert result.exit_code == 0, result.output
    assert "GDPR" in result.output


def test_erase_person_asks_first_then_erases_and_a_repeat_is_harmless(data_dir: Path) -> None:
    account_id = asyncio.run(_provision(data_dir))

    declined = ops(data_dir, "erase-person", account_id, input="n\n")
    assert declined.exit_code == 1
    assert asyncio.run(_provisioned(data_dir, account_id)).email == EMAIL

    erased = ops(data_dir, "erase-person", account_id, "--yes")
    assert erased.exit_code == 0, erased.output
    assert f"erased account {account_id}" in erased.stdout
    person = asyncio.run(_provisioned(data_dir, account_id))
    assert (person.email, person.first_name, person.last_name, person.phone) == (ERASED,) * 4

    again = ops(data_dir, "erase-person", account_id, input="y\n")
    assert again.exit_code == 0, again.output
    assert "was erased before" in again.stdout


def test_an_unknown_or_malformed_account_id_exits_2(data_dir: Path) -> None:
    unknown = ops(data_dir, "erase-person", str(uuid4()), "--yes")
    assert unknown.exit_code == 2
    assert "no account" in unknown.stderr
    malformed = ops(data_dir, "erase-person", "jadwiga", "--yes")
    assert malformed.exit_code == 2
    assert "ACCOUNT_ID" in malformed.stderr
    missing = ops(data_dir.parent / "nowhere", "erase-person", str(uuid4()), "--yes")
    assert missing.exit_code == 1
    assert "no data folder" in missing.stderr
