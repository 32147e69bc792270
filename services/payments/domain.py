"""Payments' domain, pure decide/evolve: no I/O, no clock (times come in the commands).

One aggregate, the client's payment desk (`payments-desk-<client_id>`), holds every online payment
of a client. Being one consistency boundary, it can lock invoices for sure: two starts racing for
the same invoice append against the same stream version, and the loser decides again and sees the
lock.

A payment's status (the client zone's five):
- not_started: the payment is registered and its gateway order created (or being created); the
  person has not begun paying. Starting the very same invoices again resumes it (same order).
- in_progress: the gateway says the person began paying; the invoices are locked (a start is 409).
- accepted: the gateway confirmed the money; billing settles the invoices.
- failed: the gateway ended the order without money; the person may start a new payment.
- unavailable: the gateway could not take the order (down, circuit breaker open, refused).

A status never goes back: each has a rank, and only a gateway status of a higher rank moves it.
A verified COMPLETED is accepted even after failed or unavailable: money taken is never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

from libs.events import Aggregate, Conflict, DomainEvent, Invalid, NotFound
from libs.events.schemas.payments import (
    CancelReason,
    GatewayName,
    GatewayNotificationRejected,
    GatewayStatus,
    PaidInvoice,
    PaymentAccepted,
    PaymentCancelled,
    PaymentFailed,
    PaymentInProgress,
    PaymentOrderCreated,
    PaymentStarted,
    RejectReason,
)

StatusCode = Literal["not_started", "in_progress", "accepted", "failed", "unavailable"]

RANK: Final[Mapping[StatusCode, int]] = {
    "not_started": 0,
    "in_progress": 1,
    "failed": 2,
    "unavailable": 2,
    "accepted": 3,
}
ACTIVE: Final = frozenset({"not_started", "in_progress"})
ZERO = Decimal("0.00")
MAX_INVOICES = 50


def reference_for(client_id: str, payment_id: str) -> str:
    """Our reference of a payment at the gateway (PayU's extOrderId): it names the desk to load."""
    return f"{client_id}:{payment_id}"


def parse_reference(reference: str) -> tuple[str, str] | None:
    """(client_id, payment_id) of a reference, or None if it is not one of ours."""
    client_id, sep, payment_id = reference.rpartition(":")
    if not sep or not client_id or not payment_id:
        return None
    return client_id, payment_id


# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    started: PaymentStarted
    status: StatusCode = "not_started"
    gateway_order_id: str | None = None
    redirect_url: str | None = None

    @property
    def payment_id(self) -> str:
        return self.started.payment_id

    @property
    def invoice_ids(self) -> frozenset[str]:
        return frozenset(self.started.invoice_ids)


@dataclass(frozen=True)
class Desk:
    client_id: str | None = None
    payments: Mapping[str, Payment] = field(default_factory=dict)

    def holding(self, invoice_id: str) -> list[Payment]:
        """Payments of this invoice that are not over for it (active, or accepted and not yet settled)."""
        return [p for p in self.payments.values() if invoice_id in p.invoice_ids and p.status in (*ACTIVE, "accepted")]

    def resumable(self, invoice_ids: frozenset[str]) -> Payment | None:
        """The not-started payment of exactly these invoices, with its order, that a new start resumes."""
        for payment in self.payments.values():
            if payment.status == "not_started" and payment.redirect_url and payment.invoice_ids == invoice_ids:
                return payment
        return None


# --- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceToPay:
    """An open invoice of the client as payments' read model knows it."""

    invoice_id: str
    number: str
    outstanding: Decimal
    currency: str
    contract_id: str | None = None
    settled_by: frozenset[str] = frozenset()
    """Payments billing has already settled on this invoice (their lock is over)."""


@dataclass(frozen=True)
class StartPayment:
    payment_id: str
    client_id: str
    invoices: tuple[InvoiceToPay, ...]
    gateway: GatewayName
    started_by: str
    started_at: datetime
    return_url: str | None = None
    order_timeout: timedelta = timedelta(minutes=2)
    """A payment still without a gateway order after this long is taken as never created."""


@dataclass(frozen=True)
class RecordOrder:
    payment_id: str
    gateway_order_id: str
    redirect_url: str


@dataclass(frozen=True)
class CancelPayment:
    payment_id: str
    reason: CancelReason
    detail: str
    at: datetime


@dataclass(frozen=True)
class GatewayOrder:
    """An order as a gateway reports it, in the portal's words (the adapter maps the gateway's)."""

    order_id: str
    reference: str
    status: GatewayStatus
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class ApplyGatewayOrder:
    """A notification whose signature held, with the order fetched back from the gateway."""

    payment_id: str
    gateway: GatewayName
    notified: GatewayOrder
    fetched: GatewayOrder
    body_sha256: str
    received_at: datetime


Command = StartPayment | RecordOrder | CancelPayment | ApplyGatewayOrder


class PaymentLocked(Conflict):
    """A start refused because an invoice is held by another payment (answered 409)."""

    def __init__(self, code: str, detail: str, payment: Payment) -> None:
        super().__init__(code, detail, field="invoice_ids")
        self.payment = payment


# --- decide --------------------------------------------------------------------------------------


def _start(desk: Desk, command: StartPayment) -> list[DomainEvent]:
    if command.payment_id in desk.payments:
        return []  # started already: the caller finds it in the state
    invoices = command.invoices
    ids = [invoice.invoice_id for invoice in invoices]
    if not invoices:
        raise Invalid("invoices_required", "choose at least one invoice", field="invoice_ids")
    if len(ids) > MAX_INVOICES:
        raise Invalid("too_many_invoices", f"at most {MAX_INVOICES} invoices in one payment", field="invoice_ids")
    if len(set(ids)) != len(ids):
        raise Invalid("duplicate_invoices", "an invoice is named twice", field="invoice_ids")
    currencies = {invoice.currency for invoice in invoices}
    if len(currencies) != 1:
        raise Invalid("mixed_currencies", "invoices in different currencies are paid separately", field="invoice_ids")
    for invoice in invoices:
        if invoice.outstanding <= 0:
            raise Conflict("invoice_already_paid", f"invoice {invoice.number} is already paid", field="invoice_ids")

    wanted = frozenset(ids)
    resumable = desk.resumable(wanted)
    if resumable is not None and resumable.started.amount == sum((i.outstanding for i in invoices), ZERO):
        return []  # the same invoices again while their order waits: the caller resumes it
    events: list[DomainEvent] = []
    by_id = {invoice.invoice_id: invoice for invoice in invoices}
    stale: dict[str, Payment] = {}
    for invoice_id in ids:
        for payment in desk.holding(invoice_id):
            if payment.status == "accepted":
                if payment.payment_id in by_id[invoice_id].settled_by:
                    continue
                raise PaymentLocked(
                    "payment_accepted", "a payment of this invoice was accepted and is being settled", payment
                )
            if payment.status == "in_progress":
                raise PaymentLocked("payment_in_progress", "a payment of this invoice is in progress", payment)
            if payment.gateway_order_id is None:
                if command.started_at - payment.started.started_at < command.order_timeout:
                    raise PaymentLocked(
                        "payment_being_created", "a payment of this invoice is being created; try again", payment
                    )
                stale[payment.payment_id] = payment
                continue
            raise PaymentLocked("payment_not_started", "another payment of this invoice waits to be started", payment)
    for payment in stale.values():
        events.append(
            PaymentCancelled(
                payment_id=payment.payment_id,
                client_id=command.client_id,
                invoice_ids=payment.started.invoice_ids,
                gateway=payment.started.gateway,
                reason="order_not_created",
                detail="no gateway order was recorded in time; superseded by a new payment",
                cancelled_at=command.started_at,
            )
        )
    paid = tuple(
        PaidInvoice(invoice_id=i.invoice_id, number=i.number, amount=i.outstanding, contract_id=i.contract_id)
        for i in invoices
    )
    events.append(
        PaymentStarted(
            payment_id=command.payment_id,
            client_id=command.client_id,
            invoices=paid,
            invoice_ids=tuple(ids),
            amount=sum((i.outstanding for i in invoices), ZERO),
            currency=invoices[0].currency,
            gateway=command.gateway,
            reference=reference_for(command.client_id, command.payment_id),
            started_by=command.started_by,
            started_at=command.started_at,
            return_url=command.return_url,
        )
    )
    return events


def _payment(desk: Desk, payment_id: str) -> Payment:
    payment = desk.payments.get(payment_id)
    if payment is None:
        raise NotFound("payment_not_found", "no such payment")
    return payment


def _record_order(desk: Desk, command: RecordOrder) -> list[DomainEvent]:
    payment = _payment(desk, command.payment_id)
    if payment.gateway_order_id == command.gateway_order_id and payment.redirect_url == command.redirect_url:
        return []
    if payment.gateway_order_id is not None and payment.gateway_order_id != command.gateway_order_id:
        raise Conflict("order_already_recorded", "the payment has another gateway order")
    return [
        PaymentOrderCreated(
            payment_id=payment.payment_id,
            client_id=payment.started.client_id,
            gateway=payment.started.gateway,
            gateway_order_id=command.gateway_order_id,
            redirect_url=command.redirect_url,
        )
    ]


def _cancel(desk: Desk, command: CancelPayment) -> list[DomainEvent]:
    payment = _payment(desk, command.payment_id)
    if payment.status != "not_started" or payment.gateway_order_id is not None:
        return []  # the gateway knows it: only the gateway ends it now
    return [
        PaymentCancelled(
            payment_id=payment.payment_id,
            client_id=payment.started.client_id,
            invoice_ids=payment.started.invoice_ids,
            gateway=payment.started.gateway,
            reason=command.reason,
            detail=command.detail[:500],
            cancelled_at=command.at,
        )
    ]


def mismatch(payment: Payment, notified: GatewayOrder, fetched: GatewayOrder) -> tuple[RejectReason, str] | None:
    """Why a notification and the order fetched back cannot be the payment's, or None if they agree."""
    started = payment.started
    if payment.gateway_order_id is not None and fetched.order_id != payment.gateway_order_id:
        return "order_mismatch", "the fetched order is not the payment's order"
    if fetched.order_id != notified.order_id:
        return "order_mismatch", "the fetched order is not the notified one"
    if fetched.reference != started.reference or notified.reference != started.reference:
        return "order_mismatch", "the order's reference is not the payment's"
    if notified.currency != started.currency or fetched.currency != started.currency:
        return "currency_mismatch", f"the payment is in {started.currency}"
    if notified.amount != started.amount or fetched.amount != started.amount:
        return "amount_mismatch", f"the payment is of {started.amount} {started.currency}"
    return None


def _apply(desk: Desk, command: ApplyGatewayOrder) -> list[DomainEvent]:
    payment = _payment(desk, command.payment_id)
    started = payment.started
    refused = mismatch(payment, command.notified, command.fetched)
    if refused is not None:
        reason, detail = refused
        notified = command.notified
        return [
            GatewayNotificationRejected(
                gateway=command.gateway,
                reason=reason,
                detail=detail,
                payment_id=payment.payment_id,
                client_id=started.client_id,
                claimed_order_id=notified.order_id[:100],
                claimed_status=notified.status,
                claimed_amount=notified.amount if notified.amount.is_finite() else None,
                claimed_currency=notified.currency[:3],
                expected_amount=started.amount,
                expected_currency=started.currency,
                body_sha256=command.body_sha256,
                received_at=command.received_at,
            )
        ]
    order_id = command.fetched.order_id
    status = command.fetched.status
    current = RANK[payment.status]
    if status in ("pending", "awaiting_capture") and current < RANK["in_progress"]:
        return [
            PaymentInProgress(
                payment_id=payment.payment_id,
                client_id=started.client_id,
                invoice_ids=started.invoice_ids,
                gateway=started.gateway,
                gateway_order_id=order_id,
                gateway_status="pending" if status == "pending" else "awaiting_capture",
                at=command.received_at,
            )
        ]
    if status == "completed" and current < RANK["accepted"]:
        return [
            PaymentAccepted(
                payment_id=payment.payment_id,
                client_id=started.client_id,
                invoices=started.invoices,
                invoice_ids=started.invoice_ids,
                amount=started.amount,
                currency=started.currency,
                gateway=started.gateway,
                gateway_order_id=order_id,
                started_by=started.started_by,
                accepted_at=command.received_at,
            )
        ]
    if status == "canceled" and current < RANK["failed"]:
        return [
            PaymentFailed(
                payment_id=payment.payment_id,
                client_id=started.client_id,
                invoices=started.invoices,
                invoice_ids=started.invoice_ids,
                amount=started.amount,
                currency=started.currency,
                gateway=started.gateway,
                gateway_order_id=order_id,
                started_by=started.started_by,
                reason="canceled_at_gateway",
                failed_at=command.received_at,
            )
        ]
    return []  # NEW, a duplicate, or a late status of a lower rank: nothing changes


def decide(desk: Desk, command: Command) -> Sequence[DomainEvent]:
    match command:
        case StartPayment():
            return _start(desk, command)
        case RecordOrder():
            return _record_order(desk, command)
        case CancelPayment():
            return _cancel(desk, command)
        case ApplyGatewayOrder():
            return _apply(desk, command)
    raise TypeError(f"unknown command {command!r}")


# --- evolve --------------------------------------------------------------------------------------


def _moved(
    desk: Desk,
    payment_id: str,
    status: StatusCode | None = None,
    order_id: str | None = None,
    redirect_url: str | None = None,
) -> Desk:
    payment = desk.payments.get(payment_id)
    if payment is None:
        return desk
    if status is not None and RANK[status] > RANK[payment.status]:
        payment = replace(payment, status=status)
    if order_id is not None:
        payment = replace(payment, gateway_order_id=order_id)
    if redirect_url is not None:
        payment = replace(payment, redirect_url=redirect_url)
    return replace(desk, payments={**desk.payments, payment_id: payment})


def evolve(desk: Desk, event: DomainEvent) -> Desk:
    match event:
        case PaymentStarted():
            payments = {**desk.payments, event.payment_id: Payment(event)}
            return replace(desk, client_id=event.client_id, payments=payments)
        case PaymentOrderCreated():
            return _moved(desk, event.payment_id, order_id=event.gateway_order_id, redirect_url=event.redirect_url)
        case PaymentInProgress():
            return _moved(desk, event.payment_id, "in_progress", event.gateway_order_id)
        case PaymentAccepted():
            return _moved(desk, event.payment_id, "accepted", event.gateway_order_id)
        case PaymentFailed():
            return _moved(desk, event.payment_id, "failed", event.gateway_order_id)
        case PaymentCancelled():
            return _moved(desk, event.payment_id, "unavailable")
    return desk


desk = Aggregate[Desk, Command](category="payments-desk", initial=Desk, decide=decide, evolve=evolve)
