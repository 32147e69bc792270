"""What the API answers: payments and invoices with their status in the client zone's words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.events.docstore import Document
from services.payments.domain import Payment
from services.payments.statuses import status_view


def payment_doc(payment: Payment) -> Document:
    """A payment from the desk's state, shaped like its read-model document."""
    started = payment.started
    return {
        "payment_id": started.payment_id,
        "client_id": started.client_id,
        "invoices": [invoice.model_dump(mode="json") for invoice in started.invoices],
        "invoice_ids": list(started.invoice_ids),
        "amount": str(started.amount),
        "currency": started.currency,
        "gateway": started.gateway,
        "gateway_order_id": payment.gateway_order_id,
        "redirect_url": payment.redirect_url,
        "started_at": started.started_at.isoformat(),
        "status": payment.status,
    }


def payment_view(doc: Document) -> dict[str, Any]:
    status = doc.get("status") or "not_started"
    active = status == "not_started"
    return {
        "payment_id": doc["payment_id"],
        "status": status_view(status),
        "invoices": doc.get("invoices", []),
        "amount": doc.get("amount"),
        "currency": doc.get("currency"),
        "gateway": doc.get("gateway"),
        "redirect_url": doc.get("redirect_url") if active else None,
        "started_at": doc.get("started_at"),
        "updated_at": doc.get("updated_at"),
        "history": doc.get("history", []),
    }


def invoice_status(doc: Document, gateway_available: bool) -> dict[str, Any]:
    """The payment status of one invoice, for its "Zapłać" button.

    paid once billing settled it; in_progress or accepted while a payment holds it; unavailable
    while the gateway is down; otherwise what its latest payment says (failed: try again,
    not_started: start or resume it), not_started when it has none.
    """
    settled_by = set(doc.get("settled_by", []))
    payments: dict[str, dict[str, Any]] = doc.get("payments", {})
    latest = max(payments.items(), key=lambda item: item[1].get("started_at", ""), default=None)
    code = "not_started"
    payment_id: str | None = None
    holding = [
        (pid, p)
        for pid, p in payments.items()
        if p.get("status") == "in_progress" or (p.get("status") == "accepted" and pid not in settled_by)
    ]
    if Decimal(doc.get("outstanding") or "0") <= 0 and not holding:
        code = "paid"
    elif holding:
        in_progress = [item for item in holding if item[1]["status"] == "in_progress"]
        payment_id, entry = (in_progress or holding)[0]
        code = entry["status"]
    elif not gateway_available:
        code = "unavailable"
    elif latest is not None and latest[1].get("status") in ("not_started", "failed"):
        payment_id, code = latest[0], latest[1]["status"]
    return {
        "invoice_id": doc["invoice_id"],
        "number": doc.get("number"),
        "outstanding": doc.get("outstanding"),
        "currency": doc.get("currency"),
        "status": status_view(code),
        "payment_id": payment_id,
        "can_pay": code in ("not_started", "failed"),
    }
