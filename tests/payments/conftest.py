"""End-to-end fixtures for payments: the gateway sandbox and the portal, each served by uvicorn on a
free 127.0.0.1 port in this process, so the sandbox's signed notifications reach the portal over HTTP.

Invoices come in as billing's InvoiceIssued events appended to the billing event store (billing's
own API is not needed); payments' projection picks them up like any other consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from libs.events.access import ALL_SCOPES
from libs.events.envelope import EventContext, NewEvent, RecordedEvent
from libs.events.registry import registry
from libs.events.schemas.billing import InvoiceIssued, InvoiceLine, InvoiceSettled
from libs.events.store import ANY_VERSION
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from services.gateway_sandbox.app import Sandbox, SandboxConfig, create_app
from services.payments.adapters.payu import signature_header
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually

SECOND_KEY = "sandbox-second-key"
CLIENT_A = "CL-A"
CLIENT_B = "CL-B"


def _listen(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # leave SIGINT and SIGTERM to the test runner


class Served:
    """An ASGI app served by uvicorn in this event loop on a socket bound up front (no port race);
    stop() and start() again serve it on the same port."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._sock: socket.socket | None = _listen()
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = self._sock or _listen(self.port)
        self._sock = None
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        self._server, self._task = server, task
        await eventually(lambda: server.started or task.done(), timeout=60, what="uvicorn started")
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on port {self.port}")

    async def stop(self) -> None:
        """Stops it; waits are bounded, so a stuck connection cannot hang the tests."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=20)
        if not done:
            server.force_exit = True
            done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Env:
    portal: EmbeddedPortal
    http: httpx.AsyncClient
    """To the portal, over HTTP."""
    gateway: Served
    sandbox: Sandbox
    gw: httpx.AsyncClient
    """To the sandbox, over HTTP (its payment page and control API)."""
    data_dir: Path
    backoffice: dict[str, str] = field(default_factory=dict)
    numbers: int = 0

    def headers(self, client_id: str = CLIENT_A, scopes: tuple[str, ...] = ALL_SCOPES, **kw: Any) -> dict[str, str]:
        return bearer(mint_access_token(self.data_dir / "secrets", client_id, scopes, **kw))

    async def issue_invoice(
        self, client_id: str = CLIENT_A, gross: str = "1230.00", contract_id: str | None = None
    ) -> str:
        self.numbers += 1
        invoice_id = f"inv-{uuid4().hex[:10]}"
        amount = Decimal(gross)
        net = (amount / Decimal("1.23")).quantize(Decimal("0.01"))
        line = InvoiceLine(description="Rata leasingowa", net=net, vat_rate="23", vat=amount - net, gross=amount)
        event = InvoiceIssued(
            invoice_id=invoice_id,
            number=f"FV/2026/03/{self.numbers:04d}",
            client_id=client_id,
            contract_id=contract_id,
            kind="instalment",
            issue_date=date(2026, 3, 1),
            due_date=date(2026, 3, 15),
            lines=(line,),
            net_total=net,
            vat_total=amount - net,
            gross_total=amount,
            currency="PLN",
        )
        await self.append_billing(client_id, event)
        await eventually(lambda: self._has_invoice(invoice_id), timeout=30, what=f"invoice {invoice_id} projected")
        return invoice_id

    async def append_billing(self, client_id: str, event: InvoiceIssued | InvoiceSettled) -> None:
        store = self.portal.platform.event_stores["billing"]
        context = EventContext(client_id=client_id, actor="backoffice:test")
        await store.append(f"billing-ledger-{client_id}", [NewEvent.from_domain(event, context)], ANY_VERSION)

    async def _has_invoice(self, invoice_id: str) -> bool:
        from services.payments.projections import INVOICES

        doc = await self.portal.runtimes["payments"].documents.get(INVOICES, invoice_id)
        return doc is not None and "number" in doc

    async def start(
        self, invoice_ids: list[str], headers: dict[str, str] | None = None, key: str | None = None, **body: Any
    ) -> httpx.Response:
        return await self.http.post(
            "/api/payments/payments",
            json={"invoice_ids": invoice_ids, **body},
            headers={**(headers or self.headers()), "Idempotency-Key": key or uuid4().hex},
        )

    async def payment(self, payment_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(f"/api/payments/payments/{payment_id}", headers=headers or self.headers())

    async def wait_status(self, payment_id: str, code: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            response = await self.payment(payment_id, headers)
            if response.status_code == 200:
                seen.update(response.json())
            return bool(seen) and seen["status"]["code"] == code

        await eventually(reached, timeout=30, what=f"payment {payment_id} {code}")
        return seen

    async def invoice_status(self, *invoice_ids: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(
            "/api/payments/invoices/status", params={"ids": ",".join(invoice_ids)}, headers=headers or self.headers()
        )

    async def order_of(self, payment_id: str) -> str:
        events = await self.payment_events("PaymentOrderCreated")
        return next(str(e.data["gateway_order_id"]) for e in events if e.data["payment_id"] == payment_id)

    async def payment_events(self, event_type: str | None = None) -> list[RecordedEvent]:
        store = self.portal.platform.event_stores["payments"]
        events = await store.read_all(None, limit=100_000)
        return [e for e in events if event_type is None or e.type == event_type]

    async def act(self, order_id: str, action: str, **options: Any) -> httpx.Response:
        response = await self.gw.post(f"/sandbox/orders/{order_id}/{action}", json=options or None)
        response.raise_for_status()
        return response

    async def deliveries_done(self, order_id: str, count: int) -> None:
        async def done() -> bool:
            view = (await self.gw.get(f"/sandbox/orders/{order_id}")).json()
            finished = [d for d in view["deliveries"] if d["delivered"] or d["given_up"]]
            return len(finished) >= count

        await eventually(done, timeout=30, what=f"{count} deliveries for {order_id}")

    async def notify(self, body: bytes, key: str = SECOND_KEY, algorithm: str = "MD5") -> httpx.Response:
        return await self.http.post(
            "/api/payments/gateway/payu/notify",
            content=body,
            headers={"Content-Type": "application/json", "OpenPayu-Signature": signature_header(body, key, algorithm)},
        )


def decoded(event: RecordedEvent) -> Any:
    return registry.decode(event)


@pytest.fixture
async def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    sandbox_app = create_app(SandboxConfig(retry_initial=0.05, retry_max=0.5, max_attempts=8))
    gateway = Served(sandbox_app)
    await gateway.start()
    portal_app = FastAPI()  # replaced below, once the portal knows its own URL
    served = Served(portal_app)
    portal_url = served.url
    monkeypatch.setenv("PAYMENTS_PAYU_URL", gateway.url)
    monkeypatch.setenv("PAYMENTS_PUBLIC_URL", portal_url)
    monkeypatch.setenv("PAYMENTS_BREAKER_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("PAYMENTS_BREAKER_RESET_SECONDS", "0.3")
    monkeypatch.setenv("PAYMENTS_CONNECT_TIMEOUT", "2")
    data_dir = tmp_path / "data"
    portal = EmbeddedPortal(PortalSettings(data_dir=data_dir, dev_mode=True))
    served.app = portal.app()
    await served.start()
    try:
        async with (
            httpx.AsyncClient(base_url=portal_url, timeout=30) as http,
            httpx.AsyncClient(base_url=gateway.url, timeout=30) as gw,
        ):
            yield Env(
                portal=portal,
                http=http,
                gateway=gateway,
                sandbox=sandbox_app.state.sandbox,
                gw=gw,
                data_dir=data_dir,
                backoffice=bearer(backoffice_token(data_dir)),
            )
    finally:
        await gateway.stop()
        await served.stop()


def now() -> datetime:
    return datetime.now(UTC)
