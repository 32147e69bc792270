"""The thin vertical slice over HTTP: the back office registers a contract, the read model lists it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Portal
from tests.helpers import eventually

SERVICES = ["identity", "contracts", "billing", "payments", "notifications", "profile"]


def contract(number: str = "UL/2026/11/0001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contract_number": number,
        "client": {"client_id": "CL-1001", "name": "Transport Nowak Sp. z o.o.", "nip": "526-025-02-74"},
        "contract_type": "operating",
        "start_date": "2026-01-15",
        "end_date": "2029-01-15",
        "net_value": "185000.00",
        "currency": "PLN",
        "asset": {
            "kind": "samochód osobowy",
            "make": "Škoda",
            "model": "Superb",
            "vin": "TMBJJ7NP5L7012345",
            "registration_number": "WX1234A",
            "year": 2025,
        },
        "contact_persons": [
            {"first_name": "Zofia", "last_name": "Żółkiewska", "email": "zofia@nowak.pl", "phone": "601 234 567"}
        ],
    }
    body.update(changes)
    return body


async def listed(portal: Portal, **params: str) -> list[dict[str, Any]]:
    response = await portal.http.get("/api/contracts/backoffice/contracts", params=params, headers=portal.backoffice)
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_answers_health_readiness_and_openapi(portal: Portal, service: str) -> None:
    assert (await portal.http.get(f"/api/{service}/healthz")).json() == {"status": "ok", "service": service}
    ready = await portal.http.get(f"/api/{service}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"event_store": "ok", "read_models": "ok", "key_vault": "ok"}
    openapi = await portal.http.get(f"/api/{service}/openapi.json")
    assert openapi.status_code == 200
    assert openapi.json()["info"]["title"].endswith(service)


async def test_a_registered_contract_is_listed_by_the_read_model(portal: Portal) -> None:
    response = await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=portal.backoffice)
    assert response.status_code == 201
    contract_id = response.json()["contract_id"]
    await eventually(lambda: _has(portal, contract_id), what="the contract in the read model")
    (doc,) = await listed(portal, client_id="CL-1001")
    assert doc["contract_number"] == "UL/2026/11/0001"
    assert doc["net_value"] == "185000.00"
    assert doc["client_id"] == "CL-1001"
    assert doc["asset"]["make"] == "Škoda"
    assert "_applied" not in doc
    assert await listed(portal, client_id="CL-9999") == []
    detail = await portal.http.get(f"/api/contracts/backoffice/contracts/{contract_id}", headers=portal.backoffice)
    assert detail.json()["contract_id"] == contract_id


async def _has(portal: Portal, contract_id: str) -> bool:
    return any(doc["contract_id"] == contract_id for doc in await listed(portal))


async def test_the_event_carries_the_envelope_and_normalized_values(portal: Portal) -> None:
    await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=portal.backoffice)
    (event,) = await portal.portal.runtimes["contracts"].events.read_all()  # contact persons opened
    assert event.type == "ContractRegistered"
    assert event.version == 1
    assert event.stream_id.startswith("contracts-contract-")
    assert event.client_id == "CL-1001"
    assert event.actor is not None
    assert event.actor.startswith("backoffice:")
    assert event.data["client"]["nip"] == "5260250274"
    assert event.data["contact_persons"][0]["phone"] == "+48601234567"
    assert event.data["net_value"] == "185000.00"


async def test_registering_the_same_number_twice_is_a_conflict(portal: Portal) -> None:
    first = await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=portal.backoffice)
    assert first.status_code == 201
    again = await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=portal.backoffice)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "contract_number_taken"
    assert again.json()["errors"][0]["field"] == "contract_number"


async def test_a_repeated_call_with_the_same_idempotency_key_changes_nothing(portal: Portal) -> None:
    headers = {**portal.backoffice, "Idempotency-Key": "core-7781"}
    first = await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=headers)
    again = await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert len(await portal.portal.platform.event_stores["contracts"].read_all()) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client": {"client_id": "CL-1", "name": "X", "nip": "5260250275"}}, "client.nip"),
        ({"net_value": "-1.00"}, "net_value"),
        ({"net_value": "12.345"}, "net_value"),
        ({"contract_type": "rental"}, "contract_type"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"currency": "złoty"}, "currency"),
        ({"contract_number": "x" * 65}, "contract_number"),
        ({"unexpected": 1}, "unexpected"),
        (
            {"contact_persons": [{"first_name": "A", "last_name": "B", "email": "no-at-sign", "phone": "601234567"}]},
            "contact_persons.0.email",
        ),
        (
            {"contact_persons": [{"first_name": "A", "last_name": "B", "email": "a@b.pl", "phone": "12"}]},
            "contact_persons.0.phone",
        ),
        ({"end_date": "2025-01-01"}, "end_date"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_nothing_is_written(
    portal: Portal, changes: dict[str, Any], field: str
) -> None:
    response = await portal.http.post(
        "/api/contracts/backoffice/contracts", json=contract(**changes), headers=portal.backoffice
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert field in [error["field"] for error in body["errors"]]
    assert await portal.portal.platform.event_stores["contracts"].read_all() == []


async def test_a_body_that_is_not_json_is_a_422(portal: Portal) -> None:
    response = await portal.http.post(
        "/api/contracts/backoffice/contracts",
        content=b"{not json",
        headers={**portal.backoffice, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic Zm9vOmJhcg=="])
async def test_the_back_office_api_needs_the_back_office_credential(portal: Portal, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    post = await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=headers)
    get = await portal.http.get("/api/contracts/backoffice/contracts", headers=headers)
    ops = await portal.http.get("/api/contracts/ops/consumers", headers=headers)
    assert (post.status_code, get.status_code, ops.status_code) == (401, 401, 401)
    assert post.json()["code"] == "backoffice_token_required"
    assert await portal.portal.platform.event_stores["contracts"].read_all() == []


async def test_an_unknown_contract_is_a_404_problem(portal: Portal) -> None:
    response = await portal.http.get("/api/contracts/backoffice/contracts/nope", headers=portal.backoffice)
    assert response.status_code == 404
    assert response.json()["code"] == "contract_not_found"


async def test_projection_status_is_queryable(portal: Portal) -> None:
    await portal.http.post("/api/contracts/backoffice/contracts", json=contract(), headers=portal.backoffice)
    await eventually(lambda: _lag_is_zero(portal), what="the projection catching up")
    statuses = (await portal.http.get("/api/contracts/ops/consumers", headers=portal.backoffice)).json()
    (status,) = [s for s in statuses if s["name"] == "contract_list"]
    assert status["dead_letters"] == 0
    assert status["checkpoints"] == {"contracts": "1"}


async def _lag_is_zero(portal: Portal) -> bool:
    statuses = (await portal.http.get("/api/contracts/ops/consumers", headers=portal.backoffice)).json()
    return any(s["name"] == "contract_list" and s["lag"] == {"contracts": 0} for s in statuses)


async def test_the_correlation_id_is_echoed_and_recorded(portal: Portal) -> None:
    correlation = "6f1c2a4e-8a51-4c61-9a4f-0f3c9b6d2e11"
    response = await portal.http.post(
        "/api/contracts/backoffice/contracts",
        json=contract(),
        headers={**portal.backoffice, "X-Correlation-ID": correlation},
    )
    assert response.headers["x-correlation-id"] == correlation
    (event,) = await portal.portal.platform.event_stores["contracts"].read_all()
    assert str(event.correlation_id) == correlation
