"""The two flows that talk to the gateway: starting a payment and receiving a gateway notification.

Start: check the invoices (open, the active client's), record PaymentStarted in the client's desk
(the invoice lock), create the gateway order, record PaymentOrderCreated; if the gateway is down or
its breaker open, record PaymentCancelled and answer 503.

Notification: verify the signature over the raw body; fetch the order back from the gateway; let
the domain compare amount, currency and order with the payment and move the status forward only.
A refused notification is recorded (GatewayNotificationRejected) and answered 4xx.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import structlog
from fastapi import Request

from libs.events.access import Principal
from libs.events.envelope import EventContext, NewEvent
from libs.events.errors import Invalid, NotFound
from libs.events.schemas.payments import (
    CancelReason,
    GatewayName,
    GatewayNotificationRejected,
    PaymentStarted,
    RejectReason,
)
from libs.events.service.deps import event_context
from libs.events.service.runtime import ServiceRuntime
from libs.events.store import ANY_VERSION
from services.payments.domain import (
    ApplyGatewayOrder,
    CancelPayment,
    GatewayOrder,
    InvoiceToPay,
    Payment,
    RecordOrder,
    StartPayment,
    desk,
    parse_reference,
)
from services.payments.gateway import Payments
from services.payments.ports import (
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    OrderLine,
    OrderNotFound,
    OrderRequest,
)
from services.payments.projections import INVOICES

log = structlog.get_logger(__name__)


class PaymentsUnavailable(Exception):
    """The gateway cannot take a payment now: answered 503 with the "unavailable" status."""

    def __init__(self, detail: str, payment: Payment | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.payment = payment


def payment_id_for(client_id: str, account_id: str, idempotency_key: str) -> str:
    """The payment a person's Idempotency-Key names: the same key, the same payment."""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:payment:{client_id}:{account_id}:{idempotency_key}"))


@dataclass(frozen=True)
class Started:
    payment: Payment
    created: bool
    """True when this call created the payment; False when it resumed or repeated one."""


async def _invoices_to_pay(runtime: ServiceRuntime, principal: Principal, ids: list[str]) -> tuple[InvoiceToPay, ...]:
    docs = await runtime.documents.get_many(INVOICES, ids)
    chosen: list[InvoiceToPay] = []
    for invoice_id in ids:
        doc = docs.get(invoice_id)
        doc = principal.owned(doc if doc is not None and "number" in doc else None, "invoice")
        chosen.append(
            InvoiceToPay(
                invoice_id=invoice_id,
                number=doc["number"],
                outstanding=Decimal(doc["outstanding"]),
                currency=doc["currency"],
                contract_id=doc.get("contract_id"),
                settled_by=frozenset(doc.get("settled_by", [])),
            )
        )
    return tuple(chosen)


async def start_payment(
    runtime: ServiceRuntime,
    payments: Payments,
    principal: Principal,
    invoice_ids: list[str],
    return_url: str | None,
    idempotency_key: str,
    request: Request,
) -> Started:
    if return_url is not None and not payments.allowed_return_url(return_url):
        raise Invalid("return_url_not_allowed", "the return address must be a page of the portal", field="return_url")
    invoices = await _invoices_to_pay(runtime, principal, invoice_ids)
    gateway = payments.gateway
    now = runtime.clock()
    command = StartPayment(
        payment_id=payment_id_for(principal.client_id, principal.account_id, idempotency_key),
        client_id=principal.client_id,
        invoices=invoices,
        gateway=gateway.name,
        started_by=principal.account_id,
        started_at=now,
        return_url=return_url,
        order_timeout=timedelta(seconds=payments.settings.order_timeout_seconds),
    )
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    async with payments.locks.hold(principal.client_id):
        if not gateway.available:
            state, _ = await runtime.commands.load(desk, principal.client_id)
            existing = state.payments.get(command.payment_id)
            if existing is not None and existing.invoice_ids == frozenset(invoice_ids):
                return _repeated(existing)
            raise PaymentsUnavailable("the payment gateway is temporarily unavailable")
        decision = await runtime.commands.handle(
            desk,
            principal.client_id,
            command,
            context,
            idempotency_key=f"start:{principal.account_id}:{idempotency_key}",
        )
        started = next((e for e in decision.events if isinstance(e, PaymentStarted)), None)
        if started is None:  # the same invoices again while their order waits: resume it
            resumed = decision.state.resumable(frozenset(invoice_ids))
            if resumed is None:
                raise AssertionError("a start decided nothing yet resumes nothing")
            return Started(resumed, created=False)
        payment = decision.state.payments[started.payment_id]
        if set(started.invoice_ids) != set(invoice_ids):
            raise Invalid(
                "idempotency_key_reused", "this Idempotency-Key was used for other invoices", field="Idempotency-Key"
            )
        fresh = started.started_at == now
        if not fresh:
            return _repeated(payment)
        return await _create_order(runtime, payments, payment, context, request)


def _repeated(payment: Payment) -> Started:
    """A start repeated with its Idempotency-Key: the first call's outcome."""
    if payment.status == "unavailable":
        raise PaymentsUnavailable("the payment gateway was unavailable for this payment", payment)
    return Started(payment, created=False)


async def _create_order(
    runtime: ServiceRuntime, payments: Payments, payment: Payment, context: EventContext, request: Request
) -> Started:
    started = payment.started
    numbers = ", ".join(invoice.number for invoice in started.invoices)
    order = OrderRequest(
        reference=started.reference,
        amount=started.amount,
        currency=started.currency,
        description=f"Strefa Klienta: faktury {numbers}",
        lines=tuple(OrderLine(f"Faktura {invoice.number}", invoice.amount) for invoice in started.invoices),
        buyer_ip=request.client.host if request.client else "127.0.0.1",
        notify_url=payments.notify_url(),
        continue_url=payments.continue_url(started.payment_id, started.return_url),
    )
    client_id = started.client_id
    try:
        created = await payments.gateway.create_order(order)
    except GatewayError as error:
        reason: CancelReason = "order_rejected" if isinstance(error, GatewayRejected) else "gateway_unavailable"
        log.warning("payment_order_not_created", payment_id=started.payment_id, reason=reason, error=str(error))
        cancel = CancelPayment(started.payment_id, reason, str(error), runtime.clock())
        decision = await runtime.commands.handle(desk, client_id, cancel, context)
        raise PaymentsUnavailable(
            "the payment gateway is temporarily unavailable", decision.state.payments[started.payment_id]
        ) from None
    record = RecordOrder(started.payment_id, created.order_id, created.redirect_url)
    decision = await runtime.commands.handle(desk, client_id, record, context)
    log.info("payment_started", payment_id=started.payment_id, order_id=created.order_id, amount=str(started.amount))
    return Started(decision.state.payments[started.payment_id], created=True)


# --- notifications -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    status: int
    code: str
    detail: str


def _claims(body: bytes) -> dict[str, Any]:
    """What an untrusted body claims, cut short, for the audit trail (never the body itself)."""
    try:
        order = json.loads(body).get("order", {})
    except (ValueError, AttributeError):
        return {}
    if not isinstance(order, Mapping):
        return {}

    def text(name: str, limit: int) -> str | None:
        value = order.get(name)
        return str(value)[:limit] if value is not None else None

    return {"claimed_order_id": text("orderId", 100), "claimed_status": text("status", 40)}


async def _record_untrusted(
    runtime: ServiceRuntime,
    gateway: GatewayName,
    reason: RejectReason,
    detail: str,
    digest: str,
    received_at: datetime,
    claims: Mapping[str, Any],
    context: EventContext,
) -> None:
    event = GatewayNotificationRejected(
        gateway=gateway,
        reason=reason,
        detail=detail[:300],
        body_sha256=digest,
        received_at=received_at,
        **claims,
    )
    event_id = uuid5(NAMESPACE_URL, f"urn:strefa:payments:rejected:{gateway}:{digest}:{reason}:{detail}")
    stream = f"payments-rejected-{received_at.date().isoformat()}"
    await runtime.events.append(stream, [NewEvent.from_domain(event, context, event_id)], ANY_VERSION)


def _notification_key(payment_id: str, notified: GatewayOrder, fetched: GatewayOrder) -> str:
    parts = [payment_id]
    for order in (notified, fetched):
        parts += [order.order_id, order.reference, order.status, str(order.amount), order.currency]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def receive_notification(
    runtime: ServiceRuntime, payments: Payments, body: bytes, headers: Mapping[str, str], request: Request
) -> Received:
    gateway = payments.gateway
    digest = hashlib.sha256(body).hexdigest()
    now = runtime.clock()
    context = event_context(request, actor=f"gateway:{gateway.name}")
    try:
        notified = gateway.verify_notification(body, headers)
    except InvalidNotification as error:
        log.warning("gateway_notification_rejected", reason=error.reason, detail=error.detail, body_sha256=digest)
        await _record_untrusted(runtime, gateway.name, error.reason, error.detail, digest, now, _claims(body), context)
        code = "invalid_signature" if error.reason == "bad_signature" else "malformed_notification"
        return Received(400 if error.reason == "malformed" else 401, code, error.detail)
    claims = {"claimed_order_id": notified.order_id, "claimed_status": notified.status}
    reference = parse_reference(notified.reference)
    if reference is None:
        await _record_untrusted(
            runtime, gateway.name, "unknown_order", "the reference is not ours", digest, now, claims, context
        )
        return Received(404, "unknown_order", "the order is not one of ours")
    client_id, payment_id = reference
    try:
        fetched = await gateway.fetch_order(notified.order_id)
    except OrderNotFound:
        await _record_untrusted(
            runtime, gateway.name, "unknown_order", "the gateway has no such order", digest, now, claims, context
        )
        return Received(404, "unknown_order", "the gateway has no such order")
    except (GatewayUnavailable, GatewayRejected) as error:
        log.warning("gateway_order_not_fetched", order_id=notified.order_id, error=str(error))
        return Received(503, "gateway_unavailable", "the order could not be fetched back; send it again later")
    command = ApplyGatewayOrder(payment_id, gateway.name, notified, fetched, digest, now)
    context = context.model_copy(update={"client_id": client_id})
    try:
        async with payments.locks.hold(client_id):
            decision = await runtime.commands.handle(
                desk, client_id, command, context, idempotency_key=_notification_key(payment_id, notified, fetched)
            )
    except NotFound:
        await _record_untrusted(runtime, gateway.name, "unknown_order", "no such payment", digest, now, claims, context)
        return Received(404, "unknown_order", "no such payment")
    for event in decision.events:
        if isinstance(event, GatewayNotificationRejected):
            log.warning("gateway_notification_rejected", reason=event.reason, payment_id=payment_id)
            return Received(422, event.reason, event.detail)
    log.info(
        "gateway_notification_applied",
        payment_id=payment_id,
        gateway_status=fetched.status,
        events=[event.event_type for event in decision.events],
    )
    return Received(200, "ok", "")


async def refresh_payment(
    runtime: ServiceRuntime, payments: Payments, principal: Principal, payment_id: str, request: Request
) -> Payment:
    """Asks the gateway for the order's status and applies it, as a notification would (for a
    notification that never came). The fetched order is checked against the payment the same way."""
    state, _ = await runtime.commands.load(desk, principal.client_id)
    payment = state.payments.get(payment_id)
    if payment is None:
        raise NotFound("payment_not_found", "no such payment")
    if payment.gateway_order_id is None or payment.status not in ("not_started", "in_progress"):
        return payment
    try:
        fetched = await payments.gateway.fetch_order(payment.gateway_order_id)
    except GatewayError as error:
        log.warning("gateway_order_not_fetched", payment_id=payment_id, error=str(error))
        raise PaymentsUnavailable("the payment gateway is temporarily unavailable", payment) from None
    command = ApplyGatewayOrder(payment_id, payments.gateway.name, fetched, fetched, "refresh", runtime.clock())
    context = event_context(request, actor=principal.actor, client_id=principal.client_id)
    async with payments.locks.hold(principal.client_id):
        decision = await runtime.commands.handle(
            desk, principal.client_id, command, context, idempotency_key=_notification_key(payment_id, fetched, fetched)
        )
    return decision.state.payments[payment_id]
