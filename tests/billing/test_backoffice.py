"""The back-office ingestion API of billing: what it accepts, what it refuses (422 naming the field,
409 for a duplicate number), and that a call repeated with its Idempotency-Key changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from libs.pdf import PortalPdf
from tests.billing.conftest import ACCOUNT, CLIENT_B, Billing, invoice_body, nrb, vat23


def a_pdf(text: str = "Umowa leasingu — aneks nr 1") -> bytes:
    """The same bytes on every call: the creation date is fixed, so the test does not depend on the clock's second."""
    pdf = PortalPdf(text, "Alior Leasing sp. z o.o.")
    pdf.set_creation_date(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    pdf.paragraph(text)
    return pdf.render()


async def billing_events(billing: Billing) -> list[Any]:
    return await billing.portal.platform.event_stores["billing"].read_all()


async def test_an_invoice_is_issued_into_its_clients_ledger(billing: Billing) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    response = await billing.post(
        "invoices", invoice_body("FV/2026/02/0001", contract_id, ksef_number="5260250274-20260201-ABCDEF-12")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == "CL-A"
    assert body["settlements"] == []
    events = await billing_events(billing)
    assert [(e.type, e.stream_id.split("-")[1]) for e in events] == [
        ("InvoiceNumberReserved", "invoicenumber"),
        ("InvoiceIssued", "ledger"),
    ]
    assert events[1].stream_id == "billing-ledger-CL-A"
    assert events[1].data["gross_total"] == "1230.00"
    assert events[1].data["lines"][0]["vat"] == "230.00"
    assert events[1].actor.startswith("backoffice:")


def two_lines(second_vat: str = "18.40") -> dict[str, Any]:
    return {
        "lines": [
            {"description": "Rata", "vat_rate": "23", "net": "100.00", "vat": "23.00", "gross": "123.00"},
            {"description": "Ubezpieczenie", "vat_rate": "23", "net": "80.00", "vat": second_vat, "gross": "98.40"},
        ],
        "net_total": "180.00",
        "vat_total": "41.40",
        "gross_total": "221.40",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"issue_date": "2026-02-20", "due_date": "2026-02-19"}, "due_date"),
        (two_lines(second_vat="18.39"), "lines.1.vat"),
        ({**two_lines(), "vat_total": "41.41"}, "vat_total"),
        ({**two_lines(), "gross_total": "221.41"}, "gross_total"),
        ({**two_lines(), "net_total": "180.01"}, "net_total"),
        (
            {"lines": [{"description": "x", "vat_rate": "23", "net": "100.00", "vat": "23.00", "gross": "124.00"}]},
            "lines.0.gross",
        ),
        (
            {
                "lines": [
                    {"description": "x", "vat_rate": "23", "net": "-100.00", "vat": "-23.00", "gross": "-123.00"}
                ],
                "net_total": "-100.00",
                "vat_total": "-23.00",
                "gross_total": "-123.00",
            },
            "lines.0.net",
        ),
        (
            {
                "lines": [{"description": "x", "vat_rate": "23", "net": "0.00", "vat": "0.00", "gross": "0.00"}],
                "net_total": "0.00",
                "vat_total": "0.00",
                "gross_total": "0.00",
            },
            "lines.0.net",
        ),
        (
            {"lines": [{"description": "x", "vat_rate": "zw", "net": "10.00", "vat": "2.30", "gross": "12.30"}]},
            "lines.0.vat",
        ),
        ({"lines": [{"description": "x", "vat_rate": "22", "net": "1", "vat": "0", "gross": "1"}]}, "lines.0.vat_rate"),
        ({"lines": [{"description": "x", "vat_rate": "23", "net": "1.001", "vat": "0", "gross": "1"}]}, "lines.0.net"),
        ({"lines": []}, "lines"),
        ({"contract_id": "no-such-contract"}, "contract_id"),
        ({"client_id": "CL-B"}, "client_id"),
        ({"instalment_number": 99}, "instalment_number"),
        ({"kind": "correction"}, "corrects_invoice_number"),
        ({"kind": "correction", "corrects_invoice_number": "FV/NOPE"}, "corrects_invoice_number"),
        ({"corrects_invoice_number": "FV/1"}, "corrects_invoice_number"),
        ({"currency": "EUR"}, "currency"),
        ({"issue_date": "2026-02-30"}, "issue_date"),
        ({"number": ""}, "number"),
        ({"ksef_number": "short"}, "ksef_number"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_a_bad_invoice_is_a_422_naming_the_field_and_nothing_is_written(
    billing: Billing, changes: dict[str, Any], field: str
) -> None:
    contract_id = await billing.register_contract("UL/1/2026", schedule=_one_instalment())
    body = {**invoice_body("FV/2026/02/0001", contract_id, instalment_number=1), **changes}
    response = await billing.post("invoices", body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await billing_events(billing) == []


def _one_instalment() -> list[dict[str, Any]]:
    return [{"number": 1, "due_date": "2026-02-15", **vat23("1000.00"), "capital": "900.00", "interest": "100.00"}]


async def test_vat_is_rounded_half_up_per_line(billing: Billing) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    line = {"description": "Opłata", "vat_rate": "8", "net": "0.50", "vat": "0.04", "gross": "0.54"}
    body = invoice_body("FV/R/1", contract_id, lines=[line], net_total="0.50", vat_total="0.04", gross_total="0.54")
    assert (await billing.post("invoices", body)).status_code == 201
    exact_half = {"description": "x", "vat_rate": "8", "net": "15.00", "vat": "1.20", "gross": "16.20"}
    ok = invoice_body(
        "FV/R/3", contract_id, lines=[exact_half], net_total="15.00", vat_total="1.20", gross_total="16.20"
    )
    assert (await billing.post("invoices", ok)).status_code == 201
    half = {"description": "x", "vat_rate": "5", "net": "0.50", "vat": "0.03", "gross": "0.53"}
    half_up = invoice_body("FV/R/4", contract_id, lines=[half], net_total="0.50", vat_total="0.03", gross_total="0.53")
    assert (await billing.post("invoices", half_up)).status_code == 201, "0.025 rounds half-up to 0.03"
    down = {**half, "vat": "0.02", "gross": "0.52"}
    half_down = {**half_up, "number": "FV/R/5", "lines": [down], "vat_total": "0.02", "gross_total": "0.52"}
    response = await billing.post("invoices", half_down)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines.0.vat"


async def test_a_duplicate_invoice_number_is_a_409_even_for_another_client(billing: Billing) -> None:
    mine = await billing.register_contract("UL/1/2026")
    theirs = await billing.register_contract("UL/2/2026", client=CLIENT_B)
    assert (await billing.post("invoices", invoice_body("FV/1", mine))).status_code == 201
    again = await billing.post("invoices", invoice_body("FV/1", mine))
    assert again.status_code == 409
    assert again.json()["code"] == "invoice_number_taken"
    assert again.json()["errors"][0]["field"] == "number"
    other = await billing.post("invoices", invoice_body("fv/1", theirs, net="5.00"))
    assert other.status_code == 409
    assert len(await billing_events(billing)) == 2


async def test_the_same_call_with_the_same_idempotency_key_changes_nothing(billing: Billing) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    calls = [
        ("invoices", invoice_body("FV/1", contract_id)),
        (
            "payments",
            {
                "client_id": "CL-A",
                "amount": "2000.00",
                "received_on": "2026-03-01",
                "title": "FV/1",
                "account": ACCOUNT,
            },
        ),
        ("invoices", invoice_body("FV/2", contract_id, due_date="2026-03-15")),
        (
            "interest-notes",
            {
                "number": "NO/1",
                "invoice_number": "FV/1",
                "days_late": 3,
                "amount": "1.25",
                "issue_date": "2026-03-05",
                "due_date": "2026-03-19",
            },
        ),
        ("clients/CL-A/repayment-accounts", {"account_number": ACCOUNT, "bank_name": "Alior Bank", "purpose": "raty"}),
    ]
    for n, (path, body) in enumerate(calls):
        await billing.caught_up()
        first = await billing.post(path, body, key=f"core-{n}")
        count = len(await billing_events(billing))
        again = await billing.post(path, body, key=f"core-{n}")
        assert (first.status_code, again.status_code) == (201, 201), (path, again.text)
        assert first.json() == again.json()
        assert len(await billing_events(billing)) == count, path
    payment = (await billing.post(*calls[1][:2], key="core-1")).json()
    assert payment["overpayment"] == "770.00"
    assert [s["invoice_id"] for s in (await billing.post(*calls[2][:2], key="core-2")).json()["settlements"]]

    files = {"file": ("a.pdf", a_pdf(), "application/pdf")}
    data = {"client_id": "CL-A", "kind": "annex", "title": "Aneks nr 1"}
    headers = {**billing.backoffice, "Idempotency-Key": "doc-1"}
    first_doc = await billing.http.post("/api/billing/backoffice/documents", data=data, files=files, headers=headers)
    count = len(await billing_events(billing))
    again_doc = await billing.http.post("/api/billing/backoffice/documents", data=data, files=files, headers=headers)
    assert first_doc.status_code == again_doc.status_code == 201
    assert first_doc.json() == again_doc.json()
    assert len(await billing_events(billing)) == count


async def test_a_payment_without_a_key_but_with_its_bank_reference_is_recorded_once(billing: Billing) -> None:
    await billing.register_contract("UL/1/2026")
    body = {"client_id": "CL-A", "amount": "10.00", "received_on": "2026-03-01", "title": "x", "account": ACCOUNT}
    assert (await billing.post("payments", {**body, "reference": "WB/2026/03/01/77"})).status_code == 201
    again = await billing.post("payments", {**body, "reference": "WB/2026/03/01/77"})
    assert again.status_code == 409
    assert again.json()["code"] == "payment_already_recorded"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"account": "61109010140000071219812875"}, "account"),
        ({"account": "DE89370400440532013000"}, "account"),
        ({"account": "12345"}, "account"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "5.001"}, "amount"),
        ({"received_on": "2026-03-11"}, "received_on"),
        ({"client_id": "CL-NOBODY"}, "client_id"),
        ({"currency": "EUR"}, "currency"),
    ],
)
async def test_a_bad_payment_is_a_422_naming_the_field(billing: Billing, changes: dict[str, Any], field: str) -> None:
    await billing.register_contract("UL/1/2026")
    body = {"client_id": "CL-A", "amount": "10.00", "received_on": "2026-03-01", "title": "x", "account": ACCOUNT}
    response = await billing.post("payments", {**body, **changes})
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await billing_events(billing) == []


async def test_an_account_is_accepted_as_nrb_or_iban_with_spaces(billing: Billing) -> None:
    await billing.register_contract("UL/1/2026")
    spaced = "PL 61 1090 1014 0000 0712 1981 2874"
    response = await billing.post(
        "clients/CL-A/repayment-accounts", {"account_number": spaced, "bank_name": "Santander"}
    )
    assert response.status_code == 201
    assert response.json()["account_number"] == "61109010140000071219812874"
    body = {"client_id": "CL-A", "amount": "1.00", "received_on": "2026-03-01", "title": "x", "account": spaced}
    assert (await billing.post("payments", body)).status_code == 201


BAD_NRB = "61109010140000071219812870"


def note(**changes: Any) -> dict[str, Any]:
    body = {"number": "NO/1", "invoice_number": "FV/1", "days_late": 3, "amount": "1.25"}
    return {**body, "issue_date": "2026-03-05", "due_date": "2026-03-19", **changes}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("clients/CL-A/repayment-accounts", {"account_number": BAD_NRB, "bank_name": "B"}, "account_number"),
        ("clients/CL-NOBODY/repayment-accounts", {"account_number": ACCOUNT, "bank_name": "B"}, "client_id"),
        ("interest-notes", note(invoice_number="FV/NOPE"), "invoice_number"),
        ("interest-notes", note(amount="0.00"), "amount"),
        ("interest-notes", note(days_late=0), "days_late"),
        ("interest-notes", note(issue_date="2026-03-10", due_date="2026-03-01"), "due_date"),
    ],
)
async def test_bad_accounts_and_interest_notes_are_422_naming_the_field(
    billing: Billing, path: str, body: dict[str, Any], field: str
) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    await billing.issue("FV/1", contract_id)
    await billing.caught_up()
    count = len(await billing_events(billing))
    response = await billing.post(path, body)
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert len(await billing_events(billing)) == count


async def test_an_interest_note_number_is_issued_once(billing: Billing) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    await billing.issue("FV/1", contract_id)
    await billing.caught_up()
    body = note()
    assert (await billing.post("interest-notes", body)).status_code == 201
    again = await billing.post("interest-notes", body)
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "number"


@pytest.mark.parametrize(
    ("content", "fields", "field"),
    [
        (b"GIF89a not a pdf", {}, "file"),
        (b"", {}, "file"),
        (b"%PDF-1.7\n truncated without an end", {}, "file"),
        (None, {"contract_id": "no-such"}, "contract_id"),
        (None, {"contract_id": "THEIRS"}, "contract_id"),
        (None, {"invoice_number": "FV/NOPE"}, "invoice_number"),
        (None, {"kind": "poem"}, "kind"),
        (None, {"client_id": "CL-NOBODY"}, "client_id"),
        (None, {"title": ""}, "title"),
    ],
)
async def test_a_bad_document_is_a_422_naming_the_field(
    billing: Billing, content: bytes | None, fields: dict[str, str], field: str
) -> None:
    await billing.register_contract("UL/1/2026")
    theirs = await billing.register_contract("UL/2/2026", client=CLIENT_B)
    fields = {key: theirs if value == "THEIRS" else value for key, value in fields.items()}
    response = await billing.publish(
        fields.pop("client_id", "CL-A"), fields.pop("title", "Pismo"), a_pdf() if content is None else content, **fields
    )
    assert response.status_code == 422, response.text
    assert field in [error["field"] for error in response.json()["errors"]]
    assert await billing_events(billing) == []


async def test_a_document_too_large_is_a_413(billing: Billing) -> None:
    await billing.register_contract("UL/1/2026")
    settings = billing.portal.runtimes["billing"].settings
    billing.portal.runtimes["billing"].settings = settings.model_copy(update={"max_document_bytes": 100})
    response = await billing.publish("CL-A", "Duży", a_pdf())
    assert response.status_code == 413
    assert await billing_events(billing) == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token"])
async def test_the_back_office_api_needs_the_back_office_credential(
    billing: Billing, authorization: str | None
) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    headers = {"Authorization": authorization} if authorization else {}
    for path, body in [
        ("invoices", invoice_body("FV/1", contract_id)),
        (
            "payments",
            {"client_id": "CL-A", "amount": "1.00", "received_on": "2026-03-01", "title": "x", "account": ACCOUNT},
        ),
        ("clients/CL-A/repayment-accounts", {"account_number": ACCOUNT, "bank_name": "B"}),
    ]:
        response = await billing.http.post(f"/api/billing/backoffice/{path}", json=body, headers=headers)
        assert response.status_code == 401, path
    assert await billing_events(billing) == []


async def test_a_client_token_is_no_back_office_credential(billing: Billing) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    response = await billing.http.post(
        "/api/billing/backoffice/invoices", json=invoice_body("FV/1", contract_id), headers=billing.token()
    )
    assert response.status_code == 401


def test_nrb_helper_makes_valid_numbers() -> None:
    assert nrb("109010140000071219812874") == "61109010140000071219812874"
