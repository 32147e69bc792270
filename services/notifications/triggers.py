"""Which events cause a notification, and what each one asks to send: one handler per event type.

A handler turns its event into an `Outgoing` (a NotificationRequest, and until when sending it still
makes sense) or None (nothing to send). Secrets travel sealed inside the event and are opened here
with `context.unseal`; a notification without secrets (InvoiceIssued, a payment result) builds its
NotificationRequest from the event and from notifications' own read models (projections.py), read
with `context.lookup`, which, when the document is missing (or not yet usable), first lets the read
model read what its sources hold (bounded by NOTIFICATIONS_READ_MODEL_WAIT): an account provisioned,
or a consent given, just before the cause is then already there.

To add one: a function decorated with `@triggers.on(EventModel, source="<service>")` here (or in a
module imported by service.py), and its template in templates.py's CATALOGUE and templates/.
A new source starts its consumer group from the beginning of that service's events: register the
handler with `skip_history=True` (causes older than NOTIFICATIONS_MAX_EVENT_AGE_HOURS are skipped,
nothing recorded) and/or give its Outgoing a `not_after`, so that history is not mailed out.

What is sent on what:
- identity: ActivationCodeIssued (SMS), ActivationLinkIssued, SubAccountCreated: sealed by identity.
  A login contact change: LoginEmailChangeRequested (the confirmation link, to the new address),
  PhoneChangeRequested (the code by SMS, to the new number) and ContactChangeNoticeIssued (to the
  current address; the new address or number in it is masked here, see `contact_change_notice`).
- profile: EInvoiceConfirmationRequested (the confirmation link, sealed) and RequestStatusChanged
  (sealed, or None when profile knows no address: nothing is sent).
- payments: PaymentAccepted / PaymentFailed, to the payer's address from `accounts`.
- billing: InvoiceIssued, to the client's confirmed e-invoice address from `einvoice_addresses`,
  with a link to the portal's invoices (no attachment: the PDF is in the portal); no consent, no
  message, and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from libs.events.docstore import Collection, Document, DocumentStore
from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.schemas.billing import InvoiceIssued
from libs.events.schemas.identity import (
    ActivationCodeIssued,
    ActivationLinkIssued,
    ContactChangeNoticeIssued,
    LoginEmailChangeRequested,
    PhoneChangeRequested,
    SubAccountCreated,
)
from libs.events.schemas.payments import PaymentAccepted, PaymentFailed
from libs.events.schemas.profile import EInvoiceConfirmationRequested, RequestStatusChanged
from libs.events.sealed import NotificationRequest, SealedMessage
from services.notifications.domain import mask_email, mask_phone
from services.notifications.projections import ACCOUNTS, EINVOICE_ADDRESSES

E = TypeVar("E", bound=DomainEvent)


@dataclass(frozen=True)
class Outgoing:
    request: NotificationRequest
    not_after: datetime | None = None
    """Past this moment the message is useless (an expired code): recorded as failed, not sent."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Structured data for the template beside the request's string params (the invoices a payment
    paid). Never a secret: it is not redacted from providers' errors."""


class RecipientUnknown(LookupError):
    """Notifications' read models do not know whom to write to: recorded as failed. Names ids, never addresses."""

    def __init__(self, detail: str, *, channel: Literal["sms", "email"], template: str) -> None:
        super().__init__(detail)
        self.channel: Literal["sms", "email"] = channel
        self.template = template


class TriggerContext(Protocol):
    documents: DocumentStore
    invoices_url: str
    """The client zone's invoices page, e.g. https://strefaklienta.aliorleasing.pl/faktury."""

    def unseal(self, sealed: SealedMessage) -> NotificationRequest:
        """Opens a request sealed for notifications; raises CannotUnseal or InvalidRequest."""

    async def lookup(
        self, collection: Collection, doc_id: str, *, ready: Callable[[Document], bool] | None = None
    ) -> Document | None:
        """A document of one of notifications' read models; when it is missing or not `ready`, as it is once
        that read model has read what its sources hold now (bounded)."""


Handler = Callable[[E, RecordedEvent, TriggerContext], Awaitable[Outgoing | None]]


@dataclass(frozen=True)
class Trigger:
    event_type: str
    source: str
    handler: Handler[Any]
    skip_history: bool = False
    """Causes older than the service's maximum event age are skipped (nothing sent, nothing recorded)."""


class Triggers:
    """The registry of notification triggers, by event type."""

    def __init__(self) -> None:
        self._by_type: dict[str, Trigger] = {}

    def on(self, model: type[E], source: str, *, skip_history: bool = False) -> Callable[[Handler[E]], Handler[E]]:
        def register(handler: Handler[E]) -> Handler[E]:
            if model.event_type in self._by_type:
                raise ValueError(f"{model.event_type} already has a notification trigger")
            self._by_type[model.event_type] = Trigger(model.event_type, source, handler, skip_history)
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


def with_params(request: NotificationRequest, **params: str) -> NotificationRequest:
    """The request with `params` set, whatever the sender put there."""
    return request.model_copy(update={"params": {**request.params, **params}})


def aware(moment: datetime) -> datetime:
    """A moment with its time zone; a naive one is taken as UTC (how every service records them)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


@triggers.on(LoginEmailChangeRequested, source="identity")
async def login_email_confirmation(
    event: LoginEmailChangeRequested, _: RecordedEvent, context: TriggerContext
) -> Outgoing:
    expires_at = aware(event.expires_at)
    request = with_defaults(context.unseal(event.notification), new_email=str(event.new_email))
    # The deadline the message states is the one past which it is not sent.
    return Outgoing(with_params(request, valid_until=expires_at.isoformat()), not_after=expires_at)


@triggers.on(PhoneChangeRequested, source="identity")
async def phone_change_code(event: PhoneChangeRequested, _: RecordedEvent, context: TriggerContext) -> Outgoing:
    expires_at = aware(event.expires_at)
    request = with_params(context.unseal(event.notification), valid_until=expires_at.isoformat())
    return Outgoing(request, not_after=expires_at)


CONTACT_MASKS: Mapping[str, Callable[[str], str]] = {"login_email": mask_email, "phone": mask_phone}
"""How the notice shows the new value of each kind of change to the current address."""


@triggers.on(ContactChangeNoticeIssued, source="identity")
async def contact_change_notice(
    event: ContactChangeNoticeIssued, _: RecordedEvent, context: TriggerContext
) -> Outgoing:
    """Information only, so no deadline. Whoever reads the current mailbox learns that a change was asked
    for, never the whole new address or number; an unknown kind of change shows no value at all."""
    request = context.unseal(event.notification)
    mask = CONTACT_MASKS.get(event.change)
    new_value = request.params.get("new_value", "").strip()
    shown = mask(new_value) if mask is not None and new_value else ""
    return Outgoing(with_params(request, change=event.change, new_value=shown))


# profile


@triggers.on(EInvoiceConfirmationRequested, source="profile", skip_history=True)
async def einvoice_confirmation(
    event: EInvoiceConfirmationRequested, _: RecordedEvent, context: TriggerContext
) -> Outgoing:
    expires_at = aware(event.expires_at)
    request = with_defaults(context.unseal(event.notification), purpose=event.purpose)
    # The event's expires_at is the deadline (profile's valid_until is a display string, not ISO 8601).
    request = with_params(request, valid_until=expires_at.isoformat())
    return Outgoing(request, not_after=expires_at)


@triggers.on(RequestStatusChanged, source="profile", skip_history=True)
async def request_status_changed(
    event: RequestStatusChanged, _: RecordedEvent, context: TriggerContext
) -> Outgoing | None:
    if event.notification is None:  # profile knows no address of the person who filed it
        return None
    request = with_defaults(
        context.unseal(event.notification),
        status=event.to_status,
        reason=event.reason or "",
        comment=event.comment or "",
    )
    return Outgoing(request)


# payments


async def _payment_result(
    context: TriggerContext, template: str, event: PaymentAccepted | PaymentFailed, at: datetime
) -> Outgoing:
    account = await context.lookup(ACCOUNTS, event.started_by)
    if account is None or not account.get("email"):
        raise RecipientUnknown(
            f"account {event.started_by} (who paid) is not known to notifications", channel="email", template=template
        )
    request = NotificationRequest(
        channel="email",
        to=account["email"],
        template=template,
        params={
            "first_name": str(account.get("first_name") or ""),
            "amount": str(event.amount),
            "currency": event.currency,
            "at": aware(at).isoformat(),
            "link": context.invoices_url,
        },
    )
    invoices = [{"number": invoice.number, "amount": str(invoice.amount)} for invoice in event.invoices]
    return Outgoing(request, details={"invoices": invoices})


@triggers.on(PaymentAccepted, source="payments", skip_history=True)
async def payment_accepted(event: PaymentAccepted, _: RecordedEvent, context: TriggerContext) -> Outgoing:
    return await _payment_result(context, "payment_accepted", event, event.accepted_at)


@triggers.on(PaymentFailed, source="payments", skip_history=True)
async def payment_failed(event: PaymentFailed, _: RecordedEvent, context: TriggerContext) -> Outgoing:
    return await _payment_result(context, "payment_failed", event, event.failed_at)


# billing


def _confirmed_address(address: Document) -> bool:
    return bool(address.get("consent") and address.get("email"))


@triggers.on(InvoiceIssued, source="billing", skip_history=True)
async def invoice_issued(event: InvoiceIssued, _: RecordedEvent, context: TriggerContext) -> Outgoing | None:
    address = await context.lookup(EINVOICE_ADDRESSES, event.client_id, ready=_confirmed_address)
    if address is None or not _confirmed_address(address):
        return None  # no e-invoice consent: the invoice is in the portal, nothing is mailed
    request = NotificationRequest(
        channel="email",
        to=address["email"],
        template="invoice_issued",
        params={
            "number": event.number,
            "kind": event.kind,
            "amount": str(event.gross_total),
            "currency": event.currency,
            "issue_date": event.issue_date.isoformat(),
            "due_date": event.due_date.isoformat(),
            "link": context.invoices_url,
        },
    )
    return Outgoing(request)
