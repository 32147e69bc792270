"""Read models of billing: pure folds. Every document carries `client_id` (and `contract_id` where
it belongs to a contract), so `Principal.owned()` tells whose it is. Money is a decimal string.

- `billing_contracts`: what billing knows of contracts (from the contracts service's events): the
  client, the number, the current schedule's instalments, the status;
- `invoices`: one document per invoice with its lines, what is paid and outstanding, its stored
  status (open, partially_paid, paid, credit) and its settlements (each with its source: a payment,
  an earlier overpayment, or a correction's credit); "overdue" is decided when asked, against
  today's date in Warsaw;
- `payments`: one per payment with what it settled and what it left as overpayment;
- `client_ledgers`: per client, the overpayment not yet applied and the repayment accounts;
- `interest_notes`, `documents`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.schemas.billing import (
    DocumentPublished,
    InterestNoteIssued,
    InvoiceIssued,
    InvoiceSettled,
    OverpaymentApplied,
    OverpaymentRecorded,
    PaymentReceived,
    RepaymentAccountAssigned,
)
from libs.events.schemas.contracts import ContractRegistered, ContractTerminated, ScheduleAgreed, ScheduleChanged
from services.billing.domain import CORRECTION_PREFIX

CONTRACTS = Collection("billing_contracts", (Index.on("client_id"),))
INVOICES = Collection(
    "invoices",
    (
        Index.on("client_id", "status"),
        Index.on("client_id", "due_date"),
        Index.on("client_id", "issue_date"),
        Index.on("client_id", "number"),
        # Led by client_id, which every query names: SQLite's planner then prefers it to the other
        # client_id indexes for the dashboard's instalments. `ensure` adds it at start, no rebuild.
        Index.on("client_id", "contract_id", "instalment_number"),
        Index.on("number"),
    ),
)
PAYMENTS = Collection("payments", (Index.on("client_id", "received_on"),))
LEDGERS = Collection("client_ledgers")
INTEREST_NOTES = Collection(
    "interest_notes", (Index.on("client_id", "issue_date"), Index.on("contract_id"), Index.on("invoice_id"))
)
DOCUMENTS = Collection(
    "documents",
    (Index.on("client_id", "published_on"), Index.on("kind"), Index.on("contract_id"), Index.on("published_at")),
)


def money(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


# --- contracts, as billing needs them ------------------------------------------------------------


def _fold_contract(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    base: Document = dict(doc or {"instalments": [], "status": "active"})
    match event:
        case ContractRegistered():
            return {
                **base,
                "contract_id": event.contract_id,
                "contract_number": event.contract_number,
                "client_id": event.client.client_id,
                "client_name": event.client.name,
                "client_nip": event.client.nip,
                "contract_type": event.contract_type,
                "start_date": event.start_date.isoformat(),
                "end_date": event.end_date.isoformat(),
                "currency": event.currency,
            }
        case ScheduleAgreed() | ScheduleChanged():
            instalments = [instalment.model_dump(mode="json") for instalment in event.instalments]
            return {**base, "contract_id": event.contract_id, "client_id": event.client_id, "instalments": instalments}
        case ContractTerminated():
            return {**base, "status": "terminated", "terminated_on": event.terminated_on.isoformat()}
    return base


_CONTRACT_EVENTS = (ContractRegistered, ScheduleAgreed, ScheduleChanged, ContractTerminated)

contracts_known = Projection(
    name="billing_contracts",
    collection=CONTRACTS,
    sources=("contracts",),
    handles=frozenset(cls.event_type for cls in _CONTRACT_EVENTS),
    keys=lambda event, _: [event.contract_id] if isinstance(event, _CONTRACT_EVENTS) else [],
    fold=_fold_contract,
)


# --- invoices ------------------------------------------------------------------------------------


def _issued(event: InvoiceIssued, recorded: RecordedEvent) -> Document:
    gross = event.gross_total
    return {
        "invoice_id": event.invoice_id,
        "number": event.number,
        "client_id": event.client_id,
        "contract_id": event.contract_id,
        "instalment_number": event.instalment_number,
        "kind": event.kind,
        "issue_date": event.issue_date.isoformat(),
        "due_date": event.due_date.isoformat(),
        "lines": [line.model_dump(mode="json") for line in event.lines],
        "net_total": money(event.net_total),
        "vat_total": money(event.vat_total),
        "gross_total": money(gross),
        "currency": event.currency,
        "ksef_number": event.ksef_number,
        "corrects_invoice_id": event.corrects_invoice_id,
        "outstanding": money(max(gross, Decimal(0))),
        "paid": "0.00",
        "status": "open" if gross > 0 else ("credit" if gross < 0 else "paid"),
        "paid_on": None,
        "settlements": [],
        "issued_at": recorded.occurred_at.isoformat(),
    }


def _fold_invoice(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    match event:
        case InvoiceIssued():
            return _issued(event, recorded)
        case OverpaymentApplied() if doc is not None:
            return {**doc, "next_settlement_source": "overpayment"}
        case InvoiceSettled() if doc is not None:
            correction = event.payment_id.startswith(CORRECTION_PREFIX)
            source = "correction" if correction else doc.get("next_settlement_source", "payment")
            base = {key: value for key, value in doc.items() if key != "next_settlement_source"}
            settlement = {
                "source": source,
                "payment_id": None if correction else event.payment_id,
                "correction_invoice_id": event.payment_id.removeprefix(CORRECTION_PREFIX) if correction else None,
                "amount": money(event.amount),
                "settled_on": event.settled_on.isoformat(),
                "outstanding_after": money(event.outstanding),
            }
            return {
                **base,
                "outstanding": money(event.outstanding),
                "paid": money(_dec(doc["paid"]) + event.amount),
                "status": "paid" if event.full else "partially_paid",
                "paid_on": event.settled_on.isoformat() if event.full else None,
                "settlements": [*doc["settlements"], settlement],
            }
    return doc or {}


invoices = Projection(
    name="invoices",
    collection=INVOICES,
    sources=("billing",),
    handles=frozenset({InvoiceIssued.event_type, InvoiceSettled.event_type, OverpaymentApplied.event_type}),
    keys=lambda event, _: (
        [event.invoice_id] if isinstance(event, InvoiceIssued | InvoiceSettled | OverpaymentApplied) else []
    ),
    fold=_fold_invoice,
)


# --- payments ------------------------------------------------------------------------------------


def _payment_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    match event:
        case PaymentReceived() | OverpaymentRecorded() | OverpaymentApplied() | InvoiceSettled():
            return [] if event.payment_id.startswith(CORRECTION_PREFIX) else [event.payment_id]
    return []


def _fold_payment(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    match event:
        case PaymentReceived():
            return {
                "payment_id": event.payment_id,
                "client_id": event.client_id,
                "amount": money(event.amount),
                "currency": event.currency,
                "received_on": event.received_on.isoformat(),
                "title": event.title,
                "account": event.account,
                "source": event.source,
                "invoice_ids": list(event.invoice_ids),
                "allocations": [],
                "overpayment": "0.00",
                "overpayment_left": "0.00",
            }
        case InvoiceSettled() if doc is not None:
            allocation = {
                "invoice_id": event.invoice_id,
                "amount": money(event.amount),
                "settled_on": str(event.settled_on),
            }
            return {**doc, "allocations": [*doc["allocations"], allocation]}
        case OverpaymentRecorded() if doc is not None:
            return {**doc, "overpayment": money(event.amount), "overpayment_left": money(event.amount)}
        case OverpaymentApplied() if doc is not None:
            return {**doc, "overpayment_left": money(_dec(doc["overpayment_left"]) - event.amount)}
    return doc or {}


payments = Projection(
    name="payments",
    collection=PAYMENTS,
    sources=("billing",),
    handles=frozenset(
        cls.event_type for cls in (PaymentReceived, InvoiceSettled, OverpaymentRecorded, OverpaymentApplied)
    ),
    keys=_payment_keys,
    fold=_fold_payment,
)


# --- per client: overpayment and repayment accounts ----------------------------------------------


def _fold_ledger(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    base: Document = dict(doc or {"overpayment": "0.00", "repayment_accounts": []})
    match event:
        case OverpaymentRecorded():
            return {
                **base,
                "client_id": event.client_id,
                "overpayment": money(_dec(base["overpayment"]) + event.amount),
            }
        case OverpaymentApplied():
            return {
                **base,
                "client_id": event.client_id,
                "overpayment": money(_dec(base["overpayment"]) - event.amount),
            }
        case RepaymentAccountAssigned():
            account = {"account_number": event.account_number, "bank_name": event.bank_name, "purpose": event.purpose}
            others = [a for a in base["repayment_accounts"] if a["account_number"] != event.account_number]
            return {**base, "client_id": event.client_id, "repayment_accounts": [*others, account]}
    return base


_LEDGER_EVENTS = (OverpaymentRecorded, OverpaymentApplied, RepaymentAccountAssigned)

client_ledgers = Projection(
    name="client_ledgers",
    collection=LEDGERS,
    sources=("billing",),
    handles=frozenset(cls.event_type for cls in _LEDGER_EVENTS),
    keys=lambda event, _: [event.client_id] if isinstance(event, _LEDGER_EVENTS) else [],
    fold=_fold_ledger,
)


# --- interest notes and documents ----------------------------------------------------------------


def _fold_note(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    if not isinstance(event, InterestNoteIssued):
        return doc or {}
    return {
        **event.model_dump(mode="json"),
        "amount": money(event.amount),
    }


interest_notes = Projection(
    name="interest_notes",
    collection=INTEREST_NOTES,
    sources=("billing",),
    handles=frozenset({InterestNoteIssued.event_type}),
    keys=lambda event, _: [event.note_id] if isinstance(event, InterestNoteIssued) else [],
    fold=_fold_note,
)


def _fold_document(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    if not isinstance(event, DocumentPublished):
        return doc or {}
    return {**event.model_dump(mode="json"), "published_at": recorded.occurred_at.isoformat()}


documents = Projection(
    name="documents",
    collection=DOCUMENTS,
    sources=("billing",),
    handles=frozenset({DocumentPublished.event_type}),
    keys=lambda event, _: [event.document_id] if isinstance(event, DocumentPublished) else [],
    fold=_fold_document,
)

PROJECTIONS = (contracts_known, invoices, payments, client_ledgers, interest_notes, documents)
