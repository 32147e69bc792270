"""The gateway sandbox on its own: signed notifications, retries until 200, duplicates, outage."""

from __future__ import annotations

import asyncio

import httpx

from services.gateway_sandbox.app import Options, SandboxConfig, create_app
from services.payments.adapters.payu import sign
from tests.helpers import eventually

KEY = "sandbox-second-key"


class Merchant:
    """A notifyUrl that fails `failures` times, then answers 200; remembers what it got."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        if self.failures:
            self.failures -= 1
            return httpx.Response(503)
        return httpx.Response(200)


async def _order(http: httpx.AsyncClient) -> str:
    token = (
        await http.post(
            "/pl/standard/user/oauth/authorize",
            data={"grant_type": "client_credentials", "client_id": "300746", "client_secret": "sandbox-client-secret"},
        )
    ).json()["access_token"]
    created = await http.post(
        "/api/v2_1/orders",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "notifyUrl": "http://merchant.test/notify",
            "continueUrl": "http://merchant.test/back",
            "customerIp": "127.0.0.1",
            "merchantPosId": "300746",
            "description": "Faktura FV/1",
            "currencyCode": "PLN",
            "totalAmount": "12300",
            "extOrderId": "CL-A:p1",
            "products": [{"name": "Faktura FV/1", "unitPrice": "12300", "quantity": "1"}],
        },
    )
    assert created.status_code == 302
    assert created.json()["status"]["statusCode"] == "SUCCESS"
    order_id: str = created.json()["orderId"]
    return order_id


async def test_notifications_are_signed_and_retried_until_200() -> None:
    merchant = Merchant(failures=2)
    app = create_app(SandboxConfig(retry_initial=0.01), transport=httpx.MockTransport(merchant))
    sandbox = app.state.sandbox
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as http:
        order_id = await _order(http)
        page = await http.get(f"/pay/{order_id}")
        assert "Porzuć płatność" in page.text
        await eventually(lambda: len(merchant.received) == 3, timeout=30, what="three attempts")
        delivery = sandbox.orders[order_id].deliveries[0]
        await eventually(lambda: delivery.delivered, timeout=30, what="delivered")
        assert [a.outcome for a in delivery.attempts] == ["503", "503", "200"]
        request = merchant.received[-1]
        header = dict(part.split("=", 1) for part in request.headers["openpayu-signature"].split(";"))
        assert header["sender"] == "checkout"
        assert header["algorithm"] == "MD5"
        assert header["signature"] == sign(request.content, KEY, "MD5")
        assert b'"status": "PENDING"' in request.content
        await sandbox.close()


async def test_duplicates_concurrently_and_out_of_order() -> None:
    merchant = Merchant()
    app = create_app(SandboxConfig(retry_initial=0.01), transport=httpx.MockTransport(merchant))
    sandbox = app.state.sandbox
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as http:
        order_id = await _order(http)
        order = sandbox.orders[order_id]
        sandbox.complete(order, Options(duplicates=5, concurrent=True, out_of_order=True))
        await eventually(lambda: len(merchant.received) == 10, timeout=30, what="ten notifications")
        statuses = [b"COMPLETED" in r.content for r in merchant.received]
        assert statuses == [True] * 5 + [False] * 5  # COMPLETED x5, then the late PENDING x5
        shown = (await http.get(f"/sandbox/orders/{order_id}")).json()
        assert shown["order"]["status"] == "COMPLETED"
        await sandbox.close()


async def test_outage_and_bad_tokens() -> None:
    app = create_app(SandboxConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as http:
        assert (await http.get("/api/v2_1/orders/X", headers={"Authorization": "Bearer nope"})).status_code == 401
        await http.post("/sandbox/outage", params={"down": "true"})
        down = await http.post(
            "/pl/standard/user/oauth/authorize",
            data={"grant_type": "client_credentials", "client_id": "300746", "client_secret": "sandbox-client-secret"},
        )
        assert down.status_code == 503
        await http.post("/sandbox/outage", params={"down": "false"})
        order_id = await _order(http)
        payment = await http.post(f"/pay/{order_id}", data={"outcome": "failure"})
        assert payment.status_code == 303
        assert payment.headers["location"] == "http://merchant.test/back?error=501"
        assert (await http.post(f"/pay/{order_id}", data={"outcome": "success"})).status_code == 409
        await app.state.sandbox.close()
        await asyncio.sleep(0)


async def test_the_sandbox_runs_as_its_own_process() -> None:
    import socket
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.gateway_sandbox",
        "--port",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def up() -> bool:
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=30, what="the sandbox process answers")
            token = await http.post(
                "/pl/standard/user/oauth/authorize",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "300746",
                    "client_secret": "sandbox-client-secret",
                },
            )
            assert token.json()["token_type"] == "bearer"
    finally:
        process.terminate()
        await process.wait()
