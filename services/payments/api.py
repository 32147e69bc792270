"""HTTP API of the payments service (mounted at /api/payments).

Client zone (access token of the active client):
- POST /payments {invoice_ids, return_url?} + Idempotency-Key (required): start paying open
  invoices (scope payments:create). 201 with the redirect URL; 200 when the same key is repeated or
  a waiting order of the very same invoices is resumed; 404 for an invoice that is not the active
  client's; 409 while a payment holds an invoice; 503 when the gateway is unavailable.
- GET /payments/{payment_id}, GET /payments?limit&offset: status of the client's payments.
- POST /payments/{payment_id}/refresh: ask the gateway now (a late or lost notification).
- GET /invoices/status?ids=...: the payment status of each invoice, for the "Zapłać" button.
- GET /availability: whether online payment is possible now.
Reading needs payments:create or invoices:read.

Gateway: POST /gateway/payu/notify (no client auth; the signature is checked).
Back office: GET /backoffice/rejections: refused gateway notifications.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from libs.events.access import Principal
from libs.events.docstore import Document, Sort
from libs.events.errors import DomainError, Forbidden, NotFound
from libs.events.projection import public
from libs.events.service.access import Authenticated, require_scope
from libs.events.service.auth import BackOffice
from libs.events.service.deps import Runtime
from libs.events.service.problems import PROBLEM_JSON, problem
from services.payments.domain import Payment, PaymentLocked
from services.payments.flows import PaymentsUnavailable, receive_notification, refresh_payment, start_payment
from services.payments.gateway import PaymentsDep
from services.payments.projections import INVOICES, PAYMENTS, REJECTIONS
from services.payments.statuses import status_view
from services.payments.views import invoice_status, payment_doc, payment_view

MAX_NOTIFICATION_BYTES = 64 * 1024
Payer = Annotated[Principal, Depends(require_scope("payments:create"))]
InvoiceId = Annotated[str, Field(min_length=1, max_length=100)]


async def _viewer(principal: Authenticated) -> Principal:
    if not principal.scopes & {"payments:create", "invoices:read"}:
        raise Forbidden("scope_required", "this needs the permission 'payments:create' or 'invoices:read'")
    return principal


Viewer = Annotated[Principal, Depends(_viewer)]


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_ids: list[InvoiceId] = Field(min_length=1, max_length=50)
    return_url: str | None = Field(default=None, max_length=2000)
    """A page of the portal to come back to; the gateway appends nothing, we add ?payment=<id>."""


def payment_problem(
    status: int,
    code: str,
    detail: str,
    request: Request,
    payment_status: str,
    payment: Payment | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """problem+json with the client zone's status (code, Polish and English texts) and the payment."""
    body: dict[str, Any] = json.loads(bytes(problem(status, code, detail, request).body))
    body["payment_status"] = status_view(payment_status)
    if payment is not None:
        body["payment"] = payment_view(payment_doc(payment))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _visible(principal: Principal, doc: Document | None) -> Document:
    """The payment if it is the active client's and each of its invoices' contracts is allowed; 404 otherwise."""
    if (
        doc is None
        or doc.get("client_id") != principal.client_id
        or not all(principal.may_see_contract(invoice.get("contract_id")) for invoice in doc.get("invoices", []))
    ):
        raise NotFound("payment_not_found", "no such payment")
    return doc


client = APIRouter(tags=["payments"])


@client.post("/payments", status_code=201, response_model=None)
async def start(
    body: StartIn,
    request: Request,
    response: Response,
    runtime: Runtime,
    payments: PaymentsDep,
    principal: Payer,
    idempotency_key: Annotated[str | None, Header(min_length=8, max_length=128)] = None,
) -> dict[str, Any] | JSONResponse:
    """Starts paying the chosen open invoices; answers the gateway's page to send the person to."""
    if not idempotency_key:
        raise DomainError(
            "idempotency_key_required",
            "send an Idempotency-Key header (a new UUID per payment attempt)",
            field="Idempotency-Key",
        )
    try:
        outcome = await start_payment(
            runtime, payments, principal, body.invoice_ids, body.return_url, idempotency_key, request
        )
    except PaymentsUnavailable as error:
        return payment_problem(
            503, "payments_unavailable", error.detail, request, "unavailable", error.payment, {"Retry-After": "30"}
        )
    except PaymentLocked as error:
        return payment_problem(409, error.code, error.detail, request, error.payment.status, error.payment)
    if not outcome.created:
        response.status_code = 200
    return {**payment_view(payment_doc(outcome.payment)), "resumed": not outcome.created}


@client.get("/payments/{payment_id}")
async def get_payment(payment_id: str, runtime: Runtime, principal: Viewer) -> dict[str, Any]:
    doc = _visible(principal, await runtime.documents.get(PAYMENTS, payment_id))
    return payment_view(doc)


@client.post("/payments/{payment_id}/refresh", response_model=None)
async def refresh(
    payment_id: str, request: Request, runtime: Runtime, payments: PaymentsDep, principal: Viewer
) -> dict[str, Any] | JSONResponse:
    """Asks the gateway for the payment's current status now (when a notification is late)."""
    _visible(principal, await runtime.documents.get(PAYMENTS, payment_id))
    try:
        payment = await refresh_payment(runtime, payments, principal, payment_id, request)
    except PaymentsUnavailable as error:
        return payment_problem(
            503, "payments_unavailable", error.detail, request, "unavailable", error.payment, {"Retry-After": "30"}
        )
    return payment_view(payment_doc(payment))


@client.get("/payments")
async def list_payments(
    runtime: Runtime,
    principal: Viewer,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The active client's payments, newest first."""
    where = {"client_id": principal.client_id}
    newest: Sort = [("started_at", -1)]
    if principal.contract_ids is None:
        total = await runtime.documents.count(PAYMENTS, where)
        docs = await runtime.documents.find(PAYMENTS, where, newest, limit=limit, skip=offset)
    else:  # contract-limited: filter first, then page
        every = await runtime.documents.find(PAYMENTS, where, newest)
        allowed = [doc for doc in every if _allowed(principal, doc)]
        total, docs = len(allowed), allowed[offset : offset + limit]
    return {"items": [payment_view(doc) for doc in docs], "total": total, "limit": limit, "offset": offset}


def _allowed(principal: Principal, doc: Document) -> bool:
    try:
        _visible(principal, doc)
    except NotFound:
        return False
    return True


@client.get("/invoices/status")
async def invoices_status(
    runtime: Runtime,
    payments: PaymentsDep,
    principal: Viewer,
    ids: Annotated[list[str], Query(min_length=1, max_length=100)],
) -> dict[str, Any]:
    """The payment status of each invoice (repeat ids or separate them with commas)."""
    wanted = list(dict.fromkeys(part.strip() for value in ids for part in value.split(",") if part.strip()))
    docs = await runtime.documents.get_many(INVOICES, wanted)
    available = payments.gateway.available
    items = []
    for invoice_id in wanted:
        doc = docs.get(invoice_id)
        items.append(invoice_status(principal.owned(doc if doc and "number" in doc else None, "invoice"), available))
    return {"available": available, "invoices": items}


@client.get("/availability")
async def availability(payments: PaymentsDep, _: Viewer) -> dict[str, Any]:
    """Whether online payment is possible now ("unavailable" while the gateway's breaker is open)."""
    available = payments.gateway.available
    return {"available": available, "status": None if available else status_view("unavailable")}


gateway = APIRouter(prefix="/gateway", tags=["gateway"])


@gateway.post("/payu/notify", response_model=None)
async def payu_notify(request: Request, runtime: Runtime, payments: PaymentsDep) -> dict[str, str] | JSONResponse:
    """PayU's notification: signature checked over the raw body, order fetched back, 200 when taken."""
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        return problem(413, "notification_too_large", "a notification is at most 64 KiB", request)
    outcome = await receive_notification(runtime, payments, body, request.headers, request)
    if outcome.status == 200:
        return {"status": "ok"}
    headers = {"Retry-After": "30"} if outcome.status == 503 else None
    return problem(outcome.status, outcome.code, outcome.detail, request, headers=headers)


backoffice = APIRouter(prefix="/backoffice", tags=["back office"])


@backoffice.get("/rejections")
async def rejections(
    runtime: Runtime, _: BackOffice, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """Refused gateway notifications, newest first (reason, claimed ids, body hash; never the body)."""
    docs = await runtime.documents.find(REJECTIONS, None, [("received_at", -1)], limit=limit)
    return [public(doc) for doc in docs]
