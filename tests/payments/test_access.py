"""Who may start and see payments: the active client only, with the right scopes; and the start's input."""

from __future__ import annotations

from uuid import uuid4

from tests.payments.conftest import CLIENT_A, CLIENT_B, Env


async def test_another_clients_invoice_ids_are_not_found(env: Env) -> None:
    mine = await env.issue_invoice(CLIENT_A)
    theirs = await env.issue_invoice(CLIENT_B)

    refused = await env.start([mine, theirs])
    assert refused.status_code == 404
    assert refused.json()["code"] == "invoice_not_found"
    assert (await env.start(["inv-does-not-exist"])).status_code == 404
    assert (await env.invoice_status(theirs)).status_code == 404
    assert not await env.payment_events("PaymentStarted")
    assert env.sandbox.orders == {}

    their_payment = (await env.start([theirs], headers=env.headers(CLIENT_B))).json()
    assert (await env.payment(their_payment["payment_id"])).status_code == 404
    await env.wait_status(their_payment["payment_id"], "not_started", headers=env.headers(CLIENT_B))
    listed = await env.http.get("/api/payments/payments", headers=env.headers(CLIENT_A))
    assert listed.json()["items"] == []
    assert listed.json()["total"] == 0


async def test_contract_limited_people_see_only_their_contracts(env: Env) -> None:
    allowed = await env.issue_invoice(contract_id="c-1")
    other = await env.issue_invoice(contract_id="c-2")
    limited = env.headers(contract_ids=("c-1",))
    assert (await env.start([other], headers=limited)).status_code == 404
    started = await env.start([allowed], headers=limited)
    assert started.status_code == 201
    other_payment = (await env.start([other])).json()
    await env.wait_status(other_payment["payment_id"], "not_started")
    assert (await env.payment(other_payment["payment_id"], limited)).status_code == 404
    await env.wait_status(started.json()["payment_id"], "not_started", headers=limited)
    listed = (await env.http.get("/api/payments/payments", headers=limited)).json()
    assert [p["payment_id"] for p in listed["items"]] == [started.json()["payment_id"]]


async def test_scopes(env: Env) -> None:
    invoice = await env.issue_invoice()
    reader = env.headers(scopes=("invoices:read",))
    refused = await env.start([invoice], headers=reader)
    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_required"
    assert (await env.invoice_status(invoice, headers=reader)).status_code == 200
    nobody = env.headers(scopes=("contracts:read",))
    assert (await env.invoice_status(invoice, headers=nobody)).status_code == 403
    assert (await env.http.post("/api/payments/payments", json={"invoice_ids": [invoice]})).status_code == 401


async def test_list_pages_newest_first(env: Env) -> None:
    ids = []
    for _ in range(3):
        invoice = await env.issue_invoice()
        ids.append((await env.start([invoice])).json()["payment_id"])
    for payment_id in ids:
        await env.wait_status(payment_id, "not_started")
    first = (await env.http.get("/api/payments/payments", params={"limit": 2}, headers=env.headers())).json()
    second = (
        await env.http.get("/api/payments/payments", params={"limit": 2, "offset": 2}, headers=env.headers())
    ).json()
    assert first["total"] == 3
    assert [p["payment_id"] for p in first["items"] + second["items"]] == ids[::-1]


async def test_idempotency_key_is_required_and_repeats_the_first_answer(env: Env) -> None:
    invoice = await env.issue_invoice()
    missing = await env.http.post("/api/payments/payments", json={"invoice_ids": [invoice]}, headers=env.headers())
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"

    person = env.headers(account_id="acc-anna")
    key = str(uuid4())
    first = await env.start([invoice], headers=person, key=key)
    assert first.status_code == 201
    again = await env.start([invoice], headers=env.headers(account_id="acc-anna"), key=key)
    assert again.status_code == 200
    assert again.json()["payment_id"] == first.json()["payment_id"]
    assert again.json()["redirect_url"] == first.json()["redirect_url"]
    other = await env.issue_invoice()
    reused = await env.start([other], headers=person, key=key)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert len(await env.payment_events("PaymentStarted")) == 1
    assert len(env.sandbox.orders) == 1


async def test_bad_input(env: Env) -> None:
    invoice = await env.issue_invoice()
    foreign = await env.start([invoice], return_url="https://evil.example/steal")
    assert foreign.status_code == 422
    assert foreign.json()["code"] == "return_url_not_allowed"
    own = await env.start([invoice], return_url=f"{env.http.base_url}/faktury")
    assert own.status_code == 201
    assert env.sandbox.orders[next(iter(env.sandbox.orders))].continue_url == (
        f"{env.http.base_url}/faktury?payment={own.json()['payment_id']}"
    )
    assert (await env.start([])).status_code == 422
    twice = await env.issue_invoice()
    assert (await env.start([twice, twice])).json()["code"] == "duplicate_invoices"
