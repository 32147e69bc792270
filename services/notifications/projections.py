"""Read models of the notifications service: pure folds.

- `notification_log`: the audit trail of outcomes; masked recipients only.
- `accounts`: who an identity account is to write to (e-mail, phone, first name), from identity's
  AccountProvisioned, kept current by its confirmed LoginEmailChanged and PhoneChanged; payment
  results go to the person who paid (`started_by`).
- `einvoice_addresses`: each client's confirmed e-invoice address and consent, from profile's
  `profile-einvoice-<client id>` stream; new invoices go there while the consent stands.

The last two hold plain addresses by nature (like identity's and profile's own read models), never a
code, a link or a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.schemas.identity import AccountProvisioned, LoginEmailChanged, PersonErased, PhoneChanged
from libs.events.schemas.notifications import NotificationFailed, NotificationSent
from libs.events.schemas.profile import EInvoiceConsentGiven, EInvoiceConsentWithdrawn, EInvoiceEmailChanged

NOTIFICATION_LOG = Collection(
    "notification_log", (Index.on("status"), Index.on("cause_event_id"), Index.on("settled_at"))
)
ACCOUNTS = Collection("accounts")
"""By account id: `email`, `phone`, `first_name`."""
EINVOICE_ADDRESSES = Collection("einvoice_addresses")
"""By client id: `consent` (bool) and `email` (the confirmed address; None after a withdrawal)."""


def _fold(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    match event:
        case NotificationSent():
            return {
                **event.model_dump(mode="json", exclude={"sent_at"}),
                "status": "sent",
                "reason": None,
                "error": None,
                "client_id": recorded.client_id,
                "settled_at": event.sent_at.isoformat(timespec="microseconds"),
            }
        case NotificationFailed():
            return {
                **event.model_dump(mode="json", exclude={"failed_at"}),
                "status": "failed",
                "provider_message_id": None,
                "client_id": recorded.client_id,
                "settled_at": event.failed_at.isoformat(timespec="microseconds"),
            }
    return doc or {}


def _keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    if isinstance(event, NotificationSent | NotificationFailed):
        return [str(event.notification_id)]
    return []


notification_log = Projection(
    name="notification_log",
    collection=NOTIFICATION_LOG,
    sources=("notifications",),
    handles=frozenset({NotificationSent.event_type, NotificationFailed.event_type}),
    keys=_keys,
    fold=_fold,
)


@dataclass(frozen=True)
class _Change:
    """What an event does to an address book document: sets `fields` on it, or on an empty one when it
    `replaces` the document."""

    fields: Document
    replaces: bool = False


def _address_book(
    name: str,
    collection: Collection,
    source: str,
    key: str,
    events: tuple[type[DomainEvent], ...],
    change: Callable[[DomainEvent], _Change],
    empty: Document,
) -> Projection:
    """A projection keeping one document per `key` (a field of each of `events`) from `source`."""

    def fold(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
        made = change(event)
        current = {} if made.replaces else doc or empty
        return {**current, key: getattr(event, key), **made.fields}

    return Projection(
        name=name,
        collection=collection,
        sources=(source,),
        handles=frozenset(model.event_type for model in events),
        keys=lambda event, _: [getattr(event, key)] if isinstance(event, events) else [],
        fold=fold,
    )


def _account_change(event: DomainEvent) -> _Change:
    match event:
        case AccountProvisioned():
            return _Change(
                {"email": str(event.email), "phone": event.phone, "first_name": event.first_name}, replaces=True
            )
        case LoginEmailChanged():
            return _Change({"email": str(event.new_email)})
        case PhoneChanged():
            return _Change({"phone": event.new_phone})
        case PersonErased():  # nothing left to write to: the person's messages fail as recipient_unknown
            return _Change({"erased": True}, replaces=True)
    raise TypeError(f"not an account event: {type(event).__name__}")


accounts = _address_book(
    "accounts",
    ACCOUNTS,
    "identity",
    "account_id",
    (AccountProvisioned, LoginEmailChanged, PhoneChanged, PersonErased),
    _account_change,
    empty={},
)


def _einvoice_change(event: DomainEvent) -> _Change:
    match event:
        case EInvoiceConsentGiven():
            return _Change({"consent": True, "email": str(event.email)}, replaces=True)
        case EInvoiceEmailChanged():
            return _Change({"email": str(event.email)})
        case EInvoiceConsentWithdrawn():
            return _Change({"consent": False, "email": None}, replaces=True)
    raise TypeError(f"not an e-invoice event: {type(event).__name__}")


einvoice_addresses = _address_book(
    "einvoice_addresses",
    EINVOICE_ADDRESSES,
    "profile",
    "client_id",
    (EInvoiceConsentGiven, EInvoiceEmailChanged, EInvoiceConsentWithdrawn),
    _einvoice_change,
    empty={"consent": False, "email": None},
)
