"""Events published by the billing service (topic leasing.billing.events).

Amounts are Decimal with grosze precision; VAT rates are strings as on a Polish invoice
("23", "8", "5", "0", "zw" for exempt, "np" for not subject).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from libs.events.blobs import BlobRef
from libs.events.envelope import DomainEvent
from libs.events.registry import registry
from libs.events.schemas.common import Currency, Money

VatRate = Literal["23", "8", "5", "0", "zw", "np"]
DocumentKind = Literal[
    "invoice", "interest_note", "schedule", "settlement_statement", "contract", "annex", "letter", "other"
]


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    net: Money
    vat_rate: VatRate
    vat: Money
    gross: Money


@registry.register
class InvoiceIssued(DomainEvent):
    event_type = "InvoiceIssued"
    schema_version = 1

    invoice_id: str
    number: str
    client_id: str
    contract_id: str | None = None
    instalment_number: int | None = None
    """The schedule instalment this invoice bills, if any."""
    kind: Literal["instalment", "initial_fee", "fee", "insurance", "other", "correction"]
    issue_date: date
    due_date: date
    lines: tuple[InvoiceLine, ...]
    net_total: Money
    vat_total: Money
    gross_total: Money
    currency: Currency
    ksef_number: str | None = None
    corrects_invoice_id: str | None = None
    """For a correction: the invoice it corrects; its gross_total may be negative."""


@registry.register
class PaymentReceived(DomainEvent):
    """Money that came in: a bank-statement line, or an online payment the gateway confirmed."""

    event_type = "PaymentReceived"
    schema_version = 1

    payment_id: str
    client_id: str
    amount: Money
    currency: Currency
    received_on: date
    title: str
    account: str | None = None
    """The NRB the transfer came to (bank statement)."""
    source: Literal["bank_statement", "online"]
    invoice_ids: tuple[str, ...] = ()
    """Invoices the payer chose (online payments); otherwise the title and due dates decide."""


@registry.register
class InvoiceSettled(DomainEvent):
    event_type = "InvoiceSettled"
    schema_version = 1

    invoice_id: str
    client_id: str
    contract_id: str | None = None
    payment_id: str
    amount: Money
    """What this payment (or overpayment) paid off this invoice."""
    outstanding: Money
    """What is still owed on the invoice afterwards."""
    settled_on: date
    full: bool
    """True when the invoice is now paid in full; False for a partial settlement."""


@registry.register
class OverpaymentRecorded(DomainEvent):
    event_type = "OverpaymentRecorded"
    schema_version = 1

    client_id: str
    payment_id: str
    amount: Money
    currency: Currency


@registry.register
class OverpaymentApplied(DomainEvent):
    """Part of an earlier overpayment used to settle an invoice (an InvoiceSettled follows)."""

    event_type = "OverpaymentApplied"
    schema_version = 1

    client_id: str
    payment_id: str
    invoice_id: str
    amount: Money


@registry.register
class InterestNoteIssued(DomainEvent):
    event_type = "InterestNoteIssued"
    schema_version = 1

    note_id: str
    number: str
    client_id: str
    invoice_id: str
    contract_id: str | None = None
    days_late: int
    amount: Money
    currency: Currency
    issue_date: date
    due_date: date


@registry.register
class DocumentPublished(DomainEvent):
    event_type = "DocumentPublished"
    schema_version = 1

    document_id: str
    client_id: str
    contract_id: str | None = None
    invoice_id: str | None = None
    kind: DocumentKind
    title: str
    file: BlobRef
    published_on: date


@registry.register
class RepaymentAccountAssigned(DomainEvent):
    event_type = "RepaymentAccountAssigned"
    schema_version = 1

    client_id: str
    account_number: str
    """Polish NRB, 26 digits, checksum verified."""
    bank_name: str
    purpose: str
    """What to pay into it, e.g. "raty leasingowe", "opłaty dodatkowe"."""


@registry.register
class InvoiceNumberReserved(DomainEvent):
    """An invoice number taken for one invoice (stream billing-invoicenumber-<invoice_id>).

    Invoice numbers are unique across all clients, while an invoice lives in its client's ledger
    stream; this reservation is the one place that decides who holds a number. `fingerprint` (the
    SHA-256 of the invoice's data) lets the very same invoice, resent after a failure between the
    reservation and the ledger, go through, while a different invoice with the number is refused.
    """

    event_type = "InvoiceNumberReserved"
    schema_version = 1

    invoice_id: str
    number: str
    client_id: str
    fingerprint: str
