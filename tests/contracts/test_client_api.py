"""The client zone's contracts API: scoped to the active client, its scopes and its contracts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contracts.conftest import Zone
from tests.contracts.data import contract_body, schedule_body

API = "/api/contracts/contracts"

FLEET: list[tuple[str, str, str, str, dict[str, Any]]] = [
    # number, client, start, end, asset
    (
        "UL/2024/03/0101",
        "CL-1001",
        "2024-03-01",
        "2027-03-01",
        {"kind": "samochód osobowy", "make": "Škoda", "model": "Octavia", "registration_number": "KR 5521C"},
    ),
    (
        "UL/2025/07/0202",
        "CL-1001",
        "2025-07-10",
        "2028-01-10",
        {"kind": "samochód dostawczy", "make": "Ford", "model": "Transit", "vin": "WF0XXXTTGXKA12345"},
    ),
    ("UF/2026/01/0303", "CL-1001", "2026-01-20", "2031-01-20", {"kind": "koparka", "make": "Volvo", "model": "EC220E"}),
    (
        "UL/2023/11/0404",
        "CL-1001",
        "2023-11-05",
        "2026-11-05",
        {"kind": "ciągnik siodłowy", "make": "Scania", "model": "R 450", "registration_number": "WGM 1234"},
    ),
    (
        "UL/2025/02/0505",
        "CL-2002",
        "2025-02-01",
        "2028-02-01",
        {"kind": "samochód osobowy", "make": "Škoda", "model": "Superb", "vin": "TMBJJ7NP5L7012345"},
    ),
]


async def _fleet(zone: Zone) -> dict[str, str]:
    """Registers the fleet; the third is financial and the fourth terminated. Returns number -> id."""
    ids: dict[str, str] = {}
    for index, (number, client, start, end, asset) in enumerate(FLEET):
        kind = "financial" if index == 2 else "operating"
        ids[number] = await zone.register(
            contract_body(number, client, start=start, end=end, asset=asset, contract_type=kind)
        )
    await zone.post(f"/contracts/{ids['UL/2025/07/0202']}/schedule", schedule_body(24, first_due="2025-08-10"))
    await zone.post(
        f"/contracts/{ids['UL/2023/11/0404']}/termination",
        {"terminated_on": "2025-06-30", "reason": "early_termination"},
    )
    await zone.caught_up()
    return ids


async def _numbers(zone: Zone, headers: dict[str, str], **params: Any) -> list[str]:
    response = await zone.http.get(API, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["contract_number"] for item in response.json()["items"]]


async def test_the_list_holds_the_active_clients_contracts_with_their_summary(zone: Zone) -> None:
    ids = await _fleet(zone)
    response = await zone.http.get(API, headers=zone.client("CL-1001"))
    page = response.json()
    assert page["total"] == 4
    assert (page["limit"], page["offset"]) == (20, 0)
    assert [item["contract_number"] for item in page["items"]] == [
        "UF/2026/01/0303",
        "UL/2025/07/0202",
        "UL/2024/03/0101",
        "UL/2023/11/0404",
    ]
    octavia = page["items"][2]
    assert octavia == {
        "contract_id": ids["UL/2024/03/0101"],
        "contract_number": "UL/2024/03/0101",
        "contract_type": "operating",
        "asset": {
            "kind": "samochód osobowy",
            "make": "Škoda",
            "model": "Octavia",
            "registration_number": "KR5521C",
            "year": None,
        },
        "start_date": "2024-03-01",
        "end_date": "2027-03-01",
        "net_value": "185000.00",
        "currency": "PLN",
        "status": "active",
    }
    assert page["items"][3]["status"] == "terminated"
    assert await _numbers(zone, zone.client("CL-2002")) == ["UL/2025/02/0505"]
    assert await _numbers(zone, zone.client("CL-3003")) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "start_date", "order": "asc"}, ["0404", "0101", "0202", "0303"]),
        ({"sort": "end_date", "order": "desc"}, ["0303", "0202", "0101", "0404"]),
        ({"sort": "end_date", "order": "asc"}, ["0404", "0101", "0202", "0303"]),
        ({"sort": "contract_number", "order": "asc"}, ["0303", "0404", "0101", "0202"]),
        ({"sort": "contract_number", "order": "desc"}, ["0202", "0101", "0404", "0303"]),
        ({"status": "terminated"}, ["0404"]),
        ({"status": "active", "sort": "start_date", "order": "asc"}, ["0101", "0202", "0303"]),
        ({"contract_type": "financial"}, ["0303"]),
        ({"q": "skoda"}, ["0101"]),
        ({"q": "ford transit"}, ["0202"]),
        ({"q": "ford superb"}, []),
        ({"q": "ul/2025"}, ["0202"]),
        ({"q": "0404"}, ["0404"]),
        ({"q": "kr5521"}, ["0101"]),
        ({"q": "WF0XXXTTG"}, ["0202"]),
        ({"q": "ciągnik"}, ["0404"]),
        ({"q": "Superb"}, []),
        ({"q": "samochód", "contract_type": "operating", "sort": "start_date", "order": "asc"}, ["0101", "0202"]),
    ],
)
async def test_filters_search_and_sorting(zone: Zone, params: dict[str, str], expected: list[str]) -> None:
    await _fleet(zone)
    numbers = await _numbers(zone, zone.client("CL-1001"), **params)
    assert [number[-4:] for number in numbers] == expected


async def test_paging_walks_every_contract_once_with_the_total(zone: Zone) -> None:
    for n in range(1, 8):
        await zone.register(contract_body(f"UL/2026/01/{n:04d}", start=f"2026-01-{n + 10:02d}"))
    await zone.caught_up()
    seen: list[str] = []
    for offset in (0, 3, 6):
        response = await zone.http.get(
            API,
            params={"limit": 3, "offset": offset, "sort": "start_date", "order": "asc"},
            headers=zone.client("CL-1001"),
        )
        page = response.json()
        assert page["total"] == 7
        seen += [item["contract_number"] for item in page["items"]]
    assert seen == [f"UL/2026/01/{n:04d}" for n in range(1, 8)]
    beyond = await zone.http.get(API, params={"offset": 50}, headers=zone.client("CL-1001"))
    assert beyond.json()["items"] == []
    assert beyond.json()["total"] == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "net_value"}, "sort"),
        ({"order": "up"}, "order"),
        ({"status": "open"}, "status"),
        ({"unknown": "1"}, "unknown"),
    ],
)
async def test_bad_list_parameters_are_a_422(zone: Zone, params: dict[str, Any], field: str) -> None:
    response = await zone.http.get(API, params=params, headers=zone.client("CL-1001"))
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_the_details_hold_the_asset_and_the_schedule_summary(zone: Zone) -> None:
    ids = await _fleet(zone)
    response = await zone.http.get(f"{API}/{ids['UL/2025/07/0202']}", headers=zone.client("CL-1001"))
    assert response.status_code == 200
    details = response.json()
    assert details["asset"]["vin"] == "WF0XXXTTGXKA12345"
    assert details["client_name"] == "Transport Nowak Sp. z o.o."
    assert details["client_nip"] == "5260250274"
    schedule = details["schedule"]
    assert {key: schedule[key] for key in ("instalments", "first_due_date", "last_due_date", "total_gross")} == {
        "instalments": 24,
        "first_due_date": "2025-08-10",
        "last_due_date": "2027-07-10",
        "total_gross": "88560.00",
    }
    assert schedule["revision"] == 1
    ended = (await zone.http.get(f"{API}/{ids['UL/2023/11/0404']}", headers=zone.client("CL-1001"))).json()
    assert (ended["status"], ended["terminated_on"], ended["termination_reason"]) == (
        "terminated",
        "2025-06-30",
        "early_termination",
    )
    assert ended["schedule"] is None


async def test_the_schedule_lists_the_current_instalments(zone: Zone) -> None:
    ids = await _fleet(zone)
    contract_id = ids["UL/2025/07/0202"]
    headers = zone.client("CL-1001")
    agreed = (await zone.http.get(f"{API}/{contract_id}/schedule", headers=headers)).json()
    assert len(agreed["instalments"]) == 24
    assert agreed["instalments"][0] == {
        "number": 1,
        "due_date": "2025-08-10",
        "net": "3000.00",
        "vat": "690.00",
        "gross": "3690.00",
        "capital": "2579.85",
        "interest": "420.15",
    }
    assert agreed["totals"]["gross"] == "88560.00"
    assert (agreed["revision"], agreed["change_reason"], agreed["changed_at"]) == (1, None, None)
    change = {**schedule_body(12, first_due="2025-08-10", net="6100.50"), "reason": "zmiana harmonogramu"}
    assert (await zone.put(f"/contracts/{contract_id}/schedule", change)).status_code == 200
    await zone.caught_up()
    changed = (await zone.http.get(f"{API}/{contract_id}/schedule", headers=headers)).json()
    assert len(changed["instalments"]) == 12
    assert changed["instalments"][0]["gross"] == "7503.62"
    assert (changed["revision"], changed["change_reason"]) == (2, "zmiana harmonogramu")
    assert changed["agreed_at"] == agreed["agreed_at"]
    assert changed["changed_at"] is not None
    details = (await zone.http.get(f"{API}/{contract_id}", headers=headers)).json()
    assert (details["schedule"]["instalments"], details["schedule"]["revision"]) == (12, 2)


async def test_a_contract_without_a_schedule_has_an_empty_one(zone: Zone) -> None:
    ids = await _fleet(zone)
    response = await zone.http.get(f"{API}/{ids['UL/2024/03/0101']}/schedule", headers=zone.client("CL-1001"))
    assert response.status_code == 200
    assert (response.json()["instalments"], response.json()["revision"], response.json()["totals"]) == ([], 0, None)


@pytest.mark.parametrize("suffix", ["", "/schedule"])
async def test_another_clients_contract_is_a_404_like_a_missing_one(zone: Zone, suffix: str) -> None:
    ids = await _fleet(zone)
    others = await zone.http.get(f"{API}/{ids['UL/2025/02/0505']}{suffix}", headers=zone.client("CL-1001"))
    missing = await zone.http.get(f"{API}/00000000-0000-0000-0000-000000000000{suffix}", headers=zone.client("CL-1001"))
    assert others.status_code == missing.status_code == 404
    assert others.headers["content-type"] == "application/problem+json"
    assert {key: value for key, value in others.json().items() if key != "instance"} == {
        key: value for key, value in missing.json().items() if key != "instance"
    }
    mine = await zone.http.get(f"{API}/{ids['UL/2025/02/0505']}{suffix}", headers=zone.client("CL-2002"))
    assert mine.status_code == 200


async def test_another_clients_contract_is_not_found_by_search_either(zone: Zone) -> None:
    await _fleet(zone)
    assert await _numbers(zone, zone.client("CL-1001"), q="TMBJJ7NP5L7012345") == []
    assert await _numbers(zone, zone.client("CL-2002"), q="TMBJJ7NP5L7012345") == ["UL/2025/02/0505"]


@pytest.mark.parametrize("suffix", ["", "/{id}", "/{id}/schedule"])
async def test_every_endpoint_needs_a_token_and_the_contracts_read_scope(zone: Zone, suffix: str) -> None:
    ids = await _fleet(zone)
    url = API + suffix.format(id=ids["UL/2024/03/0101"])
    anonymous = await zone.http.get(url)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "authentication_required")
    forged = await zone.http.get(url, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    backoffice = await zone.http.get(url, headers=zone.backoffice)
    assert backoffice.status_code == 401
    unscoped = await zone.http.get(url, headers=zone.client("CL-1001", scopes=("invoices:read", "documents:read")))
    assert (unscoped.status_code, unscoped.json()["code"]) == (403, "scope_required")
    assert unscoped.headers["content-type"] == "application/problem+json"


async def test_a_principal_limited_to_some_contracts_sees_only_those(zone: Zone) -> None:
    ids = await _fleet(zone)
    mine, other = ids["UL/2025/07/0202"], ids["UL/2024/03/0101"]
    headers = zone.client("CL-1001", contract_ids=[mine, ids["UL/2025/02/0505"]])
    assert await _numbers(zone, headers) == ["UL/2025/07/0202"]
    assert (await zone.http.get(API, headers=headers)).json()["total"] == 1
    assert await _numbers(zone, headers, q="skoda") == []
    assert await _numbers(zone, headers, q="ford") == ["UL/2025/07/0202"]
    for suffix in ("", "/schedule"):
        assert (await zone.http.get(f"{API}/{mine}{suffix}", headers=headers)).status_code == 200
        assert (await zone.http.get(f"{API}/{other}{suffix}", headers=headers)).status_code == 404
        foreign = ids["UL/2025/02/0505"]  # named in the token, but another client's
        assert (await zone.http.get(f"{API}/{foreign}{suffix}", headers=headers)).status_code == 404
    nothing = zone.client("CL-1001", contract_ids=[])
    assert await _numbers(zone, nothing) == []
