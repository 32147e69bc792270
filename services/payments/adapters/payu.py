"""PayU REST API v2.1 adapter of the gateway port.

- OAuth client credentials: POST /pl/standard/user/oauth/authorize (form grant_type, client_id,
  client_secret); the bearer token is cached until shortly before it expires.
- Create an order: POST /api/v2_1/orders (JSON; totalAmount and unitPrice in grosze as strings);
  PayU answers 302 (or 201/200) with {status.statusCode: SUCCESS, redirectUri, orderId}. Redirects
  are never followed.
- Fetch an order: GET /api/v2_1/orders/{orderId} -> {orders: [order]}.
- Notifications: the header `OpenPayu-Signature: sender=checkout;signature=<hex>;algorithm=MD5;
  content=DOCUMENT` where signature = hash(raw body + second key). Checked over the raw bytes, in
  constant time, before the body is even parsed.

Statuses: NEW -> new, PENDING -> pending, WAITING_FOR_CONFIRMATION -> awaiting_capture (the POS
must have automatic collection on, or the order waits for a capture), COMPLETED -> completed,
CANCELED -> canceled. Grosze integers exist only here; the rest of payments sees Decimal złoty.
Credentials never appear in an exception message or a log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import httpx
import structlog
from pydantic import SecretStr

from libs.events.schemas.payments import GatewayName, GatewayStatus
from services.payments.domain import GatewayOrder
from services.payments.ports import (
    CreatedOrder,
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    OrderNotFound,
    OrderRequest,
)

log = structlog.get_logger(__name__)

AUTHORIZE_PATH: Final = "/pl/standard/user/oauth/authorize"
ORDERS_PATH: Final = "/api/v2_1/orders"
SIGNATURE_HEADERS: Final = ("openpayu-signature", "x-openpayu-signature")

STATUSES: Final[Mapping[str, GatewayStatus]] = {
    "NEW": "new",
    "PENDING": "pending",
    "WAITING_FOR_CONFIRMATION": "awaiting_capture",
    "COMPLETED": "completed",
    "CANCELED": "canceled",
}
ALGORITHMS: Final[Mapping[str, str]] = {"MD5": "md5", "SHA-256": "sha256", "SHA256": "sha256"}


def to_grosze(amount: Decimal) -> int:
    """Złoty to PayU's integer grosze; refuses fractions of a grosz."""
    grosze = amount * 100
    if grosze != grosze.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of grosze")
    return int(grosze)


def from_grosze(value: object) -> Decimal:
    """PayU's grosze (a string of digits, or an int) to Decimal złoty."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("an amount in grosze must be a string of digits")
    text = str(value)
    if not text.isdigit() or not text.isascii():
        raise ValueError("an amount in grosze must be a string of digits")
    return (Decimal(int(text)) / 100).quantize(Decimal("0.01"))


def sign(body: bytes, second_key: str, algorithm: str = "MD5") -> str:
    """The signature PayU puts in OpenPayu-Signature for `body` (the sandbox signs with it too)."""
    return hashlib.new(ALGORITHMS[algorithm.upper()], body + second_key.encode()).hexdigest()


def signature_header(body: bytes, second_key: str, algorithm: str = "MD5") -> str:
    return f"sender=checkout;signature={sign(body, second_key, algorithm)};algorithm={algorithm};content=DOCUMENT"


def parse_signature_header(header: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in header.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    return parts


def parse_order(data: object) -> GatewayOrder:
    """A PayU order document in the portal's words; ValueError if it is not one."""
    if not isinstance(data, Mapping):
        raise ValueError("the order is not an object")
    order_id, reference, status = data.get("orderId"), data.get("extOrderId"), data.get("status")
    currency = data.get("currencyCode")
    if not isinstance(order_id, str) or not order_id or len(order_id) > 100:
        raise ValueError("orderId is missing")
    if not isinstance(reference, str) or not reference:
        raise ValueError("extOrderId is missing")
    if not isinstance(status, str) or status not in STATUSES:
        raise ValueError(f"unknown order status {str(status)[:40]!r}")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError("currencyCode is missing")
    return GatewayOrder(
        order_id=order_id,
        reference=reference,
        status=STATUSES[status],
        amount=from_grosze(data.get("totalAmount")),
        currency=currency.upper(),
    )


@dataclass(frozen=True)
class PayUConfig:
    base_url: str
    pos_id: str
    client_id: str
    client_secret: SecretStr
    second_key: SecretStr
    algorithms: frozenset[str] = frozenset({"MD5", "SHA-256"})
    validity_seconds: int = 1800
    connect_timeout: float = 3.0
    read_timeout: float = 10.0


class PayU:
    name: GatewayName = "payu"

    def __init__(
        self,
        config: PayUConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._transport = transport
        self._clock = clock
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    def _http(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)
        return httpx.AsyncClient(
            base_url=self.config.base_url.rstrip("/"),
            timeout=timeout,
            transport=self._transport,
            follow_redirects=False,
        )

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with self._http() as http:
                response = await http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise GatewayUnavailable(f"payu: {method} {path.split('?')[0]} timed out") from None
        except httpx.TransportError as error:
            raise GatewayUnavailable(f"payu: {method} {path} failed ({type(error).__name__})") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable(f"payu: {method} {path} answered HTTP {response.status_code}")
        return response

    async def _access_token(self) -> str:
        async with self._token_lock:
            if self._token is not None and self._token[1] > self._clock():
                return self._token[0]
            response = await self._send(
                "POST",
                AUTHORIZE_PATH,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.config.client_id,
                    "client_secret": self.config.client_secret.get_secret_value(),
                },
            )
            if response.status_code != 200:
                raise GatewayRejected(f"payu refused the OAuth credentials (HTTP {response.status_code})")
            try:
                body = response.json()
                token = str(body["access_token"])
                expires_in = float(body.get("expires_in", 300))
            except (ValueError, KeyError, TypeError):
                raise GatewayUnavailable("payu: unreadable OAuth answer") from None
            self._token = (token, self._clock() + max(expires_in - 60, expires_in / 2))
            return token

    async def _api(self, method: str, path: str, json_body: Mapping[str, Any] | None = None) -> httpx.Response:
        for attempt in (1, 2):
            token = await self._access_token()
            response = await self._send(method, path, json=json_body, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired early or revoked: one fresh token, then give up
                continue
            return response
        raise AssertionError("unreachable")

    async def create_order(self, order: OrderRequest) -> CreatedOrder:
        body = {
            "notifyUrl": order.notify_url,
            "continueUrl": order.continue_url,
            "customerIp": order.buyer_ip,
            "merchantPosId": self.config.pos_id,
            "description": order.description[:4000],
            "currencyCode": order.currency,
            "totalAmount": str(to_grosze(order.amount)),
            "extOrderId": order.reference,
            "validityTime": str(self.config.validity_seconds),
            "products": [
                {"name": line.name[:255], "unitPrice": str(to_grosze(line.amount)), "quantity": "1"}
                for line in order.lines
            ],
        }
        response = await self._api("POST", ORDERS_PATH, body)
        status_code = _status_code(response)
        if response.status_code not in (200, 201, 302) or status_code != "SUCCESS":
            raise GatewayRejected(f"payu refused the order: HTTP {response.status_code} {status_code}")
        data = response.json()
        order_id, redirect = data.get("orderId"), data.get("redirectUri")
        if not isinstance(order_id, str) or not isinstance(redirect, str) or not order_id or not redirect:
            raise GatewayUnavailable("payu: the order answer lacks orderId or redirectUri")
        log.info("payu_order_created", order_id=order_id, reference=order.reference)
        return CreatedOrder(order_id=order_id, redirect_url=redirect)

    async def fetch_order(self, order_id: str) -> GatewayOrder:
        response = await self._api("GET", f"{ORDERS_PATH}/{quote(order_id, safe='')}")
        if response.status_code == 404:
            raise OrderNotFound(f"payu has no order {order_id[:100]!r}")
        if response.status_code != 200:
            raise GatewayRejected(f"payu refused to show the order: HTTP {response.status_code}")
        try:
            orders = response.json()["orders"]
            return parse_order(orders[0])
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise GatewayUnavailable(f"payu: unreadable order ({error})") from None

    def verify_notification(self, body: bytes, headers: Mapping[str, str]) -> GatewayOrder:
        lowered = {key.lower(): value for key, value in headers.items()}
        header = next((lowered[name] for name in SIGNATURE_HEADERS if name in lowered), None)
        if not header:
            raise InvalidNotification("bad_signature", "no OpenPayu-Signature header")
        parts = parse_signature_header(header)
        algorithm = parts.get("algorithm", "MD5").upper()
        signature = parts.get("signature", "")
        if algorithm not in ALGORITHMS or algorithm not in self.config.algorithms:
            raise InvalidNotification("bad_signature", f"signature algorithm {algorithm[:20]!r} not accepted")
        expected = sign(body, self.config.second_key.get_secret_value(), algorithm)
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise InvalidNotification("bad_signature", "the signature does not match the body")
        try:
            return parse_order(json.loads(body)["order"])
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidNotification("malformed", f"not a PayU order notification ({error})") from None


def _status_code(response: httpx.Response) -> str:
    try:
        status = response.json().get("status", {})
        return str(status.get("statusCode", ""))[:60]
    except (ValueError, AttributeError):
        return ""
