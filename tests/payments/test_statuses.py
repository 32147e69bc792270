"""The client zone's five payment statuses, end to end through HTTP with the gateway sandbox."""

from __future__ import annotations

from tests.helpers import eventually
from tests.payments.conftest import CLIENT_A, Env, decoded

IN_PROGRESS_PL = "Płatność została rozpoczęta. Na czas realizacji przycisk ZAPŁAĆ został zablokowany."


async def test_not_started_then_in_progress_then_accepted_then_paid(env: Env) -> None:
    first, second = await env.issue_invoice(gross="1230.00"), await env.issue_invoice(gross="615.50")

    started = await env.start([first, second])
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"]["code"] == "not_started"
    assert payment["status"]["message"]["pl"] == "Oczekiwanie na rozpoczęcie płatności."
    assert payment["amount"] == "1845.50"
    assert payment["redirect_url"].startswith(env.gateway.url + "/pay/")
    payment_id = payment["payment_id"]
    await env.wait_status(payment_id, "not_started")
    statuses = (await env.invoice_status(first, second)).json()
    assert [i["status"]["code"] for i in statuses["invoices"]] == ["not_started", "not_started"]
    assert all(i["can_pay"] and i["payment_id"] == payment_id for i in statuses["invoices"])

    page = await env.gw.get(payment["redirect_url"])  # the person opens the gateway's page: PENDING
    assert page.status_code == 200
    assert "Zapłać" in page.text
    shown = await env.wait_status(payment_id, "in_progress")
    assert shown["status"]["message"]["pl"] == IN_PROGRESS_PL
    assert shown["status"]["pay_locked"] is True
    locked = (await env.invoice_status(first)).json()["invoices"][0]
    assert locked["status"]["code"] == "in_progress"
    assert locked["can_pay"] is False

    order_id = await env.order_of(payment_id)
    paid = await env.gw.post(f"/pay/{order_id}", data={"outcome": "success"})
    assert paid.status_code == 303
    assert paid.headers["location"].startswith(f"{env.http.base_url}/platnosci/powrot?payment={payment_id}")
    shown = await env.wait_status(payment_id, "accepted")
    assert shown["status"]["message"]["pl"] == "Płatność została przyjęta, trwa rozliczenie."
    assert [h["status"] for h in shown["history"]] == ["not_started", "in_progress", "accepted"]

    accepted = [decoded(e) for e in await env.payment_events("PaymentAccepted")]
    assert len(accepted) == 1
    event = accepted[0]
    assert str(event.amount) == "1845.50"
    assert event.invoice_ids == (first, second)
    assert [i.number for i in event.invoices] == ["FV/2026/03/0001", "FV/2026/03/0002"]
    assert event.started_by
    assert event.client_id == CLIENT_A

    invoice = (await env.invoice_status(first)).json()["invoices"][0]
    assert invoice["status"]["code"] in ("accepted", "paid")  # "paid" once billing has settled it
    assert invoice["can_pay"] is False
    # billing reacts to PaymentAccepted: the money is received and settles exactly the chosen invoices

    async def paid_now() -> bool:
        body = (await env.invoice_status(first, second)).json()
        return [i["status"]["code"] for i in body["invoices"]] == ["paid", "paid"]

    await eventually(paid_now, timeout=30, what="invoices paid")
    ledger = await env.portal.platform.event_stores["billing"].read_stream(f"billing-ledger-{CLIENT_A}")
    (received,) = [decoded(e) for e in ledger if e.type == "PaymentReceived"]
    assert (received.payment_id, received.source, str(received.amount)) == (payment_id, "online", "1845.50")
    settled = [decoded(e) for e in ledger if e.type == "InvoiceSettled"]
    assert sorted((s.invoice_id, str(s.amount), s.full) for s in settled) == sorted(
        [(first, "1230.00", True), (second, "615.50", True)]
    )
    assert not [e for e in ledger if e.type == "OverpaymentRecorded"]
    again = await env.start([first])
    assert again.status_code == 409
    assert again.json()["code"] == "invoice_already_paid"


async def test_a_second_start_while_in_progress_is_409(env: Env) -> None:
    invoice = await env.issue_invoice()
    payment = (await env.start([invoice])).json()
    await env.gw.get(payment["redirect_url"])
    await env.wait_status(payment["payment_id"], "in_progress")

    second = await env.start([invoice])
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")
    problem = second.json()
    assert problem["code"] == "payment_in_progress"
    assert problem["payment_status"]["code"] == "in_progress"
    assert problem["payment_status"]["message"]["pl"] == IN_PROGRESS_PL
    assert problem["payment"]["payment_id"] == payment["payment_id"]
    assert len(await env.payment_events("PaymentStarted")) == 1


async def test_the_same_invoices_again_before_paying_resume_the_order(env: Env) -> None:
    invoice = await env.issue_invoice()
    first = (await env.start([invoice])).json()
    again = await env.start([invoice])
    assert again.status_code == 200
    assert again.json()["resumed"] is True
    assert again.json()["payment_id"] == first["payment_id"]
    assert again.json()["redirect_url"] == first["redirect_url"]
    assert len(env.sandbox.orders) == 1


async def test_failed_and_retried_with_a_new_order(env: Env) -> None:
    invoice = await env.issue_invoice()
    payment = (await env.start([invoice])).json()
    await env.gw.get(payment["redirect_url"])
    order_id = await env.order_of(payment["payment_id"])
    refused = await env.gw.post(f"/pay/{order_id}", data={"outcome": "failure"})
    assert refused.status_code == 303
    assert "error=501" in refused.headers["location"]
    shown = await env.wait_status(payment["payment_id"], "failed")
    assert shown["status"]["message"]["pl"] == "Płatność nie powiodła się. Spróbuj ponownie."
    assert shown["redirect_url"] is None
    status = (await env.invoice_status(invoice)).json()["invoices"][0]
    assert status["status"]["code"] == "failed"
    assert status["can_pay"] is True

    retry = await env.start([invoice])
    assert retry.status_code == 201
    assert retry.json()["payment_id"] != payment["payment_id"]
    new_order = await env.order_of(retry.json()["payment_id"])
    assert new_order != order_id
    await env.act(new_order, "begin")
    await env.act(new_order, "complete")
    await env.wait_status(retry.json()["payment_id"], "accepted")
    assert len(await env.payment_events("PaymentFailed")) == 1
    assert len(await env.payment_events("PaymentAccepted")) == 1


async def test_abandoned_payment_fails(env: Env) -> None:
    invoice = await env.issue_invoice()
    payment = (await env.start([invoice])).json()
    await env.gw.get(payment["redirect_url"])
    order_id = await env.order_of(payment["payment_id"])
    left = await env.gw.post(f"/pay/{order_id}", data={"outcome": "abandon"})
    assert left.status_code == 303
    await env.wait_status(payment["payment_id"], "failed")


async def test_gateway_down_is_unavailable_and_recovers_by_itself(env: Env) -> None:
    invoice = await env.issue_invoice()
    await env.gateway.stop()

    down = await env.start([invoice])
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    problem = down.json()
    assert problem["code"] == "payments_unavailable"
    assert problem["payment_status"]["code"] == "unavailable"
    assert problem["payment_status"]["message"]["pl"] == "Funkcja płatności jest chwilowo niedostępna."
    await env.wait_status(problem["payment"]["payment_id"], "unavailable")

    assert (await env.start([invoice])).status_code == 503  # the second failure opens the breaker
    opened = await env.http.get("/api/payments/availability", headers=env.headers())
    assert opened.json()["available"] is False
    assert opened.json()["status"]["code"] == "unavailable"
    status = (await env.invoice_status(invoice)).json()["invoices"][0]
    assert status["status"]["code"] == "unavailable"
    assert status["can_pay"] is False
    started_before = len(await env.payment_events("PaymentStarted"))
    assert (await env.start([invoice])).status_code == 503  # open: refused without a call or an event
    assert len(await env.payment_events("PaymentStarted")) == started_before

    await env.gateway.start()

    async def available() -> bool:
        response = await env.http.get("/api/payments/availability", headers=env.headers())
        return bool(response.json()["available"])

    await eventually(available, timeout=30, what="the breaker half-open")
    recovered = await env.start([invoice])  # the half-open probe succeeds and closes the breaker
    assert recovered.status_code == 201, recovered.text
    assert recovered.json()["status"]["code"] == "not_started"
    assert (await env.http.get("/api/payments/availability", headers=env.headers())).json()["available"] is True
    cancelled = [decoded(e) for e in await env.payment_events("PaymentCancelled")]
    assert {e.reason for e in cancelled} == {"gateway_unavailable"}
