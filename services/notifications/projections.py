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


_ACCOUNT_EVENTS = (AccountProvisioned, LoginEmailChanged, PhoneChanged, PersonErased)


def _fold_account(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    current = doc or {}
    match event:
        case AccountProvisioned():
            return {
                "account_id": event.account_id,
                "email": str(event.email),
                "phone": event.phone,
                "first_name": event.first_name,
            }
        case LoginEmailChanged():
            return {**current, "account_id": event.account_id, "email": str(event.new_email)}
        case PhoneChanged():
            return {**current, "account_id": event.account_id, "phone": event.new_phone}
        case PersonErased():  # nothing left to write to: the person's messages fail as recipient_unknown
            return {"account_id": event.account_id, "erased": True}
    return current


accounts = Projection(
    name="accounts",
    collection=ACCOUNTS,
    sources=("identity",),
    handles=frozenset(model.event_type for model in _ACCOUNT_EVENTS),
    keys=lambda event, _: [event.account_id] if isinstance(event, _ACCOUNT_EVENTS) else [],
    fold=_fold_account,
)

_EINVOICE_EVENTS = (EInvoiceConsentGiven, EInvoiceEmailChanged, EInvoiceConsentWithdrawn)


def _fold_einvoice(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    current = doc or {"consent": False, "email": None}
    match event:
        case EInvoiceConsentGiven():
            return {"client_id": event.client_id, "consent": True, "email": str(event.email)}
        case EInvoiceEmailChanged():
            return {**current, "client_id": event.client_id, "email": str(event.email)}
        case EInvoiceConsentWithdrawn():
            return {"client_id": event.client_id, "consent": False, "email": None}
    return current


einvoice_addresses = Projection(
    name="einvoice_addresses",
    collection=EINVOICE_ADDRESSES,
    sources=("profile",),
    handles=frozenset(model.event_type for model in _EINVOICE_EVENTS),
    keys=lambda event, _: [event.client_id] if isinstance(event, _EINVOICE_EVENTS) else [],
    fold=_fold_einvoice,
)
