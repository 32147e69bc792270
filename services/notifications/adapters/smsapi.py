"""SMS through SMSAPI.pl's REST API: POST sms.do with an OAuth bearer token, answers in JSON.

Sent with `idx` = the notification id and `check_idx=1`: SMSAPI refuses a second message with the
same idx within a day (error 53), which closes most of the window in which a redelivered cause
could send the same SMS twice (see delivery.py). That refusal is therefore reported as sent.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from services.notifications.ports import DeliveryError, OutgoingMessage

DUPLICATE_IDX = 53
"""A message with this idx was already sent (check_idx=1)."""
TRANSIENT_ERRORS = frozenset({201, 202, 203, 999})
"""SMSAPI's internal errors and "too many requests": worth another attempt. Every other error
code (wrong number, no credits, bad token, wrong sender name...) is final."""


class SmsApiSender:
    name = "smsapi"

    def __init__(
        self,
        token: SecretStr,
        *,
        url: str = "https://api.smsapi.pl/sms.do",
        sender_name: str | None = None,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self._url = url
        self._sender_name = sender_name
        self._timeout = timeout
        self._transport = transport
        """Tests hand in httpx.MockTransport; production uses httpx's own."""

    async def send(self, message: OutgoingMessage) -> str | None:
        form = {
            "to": message.to.lstrip("+"),
            "message": message.text,
            "format": "json",
            "encoding": "utf-8",
            "idx": message.notification_id.hex,
            "check_idx": "1",
        }
        if self._sender_name:
            form["from"] = self._sender_name
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
                response = await client.post(self._url, data=form, headers=headers)
        except httpx.TransportError as error:  # connect, read, timeouts: try again later
            raise DeliveryError(f"SMSAPI unreachable: {type(error).__name__}", transient=True) from None
        body = _json(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(f"SMSAPI answered HTTP {response.status_code}", transient=True)
        if "error" in body:
            code = _int(body.get("error"))
            if code == DUPLICATE_IDX:
                return f"idx:{message.notification_id.hex}"
            detail = f"SMSAPI error {code}: {body.get('message', '')}"
            raise DeliveryError(detail, transient=code in TRANSIENT_ERRORS)
        if response.status_code >= 400:
            raise DeliveryError(f"SMSAPI answered HTTP {response.status_code}", transient=False)
        sent = body.get("list") or []
        if not sent or not isinstance(sent, list):
            raise DeliveryError("SMSAPI answered without a message list", transient=True)
        return str(sent[0].get("id")) if isinstance(sent[0], dict) and sent[0].get("id") else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
