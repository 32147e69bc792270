"""Builds ledger commands for the pure domain tests: invoices and payments with exact Decimal money."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from libs.events import DomainEvent
from libs.events.schemas.billing import InvoiceIssued, InvoiceLine, PaymentReceived
from services.billing.domain import IssueInvoice, Ledger, LedgerCommand, ReceivePayment, decide_ledger, evolve

CLIENT = "CL-1"
TODAY = date(2026, 3, 10)


def invoice(
    number: str,
    gross: Decimal | str,
    due: date = date(2026, 2, 15),
    issued: date | None = None,
    corrects: str | None = None,
) -> InvoiceIssued:
    """A one-line invoice at VAT "zw" (gross = net), so any grosze amount is a valid invoice;
    issued two weeks before it is due unless told otherwise."""
    amount = Decimal(gross)
    line = InvoiceLine(description="rata", net=amount, vat_rate="zw", vat=Decimal("0.00"), gross=amount)
    return InvoiceIssued(
        invoice_id=f"inv-{number}",
        number=number,
        client_id=CLIENT,
        contract_id="C-1",
        kind="correction" if corrects else "instalment",
        issue_date=issued or due - timedelta(days=14),
        due_date=due,
        lines=(line,),
        net_total=amount,
        vat_total=Decimal("0.00"),
        gross_total=amount,
        currency="PLN",
        corrects_invoice_id=corrects,
    )


def payment(
    payment_id: str, amount: Decimal | str, title: str = "wpłata", chosen: Sequence[str] = ()
) -> PaymentReceived:
    return PaymentReceived(
        payment_id=payment_id,
        client_id=CLIENT,
        amount=Decimal(amount),
        currency="PLN",
        received_on=date(2026, 3, 1),
        title=title,
        source="online" if chosen else "bank_statement",
        invoice_ids=tuple(chosen),
    )


def run(commands: Sequence[LedgerCommand], state: Ledger | None = None) -> tuple[Ledger, list[DomainEvent]]:
    """Decides and evolves each command in turn, as the command handler does."""
    state = state or Ledger()
    produced: list[DomainEvent] = []
    for command in commands:
        events = decide_ledger(state, command)
        for event in events:
            state = evolve(state, event)
        produced.extend(events)
    return state, produced


def issue(*invoices: InvoiceIssued) -> list[LedgerCommand]:
    return [IssueInvoice(item, TODAY) for item in invoices]


def pay(*payments: PaymentReceived) -> list[LedgerCommand]:
    return [ReceivePayment(item) for item in payments]
