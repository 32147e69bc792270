"""Events published by the identity service (topic leasing.identity.events).

No secret travels here in plain text: codes, link tokens and passwords appear only as hashes, and
what notifications must send (the code, the link) travels as a SealedMessage only notifications can
open. The access events (grants, scopes, sessions, deactivation) are what every service folds into
its `_access` read model to honour revocation on the next request.

A person's names, e-mails and phones are `Personal` (libs/events/pii.py): stored and published sealed
with the account's key, they read "[erased]" once its erasure deleted it. So are the SealedMessages to
the person (they hold its address or phone and name): an event carrying one names the account whose
person it is about.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, EmailStr

from libs.events.envelope import DomainEvent
from libs.events.pii import Personal, Subject
from libs.events.registry import registry
from libs.events.sealed import SealedMessage

BY_ACCOUNT: Subject = Subject("account_id")
"""The personal data of these events is the person's whose account it is."""


@registry.register
class AccountProvisioned(DomainEvent):
    """A person who may use the portal; provisioned from a contract or by the back office, never self-registered."""

    event_type = "AccountProvisioned"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    email: Annotated[EmailStr, Personal]
    phone: Annotated[str, Personal]
    first_name: Annotated[str, Personal]
    last_name: Annotated[str, Personal]
    source: str
    """"contract:<contract id>", "backoffice" or "subaccount:<creator account id>"."""


@registry.register
class ClientAccessGranted(DomainEvent):
    event_type = "ClientAccessGranted"
    schema_version = 1

    account_id: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None = None
    """None: every contract of the client."""


@registry.register
class ClientAccessChanged(DomainEvent):
    event_type = "ClientAccessChanged"
    schema_version = 1

    account_id: str
    client_id: str
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None = None
    changed_by: str


@registry.register
class ClientAccessRevoked(DomainEvent):
    event_type = "ClientAccessRevoked"
    schema_version = 1

    account_id: str
    client_id: str
    revoked_by: str


@registry.register
class SubAccountCreated(DomainEvent):
    event_type = "SubAccountCreated"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    client_id: str
    created_by: str
    scopes: tuple[str, ...]
    contract_ids: tuple[str, ...] | None = None
    notification: SealedMessage
    """The invitation e-mail for notifications (address, name, how to activate, who invited), sealed
    with the new account's key."""


@registry.register
class ActivationCodeIssued(DomainEvent):
    event_type = "ActivationCodeIssued"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    code_hash: str
    expires_at: datetime
    notification: SealedMessage
    """The SMS for notifications: phone number and the code, sealed."""


@registry.register
class ActivationCodeRejected(DomainEvent):
    event_type = "ActivationCodeRejected"
    schema_version = 1

    account_id: str
    failed_attempts: int


@registry.register
class ActivationCodeVerified(DomainEvent):
    event_type = "ActivationCodeVerified"
    schema_version = 1

    account_id: str


@registry.register
class ActivationLinkIssued(DomainEvent):
    event_type = "ActivationLinkIssued"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    token_hash: str
    expires_at: datetime
    notification: SealedMessage
    """The e-mail for notifications: address and the link, sealed."""


@registry.register
class AccountActivated(DomainEvent):
    event_type = "AccountActivated"
    schema_version = 1

    account_id: str
    password_hash: str
    """argon2id; never the password."""


@registry.register
class PasswordChanged(DomainEvent):
    event_type = "PasswordChanged"
    schema_version = 1

    account_id: str
    password_hash: str


@registry.register
class LoginFailed(DomainEvent):
    event_type = "LoginFailed"
    schema_version = 1

    account_id: str
    failed_attempts: int
    locked_until: datetime | None = None


@registry.register
class SessionStarted(DomainEvent):
    event_type = "SessionStarted"
    schema_version = 1

    session_id: str
    account_id: str
    client_id: str
    refresh_token_hash: str
    expires_at: datetime
    """The absolute end of the session: no refresh goes past it."""
    refresh_expires_at: datetime | None = None
    """When this refresh token dies unused (the inactivity timeout); None: at `expires_at`."""


@registry.register
class SessionRefreshed(DomainEvent):
    """The refresh token was rotated: the new one replaces it, the old one is spent (its reuse ends the session)."""

    event_type = "SessionRefreshed"
    schema_version = 1

    session_id: str
    account_id: str
    client_id: str
    refresh_token_hash: str
    expires_at: datetime
    """The absolute end of the session, unchanged by refreshes."""
    refresh_expires_at: datetime | None = None
    """When the new refresh token dies unused; None: at `expires_at`."""


@registry.register
class SessionClientSwitched(DomainEvent):
    """The person switched the session to another client it was granted (the context switch)."""

    event_type = "SessionClientSwitched"
    schema_version = 1

    session_id: str
    account_id: str
    client_id: str


@registry.register
class SessionRevoked(DomainEvent):
    event_type = "SessionRevoked"
    schema_version = 1

    session_id: str
    account_id: str
    reason: str
    """"logout", "password_changed", "deactivated", "refresh_token_reused", ..."""


@registry.register
class AccountDeactivated(DomainEvent):
    event_type = "AccountDeactivated"
    schema_version = 1

    account_id: str
    deactivated_by: str


@registry.register
class AccountReactivated(DomainEvent):
    event_type = "AccountReactivated"
    schema_version = 1

    account_id: str
    reactivated_by: str


# ------------------------------------------------------------------- contact changes (login e-mail, phone)


@registry.register
class LoginEmailChangeRequested(DomainEvent):
    """The person (current password given) asked to log in with another address; nothing changes until
    the link sealed to that address is opened. A newer request replaces this one."""

    event_type = "LoginEmailChangeRequested"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    new_email: Annotated[EmailStr, Personal]
    token_hash: str
    expires_at: datetime
    requested_in_session: str
    """The session that asked: it survives the confirmation, every other one ends."""
    notification: SealedMessage
    """The e-mail with the confirmation link, to the new address, sealed."""


@registry.register
class LoginEmailChanged(DomainEvent):
    """Confirmed: the account logs in with `new_email` from now on; `old_email` no longer logs in."""

    event_type = "LoginEmailChanged"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    old_email: Annotated[EmailStr, Personal]
    new_email: Annotated[EmailStr, Personal]


@registry.register
class PhoneChangeRequested(DomainEvent):
    """The person (current password given) asked to receive SMS codes on another number; nothing
    changes until the code sealed to that number comes back. A newer request replaces this one."""

    event_type = "PhoneChangeRequested"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    new_phone: Annotated[str, Personal]
    code_hash: str
    expires_at: datetime
    notification: SealedMessage
    """The SMS with the code, to the new number, sealed."""


@registry.register
class PhoneChangeCodeRejected(DomainEvent):
    event_type = "PhoneChangeCodeRejected"
    schema_version = 1

    account_id: str
    failed_attempts: int


@registry.register
class PhoneChanged(DomainEvent):
    """Confirmed: SMS codes go to `new_phone` from now on."""

    event_type = "PhoneChanged"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    old_phone: Annotated[str, Personal]
    new_phone: Annotated[str, Personal]


@registry.register
class ContactChangeNoticeIssued(DomainEvent):
    """An information e-mail to the person's current (old) address about a requested contact change."""

    event_type = "ContactChangeNoticeIssued"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    account_id: str
    change: str
    """"login_email" or "phone"."""
    notification: SealedMessage


@registry.register
class LoginEmailReserved(DomainEvent):
    """Stream `identity-login-email-<uuid5(address)>`: `account_id` logs in with this address. At most one
    holder per address (the stream's optimistic concurrency decides between two at once)."""

    event_type = "LoginEmailReserved"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    email: Annotated[EmailStr, Personal]
    account_id: str


@registry.register
class LoginEmailReleased(DomainEvent):
    """The holder moved to another address: this one logs nobody in until reserved again."""

    event_type = "LoginEmailReleased"
    schema_version = 1
    data_subject: ClassVar[Subject] = BY_ACCOUNT

    email: Annotated[EmailStr, Personal]
    account_id: str


# ------------------------------------------------------------------------------------------- erasure


@registry.register
class PersonErasureStarted(DomainEvent):
    """The first step of an erasure, recorded while the person's addresses can still be read: which
    contact-person keys go with its own. The account refuses everything but the erasure from now on;
    PersonErased follows once the keys are deleted. Holds no personal data."""

    event_type = "PersonErasureStarted"
    schema_version = 1

    account_id: str
    contact_subjects: tuple[str, ...]
    """`pii.contact_subject` of every login e-mail the account had."""
    started_by: str
    started_at: AwareDatetime


@registry.register
class PersonErased(DomainEvent):
    """The person's personal data is erased (GDPR Art. 17): its keys are deleted, so the names, e-mails
    and phones in its events read "[erased]"; every read model drops what it held about the person; the
    account never logs in again. Invoices, payments and contracts stay (they are the client's). Holds no
    personal data itself."""

    event_type = "PersonErased"
    schema_version = 1

    account_id: str
    client_ids: tuple[str, ...]
    """Every client the person could act for: read models kept per client and person hold its data."""
    contact_subjects: tuple[str, ...]
    """`pii.contact_subject` of every login e-mail the account had: contracts name contact persons under these."""
    erased_by: str
    erased_at: AwareDatetime
