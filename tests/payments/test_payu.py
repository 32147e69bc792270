"""The PayU adapter: its wire format (mocked transport) and the protocol against the sandbox."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.gateway_sandbox.app import SandboxConfig, create_app
from services.payments.adapters.payu import PayU, PayUConfig, from_grosze, signature_header, to_grosze
from services.payments.ports import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidNotification,
    OrderLine,
    OrderNotFound,
    OrderRequest,
)

SECRET = "client-secret-do-not-log"
SECOND_KEY = "second-key-do-not-log"
CONFIG = PayUConfig(
    base_url="https://secure.snd.payu.test",
    pos_id="300746",
    client_id="300746",
    client_secret=SecretStr(SECRET),
    second_key=SecretStr(SECOND_KEY),
)
ORDER = OrderRequest(
    reference="CL-A:p1",
    amount=Decimal("1330.50"),
    currency="PLN",
    description="Strefa Klienta: faktury FV/1, FV/2",
    lines=(OrderLine("Faktura FV/1", Decimal("1230.00")), OrderLine("Faktura FV/2", Decimal("100.50"))),
    buyer_ip="127.0.0.1",
    notify_url="https://portal.test/api/payments/gateway/payu/notify",
    continue_url="https://portal.test/platnosci/powrot?payment=p1",
)
PAYU_ORDER = {
    "orderId": "WZHF5FFDRJ140731GUEST000P01",
    "extOrderId": "CL-A:p1",
    "currencyCode": "PLN",
    "totalAmount": "133050",
    "status": "COMPLETED",
}


class Wire:
    """A fake PayU: records requests, answers what a test sets."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.tokens = 0
        self.answers: dict[str, httpx.Response] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/pl/standard/user/oauth/authorize":
            self.tokens += 1
            return httpx.Response(200, json={"access_token": f"token-{self.tokens}", "expires_in": 43199})
        key = f"{request.method} {request.url.path}"
        return self.answers.get(key, httpx.Response(404, json={"status": {"statusCode": "DATA_NOT_FOUND"}}))


def payu(wire: Wire) -> PayU:
    return PayU(CONFIG, transport=httpx.MockTransport(wire))


async def test_oauth_and_the_order_on_the_wire() -> None:
    wire = Wire()
    answer = {"status": {"statusCode": "SUCCESS"}, "redirectUri": "https://payu/pay", "orderId": "ORD1"}
    wire.answers["POST /api/v2_1/orders"] = httpx.Response(302, json=answer, headers={"Location": "https://payu/pay"})
    created = await payu(wire).create_order(ORDER)
    assert (created.order_id, created.redirect_url) == ("ORD1", "https://payu/pay")

    oauth, create = wire.requests
    assert oauth.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(oauth.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": "300746",
        "client_secret": SECRET,
    }
    assert create.headers["authorization"] == "Bearer token-1"
    body = json.loads(create.content)
    assert body["totalAmount"] == "133050"
    assert body["currencyCode"] == "PLN"
    assert body["merchantPosId"] == "300746"
    assert body["extOrderId"] == "CL-A:p1"
    assert body["notifyUrl"] == ORDER.notify_url
    assert body["continueUrl"] == ORDER.continue_url
    assert body["customerIp"] == "127.0.0.1"
    assert body["products"] == [
        {"name": "Faktura FV/1", "unitPrice": "123000", "quantity": "1"},
        {"name": "Faktura FV/2", "unitPrice": "10050", "quantity": "1"},
    ]


async def test_the_token_is_reused_and_renewed_on_401() -> None:
    wire = Wire()
    wire.answers["GET /api/v2_1/orders/ORD1"] = httpx.Response(200, json={"orders": [PAYU_ORDER]})
    gateway = payu(wire)
    await gateway.fetch_order("ORD1")
    await gateway.fetch_order("ORD1")
    assert wire.tokens == 1
    wire.answers["GET /api/v2_1/orders/ORD1"] = httpx.Response(401)
    with pytest.raises(GatewayRejected):
        await gateway.fetch_order("ORD1")
    assert wire.tokens == 2  # one fresh token, then it gives up


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(500), GatewayUnavailable),
        (httpx.Response(503), GatewayUnavailable),
        (httpx.Response(429), GatewayUnavailable),
        (httpx.Response(400, json={"status": {"statusCode": "ERROR_VALUE_INVALID"}}), GatewayRejected),
        (httpx.Response(200, json={"status": {"statusCode": "WARNING_CONTINUE_3DS"}}), GatewayRejected),
    ],
)
async def test_create_order_failures(answer: httpx.Response, error: type[Exception]) -> None:
    wire = Wire()
    wire.answers["POST /api/v2_1/orders"] = answer
    with pytest.raises(error) as raised:
        await payu(wire).create_order(ORDER)
    assert SECRET not in str(raised.value)


async def test_timeouts_and_refused_connections_are_unavailable() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler in (timeout, refused):
        with pytest.raises(GatewayUnavailable) as raised:
            await PayU(CONFIG, transport=httpx.MockTransport(handler)).create_order(ORDER)
        assert SECRET not in str(raised.value)


async def test_fetch_order_maps_statuses_and_grosze() -> None:
    wire = Wire()
    for payu_status, ours in [
        ("NEW", "new"),
        ("PENDING", "pending"),
        ("WAITING_FOR_CONFIRMATION", "awaiting_capture"),
        ("COMPLETED", "completed"),
        ("CANCELED", "canceled"),
    ]:
        wire.answers["GET /api/v2_1/orders/ORD1"] = httpx.Response(
            200, json={"orders": [{**PAYU_ORDER, "status": payu_status}]}
        )
        order = await payu(wire).fetch_order("ORD1")
        assert order.status == ours
        assert order.amount == Decimal("1330.50")
        assert order.reference == "CL-A:p1"
    with pytest.raises(OrderNotFound):
        await payu(wire).fetch_order("NOPE")


def _notification(order: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"order": order or PAYU_ORDER, "localReceiptDateTime": "2026-03-10T10:00:00+01:00"}).encode()


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
@pytest.mark.parametrize("header", ["OpenPayu-Signature", "openpayu-signature", "X-OpenPayU-Signature"])
def test_a_valid_signature(algorithm: str, header: str) -> None:
    body = _notification()
    order = payu(Wire()).verify_notification(body, {header: signature_header(body, SECOND_KEY, algorithm)})
    assert (order.order_id, order.status, order.amount, order.currency) == (
        "WZHF5FFDRJ140731GUEST000P01",
        "completed",
        Decimal("1330.50"),
        "PLN",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"OpenPayu-Signature": "sender=checkout;algorithm=MD5;content=DOCUMENT"},
        {"OpenPayu-Signature": signature_header(_notification(), "wrong-key")},
        {"OpenPayu-Signature": signature_header(_notification({**PAYU_ORDER, "totalAmount": "1"}), SECOND_KEY)},
        {"OpenPayu-Signature": signature_header(_notification(), SECOND_KEY).replace("MD5", "SHA1")},
        {"OpenPayu-Signature": "sender=checkout;signature=ąęść;algorithm=MD5"},
    ],
)
def test_a_bad_signature(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidNotification) as refused:
        payu(Wire()).verify_notification(_notification(), headers)
    assert refused.value.reason == "bad_signature"
    assert SECOND_KEY not in str(refused.value)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"order": {**PAYU_ORDER, "status": "PAID"}}).encode(), b'{"order": {}}'],
)
def test_a_signed_but_malformed_notification(body: bytes) -> None:
    with pytest.raises(InvalidNotification) as refused:
        payu(Wire()).verify_notification(body, {"OpenPayu-Signature": signature_header(body, SECOND_KEY)})
    assert refused.value.reason == "malformed"


def test_grosze_only_at_the_boundary() -> None:
    assert to_grosze(Decimal("1330.50")) == 133050
    assert from_grosze("133050") == Decimal("1330.50")
    assert from_grosze(5) == Decimal("0.05")
    with pytest.raises(ValueError, match="grosze"):
        to_grosze(Decimal("0.001"))
    for bad in ("-1", "1.5", "", "١٢", 1.5, True, None):
        with pytest.raises(ValueError, match="digits"):
            from_grosze(bad)


async def test_the_adapter_speaks_the_sandbox_protocol() -> None:
    """The same adapter against the sandbox app: oauth, create (302), fetch, and a bad credential."""
    app = create_app(SandboxConfig(second_key=SECOND_KEY, client_secret=SECRET))
    transport = httpx.ASGITransport(app=app)
    gateway = PayU(PayUConfig(**{**CONFIG.__dict__, "base_url": "http://sandbox.test"}), transport=transport)
    created = await gateway.create_order(ORDER)
    assert created.redirect_url == f"http://sandbox.test/pay/{created.order_id}"
    fetched = await gateway.fetch_order(created.order_id)
    assert (fetched.status, fetched.amount, fetched.reference) == ("new", Decimal("1330.50"), "CL-A:p1")
    with pytest.raises(GatewayRejected):  # extOrderId must be unique
        await gateway.create_order(ORDER)
    with pytest.raises(OrderNotFound):
        await gateway.fetch_order("NOSUCHORDER")
    wrong = PayU(
        PayUConfig(**{**CONFIG.__dict__, "base_url": "http://sandbox.test", "client_secret": SecretStr("x")}),
        transport=transport,
    )
    with pytest.raises(GatewayRejected):
        await wrong.create_order(ORDER)
