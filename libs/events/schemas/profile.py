"""Events published by the profile service (topic leasing.profile.events).

Streams: `profile-company-<client id>` (the client's contact data), `profile-person-<client id>:<account id>`
(a person's additional contact data within a client), `profile-einvoice-<client id>` (e-invoice consent and
address) and `profile-request-<request id>` (requests, "wnioski").

The e-invoice address notifications sends new invoices to: fold the `profile-einvoice-<client id>`
stream; `EInvoiceConsentGiven.email` and `EInvoiceEmailChanged.email` set it, `EInvoiceConsentWithdrawn`
clears it. Only confirmed addresses ever appear in those three events. A pending confirmation
(`EInvoiceConfirmationRequested`) changes nothing until it is confirmed.

No secret travels in plain text: the confirmation link's token is stored as its SHA-256 only, and what
notifications must send (the link, a status notice) travels as a SealedMessage only notifications can open.

A person's work e-mail and phone are `Personal` (libs/events/pii.py), sealed with its account's key, and
so is a status notice to the person who filed a request (a SealedMessage holds its address and name).
The company's contact data and e-invoice address are the client's, not a natural person's: kept
readable, and so is the confirmation link to the e-invoice address (a CompanySealedMessage).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr

from libs.events.blobs import BlobRef
from libs.events.envelope import DomainEvent
from libs.events.pii import Personal, Subject
from libs.events.registry import registry
from libs.events.sealed import CompanySealedMessage, SealedMessage


class PostalAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    street: str
    building: str
    apartment: str | None = None
    postal_code: str
    """Validated per country; Polish ones as NN-NNN."""
    city: str
    country: str = "PL"
    """ISO 3166-1 alpha-2."""


class CompanyContact(BaseModel):
    """The client's editable contact data (name and NIP come from its contracts and are not edited here)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correspondence_address: PostalAddress | None = None
    phone: str | None = None
    """E.164."""
    email: EmailStr | None = None


class PersonContact(BaseModel):
    """A person's additional contact data within one client. Its login e-mail and phone belong to identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    position: str | None = None
    department: str | None = None
    work_phone: Annotated[str | None, Personal] = None
    """E.164."""
    work_email: Annotated[EmailStr | None, Personal] = None


@registry.register
class ContactDataChanged(DomainEvent):
    """The client's contact data (correspondence address, phone, e-mail), as a whole after the change."""

    event_type = "ContactDataChanged"
    schema_version = 1

    client_id: str
    contact: CompanyContact
    changed_fields: tuple[str, ...]
    changed_by: str
    """The actor, e.g. "account:<id>"."""
    changed_at: datetime


@registry.register
class PersonContactDataChanged(DomainEvent):
    event_type = "PersonContactDataChanged"
    schema_version = 1
    data_subject: ClassVar[Subject] = Subject("account_id")

    client_id: str
    account_id: str
    contact: PersonContact
    changed_fields: tuple[str, ...]
    changed_by: str
    changed_at: datetime


@registry.register
class EInvoiceConfirmationRequested(DomainEvent):
    """A link sent to an e-invoice address not confirmed yet: for a consent or an address change."""

    event_type = "EInvoiceConfirmationRequested"
    schema_version = 1

    client_id: str
    confirmation_id: str
    purpose: Literal["consent", "email_change"]
    email: EmailStr
    token_hash: str
    """SHA-256 (hex) of the link's token; never the token."""
    expires_at: datetime
    """Midnight (Warsaw) ending the day after the request."""
    requested_by: str
    requested_at: datetime
    notification: CompanySealedMessage
    """For notifications: template "einvoice_email_confirmation", to the new address, with the link and
    the client's name; nothing about a natural person (the address is the client's, as in `email`)."""


@registry.register
class EInvoiceConsentGiven(DomainEvent):
    """The client accepts electronic invoices, sent to `email` (a confirmed address)."""

    event_type = "EInvoiceConsentGiven"
    schema_version = 1

    client_id: str
    email: EmailStr
    given_by: str
    given_at: datetime
    confirmation_id: str | None = None
    """The confirmation that proved the address; None when the address had been confirmed before."""


@registry.register
class EInvoiceConsentWithdrawn(DomainEvent):
    event_type = "EInvoiceConsentWithdrawn"
    schema_version = 1

    client_id: str
    email: EmailStr
    """The address e-invoices went to until now."""
    withdrawn_by: str
    withdrawn_at: datetime
    reason: str | None = None


@registry.register
class EInvoiceEmailChanged(DomainEvent):
    """A new, confirmed e-invoice address: new invoices go to `email` from now on."""

    event_type = "EInvoiceEmailChanged"
    schema_version = 1

    client_id: str
    email: EmailStr
    previous_email: EmailStr
    requested_by: str
    requested_at: datetime
    changed_at: datetime
    """When the link was confirmed."""
    confirmation_id: str


RequestStatus = Literal["submitted", "in_progress", "completed", "rejected"]


class RequestAttachment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    filename: str
    """As the client named it, sanitized, with the extension of the type found in its bytes."""
    file: BlobRef
    """`content_type` is the type detected from the bytes (PDF, JPEG or PNG)."""


@registry.register
class RequestSubmitted(DomainEvent):
    event_type = "RequestSubmitted"
    schema_version = 1

    request_id: str
    client_id: str
    request_type: str
    """A code of the request catalogue, e.g. "duplicate_invoice"."""
    form_version: int
    contract_ids: tuple[str, ...] = ()
    """The contracts the form refers to."""
    form: dict[str, Any]
    """The form data, valid against the type's JSON Schema of `form_version`."""
    attachments: tuple[RequestAttachment, ...] = ()
    submitted_by: str
    """The account id of the person who filed it."""
    submitted_at: datetime


@registry.register
class RequestStatusChanged(DomainEvent):
    event_type = "RequestStatusChanged"
    schema_version = 1
    data_subject: ClassVar[Subject] = Subject("submitted_by")

    request_id: str
    client_id: str
    from_status: RequestStatus
    to_status: RequestStatus
    reason: str | None = None
    """Required when rejected."""
    comment: str | None = None
    changed_by: str
    changed_at: datetime
    notification: SealedMessage | None = None
    """For notifications: template "request_status_changed", by e-mail to the person who filed it,
    sealed with its account's key; None when that person's address is unknown to profile."""
    submitted_by: str | None = None
    """The account id of the person who filed it, whose key seals `notification`; None in events
    recorded before it was added (their notification is not sealed with a person's key)."""
