"""The gateway sandbox: a separate process speaking PayU's REST API v2.1, for dev mode and the tests.

Protocol (as PayU): POST /pl/standard/user/oauth/authorize (client credentials), POST
/api/v2_1/orders (302 with redirectUri and orderId), GET /api/v2_1/orders/{orderId}. The
redirectUri leads to a payment page (Polish) where a tester picks success, failure or
abandonment; opening it marks the order PENDING (the buyer began). Each status change is sent as a
signed notification (`OpenPayu-Signature`, hash of body + second key) to the order's notifyUrl,
again and again until it answers 200 (bounded attempts, growing delays).

On request (page form fields or the JSON control API under /sandbox): duplicates (n copies, one
after another or all at once), out-of-order delivery (COMPLETED, then a late PENDING), a
notification that claims another amount, an order whose amount is changed behind the merchant's
back, and an outage (every API call answers 503).
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
import structlog
from fastapi import FastAPI, Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from services.payments.adapters.payu import signature_header

log = structlog.get_logger(__name__)

Status = Literal["NEW", "PENDING", "WAITING_FOR_CONFIRMATION", "COMPLETED", "CANCELED"]


@dataclass(frozen=True)
class SandboxConfig:
    pos_id: str = "300746"
    client_id: str = "300746"
    client_secret: str = "sandbox-client-secret"  # noqa: S105  (the sandbox's published test credential)
    second_key: str = "sandbox-second-key"
    algorithm: Literal["MD5", "SHA-256"] = "MD5"
    public_url: str | None = None
    """Base of the redirectUri; None: the address the order was created through."""
    token_ttl: int = 43199
    retry_initial: float = 0.1
    retry_max: float = 5.0
    max_attempts: int = 25
    notify_timeout: float = 10.0


@dataclass
class Attempt:
    at: str
    outcome: str
    """The HTTP status answered, or the error."""


@dataclass
class Delivery:
    status: str
    copy: int
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    given_up: bool = False


@dataclass
class Order:
    order_id: str
    data: dict[str, Any]
    """The order as PayU shows it (orderId, extOrderId, totalAmount, currencyCode, status...)."""
    notify_url: str
    continue_url: str | None
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.data["status"])


class Options(BaseModel):
    duplicates: int = Field(default=1, ge=1, le=100)
    """How many copies of each notification to send."""
    concurrent: bool = False
    """Send the copies all at once rather than one after another."""
    out_of_order: bool = False
    """On success: COMPLETED first, then a late PENDING."""
    claim_amount: str | None = Field(default=None, pattern=r"^\d{1,12}$")
    """Notify this totalAmount (grosze) instead of the order's (a lying notification)."""
    notify: bool = True


class Tamper(BaseModel):
    total_amount: str | None = Field(default=None, pattern=r"^\d{1,12}$")
    currency_code: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Sandbox:
    def __init__(self, config: SandboxConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.orders: dict[str, Order] = {}
        self.by_reference: dict[str, str] = {}
        self.tokens: dict[str, float] = {}
        self.down = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._transport = transport

    # --- notifications -----------------------------------------------------------------------------

    def body(self, order: Order, status: str, claim_amount: str | None = None) -> bytes:
        shown = {**order.data, "status": status}
        if claim_amount is not None:
            shown["totalAmount"] = claim_amount
        document = {
            "order": shown,
            "localReceiptDateTime": _now() if status == "COMPLETED" else None,
            "properties": [{"name": "PAYMENT_ID", "value": str(abs(hash(order.order_id)) % 10**9)}],
        }
        return json.dumps(document, ensure_ascii=False).encode()

    def notify(self, order: Order, statuses: list[str], options: Options) -> None:
        """Sends each status (in this order), each `duplicates` times, in the background."""
        self._spawn(self._notify(order, statuses, options))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, order: Order, statuses: list[str], options: Options) -> None:
        for status in statuses:
            body = self.body(order, status, options.claim_amount)
            copies = [Delivery(status, copy) for copy in range(1, options.duplicates + 1)]
            order.deliveries.extend(copies)
            if options.concurrent:
                await asyncio.gather(*(self._deliver(order, body, delivery) for delivery in copies))
            else:
                for delivery in copies:
                    await self._deliver(order, body, delivery)

    async def _deliver(self, order: Order, body: bytes, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "OpenPayu-Signature": signature_header(body, self.config.second_key, self.config.algorithm),
        }
        delay = self.config.retry_initial
        for _ in range(self.config.max_attempts):
            try:
                async with httpx.AsyncClient(timeout=self.config.notify_timeout, transport=self._transport) as http:
                    response = await http.post(order.notify_url, content=body, headers=headers)
                outcome = str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            delivery.attempts.append(Attempt(_now(), outcome))
            if outcome == "200":
                delivery.delivered = True
                log.info("sandbox_notification_delivered", order_id=order.order_id, status=delivery.status)
                return
            log.info("sandbox_notification_retry", order_id=order.order_id, status=delivery.status, outcome=outcome)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.retry_max)
        delivery.given_up = True

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- order lifecycle ---------------------------------------------------------------------------

    def order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise HTTPException(404, "no such order")
        return order

    def move(self, order: Order, status: Status, options: Options, late: list[str] | None = None) -> None:
        if order.status in ("COMPLETED", "CANCELED"):
            raise HTTPException(409, f"the order is {order.status} already")
        order.data["status"] = status
        if options.notify:
            self.notify(order, [status, *(late or [])], options)

    def begin(self, order: Order, options: Options) -> None:
        if order.status == "NEW":
            self.move(order, "PENDING", options)

    def complete(self, order: Order, options: Options) -> None:
        self.move(order, "COMPLETED", options, ["PENDING"] if options.out_of_order else None)

    def fail(self, order: Order, options: Options) -> None:
        self.move(order, "CANCELED", options)

    def view(self, order: Order) -> dict[str, Any]:
        return {
            "order": order.data,
            "notify_url": order.notify_url,
            "continue_url": order.continue_url,
            "deliveries": [
                {
                    "status": d.status,
                    "copy": d.copy,
                    "delivered": d.delivered,
                    "given_up": d.given_up,
                    "attempts": [{"at": a.at, "outcome": a.outcome} for a in d.attempts],
                }
                for d in order.deliveries
            ],
        }


def _payu_error(status: int, code: str, desc: str) -> JSONResponse:
    return JSONResponse({"status": {"statusCode": code, "statusDesc": desc}}, status_code=status)


class OrderIn(BaseModel):
    """PayU's OrderCreateRequest (its own camelCase field names)."""

    notifyUrl: str
    continueUrl: str | None = None
    customerIp: str
    merchantPosId: str
    description: str = Field(min_length=1)
    currencyCode: str = Field(pattern=r"^[A-Z]{3}$")
    totalAmount: str = Field(pattern=r"^\d{1,12}$")
    extOrderId: str | None = None
    validityTime: str | None = None
    products: list[dict[str, Any]] = Field(min_length=1)
    buyer: dict[str, Any] | None = None


def create_app(config: SandboxConfig | None = None, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    sandbox = Sandbox(config or SandboxConfig(), transport)
    cfg = sandbox.config

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sandbox.close()

    app = FastAPI(title="Bramka płatnicza: piaskownica (PayU REST API v2.1)", lifespan=lifespan)
    app.state.sandbox = sandbox

    def authorized(authorization: str | None) -> None:
        if sandbox.down:
            raise HTTPException(503, "the sandbox is down (outage on request)")
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not token or token not in sandbox.tokens:
            raise HTTPException(401, "invalid or missing bearer token")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        codes = {401: "UNAUTHORIZED", 404: "DATA_NOT_FOUND", 409: "ERROR_ORDER_STATUS", 503: "SERVICE_UNAVAILABLE"}
        return _payu_error(error.status_code, codes.get(error.status_code, "ERROR"), str(error.detail))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "gateway-sandbox"}

    @app.post("/pl/standard/user/oauth/authorize", response_model=None)
    async def authorize(
        grant_type: Annotated[str, Form()], client_id: Annotated[str, Form()], client_secret: Annotated[str, Form()]
    ) -> dict[str, Any] | JSONResponse:
        if sandbox.down:
            raise HTTPException(503, "the sandbox is down (outage on request)")
        if grant_type != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        good_id = secrets.compare_digest(client_id.encode(), cfg.client_id.encode())
        good_secret = secrets.compare_digest(client_secret.encode(), cfg.client_secret.encode())
        if not (good_id and good_secret):
            return JSONResponse({"error": "invalid_client", "error_description": "Bad client credentials"}, 401)
        token = secrets.token_hex(16)
        sandbox.tokens[token] = cfg.token_ttl
        return {"access_token": token, "token_type": "bearer", "expires_in": cfg.token_ttl, "grant_type": grant_type}

    @app.post("/api/v2_1/orders", response_model=None)
    async def create_order(
        body: OrderIn, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        authorized(authorization)
        if body.merchantPosId != cfg.pos_id:
            return _payu_error(400, "ERROR_VALUE_INVALID", "merchantPosId does not match the token's POS")
        if body.extOrderId and body.extOrderId in sandbox.by_reference:
            return _payu_error(400, "ERROR_ORDER_NOT_UNIQUE", "extOrderId is not unique")
        order_id = secrets.token_hex(10).upper() + "SANDBOX01"
        data: dict[str, Any] = {
            "orderId": order_id,
            "extOrderId": body.extOrderId,
            "orderCreateDate": _now(),
            "notifyUrl": body.notifyUrl,
            "customerIp": body.customerIp,
            "merchantPosId": body.merchantPosId,
            "description": body.description,
            "currencyCode": body.currencyCode,
            "totalAmount": body.totalAmount,
            "products": body.products,
            "status": "NEW",
        }
        sandbox.orders[order_id] = Order(order_id, data, body.notifyUrl, body.continueUrl)
        if body.extOrderId:
            sandbox.by_reference[body.extOrderId] = order_id
        base = (cfg.public_url or str(request.base_url)).rstrip("/")
        redirect = f"{base}/pay/{order_id}"
        log.info("sandbox_order_created", order_id=order_id, ext_order_id=body.extOrderId, amount=body.totalAmount)
        answer = {
            "status": {"statusCode": "SUCCESS"},
            "redirectUri": redirect,
            "orderId": order_id,
            "extOrderId": body.extOrderId,
        }
        return JSONResponse(answer, status_code=302, headers={"Location": redirect})

    @app.get("/api/v2_1/orders/{order_id}")
    async def get_order(order_id: str, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        authorized(authorization)
        order = sandbox.order(order_id)
        return {
            "orders": [order.data],
            "status": {"statusCode": "SUCCESS", "statusDesc": "Request processing successful"},
            "properties": [{"name": "PAYMENT_ID", "value": str(abs(hash(order_id)) % 10**9)}],
        }

    # --- the payment page --------------------------------------------------------------------------

    @app.get("/pay/{order_id}", response_class=HTMLResponse)
    async def payment_page(order_id: str) -> HTMLResponse:
        order = sandbox.order(order_id)
        sandbox.begin(order, Options())
        return HTMLResponse(_page(order))

    @app.post("/pay/{order_id}", response_model=None)
    async def pay(
        order_id: str,
        outcome: Annotated[Literal["success", "failure", "abandon"], Form()],
        duplicates: Annotated[int, Form(ge=1, le=100)] = 1,
        out_of_order: Annotated[bool, Form()] = False,
        concurrent: Annotated[bool, Form()] = False,
    ) -> Response:
        order = sandbox.order(order_id)
        options = Options(duplicates=duplicates, out_of_order=out_of_order, concurrent=concurrent)
        if outcome == "success":
            sandbox.complete(order, options)
        else:
            sandbox.fail(order, options)
        if not order.continue_url:
            return HTMLResponse(f"<p>Status zamówienia: {html.escape(order.status)}</p>")
        target = order.continue_url
        if outcome != "success":
            target += ("&" if "?" in target else "?") + "error=501"
        return RedirectResponse(target, status_code=303)

    # --- the control API for tests -----------------------------------------------------------------

    @app.get("/sandbox/orders")
    async def find_orders(ext_order_id: str | None = None) -> list[dict[str, Any]]:
        return [
            sandbox.view(order)
            for order in sandbox.orders.values()
            if ext_order_id is None or order.data.get("extOrderId") == ext_order_id
        ]

    @app.get("/sandbox/orders/{order_id}")
    async def show_order(order_id: str) -> dict[str, Any]:
        return sandbox.view(sandbox.order(order_id))

    @app.post("/sandbox/orders/{order_id}/tamper")
    async def tamper(order_id: str, change: Tamper) -> dict[str, Any]:
        """Changes the order behind the merchant's back (amount, currency), as a forged order would."""
        order = sandbox.order(order_id)
        if change.total_amount is not None:
            order.data["totalAmount"] = change.total_amount
        if change.currency_code is not None:
            order.data["currencyCode"] = change.currency_code
        return sandbox.view(order)

    @app.post("/sandbox/orders/{order_id}/{action}")
    async def act(
        order_id: str, action: Literal["begin", "complete", "fail", "abandon"], options: Options | None = None
    ) -> dict[str, Any]:
        order = sandbox.order(order_id)
        chosen = options or Options()
        {"begin": sandbox.begin, "complete": sandbox.complete, "fail": sandbox.fail, "abandon": sandbox.fail}[action](
            order, chosen
        )
        return sandbox.view(order)

    @app.post("/sandbox/outage")
    async def outage(down: bool) -> dict[str, bool]:
        """`?down=true`: every API call answers 503 until `?down=false`."""
        sandbox.down = down
        return {"down": sandbox.down}

    return app


def _page(order: Order) -> str:
    data = order.data
    amount = int(data["totalAmount"])
    products = "".join(
        f"<li>{html.escape(str(p.get('name', '')))}: {int(p.get('unitPrice', 0)) / 100:.2f} "
        f"{html.escape(data['currencyCode'])}</li>"
        for p in data.get("products", [])
    )
    done = order.status in ("COMPLETED", "CANCELED")
    buttons = (
        f"<p>Zamówienie ma już status <b>{html.escape(order.status)}</b>.</p>"
        if done
        else """
      <fieldset><legend>Wynik płatności</legend>
        <button name="outcome" value="success">Zapłać (płatność udana)</button>
        <button name="outcome" value="failure">Odrzuć (płatność nieudana)</button>
        <button name="outcome" value="abandon">Porzuć płatność</button>
      </fieldset>
      <fieldset><legend>Powiadomienia</legend>
        <label>Liczba kopii <input type="number" name="duplicates" value="1" min="1" max="100"></label>
        <label><input type="checkbox" name="concurrent" value="true"> wszystkie naraz</label>
        <label><input type="checkbox" name="out_of_order" value="true"> spóźnione PENDING po COMPLETED</label>
      </fieldset>"""
    )
    return f"""<!doctype html>
<html lang="pl"><head><meta charset="utf-8"><title>Bramka płatnicza: piaskownica</title>
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto}}button{{margin:.3rem}}</style></head>
<body>
  <h1>Bramka płatnicza (piaskownica)</h1>
  <p>To środowisko testowe: żadne pieniądze nie zostaną pobrane.</p>
  <dl>
    <dt>Zamówienie</dt><dd>{html.escape(order.order_id)}</dd>
    <dt>Opis</dt><dd>{html.escape(str(data.get("description", "")))}</dd>
    <dt>Kwota</dt><dd>{amount / 100:.2f} {html.escape(data["currencyCode"])}</dd>
  </dl>
  <ul>{products}</ul>
  <form method="post" action="/pay/{html.escape(order.order_id)}">{buttons}
  </form>
</body></html>"""
