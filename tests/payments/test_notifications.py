"""Gateway notifications: duplicates, reordering, forged signatures, amounts that disagree."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.helpers import eventually
from tests.payments.conftest import SECOND_KEY, Env, decoded


async def _in_progress(env: Env, gross: str = "1230.00") -> tuple[str, str]:
    invoice = await env.issue_invoice(gross=gross)
    payment = (await env.start([invoice])).json()
    await env.gw.get(payment["redirect_url"])
    await env.wait_status(payment["payment_id"], "in_progress")
    return payment["payment_id"], await env.order_of(payment["payment_id"])


def _body(env: Env, order_id: str, status: str, **changes: Any) -> bytes:
    order = {**env.sandbox.orders[order_id].data, "status": status, **changes}
    return json.dumps({"order": order, "localReceiptDateTime": None, "properties": []}).encode()


async def test_twenty_concurrent_duplicates_from_the_sandbox_give_one_acceptance(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    await env.act(order_id, "complete", duplicates=20, concurrent=True)
    await env.deliveries_done(order_id, 21)  # the PENDING, then 20 COMPLETED
    view = (await env.gw.get(f"/sandbox/orders/{order_id}")).json()
    assert all(d["delivered"] for d in view["deliveries"])  # every copy answered 200
    await env.wait_status(payment_id, "accepted")
    assert len(await env.payment_events("PaymentAccepted")) == 1


async def test_twenty_identical_notifications_at_once_give_one_acceptance(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    env.sandbox.orders[order_id].data["status"] = "COMPLETED"  # the gateway's truth, fetched back
    body = _body(env, order_id, "COMPLETED")
    answers = await asyncio.gather(*(env.notify(body) for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    await env.wait_status(payment_id, "accepted")
    assert len(await env.payment_events("PaymentAccepted")) == 1
    again = await env.notify(body)
    assert again.status_code == 200
    assert len(await env.payment_events("PaymentAccepted")) == 1


async def test_a_late_pending_after_completed_changes_nothing(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    await env.act(order_id, "complete", out_of_order=True)
    await env.deliveries_done(order_id, 3)  # PENDING (begin), COMPLETED, then the late PENDING
    view = (await env.gw.get(f"/sandbox/orders/{order_id}")).json()
    assert [d["status"] for d in view["deliveries"]] == ["PENDING", "COMPLETED", "PENDING"]
    assert all(d["delivered"] for d in view["deliveries"])
    shown = await env.wait_status(payment_id, "accepted")
    before = len(await env.payment_events())

    late = await env.notify(_body(env, order_id, "PENDING"))  # once more, by hand
    assert late.status_code == 200
    assert len(await env.payment_events()) == before
    assert (await env.payment(payment_id)).json()["status"] == shown["status"]
    types = [e.type for e in await env.payment_events() if e.data.get("payment_id") == payment_id]
    assert types == ["PaymentStarted", "PaymentOrderCreated", "PaymentInProgress", "PaymentAccepted"]


async def test_a_late_pending_whose_order_the_gateway_still_shows_pending_is_ignored_after_acceptance(
    env: Env,
) -> None:
    """Even if the fetched order said PENDING again, the domain would not go back."""
    payment_id, order_id = await _in_progress(env)
    await env.act(order_id, "complete")
    await env.wait_status(payment_id, "accepted")
    env.sandbox.orders[order_id].data["status"] = "PENDING"
    before = len(await env.payment_events())
    assert (await env.notify(_body(env, order_id, "PENDING"))).status_code == 200
    assert len(await env.payment_events()) == before
    assert (await env.payment(payment_id)).json()["status"]["code"] == "accepted"


async def _rejections(env: Env) -> list[dict[str, Any]]:
    response = await env.http.get("/api/payments/backoffice/rejections", headers=env.backoffice)
    assert response.status_code == 200
    rejections: list[dict[str, Any]] = response.json()
    return rejections


async def test_a_wrong_signature_is_refused_recorded_and_changes_nothing(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    env.sandbox.orders[order_id].data["status"] = "COMPLETED"
    body = _body(env, order_id, "COMPLETED")
    before = len(await env.payment_events())

    forged = await env.notify(body, key="not-the-second-key")
    assert forged.status_code == 401
    assert forged.json()["code"] == "invalid_signature"
    tampered = await env.http.post(  # signed, then changed on the way
        "/api/payments/gateway/payu/notify",
        content=body.replace(b'"COMPLETED"', b'"COMPLETED" '),
        headers={"OpenPayu-Signature": _signature(body)},
    )
    assert tampered.status_code == 401
    unsigned = await env.http.post("/api/payments/gateway/payu/notify", content=body)
    assert unsigned.status_code == 401
    md5_named_sha = await env.http.post(
        "/api/payments/gateway/payu/notify",
        content=body,
        headers={"OpenPayu-Signature": _signature(body).replace("algorithm=MD5", "algorithm=SHA-256")},
    )
    assert md5_named_sha.status_code == 401

    assert (await env.payment(payment_id)).json()["status"]["code"] == "in_progress"

    async def recorded() -> bool:
        return len(await _rejections(env)) >= 3

    await eventually(recorded, timeout=30, what="rejections recorded")
    rejections = await _rejections(env)
    assert {r["reason"] for r in rejections} == {"bad_signature"}
    assert {r["claimed_order_id"] for r in rejections} == {order_id}
    assert all(r["payment_id"] is None for r in rejections)  # nothing of an unsigned body is trusted
    assert SECOND_KEY not in json.dumps(rejections)
    assert len([e for e in await env.payment_events() if e.stream_id.startswith("payments-desk-")]) == before
    assert not await env.payment_events("PaymentAccepted")


def _signature(body: bytes) -> str:
    from services.payments.adapters.payu import signature_header

    return signature_header(body, SECOND_KEY)


async def test_sha256_signatures_are_accepted(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    env.sandbox.orders[order_id].data["status"] = "COMPLETED"
    answer = await env.notify(_body(env, order_id, "COMPLETED"), algorithm="SHA-256")
    assert answer.status_code == 200
    await env.wait_status(payment_id, "accepted")


async def test_an_order_whose_amount_disagrees_is_refused(env: Env) -> None:
    payment_id, order_id = await _in_progress(env, gross="1230.00")
    await env.gw.post(f"/sandbox/orders/{order_id}/tamper", json={"total_amount": "100"})
    await env.act(order_id, "complete")

    async def refused() -> bool:
        view = (await env.gw.get(f"/sandbox/orders/{order_id}")).json()
        completed = [d for d in view["deliveries"] if d["status"] == "COMPLETED"]
        return bool(completed) and any(a["outcome"] == "422" for a in completed[0]["attempts"])

    await eventually(refused, timeout=30, what="the COMPLETED refused")
    assert (await env.payment(payment_id)).json()["status"]["code"] == "in_progress"
    assert not await env.payment_events("PaymentAccepted")
    rejected = [decoded(e) for e in await env.payment_events("GatewayNotificationRejected")]
    assert rejected[0].reason == "amount_mismatch"
    assert rejected[0].payment_id == payment_id
    assert str(rejected[0].expected_amount) == "1230.00"
    assert len(rejected) == 1  # the retried copies are the same notification: recorded once


async def test_a_notification_claiming_another_amount_is_refused(env: Env) -> None:
    payment_id, order_id = await _in_progress(env, gross="1230.00")
    env.sandbox.orders[order_id].data["status"] = "COMPLETED"
    answer = await env.notify(_body(env, order_id, "COMPLETED", totalAmount="1"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "amount_mismatch"
    assert (await env.payment(payment_id)).json()["status"]["code"] == "in_progress"
    assert not await env.payment_events("PaymentAccepted")


async def test_a_currency_that_disagrees_is_refused(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    env.sandbox.orders[order_id].data.update(status="COMPLETED", currencyCode="EUR")
    answer = await env.notify(_body(env, order_id, "COMPLETED"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "currency_mismatch"
    assert (await env.payment(payment_id)).json()["status"]["code"] == "in_progress"
    assert not await env.payment_events("PaymentAccepted")


async def test_a_signed_notification_about_an_unknown_order_is_refused(env: Env) -> None:
    _, order_id = await _in_progress(env)
    body = _body(env, order_id, "COMPLETED", extOrderId="someone-else")
    answer = await env.notify(body)
    assert answer.status_code == 404
    unknown = _body(env, order_id, "COMPLETED", orderId="NOSUCHORDER")
    assert (await env.notify(unknown)).status_code == 404
    assert not await env.payment_events("PaymentAccepted")


async def test_a_notification_is_retried_while_the_order_cannot_be_fetched(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    await env.gw.post("/sandbox/outage", params={"down": "true"})
    env.sandbox.orders[order_id].data["status"] = "COMPLETED"
    answer = await env.notify(_body(env, order_id, "COMPLETED"))
    assert answer.status_code == 503  # the gateway will send it again
    assert (await env.payment(payment_id)).json()["status"]["code"] == "in_progress"
    await env.gw.post("/sandbox/outage", params={"down": "false"})
    await eventually(lambda: _accepts(env, order_id), timeout=30, what="accepted once the gateway is back")
    await env.wait_status(payment_id, "accepted")


async def _accepts(env: Env, order_id: str) -> bool:
    return (await env.notify(_body(env, order_id, "COMPLETED"))).status_code == 200


async def test_a_lost_notification_is_made_up_for_by_a_refresh(env: Env) -> None:
    payment_id, order_id = await _in_progress(env)
    await env.act(order_id, "complete", notify=False)  # the gateway completed it, but says nothing
    assert (await env.payment(payment_id)).json()["status"]["code"] == "in_progress"
    refreshed = await env.http.post(f"/api/payments/payments/{payment_id}/refresh", headers=env.headers())
    assert refreshed.status_code == 200
    assert refreshed.json()["status"]["code"] == "accepted"
    again = await env.http.post(f"/api/payments/payments/{payment_id}/refresh", headers=env.headers())
    assert again.json()["status"]["code"] == "accepted"
    assert len(await env.payment_events("PaymentAccepted")) == 1
    other = await env.http.post(f"/api/payments/payments/{payment_id}/refresh", headers=env.headers("CL-B"))
    assert other.status_code == 404


async def test_an_oversized_notification_is_refused(env: Env) -> None:
    answer = await env.notify(b"{" + b" " * (65 * 1024) + b"}")
    assert answer.status_code == 413
