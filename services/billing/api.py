"""HTTP API of billing. Handlers stay short: validate, run a command or read a model.

- `/backoffice/...`: the core leasing system feeds invoices, bank-statement payments, interest
  notes, documents and repayment accounts (back-office credential; an `Idempotency-Key` header makes
  a repeated call change nothing and return the first answer).
- the client zone: dashboard, invoices and settlements, schedules' paid state, interest notes,
  documents and PDFs, scoped to the active client, its contracts and the caller's scopes.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import uuid4

import structlog
from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from libs.events import Document, DomainError, EventContext, Invalid, NotFound
from libs.events.access import Principal
from libs.events.blobs import BlobNotFound, BlobStore
from libs.events.schemas.billing import (
    DocumentKind,
    DocumentPublished,
    InterestNoteIssued,
    InvoiceIssued,
    InvoiceNumberReserved,
    InvoiceSettled,
    OverpaymentRecorded,
    PaymentReceived,
    RepaymentAccountAssigned,
)
from libs.events.service.access import require_scope
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime, event_context
from libs.events.service.runtime import ServiceRuntime
from libs.events.warsaw import warsaw_date
from libs.pdf import safe_filename
from services.billing import pdfs, queries
from services.billing.blobs import document_files, document_key
from services.billing.domain import (
    IssueInvoice,
    Problem,
    ReceivePayment,
    derived_id,
    document,
    interest_note,
    interest_note_id_for,
    interest_note_problems,
    invoice_id_for,
    invoice_number,
    invoice_problems,
    ledger,
    repayment_accounts,
)
from services.billing.inputs import Identifier, InterestNoteIn, InvoiceIn, Number, PaymentIn, RepaymentAccountIn, Text
from services.billing.projections import CONTRACTS, DOCUMENTS, INVOICES, LEDGERS, money
from services.billing.settings import BillingSettings

log = structlog.get_logger(__name__)

IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=128)]
InvoiceReader = Annotated[Principal, Depends(require_scope("invoices:read"))]
DocumentReader = Annotated[Principal, Depends(require_scope("documents:read"))]
ContractReader = Annotated[Principal, Depends(require_scope("contracts:read"))]
PDF = "application/pdf"


class PayloadTooLarge(DomainError):
    status = 413


def settings_of(runtime: ServiceRuntime) -> BillingSettings:
    settings = runtime.settings
    return settings if isinstance(settings, BillingSettings) else BillingSettings()


async def get_blobs(runtime: Runtime) -> BlobStore:
    """PDFs of published documents."""
    return document_files(runtime)


Blobs = Annotated[BlobStore, Depends(get_blobs)]


def today(runtime: ServiceRuntime) -> date:
    return warsaw_date(runtime.clock())


def _refuse(problems: list[Problem]) -> None:
    """Every problem at once, as a 422 naming each field (the same shape as input validation)."""
    if problems:
        raise RequestValidationError(
            [{"loc": ("body", *p.field.split(".")), "msg": p.message, "type": p.code} for p in problems]
        )


async def _contract(runtime: ServiceRuntime, contract_id: str, client_id: str | None = None) -> Document:
    """A contract billing knows (from ContractRegistered), of the given client; 422 otherwise."""
    doc = await runtime.documents.get(CONTRACTS, contract_id)
    if doc is None or "contract_number" not in doc or (client_id is not None and doc["client_id"] != client_id):
        raise Invalid("unknown_contract", f"no contract {contract_id} known to billing", field="contract_id")
    return doc


async def _known_client(runtime: ServiceRuntime, client_id: str, field: str = "client_id") -> None:
    if not await runtime.documents.find(CONTRACTS, {"client_id": client_id}, limit=1):
        raise Invalid("unknown_client", f"no contract of client {client_id} known to billing", field=field)


async def _invoice(runtime: ServiceRuntime, number: str, field: str, client_id: str | None = None) -> Document:
    doc = await runtime.documents.get(INVOICES, invoice_id_for(number))
    if doc is None or (client_id is not None and doc["client_id"] != client_id):
        raise Invalid("unknown_invoice", f"no invoice {number} known to billing", field=field)
    return doc


# --- back office ---------------------------------------------------------------------------------

backoffice = APIRouter(prefix="/backoffice", tags=["back office"])


class SettlementOut(BaseModel):
    invoice_id: str
    payment_id: str
    amount: str
    outstanding: str
    full: bool


def _settlements(events: Any) -> list[SettlementOut]:
    return [
        SettlementOut(
            invoice_id=e.invoice_id,
            payment_id=e.payment_id,
            amount=money(e.amount),
            outstanding=money(e.outstanding),
            full=e.full,
        )
        for e in events
        if isinstance(e, InvoiceSettled)
    ]


class InvoiceAccepted(BaseModel):
    invoice_id: str
    number: str
    client_id: str
    settlements: list[SettlementOut]
    """What an earlier overpayment (or, for a credit note, its credit) settled at once."""


def invoice_event(body: InvoiceIn, client_id: str) -> InvoiceIssued:
    lines = tuple(line.line() for line in body.lines)
    corrects = invoice_id_for(body.corrects_invoice_number) if body.corrects_invoice_number else None
    return InvoiceIssued(
        invoice_id=invoice_id_for(body.number),
        client_id=client_id,
        corrects_invoice_id=corrects,
        lines=lines,
        **body.model_dump(exclude={"lines", "client_id", "corrects_invoice_number"}),
    )


async def _checked_invoice(runtime: ServiceRuntime, body: InvoiceIn) -> InvoiceIssued:
    """The invoice, if its contract, client, arithmetic and corrected invoice hold; 422 otherwise."""
    contract = await _contract(runtime, body.contract_id)
    client_id = contract["client_id"]
    if body.client_id is not None and body.client_id != client_id:
        raise Invalid("client_mismatch", "the contract belongs to another client", field="client_id")
    invoice = invoice_event(body, client_id)
    problems = invoice_problems(invoice)
    known = {i["number"] for i in contract.get("instalments", [])}
    if body.instalment_number is not None and known and body.instalment_number not in known:
        problems.append(Problem("instalment_number", "unknown_instalment", "no such instalment in the schedule"))
    _refuse(problems)
    state, _ = await runtime.commands.load(ledger, client_id)
    if invoice.corrects_invoice_id is not None and invoice.corrects_invoice_id not in state.invoices:
        raise Invalid("unknown_invoice", "the corrected invoice is not this client's", field="corrects_invoice_number")
    return invoice


@backoffice.post("/invoices", status_code=status.HTTP_201_CREATED)
async def issue_invoice(
    body: InvoiceIn, request: Request, runtime: Runtime, actor: BackOffice, idempotency_key: IdempotencyKey = None
) -> InvoiceAccepted:
    """Issues an invoice (or a correction) in its client's ledger; an earlier overpayment settles it
    at once. 409 if the number is taken; 422 naming the field for dates, VAT or totals that do not
    add up, an unknown contract or corrected invoice."""
    invoice = await _checked_invoice(runtime, body)
    client_id = invoice.client_id
    context = event_context(request, actor=actor, client_id=client_id)
    fingerprint = hashlib.sha256(invoice.model_dump_json().encode()).hexdigest()
    reservation = InvoiceNumberReserved(
        invoice_id=invoice.invoice_id, number=invoice.number, client_id=client_id, fingerprint=fingerprint
    )
    await runtime.commands.handle(invoice_number, invoice.invoice_id, reservation, context, idempotency_key)
    decision = await runtime.commands.handle(
        ledger, client_id, IssueInvoice(invoice, today(runtime)), context, idempotency_key
    )
    return InvoiceAccepted(
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        client_id=client_id,
        settlements=_settlements(decision.events),
    )


class PaymentAccepted(BaseModel):
    payment_id: str
    client_id: str
    amount: str
    settlements: list[SettlementOut]
    overpayment: str


def _payment_id(body: PaymentIn, idempotency_key: str | None) -> str:
    if body.reference is not None:
        return derived_id("payment", body.reference)
    return derived_id("payment-call", idempotency_key) if idempotency_key else str(uuid4())


@backoffice.post("/payments", status_code=status.HTTP_201_CREATED)
async def record_payment(
    body: PaymentIn, request: Request, runtime: Runtime, actor: BackOffice, idempotency_key: IdempotencyKey = None
) -> PaymentAccepted:
    """Records a bank-statement payment and settles the client's open invoices with it: the invoice
    named in the title first, then oldest due first; the rest is an overpayment."""
    await _known_client(runtime, body.client_id)
    if body.received_on > today(runtime):
        raise Invalid("date_in_future", "a payment cannot be received in the future", field="received_on")
    payment = PaymentReceived(
        payment_id=_payment_id(body, idempotency_key),
        source="bank_statement",
        **body.model_dump(exclude={"reference"}),
    )
    context = event_context(request, actor=actor, client_id=body.client_id)
    decision = await runtime.commands.handle(ledger, body.client_id, ReceivePayment(payment), context, idempotency_key)
    (received,) = [e for e in decision.events if isinstance(e, PaymentReceived)]
    over = [e.amount for e in decision.events if isinstance(e, OverpaymentRecorded)]
    return PaymentAccepted(
        payment_id=received.payment_id,
        client_id=received.client_id,
        amount=money(received.amount),
        settlements=_settlements(decision.events),
        overpayment=money(sum(over, Decimal(0))),
    )


class Created(BaseModel):
    id: str
    client_id: str


@backoffice.post("/interest-notes", status_code=status.HTTP_201_CREATED)
async def issue_interest_note(
    body: InterestNoteIn, request: Request, runtime: Runtime, actor: BackOffice, idempotency_key: IdempotencyKey = None
) -> Created:
    """Issues an interest note for a late-paid invoice; 409 if its number is taken."""
    invoice = await _invoice(runtime, body.invoice_number, "invoice_number")
    note = InterestNoteIssued(
        note_id=interest_note_id_for(body.number),
        client_id=invoice["client_id"],
        invoice_id=invoice["invoice_id"],
        contract_id=invoice.get("contract_id"),
        **body.model_dump(exclude={"invoice_number"}),
    )
    _refuse(interest_note_problems(note))
    context = event_context(request, actor=actor, client_id=note.client_id)
    await runtime.commands.handle(interest_note, note.note_id, note, context, idempotency_key)
    return Created(id=note.note_id, client_id=note.client_id)


def _check_pdf(content: bytes) -> None:
    if b"%PDF-" not in content[:1024] or b"%%EOF" not in content[-1024:]:
        raise Invalid("not_a_pdf", "the file is not a PDF document", field="file")


@backoffice.post("/documents", status_code=status.HTTP_201_CREATED)
async def publish_document(
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    blobs: Blobs,
    file: Annotated[UploadFile, File()],
    client_id: Annotated[Identifier, Form()],
    kind: Annotated[DocumentKind, Form()],
    title: Annotated[Text, Form()],
    contract_id: Annotated[Identifier | None, Form()] = None,
    invoice_number: Annotated[Number | None, Form()] = None,
    published_on: Annotated[date | None, Form()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Created:
    """Publishes a PDF document to a client (multipart: `file` and the fields)."""
    limit = settings_of(runtime).max_document_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge("file_too_large", f"the file is larger than {limit} bytes", field="file")
    _check_pdf(content)
    await _known_client(runtime, client_id)
    if contract_id is not None:
        await _contract(runtime, contract_id, client_id)
    invoice = await _invoice(runtime, invoice_number, "invoice_number", client_id) if invoice_number else None
    document_id = derived_id("document", idempotency_key) if idempotency_key else str(uuid4())
    digest = hashlib.sha256(content).hexdigest()
    ref = await blobs.put(document_key(document_id, digest), content, PDF)
    event = DocumentPublished(
        document_id=document_id,
        client_id=client_id,
        contract_id=contract_id or (invoice or {}).get("contract_id"),
        invoice_id=invoice["invoice_id"] if invoice else None,
        kind=kind,
        title=title,
        file=ref,
        published_on=published_on or today(runtime),
    )
    await runtime.commands.handle(document, document_id, event, _ctx(request, actor, client_id), idempotency_key)
    return Created(id=document_id, client_id=client_id)


def _ctx(request: Request, actor: str, client_id: str) -> EventContext:
    return event_context(request, actor=actor, client_id=client_id)


@backoffice.post("/clients/{client_id}/repayment-accounts", status_code=status.HTTP_201_CREATED)
async def assign_repayment_account(
    client_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
    body: RepaymentAccountIn,
    request: Request,
    runtime: Runtime,
    actor: BackOffice,
    idempotency_key: IdempotencyKey = None,
) -> RepaymentAccountIn:
    """Assigns a bank account the client pays into (NRB or PL IBAN, checksum verified)."""
    await _known_client(runtime, client_id)
    event = RepaymentAccountAssigned(client_id=client_id, **body.model_dump())
    await runtime.commands.handle(
        repayment_accounts, client_id, event, _ctx(request, actor, client_id), idempotency_key
    )
    return body


# --- the client zone -----------------------------------------------------------------------------

client = APIRouter(tags=["client zone"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _pdf(content: bytes, name: str) -> Response:
    return Response(
        content, media_type=PDF, headers={"Content-Disposition": f'attachment; filename="{safe_filename(name)}"'}
    )


@client.get("/dashboard")
async def dashboard(runtime: Runtime, principal: InvoiceReader) -> dict[str, Any]:
    """Strona główna: overdue, upcoming instalments (30 days), overpayment, the 6 latest documents,
    repayment accounts and the clients the person may switch to."""
    return await queries.dashboard(runtime.documents, principal, today(runtime))


@client.get("/invoices")
async def list_invoices(
    runtime: Runtime,
    principal: InvoiceReader,
    status: queries.InvoiceStatus | None = None,
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    issued_from: date | None = None,
    issued_to: date | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    sort: queries.InvoiceSort = "-issue_date",
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Faktury i rozliczenia: the client's invoices, filtered, sorted and paged."""
    query = queries.InvoiceQuery(status, contract_id, issued_from, issued_to, due_from, due_to, sort, limit, offset)
    return (await queries.list_invoices(runtime.documents, principal, query, today(runtime))).body()


@client.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: str, runtime: Runtime, principal: InvoiceReader) -> dict[str, Any]:
    """An invoice with its lines and its settlements (which payments paid it, how much, when)."""
    return await queries.invoice_details(runtime.documents, principal, invoice_id, today(runtime))


@client.get("/invoices/{invoice_id}/pdf", response_class=Response)
async def invoice_pdf(invoice_id: str, runtime: Runtime, principal: InvoiceReader) -> Response:
    invoice = await queries.invoice_details(runtime.documents, principal, invoice_id, today(runtime))
    contract = await runtime.documents.get(CONTRACTS, invoice["contract_id"] or "") or {}
    accounts = (await runtime.documents.get(LEDGERS, principal.client_id) or {}).get("repayment_accounts", [])
    issuer = settings_of(runtime).issuer_name
    content = await asyncio.to_thread(pdfs.invoice_pdf, invoice, contract.get("client_name", ""), issuer, accounts)
    return _pdf(content, f"faktura-{invoice['number']}")


@client.get("/contracts/{contract_id}/schedule-status")
async def schedule_status(contract_id: str, runtime: Runtime, principal: ContractReader) -> dict[str, Any]:
    """Harmonogram spłaty: each instalment of the current schedule with its invoice and state
    (paid, open, overdue, not_invoiced)."""
    return await queries.schedule_status(runtime.documents, principal, contract_id, today(runtime))


@client.get("/contracts/{contract_id}/schedule.pdf", response_class=Response)
async def schedule_pdf(contract_id: str, runtime: Runtime, principal: ContractReader) -> Response:
    schedule = await queries.schedule_status(runtime.documents, principal, contract_id, today(runtime))
    content = await asyncio.to_thread(pdfs.schedule_pdf, schedule, settings_of(runtime).issuer_name)
    return _pdf(content, f"harmonogram-{schedule['contract_number']}")


@client.get("/settlement-statement.pdf", response_class=Response)
async def settlement_statement(runtime: Runtime, principal: InvoiceReader) -> Response:
    """The client's settlement statement: invoices, payments and the balance, as of today."""
    data = await queries.statement(runtime.documents, principal, today(runtime))
    contracts = await runtime.documents.find(CONTRACTS, {"client_id": principal.client_id}, limit=1)
    name = contracts[0].get("client_name", principal.client_id) if contracts else principal.client_id
    content = await asyncio.to_thread(pdfs.statement_pdf, data, name, settings_of(runtime).issuer_name)
    return _pdf(content, f"zestawienie-rozliczen-{data['today']}")


@client.get("/interest-notes")
async def list_interest_notes(
    runtime: Runtime,
    principal: InvoiceReader,
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Noty odsetkowe: interest notes for late payment, newest first."""
    return (await queries.list_interest_notes(runtime.documents, principal, contract_id, limit, offset)).body()


@client.get("/documents")
async def list_documents(
    runtime: Runtime,
    principal: DocumentReader,
    kind: DocumentKind | None = None,
    contract_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Dokumenty: the documents published to the client, newest first."""
    return (await queries.list_documents(runtime.documents, principal, kind, contract_id, limit, offset)).body()


@client.get("/documents/{document_id}/download", response_class=Response)
async def download_document(document_id: str, runtime: Runtime, principal: DocumentReader, blobs: Blobs) -> Response:
    doc = principal.owned(await runtime.documents.get(DOCUMENTS, document_id), "document")
    try:
        content = await blobs.get(doc["file"]["key"])
    except BlobNotFound:
        log.error("document_file_missing", document_id=document_id, key=doc["file"]["key"])
        raise NotFound("document_file_missing", "the document's file is missing") from None
    return _pdf(content, doc["title"])
