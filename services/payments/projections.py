"""Payments' read models, pure folds.

- `payments_invoices`: billing's invoices as payments needs them (client, number, what is still
  owed, which payments settled them) and the status of each payment started for them.
- `payments`: one document per payment, its status folded by rank (a late, lower status changes
  nothing here either).
- `payments_rejections`: refused gateway notifications, for operators.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.events.docstore import Collection, Document, Index
from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.projection import Projection
from libs.events.schemas.billing import InvoiceIssued, InvoiceSettled
from libs.events.schemas.payments import (
    GatewayNotificationRejected,
    PaymentAccepted,
    PaymentCancelled,
    PaymentFailed,
    PaymentInProgress,
    PaymentOrderCreated,
    PaymentStarted,
)
from services.payments.domain import RANK, StatusCode

INVOICES = Collection("payments_invoices", (Index.on("client_id"),))
PAYMENTS = Collection("payments", (Index.on("client_id", "started_at"), Index.on("gateway_order_id")))
REJECTIONS = Collection("payments_rejections", (Index.on("received_at"),))

PAYMENT_EVENTS = (
    PaymentStarted,
    PaymentOrderCreated,
    PaymentInProgress,
    PaymentAccepted,
    PaymentFailed,
    PaymentCancelled,
)


def _status_of(event: DomainEvent) -> StatusCode | None:
    match event:
        case PaymentInProgress():
            return "in_progress"
        case PaymentAccepted():
            return "accepted"
        case PaymentFailed():
            return "failed"
        case PaymentCancelled():
            return "unavailable"
        case PaymentStarted():
            return "not_started"
    return None


_RANKS: dict[str, int] = {str(code): rank for code, rank in RANK.items()}


def _raised(current: str | None, new: StatusCode) -> bool:
    return current is None or _RANKS[new] > _RANKS.get(current, -1)


# --- invoices ------------------------------------------------------------------------------------


def _invoice_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    match event:
        case InvoiceIssued() | InvoiceSettled():
            return [event.invoice_id]
        case PaymentStarted() | PaymentInProgress() | PaymentAccepted() | PaymentFailed() | PaymentCancelled():
            return list(event.invoice_ids)
    return []


def _invoice_fold(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    doc = dict(doc or {"settled_by": [], "payments": {}})
    match event:
        case InvoiceIssued():
            doc.update(
                invoice_id=event.invoice_id,
                client_id=event.client_id,
                contract_id=event.contract_id,
                number=event.number,
                kind=event.kind,
                due_date=event.due_date.isoformat(),
                currency=event.currency,
                gross_total=str(event.gross_total),
                outstanding=str(max(event.gross_total, Decimal("0.00"))),
            )
        case InvoiceSettled():
            doc.update(invoice_id=event.invoice_id, client_id=event.client_id, outstanding=str(event.outstanding))
            doc["settled_by"] = sorted({*doc.get("settled_by", []), event.payment_id})
        case _:
            status = _status_of(event)
            payment_id: str = getattr(event, "payment_id", "")
            if status is not None and payment_id:
                payments: dict[str, Any] = dict(doc.get("payments", {}))
                entry = dict(payments.get(payment_id, {}))
                if isinstance(event, PaymentStarted):
                    entry["started_at"] = event.started_at.isoformat()
                if _raised(entry.get("status"), status):
                    entry["status"] = status
                entry.setdefault("status", status)
                entry.setdefault("started_at", recorded.occurred_at.isoformat())
                payments[payment_id] = entry
                doc["payments"] = payments
    return doc


invoices_projection = Projection(
    name="invoices",
    collection=INVOICES,
    sources=("billing", "payments"),
    handles=frozenset({InvoiceIssued.event_type, InvoiceSettled.event_type, *(e.event_type for e in PAYMENT_EVENTS)}),
    keys=_invoice_keys,
    fold=_invoice_fold,
)


# --- payments ------------------------------------------------------------------------------------


def _payment_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    payment_id = getattr(event, "payment_id", None)
    return [payment_id] if isinstance(payment_id, str) and not isinstance(event, GatewayNotificationRejected) else []


def _payment_fold(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    doc = dict(doc or {"status": None, "history": []})
    at = recorded.occurred_at.isoformat()
    match event:
        case PaymentStarted():
            doc.update(
                payment_id=event.payment_id,
                client_id=event.client_id,
                invoices=[invoice.model_dump(mode="json") for invoice in event.invoices],
                invoice_ids=list(event.invoice_ids),
                amount=str(event.amount),
                currency=event.currency,
                gateway=event.gateway,
                reference=event.reference,
                started_by=event.started_by,
                started_at=event.started_at.isoformat(),
                return_url=event.return_url,
            )
            doc.setdefault("gateway_order_id", None)
            doc.setdefault("redirect_url", None)
        case PaymentOrderCreated():
            doc.update(gateway_order_id=event.gateway_order_id, redirect_url=event.redirect_url)
        case PaymentInProgress():
            doc.update(gateway_order_id=event.gateway_order_id, gateway_status=event.gateway_status)
        case PaymentAccepted():
            doc.update(gateway_order_id=event.gateway_order_id, accepted_at=event.accepted_at.isoformat())
        case PaymentFailed():
            doc.update(gateway_order_id=event.gateway_order_id, failure_reason=event.reason)
        case PaymentCancelled():
            doc.update(cancel_reason=event.reason)
    status = _status_of(event)
    if status is not None and _raised(doc.get("status"), status):
        doc["status"] = status
        doc["updated_at"] = at
        doc["history"] = [*doc.get("history", []), {"status": status, "at": at}]
    return doc


payments_projection = Projection(
    name="payments",
    collection=PAYMENTS,
    sources=("payments",),
    handles=frozenset(e.event_type for e in PAYMENT_EVENTS),
    keys=_payment_keys,
    fold=_payment_fold,
)


# --- rejections ----------------------------------------------------------------------------------


def _rejection_keys(event: DomainEvent, recorded: RecordedEvent) -> list[str]:
    return [str(recorded.event_id)] if isinstance(event, GatewayNotificationRejected) else []


def _rejection_fold(_: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    assert isinstance(event, GatewayNotificationRejected)
    return {**event.model_dump(mode="json"), "received_at": event.received_at.isoformat()}


rejections_projection = Projection(
    name="rejections",
    collection=REJECTIONS,
    sources=("payments",),
    handles=frozenset({GatewayNotificationRejected.event_type}),
    keys=_rejection_keys,
    fold=_rejection_fold,
)

PROJECTIONS = (invoices_projection, payments_projection, rejections_projection)
