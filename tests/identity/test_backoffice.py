"""Back-office provisioning, the account look-up, the dev-mode seeder hook and consumer status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from tests.helpers import eventually
from tests.identity.conftest import CLIENT, PASSWORD, Zone, bearer, new_email

URL = "/api/identity/backoffice/accounts"


def _person(email: str, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": CLIENT[0],
        "client_name": CLIENT[1],
        "first_name": "Zofia",
        "last_name": "Żółkiewska",
        "email": email,
        "phone": "601 234 567",
        **changes,
    }


async def test_provisioning_is_idempotent_with_a_key_and_per_address(zone: Zone) -> None:
    email = new_email()
    headers = {**zone.backoffice, "Idempotency-Key": "core-4711"}
    first = await zone.http.post(URL, json=_person(email), headers=headers)
    again = await zone.http.post(URL, json=_person(email), headers=headers)
    upper = await zone.http.post(URL, json=_person(email.upper()), headers=zone.backoffice)
    assert (first.status_code, again.status_code, upper.status_code) == (201, 201, 201)
    assert first.json() == again.json() == upper.json()
    assert first.json()["status"] == "provisioned"
    assert [event.type for event in await zone.account_events(email)] == ["AccountProvisioned", "ClientAccessGranted"]
    (provisioned,) = await zone.account_events(email, "AccountProvisioned")
    assert (provisioned.data["email"], provisioned.data["phone"]) == (email, "+48601234567")
    assert provisioned.data["source"] == "backoffice"
    assert provisioned.actor is not None
    assert provisioned.actor.startswith("backoffice:")


async def test_the_back_office_finds_an_account_by_address_without_any_secret(zone: Zone) -> None:
    email = new_email()
    account_id = await zone.provision(email)
    await zone.activate(email)

    async def active() -> bool:
        answer = await zone.http.get(URL, params={"email": email.upper()}, headers=zone.backoffice)
        return answer.status_code == 200 and answer.json()["status"] == "active"

    await eventually(active, what="the account active in the read model")
    found = (await zone.http.get(URL, params={"email": email}, headers=zone.backoffice)).json()
    assert found["account_id"] == account_id
    assert [grant["client_id"] for grant in found["grants"]] == [CLIENT[0]]
    assert "hash" not in str(found)
    missing = await zone.http.get(URL, params={"email": new_email()}, headers=zone.backoffice)
    assert missing.status_code == 404


async def test_the_back_office_endpoints_refuse_a_clients_token(zone: Zone) -> None:
    session = await zone.active_user(new_email())
    for headers in ({}, bearer(session["access_token"]), {"Authorization": "Bearer wrong"}):
        post = await zone.http.post(URL, json=_person(new_email()), headers=headers)
        get = await zone.http.get(URL, params={"email": "a@b.pl"}, headers=headers)
        dev = await zone.http.post(
            "/api/identity/backoffice/dev/activate", json={"email": "a@b.pl", "password": PASSWORD}, headers=headers
        )
        assert (post.status_code, get.status_code, dev.status_code) == (401, 401, 401)
        assert post.json()["code"] == "backoffice_token_required"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "zofia@"}, "email"),
        ({"phone": "+48 12"}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"first_name": "Z" * 101}, "first_name"),
        ({"client_id": "CL 1001; DROP"}, "client_id"),
        ({"client_id": "C" * 65}, "client_id"),
        ({"scopes": ["root"]}, "scopes"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_provisioning_input_is_a_422_naming_the_field(zone: Zone, change: dict[str, Any], field: str) -> None:
    answer = await zone.http.post(URL, json={**_person(new_email()), **change}, headers=zone.backoffice)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json()["errors"]]
    assert await zone.events() == []


async def test_a_provisioning_body_of_the_wrong_content_type_is_a_4xx_problem(zone: Zone) -> None:
    answer = await zone.http.post(
        URL, content=b"<account/>", headers={**zone.backoffice, "Content-Type": "application/xml"}
    )
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert await zone.events() == []


async def test_the_seeder_activates_a_provisioned_account_in_dev_mode(zone: Zone) -> None:
    email = new_email("demo")
    await zone.provision(email)
    url = "/api/identity/backoffice/dev/activate"
    weak = await zone.http.post(url, json={"email": email, "password": "qwerty123456"}, headers=zone.backoffice)
    assert weak.status_code == 422
    done = await zone.http.post(url, json={"email": email, "password": PASSWORD}, headers=zone.backoffice)
    assert done.status_code == 200
    assert (await zone.login(email)).status_code == 200
    twice = await zone.http.post(url, json={"email": email, "password": PASSWORD}, headers=zone.backoffice)
    assert twice.status_code == 409
    unknown = await zone.http.post(url, json={"email": new_email(), "password": PASSWORD}, headers=zone.backoffice)
    assert unknown.status_code == 404


async def test_the_seeder_hook_does_not_exist_outside_dev_mode(tmp_path: Path) -> None:
    settings = PortalSettings(data_dir=tmp_path / "data", dev_mode=False)
    portal = EmbeddedPortal(settings)
    await portal.start(run_consumers=False)
    try:
        transport = httpx.ASGITransport(app=portal.app())
        async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
            headers = {"Authorization": f"Bearer {backoffice_token(settings.data_dir)}"}
            answer = await http.post(
                "/api/identity/backoffice/dev/activate", json={"email": "a@b.pl", "password": PASSWORD}, headers=headers
            )
        assert answer.status_code == 404
    finally:
        await portal.stop()


async def test_identity_consumers_report_no_dead_letters(zone: Zone) -> None:
    await zone.active_user(new_email())
    await zone.register_contract("UL/5/2026", CLIENT, [(new_email(), "+48601234567")])
    statuses = (await zone.http.get("/api/identity/ops/consumers", headers=zone.backoffice)).json()
    names = {status["name"] for status in statuses}
    assert {"accounts", "sessions", "grants", "clients", "access", "provisioning"} <= names
    assert all(status["dead_letters"] == 0 for status in statuses)
