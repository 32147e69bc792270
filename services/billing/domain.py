"""Billing's aggregates, pure decide/evolve (no I/O, no clock: today's date comes in the command).

- the client ledger (`billing-ledger-<client_id>`): every settlement decision of one client, so
  two payments can never settle the same money twice (optimistic concurrency does the rest): its
  invoices with their open balances, the payments recorded and the overpayment left;
- the invoice number (`billing-invoicenumber-<invoice_id>`): who holds an invoice number;
- interest notes, documents (one stream each) and the client's repayment accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import NAMESPACE_URL, uuid5

from pyrsistent import PMap, PSet, pmap, pset

from libs.events import Aggregate, Conflict, DomainEvent, Invalid
from libs.events.schemas.billing import (
    DocumentPublished,
    InterestNoteIssued,
    InvoiceIssued,
    InvoiceLine,
    InvoiceNumberReserved,
    InvoiceSettled,
    OverpaymentApplied,
    OverpaymentRecorded,
    PaymentReceived,
    RepaymentAccountAssigned,
)
from libs.events.snapshots import SnapshotCodec, shape_of
from services.billing.settlement import ZERO, Allocation, OpenItem, allocate, grosze, named_in_title

CORRECTION_PREFIX = "correction:"
"""Settlements paid by the credit of a correction invoice name it as `correction:<invoice_id>`."""


def _normalized(number: str) -> str:
    return " ".join(number.split()).upper()


def invoice_id_for(number: str) -> str:
    """One id per invoice number (case and surrounding spaces ignored), whoever asks."""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:invoice:{_normalized(number)}"))


def interest_note_id_for(number: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:interest-note:{_normalized(number)}"))


def derived_id(kind: str, key: str) -> str:
    """An id derived from a caller's idempotency key, so a repeated call names the same object."""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:{kind}:{key}"))


# --- invoices: the arithmetic of an invoice --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    code: str
    message: str


VAT_PERCENT: Mapping[str, Decimal] = {"23": Decimal(23), "8": Decimal(8), "5": Decimal(5), "0": Decimal(0)}
"""Numeric VAT rates; "zw" (exempt) and "np" (not subject) carry no VAT."""


def line_vat(line: InvoiceLine) -> Decimal:
    """The VAT of a line: net times the rate, rounded half-up to grosze."""
    return grosze(line.net * VAT_PERCENT.get(line.vat_rate, ZERO) / 100)


def invoice_problems(invoice: InvoiceIssued) -> list[Problem]:
    """Everything wrong with an invoice's dates and arithmetic, each naming its field."""
    problems: list[Problem] = []
    if invoice.due_date < invoice.issue_date:
        problems.append(Problem("due_date", "due_before_issue", "the due date is before the issue date"))
    correction = invoice.kind == "correction"
    if correction and invoice.corrects_invoice_id is None:
        problems.append(Problem("corrects_invoice_number", "correction_target_required", "name the corrected invoice"))
    if not correction and invoice.corrects_invoice_id is not None:
        problems.append(Problem("corrects_invoice_number", "not_a_correction", "only a correction corrects"))
    for index, line in enumerate(invoice.lines):
        where = f"lines.{index}"
        if not correction and line.net <= 0:
            problems.append(Problem(f"{where}.net", "amount_not_positive", "the net amount must be positive"))
        expected = line_vat(line)
        if line.vat != expected:
            problems.append(Problem(f"{where}.vat", "vat_mismatch", f"VAT at {line.vat_rate} of the net is {expected}"))
        if line.net + line.vat != line.gross:
            problems.append(Problem(f"{where}.gross", "gross_mismatch", "gross must equal net plus VAT"))
    for total, part in (("net_total", "net"), ("vat_total", "vat"), ("gross_total", "gross")):
        expected = sum((getattr(line, part) for line in invoice.lines), ZERO)
        if getattr(invoice, total) != expected:
            problems.append(Problem(total, "total_mismatch", f"the lines add up to {expected}"))
    return problems


# --- the client ledger ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credit:
    """Money paid beyond what was owed, still to be applied: per payment, oldest first."""

    payment_id: str
    remaining: Decimal


@dataclass(frozen=True)
class Ledger:
    """Persistent maps and sets (pyrsistent): folding an event shares the rest of the state instead of
    copying it, so folding a client's whole history stays linear in its length."""

    client_id: str | None = None
    invoices: PMap[str, OpenItem] = field(default_factory=pmap)
    """Every invoice of the client with what is still owed (zero once paid or for a credit note)."""
    payments: PSet[str] = field(default_factory=pset)
    credits: tuple[Credit, ...] = ()

    @property
    def overpayment(self) -> Decimal:
        return sum((credit.remaining for credit in self.credits), ZERO)

    def open_items(self) -> list[OpenItem]:
        return [item for item in self.invoices.values() if item.outstanding > 0]


@dataclass(frozen=True)
class IssueInvoice:
    invoice: InvoiceIssued
    today: date


@dataclass(frozen=True)
class ReceivePayment:
    payment: PaymentReceived


LedgerCommand = IssueInvoice | ReceivePayment


def _settled(
    ledger: Ledger, allocations: Sequence[Allocation], payment_id: str, settled_on: date
) -> list[InvoiceSettled]:
    assert ledger.client_id is not None
    return [
        InvoiceSettled(
            invoice_id=allocation.invoice_id,
            client_id=ledger.client_id,
            contract_id=ledger.invoices[allocation.invoice_id].contract_id,
            payment_id=payment_id,
            amount=allocation.amount,
            outstanding=allocation.outstanding,
            settled_on=settled_on,
            full=allocation.outstanding == 0,
        )
        for allocation in allocations
    ]


def _settle_money(
    ledger: Ledger, payment_id: str, amount: Decimal, preferred: Sequence[str], on: date, currency: str
) -> list[DomainEvent]:
    """Money coming in: settlements in the order of `allocate`, the rest an overpayment."""
    allocations, left = allocate(amount, ledger.open_items(), preferred)
    events: list[DomainEvent] = list(_settled(ledger, allocations, payment_id, on))
    if left > 0:
        assert ledger.client_id is not None
        events.append(
            OverpaymentRecorded(client_id=ledger.client_id, payment_id=payment_id, amount=left, currency=currency)
        )
    return events


def _apply_credits(ledger: Ledger, invoice: InvoiceIssued, today: date) -> list[DomainEvent]:
    """An earlier overpayment settles a new invoice, oldest credit first."""
    events: list[DomainEvent] = []
    outstanding = invoice.gross_total
    for credit in ledger.credits:
        if outstanding <= 0:
            break
        amount = min(credit.remaining, outstanding)
        outstanding -= amount
        events.append(
            OverpaymentApplied(
                client_id=invoice.client_id, payment_id=credit.payment_id, invoice_id=invoice.invoice_id, amount=amount
            )
        )
        events.append(
            InvoiceSettled(
                invoice_id=invoice.invoice_id,
                client_id=invoice.client_id,
                contract_id=invoice.contract_id,
                payment_id=credit.payment_id,
                amount=amount,
                outstanding=outstanding,
                settled_on=today,
                full=outstanding == 0,
            )
        )
    return events


def _issue(ledger: Ledger, command: IssueInvoice) -> list[DomainEvent]:
    invoice = command.invoice
    if invoice.invoice_id in ledger.invoices:
        raise Conflict("invoice_number_taken", f"invoice {invoice.number} is already issued", field="number")
    if invoice.corrects_invoice_id is not None and invoice.corrects_invoice_id not in ledger.invoices:
        raise Invalid("unknown_invoice", "the corrected invoice is not this client's", field="corrects_invoice_number")
    problems = invoice_problems(invoice)
    if problems:
        raise Invalid(problems[0].code, problems[0].message, field=problems[0].field)
    issued = replace(ledger, client_id=invoice.client_id)
    after = evolve(issued, invoice)
    if invoice.gross_total > 0:
        return [invoice, *_apply_credits(after, invoice, command.today)]
    if invoice.gross_total < 0:  # a credit note: pays off the corrected invoice first, then like a payment
        credit = -invoice.gross_total
        preferred = [invoice.corrects_invoice_id] if invoice.corrects_invoice_id else []
        source = f"{CORRECTION_PREFIX}{invoice.invoice_id}"
        return [invoice, *_settle_money(after, source, credit, preferred, command.today, invoice.currency)]
    return [invoice]


def _receive(ledger: Ledger, command: ReceivePayment) -> list[DomainEvent]:
    payment = command.payment
    if payment.payment_id in ledger.payments:
        raise Conflict("payment_already_recorded", "this payment is already recorded", field="reference")
    if payment.amount <= 0:
        raise Invalid("amount_not_positive", "the amount must be positive", field="amount")
    ledger = replace(ledger, client_id=payment.client_id)
    preferred = [*payment.invoice_ids, *named_in_title(payment.title, ledger.open_items())]
    return [
        payment,
        *_settle_money(ledger, payment.payment_id, payment.amount, preferred, payment.received_on, payment.currency),
    ]


def decide_ledger(ledger: Ledger, command: LedgerCommand) -> Sequence[DomainEvent]:
    match command:
        case IssueInvoice():
            return _issue(ledger, command)
        case ReceivePayment():
            return _receive(ledger, command)
    raise TypeError(f"unknown command {command!r}")


def _with_outstanding(ledger: Ledger, invoice_id: str, outstanding: Decimal) -> Ledger:
    item = ledger.invoices.get(invoice_id)
    if item is None:
        return ledger
    return replace(ledger, invoices=ledger.invoices.set(invoice_id, replace(item, outstanding=outstanding)))


def evolve(ledger: Ledger, event: DomainEvent) -> Ledger:
    match event:
        case InvoiceIssued():
            item = OpenItem(
                invoice_id=event.invoice_id,
                number=event.number,
                issue_date=event.issue_date,
                due_date=event.due_date,
                outstanding=max(event.gross_total, ZERO),
                contract_id=event.contract_id,
            )
            return replace(ledger, client_id=event.client_id, invoices=ledger.invoices.set(event.invoice_id, item))
        case InvoiceSettled():
            return _with_outstanding(ledger, event.invoice_id, event.outstanding)
        case PaymentReceived():
            return replace(ledger, client_id=event.client_id, payments=ledger.payments.add(event.payment_id))
        case OverpaymentRecorded():
            return replace(ledger, credits=(*ledger.credits, Credit(event.payment_id, event.amount)))
        case OverpaymentApplied():
            credits = tuple(
                Credit(credit.payment_id, credit.remaining - event.amount)
                if credit.payment_id == event.payment_id
                else credit
                for credit in ledger.credits
            )
            return replace(ledger, credits=tuple(credit for credit in credits if credit.remaining > 0))
    return ledger


def ledger_to_json(state: Ledger) -> dict[str, Any]:
    return {
        "client_id": state.client_id,
        "invoices": [
            {
                "invoice_id": item.invoice_id,
                "number": item.number,
                "issue_date": item.issue_date.isoformat(),
                "due_date": item.due_date.isoformat(),
                "outstanding": str(item.outstanding),
                "contract_id": item.contract_id,
            }
            for item in state.invoices.values()
        ],
        "payments": sorted(state.payments),
        "credits": [{"payment_id": credit.payment_id, "remaining": str(credit.remaining)} for credit in state.credits],
    }


def ledger_from_json(doc: Mapping[str, Any]) -> Ledger:
    invoices = (
        OpenItem(
            invoice_id=item["invoice_id"],
            number=item["number"],
            issue_date=date.fromisoformat(item["issue_date"]),
            due_date=date.fromisoformat(item["due_date"]),
            outstanding=Decimal(item["outstanding"]),
            contract_id=item["contract_id"],
        )
        for item in doc["invoices"]
    )
    by_id = {item.invoice_id: item for item in invoices}
    payments = doc["payments"]
    return Ledger(  # sized with room to grow: a persistent map built full copies itself on the next insert
        client_id=doc["client_id"],
        invoices=pmap(by_id, pre_size=2 * len(by_id)),
        payments=pset(payments, pre_size=2 * len(payments)),
        credits=tuple(Credit(credit["payment_id"], Decimal(credit["remaining"])) for credit in doc["credits"]),
    )


LEDGER_SNAPSHOT = SnapshotCodec[Ledger](
    schema=f"billing-ledger.1:{shape_of(Ledger, OpenItem, Credit)}",
    to_json=ledger_to_json,
    from_json=ledger_from_json,
)
"""The ledger opts in to snapshots: a fleet client's stream grows by thousands of events, and its state
is ids, numbers, dates and amounts only (no personal data)."""

ledger = Aggregate[Ledger, LedgerCommand](
    category="billing-ledger", initial=Ledger, decide=decide_ledger, evolve=evolve, snapshot=LEDGER_SNAPSHOT
)


# --- invoice numbers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceNumber:
    reserved: InvoiceNumberReserved | None = None


def decide_number(state: InvoiceNumber, command: InvoiceNumberReserved) -> Sequence[DomainEvent]:
    if state.reserved is None:
        return [command]
    if state.reserved.fingerprint == command.fingerprint:
        return []  # the same invoice sent again: its reservation stands
    raise Conflict("invoice_number_taken", f"invoice {command.number} is already issued", field="number")


def evolve_number(state: InvoiceNumber, event: DomainEvent) -> InvoiceNumber:
    return InvoiceNumber(event) if isinstance(event, InvoiceNumberReserved) else state


invoice_number = Aggregate[InvoiceNumber, InvoiceNumberReserved](
    category="billing-invoicenumber", initial=InvoiceNumber, decide=decide_number, evolve=evolve_number
)


# --- objects made once: interest notes, documents ------------------------------------------------

E = TypeVar("E", bound=DomainEvent)


@dataclass(frozen=True)
class Once(Generic[E]):
    event: E | None = None


def _made_once(
    kind: type[E], conflict: Problem, check: Callable[[E], list[Problem]]
) -> tuple[Callable[[Once[E], E], Sequence[DomainEvent]], Callable[[Once[E], DomainEvent], Once[E]]]:
    def decide(state: Once[E], command: E) -> Sequence[DomainEvent]:
        if state.event is not None:
            raise Conflict(conflict.code, conflict.message, field=conflict.field)
        problems = check(command)
        if problems:
            raise Invalid(problems[0].code, problems[0].message, field=problems[0].field)
        return [command]

    def evolve_once(state: Once[E], event: DomainEvent) -> Once[E]:
        return Once(event) if isinstance(event, kind) else state

    return decide, evolve_once


def interest_note_problems(note: InterestNoteIssued) -> list[Problem]:
    problems: list[Problem] = []
    if note.amount <= 0:
        problems.append(Problem("amount", "amount_not_positive", "the amount must be positive"))
    if note.days_late <= 0:
        problems.append(Problem("days_late", "not_positive", "days late must be at least 1"))
    if note.due_date < note.issue_date:
        problems.append(Problem("due_date", "due_before_issue", "the due date is before the issue date"))
    return problems


_decide_note, _evolve_note = _made_once(
    InterestNoteIssued,
    Problem("number", "interest_note_number_taken", "this interest note number is already issued"),
    interest_note_problems,
)
interest_note = Aggregate[Once[InterestNoteIssued], InterestNoteIssued](
    category="billing-interestnote", initial=Once, decide=_decide_note, evolve=_evolve_note
)

_decide_document, _evolve_document = _made_once(
    DocumentPublished, Problem("document_id", "document_exists", "this document is already published"), lambda _: []
)
document = Aggregate[Once[DocumentPublished], DocumentPublished](
    category="billing-document", initial=Once, decide=_decide_document, evolve=_evolve_document
)


# --- repayment accounts --------------------------------------------------------------------------


@dataclass(frozen=True)
class RepaymentAccounts:
    assigned: Mapping[str, RepaymentAccountAssigned] = field(default_factory=dict)


def decide_account(state: RepaymentAccounts, command: RepaymentAccountAssigned) -> Sequence[DomainEvent]:
    if state.assigned.get(command.account_number) == command:
        return []  # assigned already, with the same details
    return [command]


def evolve_account(state: RepaymentAccounts, event: DomainEvent) -> RepaymentAccounts:
    if isinstance(event, RepaymentAccountAssigned):
        return RepaymentAccounts({**state.assigned, event.account_number: event})
    return state


repayment_accounts = Aggregate[RepaymentAccounts, RepaymentAccountAssigned](
    category="billing-accounts", initial=RepaymentAccounts, decide=decide_account, evolve=evolve_account
)
