"""Mój profil: company contact data, the person's data and its additional contact data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import eventually
from tests.profile.conftest import EWA_ID, ZOFIA_ID, World

ADDRESS = {
    "street": "ul. Marszałkowska",
    "building": "10",
    "apartment": "5",
    "postal_code": "00-950",
    "city": "Warszawa",
}


async def me(world: World, **token: Any) -> dict[str, Any]:
    response = await world.http.get("/api/profile/me", headers=world.headers(**token))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_my_profile_shows_the_company_from_its_contracts_and_the_person_from_identity(world: World) -> None:
    profile = await me(world)
    assert profile["client"]["client_id"] == "CL-1001"
    assert profile["client"]["name"] == "Transport Nowak Sp. z o.o."
    assert profile["client"]["nip"] == "5260250274"
    assert profile["client"]["contact"] is None
    zofia, piotr = sorted(profile["client"]["contact_persons"], key=lambda person: person["last_name"])[::-1]
    assert (zofia["email"], zofia["phone"]) == ("zofia@nowak.pl", "+48601234567")
    assert zofia["contracts"] == ["UL/2026/0001", "UL/2026/0002"]
    assert piotr["contracts"] == ["UL/2026/0002"]
    assert profile["person"]["first_name"] == "Zofia"
    assert profile["person"]["email"] == "zofia@nowak.pl"
    assert profile["person"]["phone"] == "+48601234567"
    assert profile["person"]["login_contact"]["editable_here"] is False
    assert profile["person"]["login_contact"]["managed_by"] == "identity"
    assert profile["einvoice"]["consent"] is False
    assert profile["may_edit"] is True


async def test_another_client_sees_its_own_company_only(world: World) -> None:
    profile = await me(world, client_id="CL-2002", account_id=EWA_ID)
    assert profile["client"]["name"] == "Budmax S.A."
    assert profile["person"]["email"] == "ewa@budmax.pl"
    assert "Transport" not in str(profile)


async def test_editing_the_company_contact_data_records_who_and_when(world: World) -> None:
    body = {"correspondence_address": ADDRESS, "phone": "22 123 45 67", "email": "Biuro@Nowak.PL"}
    response = await world.http.put("/api/profile/company/contact", json=body, headers=world.headers())
    assert response.status_code == 200, response.text
    assert response.json()["changed_fields"] == ["correspondence_address", "phone", "email"]
    assert response.json()["contact"]["phone"] == "+48221234567"
    (event,) = await world.events("ContactDataChanged")
    assert event.stream_id == "profile-company-CL-1001"
    assert event.data["changed_by"] == f"account:{ZOFIA_ID}"
    assert event.actor == f"account:{ZOFIA_ID}"
    assert event.client_id == "CL-1001"
    assert event.data["changed_at"]
    assert event.data["contact"]["correspondence_address"]["postal_code"] == "00-950"
    assert event.data["contact"]["correspondence_address"]["country"] == "PL"

    async def shown() -> bool:
        return (await me(world))["client"]["contact"] is not None

    await eventually(shown, what="the contact data in the profile")
    client = (await me(world))["client"]
    assert client["contact"]["phone"] == "+48221234567"
    assert client["contact_changed_by"] == f"account:{ZOFIA_ID}"
    assert client["name"] == "Transport Nowak Sp. z o.o."


async def test_the_same_data_again_changes_nothing(world: World) -> None:
    body = {"phone": "+48 22 123 45 67"}
    first = await world.http.put("/api/profile/company/contact", json=body, headers=world.headers())
    again = await world.http.put("/api/profile/company/contact", json=body, headers=world.headers())
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["changed_fields"] == []
    assert len(await world.events("ContactDataChanged")) == 1


async def test_international_phone_and_foreign_postal_code_are_accepted(world: World) -> None:
    address = {**ADDRESS, "country": "DE", "postal_code": "10115", "city": "Berlin"}
    body = {"correspondence_address": address, "phone": "+49 30 901820"}
    response = await world.http.put("/api/profile/company/contact", json=body, headers=world.headers())
    assert response.status_code == 200, response.text
    assert response.json()["contact"]["phone"] == "+4930901820"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"correspondence_address": {**ADDRESS, "postal_code": "00950"}}, "correspondence_address.postal_code"),
        ({"correspondence_address": {**ADDRESS, "postal_code": "0-0950"}}, "correspondence_address.postal_code"),
        (
            {"correspondence_address": {**ADDRESS, "country": "DE", "postal_code": "00-950"}},
            "correspondence_address.postal_code",
        ),
        ({"correspondence_address": {**ADDRESS, "country": "XX"}}, "correspondence_address.country"),
        ({"correspondence_address": {**ADDRESS, "city": ""}}, "correspondence_address.city"),
        (
            {"correspondence_address": {k: v for k, v in ADDRESS.items() if k != "street"}},
            "correspondence_address.street",
        ),
        ({"phone": "12"}, "phone"),
        ({"phone": "+48 123"}, "phone"),
        ({"email": "biuro-at-nowak.pl"}, "email"),
        ({"email": "biuro@"}, "email"),
        ({"fax": "22 123 45 67"}, "fax"),
    ],
)
async def test_bad_contact_data_is_a_422_naming_the_field_and_nothing_is_written(
    world: World, body: dict[str, Any], field: str
) -> None:
    response = await world.http.put("/api/profile/company/contact", json=body, headers=world.headers())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await world.events() == []


async def test_the_persons_additional_contact_data_is_editable_and_its_login_data_is_not(world: World) -> None:
    body = {"position": "Kierownik floty", "work_phone": "+48 22 555 66 77", "work_email": "flota@nowak.pl"}
    response = await world.http.put("/api/profile/me/contact", json=body, headers=world.headers())
    assert response.status_code == 200, response.text
    (event,) = await world.events("PersonContactDataChanged")
    assert event.stream_id == f"profile-person-CL-1001:{ZOFIA_ID}"
    assert event.data["changed_by"] == f"account:{ZOFIA_ID}"
    assert event.data["contact"]["work_phone"] == "+48225556677"

    async def shown() -> bool:
        return bool((await me(world))["person"]["contact"]["position"] == "Kierownik floty")

    await eventually(shown, what="the person's contact data in the profile")
    person = (await me(world))["person"]
    assert person["email"] == "zofia@nowak.pl"
    assert person["contact_changed_by"] == f"account:{ZOFIA_ID}"
    login = await world.http.put("/api/profile/me/contact", json={"email": "x@y.pl"}, headers=world.headers())
    assert login.status_code == 422
    assert login.json()["errors"][0]["field"] == "email"


async def test_the_persons_data_is_kept_per_client(world: World) -> None:
    body = {"position": "Prezes"}
    await world.http.put("/api/profile/me/contact", json=body, headers=world.headers(client_id="CL-2002"))
    await world.settled()
    assert (await me(world))["person"]["contact"]["position"] is None


@pytest.mark.parametrize(
    ("method", "path", "missing"),
    [
        ("GET", "/api/profile/me", "profile:read"),
        ("PUT", "/api/profile/company/contact", "profile:edit"),
        ("PUT", "/api/profile/me/contact", "profile:edit"),
    ],
)
async def test_a_sub_account_without_the_scope_gets_403(world: World, method: str, path: str, missing: str) -> None:
    scopes = [scope for scope in ("profile:read", "profile:edit", "requests:read") if scope != missing]
    response = await world.http.request(method, path, json={"phone": "221234567"}, headers=world.headers(scopes=scopes))
    assert response.status_code == 403
    assert response.json()["code"] == "scope_required"
    assert await world.events() == []


async def test_without_a_token_the_profile_is_401(world: World) -> None:
    response = await world.http.get("/api/profile/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
