"""Client contexts (one person, several clients) and sub-accounts, checked on another service too."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from libs.events.registry import registry
from services.identity.projections import CLIENTS
from tests.helpers import eventually
from tests.identity.conftest import CLIENT, OTHER_CLIENT, Zone, bearer, new_email, other_service

THIRD_CLIENT = ("CL-3003", "Piekarnia Kowalscy s.c.")


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _person_of_two_clients(zone: Zone) -> tuple[str, dict[str, Any]]:
    email = new_email("dwaj")
    await zone.register_contract("UL/1/2026", CLIENT, [(email, "+48601234567")])
    await zone.register_contract("UL/2/2026", OTHER_CLIENT, [(email.upper(), "+48601234567")])
    await zone.wait_provisioned(email, grants=2)
    await zone.activate(email)
    return email, await zone.session(email)


async def _status(client: httpx.AsyncClient, path: str, token: str) -> int:
    return (await client.get(path, headers=bearer(token))).status_code


async def test_a_person_acting_for_two_clients_sees_both_and_switches(zone: Zone) -> None:
    email, session = await _person_of_two_clients(zone)
    assert session["client_id"] == CLIENT[0]

    async def both_listed() -> bool:
        me = (await zone.http.get("/api/identity/me", headers=bearer(session["access_token"]))).json()
        return len(me.get("clients", [])) == 2

    await eventually(both_listed, what="both clients in /me")
    me = (await zone.http.get("/api/identity/me", headers=bearer(session["access_token"]))).json()
    assert me["email"] == email
    assert me["client"] == {"client_id": CLIENT[0], "name": CLIENT[1]}
    assert {(c["client_id"], c["name"]) for c in me["clients"]} == {CLIENT, OTHER_CLIENT}
    assert "subaccounts:manage" in me["scopes"]

    switched = await zone.http.post(
        "/api/identity/context", json={"client_id": OTHER_CLIENT[0]}, headers=bearer(session["access_token"])
    )
    assert switched.status_code == 200
    token = switched.json()["access_token"]
    assert _claims(token)["cid"] == OTHER_CLIENT[0]
    assert _claims(token)["sid"] == _claims(session["access_token"])["sid"]
    assert (await zone.http.get("/api/identity/me", headers=bearer(token))).json()["client"]["client_id"] == (
        OTHER_CLIENT[0]
    )
    refreshed = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.json()["client_id"] == OTHER_CLIENT[0]  # the session remembers the switch

    direct = await zone.login(email, client_id=OTHER_CLIENT[0])
    assert direct.json()["client_id"] == OTHER_CLIENT[0]


async def test_switching_to_a_client_not_granted_is_the_same_404_as_a_nonexistent_one(zone: Zone) -> None:
    session = await zone.active_user(new_email())
    await zone.provision(new_email("inny"), OTHER_CLIENT)  # a real client this person was not granted
    answers = [
        await zone.http.post(
            "/api/identity/context", json={"client_id": client_id}, headers=bearer(session["access_token"])
        )
        for client_id in (OTHER_CLIENT[0], "CL-9999")
    ]
    assert [answer.status_code for answer in answers] == [404, 404]
    assert answers[0].json()["code"] == "client_not_found"
    assert answers[0].json()["detail"] == answers[1].json()["detail"]
    assert await zone.events("SessionClientSwitched") == []
    login = await zone.login(new_email("x"), client_id=OTHER_CLIENT[0])
    assert login.status_code == 401


async def test_a_second_contract_redelivered_provisions_nothing_more(zone: Zone) -> None:
    email = new_email()
    cause = await zone.register_contract("UL/7/2026", CLIENT, [(email, "+48601234567"), (email, "+48601234567")])
    await zone.wait_provisioned(email)
    before = await zone.events()
    reactor = zone.runtime.runner("provisioning")
    await reactor.consumer.reset()
    await eventually(_lag_zero(zone, "provisioning"), what="the reactor re-reading contracts")
    await reactor.handle([(cause, registry.decode(cause))])
    after = await zone.events()
    assert [e.event_id for e in after] == [e.event_id for e in before]
    types = [e.type for e in after]
    assert types.count("AccountProvisioned") == 1
    assert types.count("ClientAccessGranted") == 1
    provisioned = (await zone.account_events(email, "AccountProvisioned"))[0]
    assert provisioned.data["source"] == "contract:C-UL/7/2026"
    granted = (await zone.account_events(email, "ClientAccessGranted"))[0]
    assert len(granted.data["scopes"]) == 9
    assert granted.data["contract_ids"] is None


def _lag_zero(zone: Zone, name: str) -> Any:
    async def check() -> bool:
        return (await zone.runtime.runner(name).current_status()).lag.get("contracts", 1) == 0

    return check


async def _manager(zone: Zone) -> dict[str, Any]:
    return await zone.active_user(new_email("szef"))


def _subaccount(email: str, scopes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "first_name": "Anna",
        "last_name": "Nowak",
        "email": email,
        "phone": "+48 602 345 678",
        "scopes": scopes,
        **extra,
    }


async def _create(zone: Zone, token: str, body: dict[str, Any]) -> httpx.Response:
    return await zone.http.post("/api/identity/subaccounts", json=body, headers=bearer(token))


async def test_a_subaccount_is_created_invited_activated_and_limited_to_its_scopes(zone: Zone) -> None:
    manager = await _manager(zone)
    manager_id = _claims(manager["access_token"])["sub"]
    email = new_email("pracownik")
    created = await _create(zone, manager["access_token"], _subaccount(email, ["invoices:read", "documents:read"]))
    assert created.status_code == 201, created.text
    account_id = created.json()["account_id"]
    types = [event.type for event in await zone.account_events(email)]
    assert types == ["AccountProvisioned", "SubAccountCreated", "ClientAccessGranted"]
    (provisioned,) = await zone.account_events(email, "AccountProvisioned")
    assert provisioned.data["source"] == f"subaccount:{manager_id}"
    invitation = await zone.last_mail(email, "SubAccountCreated")
    assert (invitation.channel, invitation.to, invitation.template) == ("email", email, "subaccount_invitation")
    assert invitation.params["client_name"] == CLIENT[1]
    assert invitation.params["activation_url"].endswith("/aktywacja")

    await zone.activate(email)
    session = await zone.session(email)
    assert _claims(session["access_token"])["sub"] == account_id
    assert sorted(_claims(session["access_token"])["scp"]) == ["documents:read", "invoices:read"]
    async with other_service(zone) as service:
        assert await _status(service, "/invoices", session["access_token"]) == 200
        refused = await service.get("/contracts", headers=bearer(session["access_token"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_required")
    no_manage = await _create(zone, session["access_token"], _subaccount(new_email(), ["invoices:read"]))
    assert (no_manage.status_code, no_manage.json()["code"]) == (403, "scope_required")

    async def listed() -> bool:
        found = (await zone.http.get("/api/identity/subaccounts", headers=bearer(manager["access_token"]))).json()
        return [item["account_id"] for item in found] == [account_id] and found[0]["account_status"] == "active"

    await eventually(listed, what="the sub-account listed")
    (item,) = (await zone.http.get("/api/identity/subaccounts", headers=bearer(manager["access_token"]))).json()
    assert (item["email"], item["first_name"], item["created_by"]) == (email, "Anna", manager_id)
    assert sorted(item["scopes"]) == ["documents:read", "invoices:read"]


async def test_a_subaccount_manager_cannot_grant_what_it_does_not_hold(zone: Zone) -> None:
    manager = await _manager(zone)
    limited_email = new_email("kierownik")
    await _create(zone, manager["access_token"], _subaccount(limited_email, ["subaccounts:manage", "invoices:read"]))
    await zone.activate(limited_email)
    limited = await zone.session(limited_email)
    before = len(await zone.events())
    refused = await _create(
        zone, limited["access_token"], _subaccount(new_email(), ["invoices:read", "contracts:read"])
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_not_held"
    assert refused.json()["errors"][0]["field"] == "scopes"
    assert len(await zone.events()) == before
    allowed = await _create(zone, limited["access_token"], _subaccount(new_email(), ["invoices:read"]))
    assert allowed.status_code == 201


async def test_contract_limits_must_be_the_clients_and_within_the_managers(zone: Zone) -> None:
    manager_email = new_email("szef")
    await zone.register_contract("UL/11/2026", CLIENT, [(manager_email, "+48601234567")])
    await zone.register_contract("UL/12/2026", CLIENT, [])
    await zone.register_contract("UL/99/2026", OTHER_CLIENT, [])
    await zone.wait_provisioned(manager_email)
    await zone.activate(manager_email)
    manager = await zone.session(manager_email)

    async def clients_known() -> bool:
        found = await zone.runtime.documents.get_many(CLIENTS, [CLIENT[0], OTHER_CLIENT[0]])
        return len(found) == 2

    await eventually(clients_known, what="the clients' contracts known to identity")
    other_clients = await _create(
        zone, manager["access_token"], _subaccount(new_email(), ["contracts:read"], contract_ids=["C-UL/99/2026"])
    )
    assert (other_clients.status_code, other_clients.json()["errors"][0]["field"]) == (422, "contract_ids")

    email = new_email("ograniczony")
    limited = _subaccount(email, ["contracts:read", "subaccounts:manage"], contract_ids=["C-UL/11/2026"])
    assert (await _create(zone, manager["access_token"], limited)).status_code == 201
    await zone.activate(email)
    session = await zone.session(email)
    assert _claims(session["access_token"])["ctr"] == ["C-UL/11/2026"]
    async with other_service(zone) as service:
        seen = (await service.get("/contracts", headers=bearer(session["access_token"]))).json()
    assert seen["contract_ids"] == ["C-UL/11/2026"]
    for contract_ids in (None, ["C-UL/11/2026", "C-UL/12/2026"]):
        body = _subaccount(new_email(), ["contracts:read"], contract_ids=contract_ids)
        refused = await _create(zone, session["access_token"], body)
        assert (refused.status_code, refused.json()["code"]) == (403, "contracts_not_held")


async def test_narrowed_scopes_take_effect_on_the_next_request_of_another_service(zone: Zone) -> None:
    manager = await _manager(zone)
    email = new_email()
    created = await _create(zone, manager["access_token"], _subaccount(email, ["invoices:read", "contracts:read"]))
    account_id = created.json()["account_id"]
    await zone.activate(email)
    session = await zone.session(email)
    patched = await zone.http.patch(
        f"/api/identity/subaccounts/{account_id}",
        json={"scopes": ["contracts:read"]},
        headers=bearer(manager["access_token"]),
    )
    assert patched.status_code == 200
    (changed,) = await zone.account_events(email, "ClientAccessChanged")
    assert changed.data["scopes"] == ["contracts:read"]
    async with other_service(zone) as service:
        await eventually(
            lambda: _is(service, "/invoices", session["access_token"], 403), what="invoices:read withdrawn"
        )
        assert await _status(service, "/contracts", session["access_token"]) == 200


async def _is(client: httpx.AsyncClient, path: str, token: str, status: int) -> bool:
    return await _status(client, path, token) == status


async def test_deactivation_revokes_the_client_the_account_and_its_sessions_everywhere(zone: Zone) -> None:
    manager = await _manager(zone)
    email = new_email()
    created = await _create(zone, manager["access_token"], _subaccount(email, ["invoices:read"]))
    account_id = created.json()["account_id"]
    await zone.activate(email)
    session = await zone.session(email)
    out = await zone.http.post(
        f"/api/identity/subaccounts/{account_id}/deactivate", headers=bearer(manager["access_token"])
    )
    assert out.status_code == 204
    types = [event.type for event in await zone.account_events(email)][-3:]
    assert types == ["ClientAccessRevoked", "AccountDeactivated", "SessionRevoked"]
    async with other_service(zone) as service:
        await eventually(lambda: _is(service, "/invoices", session["access_token"], 401), what="the session refused")
    assert (await zone.login(email)).status_code == 401
    refresh = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert refresh.status_code == 401


async def test_deactivating_in_one_client_keeps_the_persons_other_client(zone: Zone) -> None:
    manager = await _manager(zone)
    email = new_email()
    await zone.provision(email, OTHER_CLIENT)
    created = await _create(zone, manager["access_token"], _subaccount(email, ["invoices:read"]))
    assert created.status_code == 201
    account_id = created.json()["account_id"]
    types = [event.type for event in await zone.account_events(email)]
    assert types.count("AccountProvisioned") == 1
    await zone.activate(email)
    session = await zone.session(email, client_id=OTHER_CLIENT[0])
    out = await zone.http.post(
        f"/api/identity/subaccounts/{account_id}/deactivate", headers=bearer(manager["access_token"])
    )
    assert out.status_code == 204
    assert [event.type for event in await zone.account_events(email)][-1] == "ClientAccessRevoked"
    assert (await zone.login(email, client_id=OTHER_CLIENT[0])).status_code == 200
    assert (await zone.login(email, client_id=CLIENT[0])).status_code == 404
    async with other_service(zone) as service:
        assert await _status(service, "/invoices", session["access_token"]) == 200


async def test_another_clients_manager_cannot_touch_the_subaccount(zone: Zone) -> None:
    manager = await _manager(zone)
    email = new_email()
    created = await _create(zone, manager["access_token"], _subaccount(email, ["invoices:read"]))
    account_id = created.json()["account_id"]
    stranger = await zone.active_user(new_email("obcy"), OTHER_CLIENT)
    own_id = _claims(manager["access_token"])["sub"]
    for target in (account_id, own_id, "not-a-uuid", "3f1c2a4e-8a51-4c61-9a4f-0f3c9b6d2e11"):
        patch = await zone.http.patch(
            f"/api/identity/subaccounts/{target}",
            json={"scopes": ["invoices:read"]},
            headers=bearer(stranger["access_token"]),
        )
        out = await zone.http.post(
            f"/api/identity/subaccounts/{target}/deactivate", headers=bearer(stranger["access_token"])
        )
        assert (patch.status_code, out.status_code) == (404, 404)
        assert patch.json()["code"] == "subaccount_not_found"
    listed = (await zone.http.get("/api/identity/subaccounts", headers=bearer(stranger["access_token"]))).json()
    assert listed == []
    main_user = await zone.http.post(
        f"/api/identity/subaccounts/{own_id}/deactivate", headers=bearer(manager["access_token"])
    )
    assert main_user.status_code == 404
    assert await zone.account_events(email, "ClientAccessRevoked", "ClientAccessChanged") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "bez-malpy"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "+48 " + "6" * 40}, "phone"),
        ({"first_name": "A" * 101}, "first_name"),
        ({"first_name": ""}, "first_name"),
        ({"scopes": ["admin:all"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"contract_ids": ["x" * 65]}, "contract_ids.0"),
        ({"is_admin": True}, "is_admin"),
    ],
)
async def test_bad_subaccount_input_is_a_422_naming_the_field_and_nothing_is_written(
    zone: Zone, change: dict[str, Any], field: str
) -> None:
    manager = await _manager(zone)
    before = len(await zone.events())
    answer = await _create(zone, manager["access_token"], {**_subaccount(new_email(), ["invoices:read"]), **change})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json()["errors"]]
    assert len(await zone.events()) == before


async def test_a_subaccount_body_that_is_not_json_is_a_4xx_problem(zone: Zone) -> None:
    manager = await _manager(zone)
    before = len(await zone.events())
    answer = await zone.http.post(
        "/api/identity/subaccounts",
        content=b"first_name=Anna",
        headers={**bearer(manager["access_token"]), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert len(await zone.events()) == before


async def test_the_scope_catalogue_has_polish_and_english_labels(zone: Zone) -> None:
    catalogue = (await zone.http.get("/api/identity/scopes")).json()
    assert {"scope": "invoices:read", "label_pl": "Faktury i rozliczenia", "label_en": "Invoices and settlements"} in (
        catalogue
    )
