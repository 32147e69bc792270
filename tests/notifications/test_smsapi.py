"""The SMSAPI.pl adapter against a fake SMSAPI (httpx.MockTransport): the request it makes and how it
reads SMSAPI's answers, errors included."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from services.notifications.adapters.smsapi import SmsApiSender
from services.notifications.ports import DeliveryError, OutgoingMessage

URL = "https://api.smsapi.pl/sms.do"
TEXT = "Strefa Klienta: Twój kod autoryzacyjny to 739214. Kod jest ważny do północy (do 23:59 dnia 14.03.2030)."


def message() -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=uuid4(), channel="sms", to="+48601234567", template="activation_code", locale="pl", text=TEXT
    )


class FakeSmsApi:
    """Answers every request with `answer(request)` and keeps the requests."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def sender(self, sender_name: str | None = "AliorLeas") -> SmsApiSender:
        return SmsApiSender(
            SecretStr("token-123"), url=URL, sender_name=sender_name, transport=httpx.MockTransport(self)
        )


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "count": 1,
            "list": [{"id": "5A9F8E2D1C", "points": 0.16, "number": "48601234567", "status": "QUEUE"}],
        },
    )


async def test_it_posts_the_message_as_smsapi_expects_and_returns_its_id() -> None:
    fake = FakeSmsApi(accepted)
    sent = message()
    assert await fake.sender().send(sent) == "5A9F8E2D1C"
    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["Authorization"] == "Bearer token-123"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = {name: values[0] for name, values in parse_qs(request.content.decode("utf-8")).items()}
    assert form == {
        "to": "48601234567",
        "message": TEXT,
        "from": "AliorLeas",
        "format": "json",
        "encoding": "utf-8",
        "idx": sent.notification_id.hex,
        "check_idx": "1",
    }


async def test_without_a_sender_name_the_accounts_default_is_used() -> None:
    fake = FakeSmsApi(accepted)
    await fake.sender(sender_name=None).send(message())
    assert "from" not in parse_qs(fake.requests[0].content.decode())


async def test_a_message_already_sent_with_the_same_idx_counts_as_sent() -> None:
    fake = FakeSmsApi(lambda _: httpx.Response(200, json={"error": 53, "message": "Not unique idx parameter"}))
    sent = message()
    assert await fake.sender().send(sent) == f"idx:{sent.notification_id.hex}"


@pytest.mark.parametrize(
    ("response", "transient", "detail"),
    [
        (httpx.Response(200, json={"error": 13, "message": "No correct phone numbers"}), False, "SMSAPI error 13"),
        (httpx.Response(200, json={"error": 103, "message": "Insufficient credits"}), False, "SMSAPI error 103"),
        (httpx.Response(401, json={"error": 101, "message": "Authorization failed"}), False, "SMSAPI error 101"),
        (httpx.Response(200, json={"error": 201, "message": "Internal error"}), True, "SMSAPI error 201"),
        (httpx.Response(200, json={"error": 203, "message": "Too many requests"}), True, "SMSAPI error 203"),
        (httpx.Response(503, text="<html>Service Unavailable</html>"), True, "HTTP 503"),
        (httpx.Response(429, text=""), True, "HTTP 429"),
        (httpx.Response(403, text="forbidden"), False, "HTTP 403"),
        (httpx.Response(200, json={"count": 0, "list": []}), True, "without a message list"),
    ],
)
async def test_its_errors_are_told_apart_as_transient_or_final(
    response: httpx.Response, transient: bool, detail: str
) -> None:
    fake = FakeSmsApi(lambda _: response)
    with pytest.raises(DeliveryError) as raised:
        await fake.sender().send(message())
    assert raised.value.transient is transient
    assert detail in raised.value.detail
    assert "token-123" not in raised.value.detail


async def test_an_unreachable_smsapi_is_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(DeliveryError) as raised:
        await FakeSmsApi(refuse).sender().send(message())
    assert raised.value.transient
    assert raised.value.detail == "SMSAPI unreachable: ConnectError"
