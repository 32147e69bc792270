"""The payment gateway port: what payments needs from any gateway (PayU today, Przelewy24 later).

An adapter speaks its gateway's protocol and maps its statuses to the portal's `GatewayStatus`;
the domain never sees a gateway's own words, grosze integers or credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from libs.events.schemas.payments import GatewayName, RejectReason
from services.payments.domain import GatewayOrder


@dataclass(frozen=True)
class OrderLine:
    name: str
    amount: Decimal


@dataclass(frozen=True)
class OrderRequest:
    reference: str
    """Our reference (PayU extOrderId); unique per order."""
    amount: Decimal
    currency: str
    description: str
    lines: tuple[OrderLine, ...]
    buyer_ip: str
    notify_url: str
    continue_url: str


@dataclass(frozen=True)
class CreatedOrder:
    order_id: str
    redirect_url: str


class GatewayError(Exception):
    """Base of what a gateway call may raise. Messages never carry credentials."""


class GatewayUnavailable(GatewayError):
    """Down, timing out, answering 5xx, or its circuit breaker open: try again later."""


class GatewayRejected(GatewayError):
    """The gateway refused the request (4xx): a configuration or data problem, not an outage."""


class OrderNotFound(GatewayRejected):
    """The gateway has no such order."""


class InvalidNotification(GatewayError):
    """A notification that is not to be believed: refused with a 4xx and recorded."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class PaymentGateway(Protocol):
    name: GatewayName

    async def create_order(self, order: OrderRequest) -> CreatedOrder:
        """Creates the order; the person pays at `redirect_url`."""

    async def fetch_order(self, order_id: str) -> GatewayOrder:
        """The order as the gateway has it now: the truth a notification is checked against."""

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> GatewayOrder:
        """The order a notification claims, if its signature over the raw body holds; else InvalidNotification."""
