"""The delivery port: one small protocol per channel's provider (SMTP, SMSAPI, the dev outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message, ready for a provider. Holds the plain text: never log or store it."""

    notification_id: UUID
    channel: Literal["sms", "email"]
    to: str
    template: str
    locale: str
    text: str
    subject: str | None = None
    html: str | None = None


class DeliveryError(Exception):
    """The provider did not take the message. `transient`: worth another attempt later.

    The message must not quote the message's text; the caller masks the recipient in it anyway."""

    def __init__(self, detail: str, *, transient: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transient = transient


class NotConfigured(DeliveryError):
    """No provider is configured for the channel: nothing was sent, retrying will not help."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, transient=False)


class Sender(Protocol):
    @property
    def name(self) -> str:
        """Recorded in NotificationSent.provider: "smtp", "smsapi", "outbox"."""

    async def send(self, message: OutgoingMessage) -> str | None:
        """Hands the message over; returns the provider's message id. Raises DeliveryError."""


class Unconfigured:
    """The sender of a channel nobody configured: refuses every message, so the failure is on record."""

    name = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def send(self, message: OutgoingMessage) -> str | None:
        raise NotConfigured(self.reason)
