"""Consistency of the client ledger under concurrency and partial failure; corrections over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal
from typing import Any

from libs.events.envelope import EventContext
from libs.events.schemas.billing import InvoiceNumberReserved
from services.billing.api import invoice_event
from services.billing.domain import invoice_number
from services.billing.inputs import InvoiceIn
from tests.billing.conftest import ACCOUNT, Billing, invoice_body


async def test_concurrent_payments_never_settle_the_same_money_twice(billing: Billing) -> None:
    """Ten payments at once on one ledger: each decision is appended at the version it read; a
    conflict is decided again, and past the handler's attempts answered 409 for the caller to retry."""
    contract_id = await billing.register_contract("UL/1/2026")
    for n in range(1, 6):
        await billing.issue(f"FV/{n}", contract_id, net="100.00", due_date=f"2026-02-1{n}")
    body = {"client_id": "CL-A", "amount": "100.00", "received_on": "2026-03-01", "title": "rata", "account": ACCOUNT}
    accepted: list[dict[str, Any]] = []
    keys = [f"statement-line-{n}" for n in range(10)]
    while keys:
        responses = await asyncio.gather(*(billing.post("payments", body, key=key) for key in keys))
        assert {r.status_code for r in responses} <= {201, 409}
        assert all(r.json()["code"] == "concurrent_modification" for r in responses if r.status_code == 409)
        accepted += [r.json() for r in responses if r.status_code == 201]
        keys = [key for key, r in zip(keys, responses, strict=True) if r.status_code == 409]
    settled = sum(Decimal(s["amount"]) for payment in accepted for s in payment["settlements"])
    over = sum(Decimal(payment["overpayment"]) for payment in accepted)
    assert (len(accepted), settled, over) == (10, Decimal("615.00"), Decimal("385.00"))
    await billing.caught_up()
    page = (await billing.get("invoices")).json()
    assert {item["status"] for item in page["items"]} == {"paid"}
    assert (await billing.get("dashboard")).json()["overpayment"] == "385.00"


def reservation(body: dict[str, Any], fingerprint: str | None = None) -> InvoiceNumberReserved:
    invoice = invoice_event(InvoiceIn(**body), "CL-A")
    digest = fingerprint or hashlib.sha256(invoice.model_dump_json().encode()).hexdigest()
    return InvoiceNumberReserved(
        invoice_id=invoice.invoice_id, number=invoice.number, client_id="CL-A", fingerprint=digest
    )


async def test_an_invoice_whose_number_was_reserved_before_a_crash_can_be_sent_again(billing: Billing) -> None:
    """A crash between the number's reservation and the ledger: the very same invoice goes through,
    a different invoice with that number does not."""
    contract_id = await billing.register_contract("UL/1/2026")
    runtime = billing.portal.runtimes["billing"]
    same = invoice_body("FV/1", contract_id)
    half_done = reservation(same)
    await runtime.commands.handle(invoice_number, half_done.invoice_id, half_done, EventContext())
    assert (await billing.post("invoices", same)).status_code == 201
    assert len(await runtime.events.read_stream("billing-ledger-CL-A")) == 1

    other = invoice_body("FV/2", contract_id)
    taken = reservation(other, fingerprint="0" * 64)
    await runtime.commands.handle(invoice_number, taken.invoice_id, taken, EventContext())
    refused = await billing.post("invoices", other)
    assert refused.status_code == 409
    assert refused.json()["code"] == "invoice_number_taken"


async def test_a_credit_note_settles_the_corrected_invoice(billing: Billing) -> None:
    contract_id = await billing.register_contract("UL/1/2026")
    corrected = await billing.issue("FV/1", contract_id, net="1000.00")
    await billing.pay("230.00", title="FV/1")
    line = {"description": "Korekta ceny", "vat_rate": "23", "net": "-500.00", "vat": "-115.00", "gross": "-615.00"}
    credit = invoice_body(
        "KOR/1",
        contract_id,
        kind="correction",
        corrects_invoice_number="FV/1",
        lines=[line],
        net_total="-500.00",
        vat_total="-115.00",
        gross_total="-615.00",
    )
    response = await billing.post("invoices", credit)
    assert response.status_code == 201, response.text
    assert [(s["invoice_id"], s["amount"], s["outstanding"]) for s in response.json()["settlements"]] == [
        (corrected["invoice_id"], "615.00", "385.00")
    ]
    await billing.caught_up()
    detail = (await billing.get(f"invoices/{corrected['invoice_id']}")).json()
    assert [(s["source"], s["amount"]) for s in detail["settlements"]] == [
        ("payment", "230.00"),
        ("correction", "615.00"),
    ]
    assert detail["settlements"][1]["correction_number"] == "KOR/1"
    note = (await billing.get(f"invoices/{response.json()['invoice_id']}")).json()
    assert (note["status"], note["corrects_invoice_number"], note["gross_total"]) == ("credit", "FV/1", "-615.00")
