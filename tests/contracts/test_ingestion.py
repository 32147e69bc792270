"""Back-office ingestion: contracts, schedules and terminations, with every bad input of the issue."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.contracts.conftest import Zone
from tests.contracts.data import contract_body, instalment, schedule_body

PROBLEM = "application/problem+json"


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return [error["field"] for error in response.json()["errors"]]


async def test_a_contract_is_registered_with_normalized_asset_data(zone: Zone) -> None:
    response = await zone.post("/contracts", contract_body())
    assert response.status_code == 201
    (event,) = await zone.events()
    assert event.type == "ContractRegistered"
    assert event.client_id == "CL-1001"
    assert event.data["asset"]["vin"] == "TMBJJ7NP5L7012345"
    assert event.data["asset"]["registration_number"] == "WX1234A"
    assert event.data["client"]["nip"] == "5260250274"
    assert response.json() == {"contract_id": event.stream_id.removeprefix("contracts-contract-"), "stream_version": 0}


async def test_a_north_american_vin_with_its_check_digit_is_accepted(zone: Zone) -> None:
    asset = {"kind": "samochód dostawczy", "make": "Ford", "model": "F-150", "vin": "1ftfw1e51pfa12345"}
    response = await zone.post("/contracts", contract_body(asset=asset))
    assert response.status_code == 201
    (event,) = await zone.events()
    assert event.data["asset"]["vin"] == "1FTFW1E51PFA12345"


async def test_a_machine_without_vin_or_plate_is_accepted(zone: Zone) -> None:
    asset = {"kind": "koparko-ładowarka", "make": "JCB", "model": "3CX", "year": 2024}
    assert (await zone.post("/contracts", contract_body(asset=asset))).status_code == 201


async def test_amounts_are_kept_to_the_grosz(zone: Zone) -> None:
    await zone.post("/contracts", contract_body(net_value="99999.9"))
    (event,) = await zone.events()
    assert event.data["net_value"] == "99999.90"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client": {"client_id": "CL-1001", "name": "X", "nip": "526-025-02-75"}}, "client.nip"),
        ({"asset": {"kind": "auto", "make": "Škoda", "model": "Superb", "vin": "TMBJJ7NP5L701234"}}, "asset.vin"),
        ({"asset": {"kind": "auto", "make": "Škoda", "model": "Superb", "vin": "TMBJJ7NP5L70123I5"}}, "asset.vin"),
        ({"asset": {"kind": "auto", "make": "Ford", "model": "F-150", "vin": "1FTFW1E52PFA12345"}}, "asset.vin"),
        (
            {"asset": {"kind": "auto", "make": "Ford", "model": "F-150", "registration_number": "WX-12"}},
            "asset.registration_number",
        ),
        ({"net_value": "0.00"}, "net_value"),
        ({"net_value": "-150.00"}, "net_value"),
        ({"net_value": "10.001"}, "net_value"),
        ({"end_date": "2026-01-15"}, "end_date"),
        ({"contract_number": "UL 2026"}, "contract_number"),
    ],
)
async def test_a_bad_contract_is_a_422_naming_the_field(zone: Zone, changes: dict[str, Any], field: str) -> None:
    assert field in _fields(await zone.post("/contracts", contract_body(**changes)))
    assert await zone.events() == []


async def test_a_duplicate_contract_number_is_a_409_whatever_its_case(zone: Zone) -> None:
    await zone.register(contract_body("UL/2026/11/0001"))
    again = await zone.post("/contracts", contract_body("ul/2026/11/0001", "CL-2002"))
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["code"] == "contract_number_taken"
    assert len(await zone.events()) == 1


async def test_a_schedule_is_agreed_then_changed_for_a_reason(zone: Zone) -> None:
    contract_id = await zone.register(contract_body())
    agreed = await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(36))
    assert agreed.status_code == 201
    assert agreed.json() == {"contract_id": contract_id, "stream_version": 1}
    changed = await zone.put(
        f"/contracts/{contract_id}/schedule", {**schedule_body(30, net="3600.00"), "reason": "wniosek o zmianę"}
    )
    assert changed.status_code == 200
    _, first, second = await zone.events()
    assert (first.type, second.type) == ("ScheduleAgreed", "ScheduleChanged")
    assert first.client_id == second.client_id == "CL-1001"
    assert first.data["currency"] == "PLN"
    assert first.data["instalments"][0] == {
        "number": 1,
        "due_date": "2026-02-15",
        "net": "3000.00",
        "vat": "690.00",
        "gross": "3690.00",
        "capital": "2579.85",
        "interest": "420.15",
    }
    assert len(second.data["instalments"]) == 30
    assert second.data["reason"] == "wniosek o zmianę"


async def test_a_schedule_is_agreed_once_and_changed_only_after(zone: Zone) -> None:
    contract_id = await zone.register(contract_body())
    early = await zone.put(f"/contracts/{contract_id}/schedule", {**schedule_body(3), "reason": "x"})
    assert (early.status_code, early.json()["code"]) == (409, "schedule_not_agreed")
    await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(3))
    twice = await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(3))
    assert (twice.status_code, twice.json()["code"]) == (409, "schedule_already_agreed")
    assert len(await zone.events()) == 2


def _broken(index: int, **changes: str | int) -> dict[str, Any]:
    body = schedule_body(6)
    body["instalments"][index].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (_broken(3, gross="3690.01"), "instalments.3.gross", "gross_mismatch"),
        (_broken(2, vat="600.00"), "instalments.2.gross", "gross_mismatch"),
        (_broken(1, capital="2000.00"), "instalments.1.capital", "net_split_mismatch"),
        (
            _broken(0, net="0.00", vat="0.00", gross="0.00", capital="0.00", interest="0.00"),
            "instalments.0.net",
            "amount_not_positive",
        ),
        (
            {"instalments": [instalment(1, date(2026, 2, 15), net="-100.00", interest="0.00")]},
            "instalments.0.net",
            "amount_not_positive",
        ),
        (_broken(4, interest="-1.00", capital="3001.00"), "instalments.4.interest", "amount_negative"),
        (_broken(5, due_date="2029-02-15"), "instalments.5.due_date", "due_date_outside_contract"),
        (_broken(0, due_date="2026-01-14"), "instalments.0.due_date", "due_date_outside_contract"),
        (_broken(2, due_date="2026-03-15"), "instalments.2.due_date", "due_dates_not_increasing"),
        (_broken(4, number=7), "instalments.4.number", "instalment_numbers_not_consecutive"),
        (_broken(0, number=0), "instalments.0.number", "instalment_numbers_not_consecutive"),
        (_broken(1, net="3000.001"), "instalments.1.net", "decimal_max_places"),
        (_broken(1, due_date="2026-02-30"), "instalments.1.due_date", "date_from_datetime_parsing"),
        ({"instalments": []}, "instalments", "too_short"),
        (schedule_body(121, first_due="2016-01-15"), "instalments", "too_long"),
    ],
)
async def test_a_bad_schedule_is_a_422_naming_the_instalment_field(
    zone: Zone, body: dict[str, Any], field: str, code: str
) -> None:
    contract_id = await zone.register(contract_body())
    response = await zone.post(f"/contracts/{contract_id}/schedule", body)
    assert field in _fields(response)
    assert code in [error["code"] for error in response.json()["errors"]]
    assert len(await zone.events()) == 1


async def test_a_schedule_change_needs_a_reason(zone: Zone) -> None:
    contract_id = await zone.register(contract_body())
    await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(3))
    assert "reason" in _fields(await zone.put(f"/contracts/{contract_id}/schedule", schedule_body(3)))


@pytest.mark.parametrize("method", ["post", "put"])
async def test_a_schedule_for_an_unknown_contract_is_a_404(zone: Zone, method: str) -> None:
    body = {**schedule_body(3), "reason": "x"} if method == "put" else schedule_body(3)
    response = await getattr(zone, method)("/contracts/00000000-0000-0000-0000-000000000000/schedule", body)
    assert (response.status_code, response.json()["code"]) == (404, "contract_not_found")
    assert response.headers["content-type"] == PROBLEM
    assert await zone.events() == []


async def test_a_contract_is_terminated_once_and_then_frozen(zone: Zone) -> None:
    contract_id = await zone.register(contract_body())
    await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(3))
    ended = await zone.post(
        f"/contracts/{contract_id}/termination", {"terminated_on": "2027-06-30", "reason": "early_termination"}
    )
    assert ended.status_code == 200
    assert (await zone.events())[-1].type == "ContractTerminated"
    again = await zone.post(
        f"/contracts/{contract_id}/termination", {"terminated_on": "2027-07-01", "reason": "completed"}
    )
    change = await zone.put(f"/contracts/{contract_id}/schedule", {**schedule_body(3), "reason": "x"})
    assert (again.status_code, again.json()["code"]) == (409, "contract_terminated")
    assert (change.status_code, change.json()["code"]) == (409, "contract_terminated")
    assert len(await zone.events()) == 3


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"terminated_on": "2025-12-31", "reason": "early_termination"}, 422, "terminated_on"),
        ({"terminated_on": "2027-01-01", "reason": "lost"}, 422, "reason"),
        ({"terminated_on": "2025-12-31", "reason": "cancelled"}, 200, None),
    ],
)
async def test_termination_dates_and_reasons(zone: Zone, body: dict[str, Any], status: int, field: str | None) -> None:
    contract_id = await zone.register(contract_body())
    response = await zone.post(f"/contracts/{contract_id}/termination", body)
    assert response.status_code == status
    if field:
        assert field in _fields(response)


async def test_terminating_an_unknown_contract_is_a_404(zone: Zone) -> None:
    response = await zone.post("/contracts/nope/termination", {"terminated_on": "2027-01-01", "reason": "completed"})
    assert (response.status_code, response.json()["code"]) == (404, "contract_not_found")


@pytest.mark.parametrize(
    ("path", "method", "body", "expected"),
    [
        ("/contracts", "post", contract_body(), 201),
        ("/contracts/{id}/schedule", "post", schedule_body(12), 201),
        ("/contracts/{id}/schedule", "put", {**schedule_body(10), "reason": "aneks nr 1"}, 200),
        ("/contracts/{id}/termination", "post", {"terminated_on": "2027-01-31", "reason": "early_termination"}, 200),
    ],
)
async def test_the_same_call_with_the_same_idempotency_key_changes_nothing(
    zone: Zone, path: str, method: str, body: dict[str, Any], expected: int
) -> None:
    contract_id = "" if path == "/contracts" else await zone.register(contract_body("UL/2026/11/0002"))
    if method == "put":
        await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(12))
    url = path.format(id=contract_id)
    first = await getattr(zone, method)(url, body, key="core-7781")
    before = await zone.events()
    again = await getattr(zone, method)(url, body, key="core-7781")
    assert (first.status_code, again.status_code) == (expected, expected)
    assert first.json() == again.json()
    assert await zone.events() == before


async def test_a_new_idempotency_key_is_a_new_call(zone: Zone) -> None:
    contract_id = await zone.register(contract_body())
    await zone.post(f"/contracts/{contract_id}/schedule", schedule_body(12))
    body = {**schedule_body(10), "reason": "aneks"}
    first = await zone.put(f"/contracts/{contract_id}/schedule", body, key="k-1")
    second = await zone.put(f"/contracts/{contract_id}/schedule", body, key="k-2")
    assert (first.json()["stream_version"], second.json()["stream_version"]) == (2, 3)


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/contracts/x/schedule"), ("put", "/contracts/x/schedule"), ("post", "/contracts/x/termination")],
)
async def test_ingestion_needs_the_back_office_credential(zone: Zone, method: str, path: str) -> None:
    client_token = zone.client("CL-1001")
    response = await zone.http.request(method, f"/api/contracts/backoffice{path}", json={}, headers=client_token)
    assert (response.status_code, response.json()["code"]) == (401, "backoffice_token_required")
