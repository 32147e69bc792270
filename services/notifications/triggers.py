"""Which events cause a notification, and what each one asks to send: one handler per event type.

A handler turns its event into an `Outgoing` (a NotificationRequest, and until when sending it still
makes sense) or None (nothing to send). Secrets travel sealed inside the event and are opened here
with `context.unseal`; a notification without secrets (InvoiceIssued, a payment result, a request's
new status) can build its NotificationRequest from the event and from notifications' own read
models (`context.documents`, e.g. the contact addresses it keeps from profile's events).

To add one: a function decorated with `@triggers.on(EventModel, source="<service>")` here (or in a
module imported by service.py), and its template in templates.py's CATALOGUE and templates/.
A new source starts its consumer group from the beginning of that service's events: guard a
handler with `not_after` (or by `recorded.occurred_at`) so that history is not mailed out again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from libs.events.docstore import DocumentStore
from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.schemas.identity import ActivationCodeIssued, ActivationLinkIssued, SubAccountCreated
from libs.events.sealed import NotificationRequest, SealedMessage

E = TypeVar("E", bound=DomainEvent)


@dataclass(frozen=True)
class Outgoing:
    request: NotificationRequest
    not_after: datetime | None = None
    """Past this moment the message is useless (an expired code): recorded as failed, not sent."""


class TriggerContext(Protocol):
    documents: DocumentStore

    def unseal(self, sealed: SealedMessage) -> NotificationRequest:
        """Opens a request sealed for notifications; raises CannotUnseal or InvalidRequest."""


Handler = Callable[[E, RecordedEvent, TriggerContext], Awaitable[Outgoing | None]]


@dataclass(frozen=True)
class Trigger:
    event_type: str
    source: str
    handler: Handler[Any]


class Triggers:
    """The registry of notification triggers, by event type."""

    def __init__(self) -> None:
        self._by_type: dict[str, Trigger] = {}

    def on(self, model: type[E], source: str) -> Callable[[Handler[E]], Handler[E]]:
        def register(handler: Handler[E]) -> Handler[E]:
            if model.event_type in self._by_type:
                raise ValueError(f"{model.event_type} already has a notification trigger")
            self._by_type[model.event_type] = Trigger(model.event_type, source, handler)
            return handler

        return register

    @property
    def by_type(self) -> Mapping[str, Trigger]:
        return self._by_type

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({trigger.source for trigger in self._by_type.values()}))

    @property
    def handles(self) -> frozenset[str]:
        return frozenset(self._by_type)


def with_defaults(request: NotificationRequest, **params: str) -> NotificationRequest:
    """The request with `params` added where the sender did not set them."""
    return request.model_copy(update={"params": {**params, **request.params}})


triggers = Triggers()


@triggers.on(ActivationCodeIssued, source="identity")
async def activation_code(event: ActivationCodeIssued, _: RecordedEvent, context: TriggerContext) -> Outgoing:
    request = with_defaults(context.unseal(event.notification), valid_until=event.expires_at.isoformat())
    return Outgoing(request, not_after=event.expires_at)


@triggers.on(ActivationLinkIssued, source="identity")
async def activation_link(event: ActivationLinkIssued, _: RecordedEvent, context: TriggerContext) -> Outgoing:
    request = with_defaults(context.unseal(event.notification), valid_until=event.expires_at.isoformat())
    return Outgoing(request, not_after=event.expires_at)


@triggers.on(SubAccountCreated, source="identity")
async def subaccount_invitation(event: SubAccountCreated, _: RecordedEvent, context: TriggerContext) -> Outgoing:
    return Outgoing(context.unseal(event.notification))
