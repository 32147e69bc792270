"""The client zone of billing: invoices and settlements, schedules' paid state, interest notes,
documents; each scoped to the active client, its contracts and the caller's scopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from libs.events.access import ALL_SCOPES
from tests.billing.conftest import CLIENT_B, Billing, instalments
from tests.billing.test_backoffice import a_pdf


@dataclass
class World:
    """Client A: two contracts, three invoices (one paid, one partly paid and overdue, one open),
    a payment, an interest note, a document. Client B: a contract, an invoice, a document."""

    contract: str
    other_contract: str
    paid: str
    partly: str
    open: str
    note: str
    document: str
    theirs_contract: str
    theirs_invoice: str
    theirs_document: str


async def issued(billing: Billing, number: str, contract: str, issue: str, due: str, **changes: Any) -> str:
    invoice = await billing.issue(number, contract, issue_date=issue, due_date=due, **changes)
    return str(invoice["invoice_id"])


async def build(billing: Billing) -> World:
    schedule = instalments(date(2026, 1, 15), 6)
    contract = await billing.register_contract("UL/1/2026", schedule=schedule)
    other = await billing.register_contract("UL/2/2026")
    theirs = await billing.register_contract("UL/9/2026", client=CLIENT_B, schedule=schedule)
    paid = await issued(billing, "FV/2026/01/0001", contract, "2026-01-01", "2026-01-15", instalment_number=1)
    partly = await issued(billing, "FV/2026/02/0001", contract, "2026-02-01", "2026-02-14", instalment_number=2)
    open_ = await issued(billing, "FV/2026/03/0001", other, "2026-03-01", "2026-03-20", kind="fee")
    theirs_invoice = (await billing.issue("FV/2026/01/0900", theirs, instalment_number=1))["invoice_id"]
    await billing.pay("1230.00", title="Zapłata za FV/2026/01/0001", received_on="2026-01-14")
    await billing.pay("230.00", title="rata luty", received_on="2026-02-20")
    await billing.caught_up()
    note = await billing.post(
        "interest-notes",
        {
            "number": "NO/2026/1",
            "invoice_number": "FV/2026/02/0001",
            "days_late": 6,
            "amount": "2.45",
            "issue_date": "2026-02-20",
            "due_date": "2026-03-06",
        },
    )
    assert note.status_code == 201, note.text
    doc = await billing.publish("CL-A", "Aneks nr 1 — zmiana harmonogramu", a_pdf(), kind="annex", contract_id=contract)
    their_doc = await billing.publish("CL-B", "Pismo", a_pdf())
    assert doc.status_code == their_doc.status_code == 201
    await billing.caught_up()
    return World(
        contract,
        other,
        paid,
        partly,
        open_,
        note.json()["id"],
        doc.json()["id"],
        theirs,
        theirs_invoice,
        their_doc.json()["id"],
    )


@pytest.fixture
async def world(billing: Billing) -> World:
    return await build(billing)


async def test_invoices_list_with_status_and_overdue_decided_against_warsaw_today(
    billing: Billing, world: World
) -> None:
    response = await billing.get("invoices")
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 3
    assert [(i["number"], i["status"], i["outstanding"]) for i in page["items"]] == [
        ("FV/2026/03/0001", "open", "1230.00"),
        ("FV/2026/02/0001", "overdue", "1000.00"),
        ("FV/2026/01/0001", "paid", "0.00"),
    ]
    assert page["items"][1]["overdue"] is True
    assert page["items"][0]["contract_number"] == "UL/2/2026"


@pytest.mark.parametrize(
    ("params", "numbers"),
    [
        ({"status": "paid"}, ["FV/2026/01/0001"]),
        ({"status": "overdue"}, ["FV/2026/02/0001"]),
        ({"status": "open"}, ["FV/2026/03/0001"]),
        ({"status": "partially_paid"}, []),
        ({"contract_id": "CONTRACT"}, ["FV/2026/02/0001", "FV/2026/01/0001"]),
        ({"due_from": "2026-02-01", "due_to": "2026-02-28"}, ["FV/2026/02/0001"]),
        ({"issued_from": "2026-02-01"}, ["FV/2026/03/0001", "FV/2026/02/0001"]),
        ({"issued_to": "2026-01-31", "status": "paid"}, ["FV/2026/01/0001"]),
        ({"status": "overdue", "due_from": "2026-02-15"}, []),
        ({"sort": "due_date"}, ["FV/2026/01/0001", "FV/2026/02/0001", "FV/2026/03/0001"]),
        ({"sort": "-number", "limit": 2}, ["FV/2026/03/0001", "FV/2026/02/0001"]),
        ({"sort": "number", "limit": 2, "offset": 2}, ["FV/2026/03/0001"]),
    ],
)
async def test_invoices_filter_sort_and_page(
    billing: Billing, world: World, params: dict[str, Any], numbers: list[str]
) -> None:
    params = {key: world.contract if value == "CONTRACT" else value for key, value in params.items()}
    page = (await billing.get("invoices", **params)).json()
    assert [item["number"] for item in page["items"]] == numbers


async def test_bad_list_parameters_are_422(billing: Billing, world: World) -> None:
    for params in ({"status": "lost"}, {"sort": "gross"}, {"limit": 0}, {"due_from": "yesterday"}):
        response = await billing.get("invoices", **params)
        assert response.status_code == 422, params


async def test_an_invoice_shows_its_lines_and_which_payments_settled_it(billing: Billing, world: World) -> None:
    detail = (await billing.get(f"invoices/{world.partly}")).json()
    assert detail["lines"][0]["vat_rate"] == "23"
    assert (detail["paid"], detail["outstanding"], detail["status"]) == ("230.00", "1000.00", "overdue")
    (settlement,) = detail["settlements"]
    assert settlement["amount"] == "230.00"
    assert settlement["settled_on"] == "2026-02-20"
    assert settlement["payment_title"] == "rata luty"
    assert settlement["payment_received_on"] == "2026-02-20"
    assert settlement["source"] == "payment"
    assert settlement["outstanding_after"] == "1000.00"
    paid = (await billing.get(f"invoices/{world.paid}")).json()
    assert paid["status"] == "paid"
    assert paid["paid_on"] == "2026-01-14"


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"limit": 2}, 2),
        ({"limit": 3}, 3),
        ({"limit": 2, "offset": 2}, 1),
        ({"offset": 3}, 0),
        ({"limit": 1, "offset": 7}, 0),
        ({"status": "paid", "limit": 1}, 1),
    ],
)
async def test_the_total_counts_every_matching_invoice_whatever_the_page(
    billing: Billing, world: World, params: dict[str, Any], count: int
) -> None:
    page = (await billing.get("invoices", **params)).json()
    expected_total = 1 if "status" in params else 3
    assert (len(page["items"]), page["total"]) == (count, expected_total)


async def test_the_schedule_shows_each_instalments_invoice_and_state(billing: Billing, world: World) -> None:
    status = (await billing.get(f"contracts/{world.contract}/schedule-status")).json()
    states = [(row["number"], row["state"], (row["invoice"] or {}).get("number")) for row in status["instalments"]]
    assert states == [
        (1, "paid", "FV/2026/01/0001"),
        (2, "overdue", "FV/2026/02/0001"),
        (3, "not_invoiced", None),
        (4, "not_invoiced", None),
        (5, "not_invoiced", None),
        (6, "not_invoiced", None),
    ]
    assert status["totals"]["gross"] == "7380.00"
    assert status["totals"]["paid"] == "1460.00"
    assert status["totals"]["outstanding"] == "1000.00"


async def test_interest_notes_name_their_invoice(billing: Billing, world: World) -> None:
    page = (await billing.get("interest-notes")).json()
    (note,) = page["items"]
    assert (note["number"], note["invoice_number"]) == ("NO/2026/1", "FV/2026/02/0001")
    assert (note["amount"], note["days_late"]) == ("2.45", 6)


async def test_documents_are_listed_and_downloaded_as_pdf_with_a_safe_name(billing: Billing, world: World) -> None:
    page = (await billing.get("documents")).json()
    (doc,) = page["items"]
    assert doc["kind"] == "annex"
    assert doc["published_on"] == "2026-03-10"
    assert (await billing.get("documents", kind="letter")).json()["items"] == []
    assert len((await billing.get("documents", contract_id=world.contract)).json()["items"]) == 1
    download = await billing.http.get(doc["download"], headers=billing.token())
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == 'attachment; filename="Aneks-nr-1-zmiana-harmonogramu.pdf"'
    assert download.content == a_pdf()


def client_urls(world: World) -> list[tuple[str, str]]:
    """Every client endpoint that takes an id, with the scope it needs."""
    return [
        (f"invoices/{world.paid}", "invoices:read"),
        (f"invoices/{world.paid}/pdf", "invoices:read"),
        (f"contracts/{world.contract}/schedule-status", "contracts:read"),
        (f"contracts/{world.contract}/schedule.pdf", "contracts:read"),
        (f"documents/{world.document}/download", "documents:read"),
    ]


LISTS = [
    ("dashboard", "invoices:read"),
    ("invoices", "invoices:read"),
    ("interest-notes", "invoices:read"),
    ("documents", "documents:read"),
    ("settlement-statement.pdf", "invoices:read"),
]


async def test_another_clients_ids_are_404_like_missing_ones(billing: Billing, world: World) -> None:
    theirs = [
        f"invoices/{world.theirs_invoice}",
        f"invoices/{world.theirs_invoice}/pdf",
        f"contracts/{world.theirs_contract}/schedule-status",
        f"contracts/{world.theirs_contract}/schedule.pdf",
        f"documents/{world.theirs_document}/download",
    ]
    missing = [
        "invoices/no-such",
        "invoices/no-such/pdf",
        "contracts/no-such/schedule-status",
        "contracts/no-such/schedule.pdf",
        "documents/no-such/download",
    ]
    for path in [*theirs, *missing]:
        response = await billing.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    for theirs_path, missing_path in zip(theirs, missing, strict=True):
        assert (await billing.get(theirs_path)).json()["code"] == (await billing.get(missing_path)).json()["code"]
    for path in ("invoices", "interest-notes", "documents"):
        items = (await billing.get(path)).json()["items"]
        assert all(item.get("client_id", "CL-A") == "CL-A" for item in items)
        assert world.theirs_invoice not in str(items)
        assert world.theirs_document not in str(items)
    assert (await billing.get("invoices", contract_id=world.theirs_contract)).json()["items"] == []


async def test_client_b_sees_its_own_and_not_client_as(billing: Billing, world: World) -> None:
    theirs = billing.token("CL-B")
    assert (await billing.get(f"invoices/{world.theirs_invoice}", headers=theirs)).status_code == 200
    assert (await billing.get(f"invoices/{world.paid}", headers=theirs)).status_code == 404
    numbers = [item["number"] for item in (await billing.get("invoices", headers=theirs)).json()["items"]]
    assert numbers == ["FV/2026/01/0900"]


async def test_each_endpoint_needs_its_scope(billing: Billing, world: World) -> None:
    for path, scope in [*client_urls(world), *LISTS]:
        without = billing.token(scopes=tuple(s for s in ALL_SCOPES if s != scope))
        response = await billing.get(path, headers=without)
        assert response.status_code == 403, path
        assert response.json()["code"] == "scope_required"
        only = billing.token(scopes=(scope,))
        assert (await billing.get(path, headers=only)).status_code == 200, path


async def test_every_client_endpoint_needs_a_token(billing: Billing, world: World) -> None:
    for path, _ in [*client_urls(world), *LISTS]:
        response = await billing.http.get(f"/api/billing/{path}")
        assert response.status_code == 401, path
        bad = await billing.http.get(f"/api/billing/{path}", headers={"Authorization": "Bearer nonsense"})
        assert bad.status_code == 401, path


async def test_a_person_limited_to_one_contract_sees_only_that_contract(billing: Billing, world: World) -> None:
    limited = billing.token(contract_ids=(world.other_contract,))
    numbers = [item["number"] for item in (await billing.get("invoices", headers=limited)).json()["items"]]
    assert numbers == ["FV/2026/03/0001"]
    assert (await billing.get(f"invoices/{world.paid}", headers=limited)).status_code == 404
    assert (await billing.get(f"contracts/{world.contract}/schedule-status", headers=limited)).status_code == 404
    assert (await billing.get(f"documents/{world.document}/download", headers=limited)).status_code == 404
    assert (await billing.get("interest-notes", headers=limited)).json()["items"] == []
    dashboard = (await billing.get("dashboard", headers=limited)).json()
    assert dashboard["overdue"]["count"] == 0
    assert dashboard["latest_documents"] == []
