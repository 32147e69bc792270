"""Events published by the payments service (topic leasing.payments.events).

All events of one client's online payments live in its payment desk stream
(`payments-desk-<client_id>`): one consistency boundary, so two payments can never lock the same
invoice. A payment goes

    PaymentStarted -> PaymentOrderCreated -> PaymentInProgress -> PaymentAccepted | PaymentFailed
                                          \\-> PaymentCancelled (the gateway could not take the order)

and never goes back (a late PENDING after COMPLETED changes nothing). Amounts are Decimal złoty
(grosze exact); the gateway's integer grosze never leave its adapter.

What others do with them:
- billing, on PaymentAccepted: records PaymentReceived(payment_id=<payment_id>, source="online",
  invoice_ids=<invoice_ids>, amount, currency, received_on=<accepted_at in Europe/Warsaw>), which
  settles the chosen invoices; an amount above what they still owe becomes an overpayment.
- notifications, on PaymentAccepted / PaymentFailed: a confirmation / failure e-mail to the person
  who paid (`started_by`, an identity account id), naming the invoice numbers and the amount.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.events.envelope import DomainEvent
from libs.events.registry import registry
from libs.events.schemas.common import Currency, Money

GatewayName = Literal["payu"]
"""The gateways payments speaks to; "przelewy24" joins when its adapter does."""

GatewayStatus = Literal["new", "pending", "awaiting_capture", "completed", "canceled"]
"""A gateway order's status in the portal's own words (each adapter maps its gateway's statuses):
PayU NEW, PENDING, WAITING_FOR_CONFIRMATION, COMPLETED, CANCELED."""

CancelReason = Literal["gateway_unavailable", "order_rejected", "order_not_created"]
"""Why a payment ended without reaching the gateway: the gateway was down (or its circuit breaker
open), it refused the order, or the order was never created (superseded by a new start)."""

FailReason = Literal["canceled_at_gateway"]

RejectReason = Literal[
    "bad_signature",  # missing, malformed or wrong OpenPayu-Signature
    "malformed",  # signed, but not a notification we can read
    "unknown_order",  # signed, but about no payment of ours
    "order_mismatch",  # the fetched order is not the payment's (order id or reference differ)
    "amount_mismatch",  # the notification or the fetched order disagrees with the payment's amount
    "currency_mismatch",  # ... or currency
]


class PaidInvoice(BaseModel):
    """An invoice a payment pays: what it still owed when the payment started."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_id: str
    number: str
    amount: Money
    contract_id: str | None = None


@registry.register
class PaymentStarted(DomainEvent):
    """A person chose to pay these invoices online; the gateway order is created next."""

    event_type = "PaymentStarted"
    schema_version = 1

    payment_id: str
    client_id: str
    invoices: tuple[PaidInvoice, ...] = Field(min_length=1)
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    amount: Money
    """The invoices' outstanding total at the start."""
    currency: Currency
    gateway: GatewayName
    reference: str
    """Our reference at the gateway (PayU extOrderId): `<client_id>:<payment_id>`."""
    started_by: str
    """The identity account id of the person who started it."""
    started_at: AwareDatetime
    return_url: str | None = None


@registry.register
class PaymentOrderCreated(DomainEvent):
    """The gateway took the order; the person is sent to `redirect_url` to pay (status: not started)."""

    event_type = "PaymentOrderCreated"
    schema_version = 1

    payment_id: str
    client_id: str
    gateway: GatewayName
    gateway_order_id: str
    redirect_url: str


@registry.register
class PaymentInProgress(DomainEvent):
    """The gateway says the person began paying: the invoices' pay action stays locked."""

    event_type = "PaymentInProgress"
    schema_version = 1

    payment_id: str
    client_id: str
    invoice_ids: tuple[str, ...]
    gateway: GatewayName
    gateway_order_id: str
    gateway_status: Literal["pending", "awaiting_capture"]
    at: AwareDatetime


@registry.register
class PaymentAccepted(DomainEvent):
    """The gateway confirmed the money (checked against the fetched order): billing settles the invoices."""

    event_type = "PaymentAccepted"
    schema_version = 1

    payment_id: str
    client_id: str
    invoices: tuple[PaidInvoice, ...]
    invoice_ids: tuple[str, ...]
    amount: Money
    currency: Currency
    gateway: GatewayName
    gateway_order_id: str
    started_by: str
    """The identity account id of the person who paid (notifications e-mails it)."""
    accepted_at: AwareDatetime


@registry.register
class PaymentFailed(DomainEvent):
    """The gateway ended the order without money (refused, abandoned, expired): the person may try again."""

    event_type = "PaymentFailed"
    schema_version = 1

    payment_id: str
    client_id: str
    invoices: tuple[PaidInvoice, ...]
    invoice_ids: tuple[str, ...]
    amount: Money
    currency: Currency
    gateway: GatewayName
    gateway_order_id: str
    started_by: str
    reason: FailReason
    failed_at: AwareDatetime


@registry.register
class PaymentCancelled(DomainEvent):
    """The payment ended before the gateway had an order for it; nothing was paid."""

    event_type = "PaymentCancelled"
    schema_version = 1

    payment_id: str
    client_id: str
    invoice_ids: tuple[str, ...]
    gateway: GatewayName
    reason: CancelReason
    detail: str = ""
    """What went wrong, for operators (never a secret or a gateway credential)."""
    cancelled_at: AwareDatetime


@registry.register
class GatewayNotificationRejected(DomainEvent):
    """A gateway notification refused (answered 4xx) and changing nothing, kept for the audit trail.

    With a valid signature it is recorded in the payment's desk stream; otherwise nothing in it can
    be trusted and it goes to `payments-rejected-<yyyy-mm-dd>`, the claimed ids marked as claimed.
    """

    event_type = "GatewayNotificationRejected"
    schema_version = 1

    gateway: GatewayName
    reason: RejectReason
    detail: str
    payment_id: str | None = None
    client_id: str | None = None
    claimed_order_id: str | None = None
    claimed_status: str | None = None
    claimed_amount: Money | None = None
    claimed_currency: str | None = None
    expected_amount: Money | None = None
    expected_currency: str | None = None
    body_sha256: str
    """Identifies the notification's body without keeping it."""
    received_at: AwareDatetime
