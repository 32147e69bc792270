"""What payments keeps per runtime: its settings and its gateway, guarded by a circuit breaker."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlencode

import structlog
from fastapi import Depends, Request

from libs.events.locks import KeyedLocks
from libs.events.schemas.payments import GatewayName
from libs.events.service.deps import get_runtime
from libs.events.service.runtime import ServiceRuntime
from services.payments.adapters.payu import PayU, PayUConfig
from services.payments.breaker import CircuitBreaker
from services.payments.domain import GatewayOrder
from services.payments.ports import (
    CreatedOrder,
    GatewayUnavailable,
    InvalidNotification,
    OrderRequest,
    PaymentGateway,
)
from services.payments.settings import PaymentsSettings

log = structlog.get_logger(__name__)


class Unconfigured:
    """The gateway when its credentials are missing: every call is "unavailable", every notification refused."""

    def __init__(self, name: GatewayName, reason: str) -> None:
        self.name: GatewayName = name
        self.reason = reason

    async def create_order(self, order: OrderRequest) -> CreatedOrder:
        raise GatewayUnavailable(self.reason)

    async def fetch_order(self, order_id: str) -> GatewayOrder:
        raise GatewayUnavailable(self.reason)

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> GatewayOrder:
        raise InvalidNotification("bad_signature", self.reason)


class GuardedGateway:
    """A gateway whose calls go through a circuit breaker (the port's timeouts are the adapter's)."""

    def __init__(self, gateway: PaymentGateway, breaker: CircuitBreaker) -> None:
        self.inner = gateway
        self.breaker = breaker
        self.name: GatewayName = gateway.name

    @property
    def available(self) -> bool:
        return self.breaker.available

    async def create_order(self, order: OrderRequest) -> CreatedOrder:
        return await self.breaker.call(lambda: self.inner.create_order(order))

    async def fetch_order(self, order_id: str) -> GatewayOrder:
        return await self.breaker.call(lambda: self.inner.fetch_order(order_id))

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> GatewayOrder:
        return self.inner.verify_notification(body, headers)


def build_gateway(settings: PaymentsSettings) -> PaymentGateway:
    credentials = settings.payu_credentials()
    if credentials is None:
        log.warning("payment_gateway_not_configured", gateway="payu")
        return Unconfigured("payu", "PayU needs PAYMENTS_PAYU_POS_ID, _CLIENT_SECRET and _SECOND_KEY")
    pos_id, client_id, secret, second_key = credentials
    log.info("payment_gateway", gateway="payu", url=settings.payu_url, pos_id=pos_id)
    return PayU(
        PayUConfig(
            base_url=settings.payu_url,
            pos_id=pos_id,
            client_id=client_id,
            client_secret=secret,
            second_key=second_key,
            algorithms=frozenset(a.upper() for a in settings.payu_signature_algorithms),
            validity_seconds=settings.payu_validity_seconds,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
    )


class Payments:
    def __init__(self, settings: PaymentsSettings, gateway: PaymentGateway | None = None) -> None:
        self.settings = settings
        breaker = CircuitBreaker(
            f"gateway:{settings.gateway}",
            failure_threshold=settings.breaker_failure_threshold,
            reset_timeout=settings.breaker_reset_seconds,
        )
        self.gateway = GuardedGateway(gateway or build_gateway(settings), breaker)
        self.locks = KeyedLocks()
        """Serializes this process's commands on one desk (optimistic concurrency covers the rest)."""

    def notify_url(self) -> str:
        return f"{self.settings.public_url.rstrip('/')}/api/payments/gateway/{self.gateway.name}/notify"

    def continue_url(self, payment_id: str, return_url: str | None) -> str:
        base = return_url or f"{self.settings.public_url.rstrip('/')}{self.settings.continue_path}"
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{urlencode({'payment': payment_id})}"

    def allowed_return_url(self, url: str) -> bool:
        """Only the portal's own pages: the gateway must never send a person elsewhere (no open redirect)."""
        origin = self.settings.public_url.rstrip("/")
        return url.startswith(f"{origin}/") and "\\" not in url and "@" not in url.split("?")[0]


_contexts: weakref.WeakKeyDictionary[ServiceRuntime, Payments] = weakref.WeakKeyDictionary()


def payments_of(runtime: ServiceRuntime) -> Payments:
    context = _contexts.get(runtime)
    if context is None:
        context = _contexts[runtime] = Payments(PaymentsSettings.of(runtime.settings))
    return context


def use_gateway(runtime: ServiceRuntime, gateway: PaymentGateway) -> Payments:
    """Puts `gateway` (behind a fresh breaker) in a runtime: for tests and other gateways."""
    context = _contexts[runtime] = Payments(PaymentsSettings.of(runtime.settings), gateway)
    return context


async def get_payments(request: Request) -> Payments:
    return payments_of(get_runtime(request))


PaymentsDep = Annotated[Payments, Depends(get_payments)]
