"""A sub-account made through identity's API, checked on the real billing, contracts, payments and
profile endpoints of the embedded portal: its contract limit, its scopes, and their withdrawal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import uuid4

import httpx

from services.billing.projections import CONTRACTS as BILLING_CONTRACTS
from services.identity.projections import CLIENTS
from tests.billing.conftest import invoice_body
from tests.helpers import eventually
from tests.identity.conftest import CLIENT, Zone, bearer, new_email

NIP = "5260250274"


@dataclass
class Client:
    """A client with two contracts and an invoice on each, its main user logged in."""

    manager: str
    contract: str
    other_contract: str
    invoice: str
    other_invoice: str


async def _register_contract(zone: Zone, number: str, contact_email: str) -> str:
    body = {
        "contract_number": number,
        "client": {"client_id": CLIENT[0], "name": CLIENT[1], "nip": NIP},
        "contract_type": "operating",
        "start_date": "2026-01-15",
        "end_date": "2029-01-15",
        "net_value": "185000.00",
        "asset": {"kind": "samochód osobowy", "make": "Škoda", "model": "Superb"},
        "contact_persons": [
            {"first_name": "Jan", "last_name": "Kowalski", "email": contact_email, "phone": "+48 601 234 567"}
        ],
    }
    answer = await zone.http.post("/api/contracts/backoffice/contracts", json=body, headers=zone.backoffice)
    assert answer.status_code == 201, answer.text
    contract_id: str = answer.json()["contract_id"]

    async def known_to_billing() -> bool:
        doc = await zone.portal.runtimes["billing"].documents.get(BILLING_CONTRACTS, contract_id)
        return doc is not None and "contract_number" in doc

    await eventually(known_to_billing, what=f"billing knowing {contract_id}")
    return contract_id


async def _issue_invoice(zone: Zone, number: str, contract_id: str) -> str:
    answer = await zone.http.post(
        "/api/billing/backoffice/invoices", json=invoice_body(number, contract_id, kind="fee"), headers=zone.backoffice
    )
    assert answer.status_code == 201, answer.text
    invoice_id: str = answer.json()["invoice_id"]
    return invoice_id


async def _client(zone: Zone) -> Client:
    manager_email = new_email("szef")
    contract = await _register_contract(zone, "UL/41/2026", manager_email)
    other_contract = await _register_contract(zone, "UL/42/2026", manager_email)
    invoice = await _issue_invoice(zone, "FV/2026/04/0041", contract)
    other_invoice = await _issue_invoice(zone, "FV/2026/04/0042", other_contract)
    await zone.wait_provisioned(manager_email)

    async def contracts_known_to_identity() -> bool:
        doc = await zone.runtime.documents.get(CLIENTS, CLIENT[0])
        return doc is not None and {contract, other_contract} <= set(doc.get("contract_ids", []))

    await eventually(contracts_known_to_identity, what="identity knowing the client's contracts")
    await zone.activate(manager_email)
    manager = (await zone.session(manager_email))["access_token"]
    return Client(manager, contract, other_contract, invoice, other_invoice)


async def _subaccount(zone: Zone, manager: str, scopes: list[str], contract_ids: list[str]) -> tuple[str, str]:
    """Created by the manager, activated in three steps by its person, logged in: (account id, token)."""
    email = new_email("pracownik")
    body = {
        "first_name": "Anna",
        "last_name": "Nowak",
        "email": email,
        "phone": "+48 602 345 678",
        "scopes": scopes,
        "contract_ids": contract_ids,
    }
    created = await zone.http.post("/api/identity/subaccounts", json=body, headers=bearer(manager))
    assert created.status_code == 201, created.text
    await zone.activate(email)
    token: str = (await zone.session(email))["access_token"]
    return created.json()["account_id"], token


async def _invoice_numbers(zone: Zone, token: str) -> list[str] | None:
    """The invoice numbers billing lists for the token; None while billing does not answer 200."""
    answer = await zone.http.get("/api/billing/invoices", headers=bearer(token))
    if answer.status_code != 200:
        return None
    return sorted(item["number"] for item in answer.json()["items"])


def _problem(answer: httpx.Response, status: int, code: str) -> None:
    assert (answer.status_code, answer.headers["content-type"]) == (status, "application/problem+json"), answer.text
    assert answer.json()["code"] == code


async def test_a_subaccount_sees_only_its_contract_and_scope_in_every_service_until_deactivated(zone: Zone) -> None:
    client = await _client(zone)
    account_id, token = await _subaccount(zone, client.manager, ["invoices:read"], [client.contract])

    async def lists_its_invoice() -> bool:
        return await _invoice_numbers(zone, token) == ["FV/2026/04/0041"]

    await eventually(lists_its_invoice, what="billing listing the sub-account's invoice")
    assert await _invoice_numbers(zone, client.manager) == ["FV/2026/04/0041", "FV/2026/04/0042"]
    own = await zone.http.get(f"/api/billing/invoices/{client.invoice}", headers=bearer(token))
    assert (own.status_code, own.json()["number"]) == (200, "FV/2026/04/0041")
    _problem(
        await zone.http.get(f"/api/billing/invoices/{client.other_invoice}", headers=bearer(token)),
        404,
        "invoice_not_found",
    )
    assert (
        await zone.http.get(f"/api/billing/invoices/{client.other_invoice}", headers=bearer(client.manager))
    ).status_code == 200

    assert (await zone.http.get("/api/contracts/contracts", headers=bearer(client.manager))).status_code == 200
    _problem(await zone.http.get("/api/contracts/contracts", headers=bearer(token)), 403, "scope_required")
    payment = await zone.http.post(
        "/api/payments/payments",
        json={"invoice_ids": [client.invoice]},
        headers={**bearer(token), "Idempotency-Key": str(uuid4())},
    )
    _problem(payment, 403, "scope_required")
    form = {"contract_id": client.contract, "countries": ["DE"], "date_from": "2026-07-01", "date_to": "2026-07-14"}
    filed = await zone.http.post(
        "/api/profile/requests",
        data={"type": "vehicle_abroad_permission", "data": json.dumps({**form, "driver_name": "Anna Nowak"})},
        headers=bearer(token),
    )
    _problem(filed, 403, "scope_required")
    assert await zone.events("PaymentStarted", service="payments") == []
    assert await zone.events("RequestSubmitted", service="profile") == []
    assert (await zone.http.get("/api/billing/dashboard", headers=bearer(token))).status_code == 200

    out = await zone.http.post(f"/api/identity/subaccounts/{account_id}/deactivate", headers=bearer(client.manager))
    assert out.status_code == 204

    async def refused() -> bool:
        return (await zone.http.get("/api/billing/dashboard", headers=bearer(token))).status_code == 401

    await eventually(refused, what="billing refusing the deactivated sub-account")
    answer = await zone.http.get("/api/billing/dashboard", headers=bearer(token))
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] in ("account_deactivated", "access_revoked", "session_ended")
    assert (await zone.http.get("/api/billing/dashboard", headers=bearer(client.manager))).status_code == 200


async def test_narrowed_contracts_and_scopes_take_effect_on_billings_next_request(zone: Zone) -> None:
    client = await _client(zone)
    both = [client.contract, client.other_contract]
    account_id, token = await _subaccount(zone, client.manager, ["invoices:read", "documents:read"], both)

    async def lists_both() -> bool:
        return await _invoice_numbers(zone, token) == ["FV/2026/04/0041", "FV/2026/04/0042"]

    await eventually(lists_both, what="billing listing both contracts' invoices")
    patch_url = f"/api/identity/subaccounts/{account_id}"
    narrowed = await zone.http.patch(
        patch_url, json={"contract_ids": [client.contract]}, headers=bearer(client.manager)
    )
    assert narrowed.status_code == 200, narrowed.text

    async def lists_one() -> bool:
        return await _invoice_numbers(zone, token) == ["FV/2026/04/0041"]

    await eventually(lists_one, what="billing honouring the narrowed contracts with the old token")
    _problem(
        await zone.http.get(f"/api/billing/invoices/{client.other_invoice}", headers=bearer(token)),
        404,
        "invoice_not_found",
    )

    withdrawn = await zone.http.patch(patch_url, json={"scopes": ["documents:read"]}, headers=bearer(client.manager))
    assert withdrawn.status_code == 200, withdrawn.text

    async def invoices_refused() -> bool:
        return (await zone.http.get("/api/billing/invoices", headers=bearer(token))).status_code == 403

    await eventually(invoices_refused, what="billing refusing invoices:read once withdrawn")
    _problem(await zone.http.get("/api/billing/dashboard", headers=bearer(token)), 403, "scope_required")
    assert (await zone.http.get("/api/billing/documents", headers=bearer(token))).status_code == 200
