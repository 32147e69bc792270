"""Billing's reaction to an online payment the gateway confirmed (payments' PaymentAccepted)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from libs.events.schemas.billing import InvoiceIssued, InvoiceLine, InvoiceSettled, OverpaymentRecorded
from libs.events.schemas.payments import PaidInvoice, PaymentAccepted
from services.billing.domain import ReceivePayment, decide_ledger, ledger
from services.billing.reactors import payment_received


def invoice(invoice_id: str, number: str, gross: str, due: date) -> InvoiceIssued:
    amount = Decimal(gross)
    net = (amount / Decimal("1.23")).quantize(Decimal("0.01"))
    line = InvoiceLine(description="Rata", net=net, vat_rate="23", vat=amount - net, gross=amount)
    return InvoiceIssued(
        invoice_id=invoice_id,
        number=number,
        client_id="CL-1",
        kind="instalment",
        issue_date=date(2026, 1, 1),
        due_date=due,
        lines=(line,),
        net_total=net,
        vat_total=amount - net,
        gross_total=amount,
        currency="PLN",
    )


def accepted(amount: str, *paid: InvoiceIssued) -> PaymentAccepted:
    return PaymentAccepted(
        payment_id="pay-1",
        client_id="CL-1",
        invoices=tuple(PaidInvoice(invoice_id=i.invoice_id, number=i.number, amount=i.gross_total) for i in paid),
        invoice_ids=tuple(i.invoice_id for i in paid),
        amount=Decimal(amount),
        currency="PLN",
        gateway="payu",
        gateway_order_id="ORD-1",
        started_by="acc-1",
        accepted_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC),  # 1 April, 00:30 in Warsaw
    )


def test_the_payment_is_received_on_its_warsaw_date_and_names_its_invoices() -> None:
    older = invoice("inv-1", "FV/1", "100.00", date(2026, 1, 15))
    received = payment_received(accepted("100.00", older))
    assert received.received_on == date(2026, 4, 1)
    assert (received.source, received.invoice_ids, received.title) == ("online", ("inv-1",), "Płatność online: FV/1")


def test_it_settles_the_chosen_invoice_not_the_oldest_and_keeps_the_rest_as_overpayment() -> None:
    older = invoice("inv-1", "FV/1", "100.00", date(2026, 1, 15))
    chosen = invoice("inv-2", "FV/2", "246.00", date(2026, 2, 15))
    state = ledger.initial()
    for event in (older, chosen):
        state = ledger.evolve(state, event)
    events = decide_ledger(state, ReceivePayment(payment_received(accepted("300.00", chosen))))
    settled = [e for e in events if isinstance(e, InvoiceSettled)]
    assert [(e.invoice_id, e.amount, e.full) for e in settled[:1]] == [("inv-2", Decimal("246.00"), True)]
    paid_in_total = sum((e.amount for e in settled), Decimal(0))
    over = sum((e.amount for e in events if isinstance(e, OverpaymentRecorded)), Decimal(0))
    assert paid_in_total + over == Decimal("300.00")
