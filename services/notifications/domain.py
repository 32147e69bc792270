"""The notification aggregate and the masking rules: pure, no I/O.

One notification per cause event (stream `notifications-notification-<uuid5 of the cause's id>`).
Its outcome, NotificationSent or NotificationFailed, is final: a cause delivered again, by the same
consumer after a crash or by another one, finds the outcome and sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from libs.events import Aggregate, DomainEvent
from libs.events.schemas.notifications import NotificationFailed, NotificationSent

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 4
"""Shorter parameter values are not worth redacting (and would mangle the text)."""


@dataclass(frozen=True)
class RecordOutcome:
    outcome: NotificationSent | NotificationFailed


@dataclass(frozen=True)
class Notification:
    outcome: Literal["pending", "sent", "failed"] = "pending"

    @property
    def settled(self) -> bool:
        return self.outcome != "pending"


def decide(state: Notification, command: RecordOutcome) -> Sequence[DomainEvent]:
    if state.settled:
        return []  # the first outcome stands: a redelivered cause records nothing
    return [command.outcome]


def evolve(state: Notification, event: DomainEvent) -> Notification:
    match event:
        case NotificationSent():
            return Notification(outcome="sent")
        case NotificationFailed():
            return Notification(outcome="failed")
    return state


notification = Aggregate[Notification, RecordOutcome](
    category="notifications-notification", initial=Notification, decide=decide, evolve=evolve
)


def mask_phone(number: str) -> str:
    """+48601234567 -> +48******567: the country code and the last three digits stay."""
    digits = re.sub(r"\D", "", number)
    international = number.strip().startswith("+")
    if len(digits) < 7:
        return "*" * len(digits)
    head = digits[:2] if international else ""
    hidden = len(digits) - len(head) - 3
    return ("+" if international else "") + head + "*" * hidden + digits[-3:]


def mask_email(address: str) -> str:
    """jan.kowalski@firma.pl -> j***@firma.pl."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_recipient(channel: str, to: str) -> str:
    return mask_email(to) if channel == "email" else mask_phone(to)


def redact(text: str, recipient: str | None, secrets: Iterable[str], channel: str = "sms") -> str:
    """`text` (a provider's error, say) with the recipient masked and every secret value replaced."""
    if recipient:
        masked = mask_recipient(channel, recipient)
        text = text.replace(recipient, masked)
        bare = recipient.lstrip("+")
        if channel == "sms" and bare:
            text = text.replace(bare, masked)
    for value in sorted(secrets, key=len, reverse=True):
        if len(value) >= _MIN_SECRET_LENGTH:
            text = text.replace(value, REDACTED)
    return text[:500]
