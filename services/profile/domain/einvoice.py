"""The e-invoice service of a client: consent (who, when), its address, and confirmation links. Pure.

An address gets e-invoices only once it is confirmed: a consent for an address never confirmed for this
client, or a change of address, first sends a link to it (EInvoiceConfirmationRequested); nothing else
changes until the link is used. A link works once, until midnight (Warsaw) ending the day after it was
sent; a newer link or a withdrawal makes the older one void.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from libs.events import Aggregate, Conflict, DomainEvent, Invalid, NotFound
from libs.events.schemas.profile import (
    EInvoiceConfirmationRequested,
    EInvoiceConsentGiven,
    EInvoiceConsentWithdrawn,
    EInvoiceEmailChanged,
)
from libs.events.sealed import SealedMessage
from libs.events.warsaw import midnight_after
from services.profile.domain.errors import Gone

Purpose = Literal["consent", "email_change"]


def confirmation_expiry(requested_at: datetime) -> datetime:
    """Until midnight (Warsaw) of the day after the request."""
    return midnight_after(requested_at, 1)


def same_address(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


@dataclass(frozen=True)
class PreparedLink:
    """What the service layer made for a link: its id, the SHA-256 of its token, the sealed e-mail."""

    confirmation_id: str
    token_hash: str
    notification: SealedMessage


@dataclass(frozen=True)
class Pending:
    confirmation_id: str
    purpose: Purpose
    email: str
    token_hash: str
    expires_at: datetime
    requested_by: str
    requested_at: datetime


@dataclass(frozen=True)
class EInvoice:
    consent: bool = False
    email: str | None = None
    """The last confirmed address (kept after a withdrawal, so consent can be given again to it at once)."""
    pending: Pending | None = None
    void: Mapping[str, str] = field(default_factory=dict)
    """Token hashes that no longer work, with why: "used", "superseded" or "withdrawn"."""


@dataclass(frozen=True)
class GiveConsent:
    client_id: str
    email: str
    by: str
    at: datetime
    link: PreparedLink


@dataclass(frozen=True)
class RequestEmailChange:
    client_id: str
    email: str
    by: str
    at: datetime
    link: PreparedLink


@dataclass(frozen=True)
class Confirm:
    client_id: str
    token_hash: str
    at: datetime


@dataclass(frozen=True)
class WithdrawConsent:
    client_id: str
    by: str
    at: datetime
    reason: str | None = None


Command = GiveConsent | RequestEmailChange | Confirm | WithdrawConsent


def _link_requested(command: GiveConsent | RequestEmailChange, purpose: Purpose) -> EInvoiceConfirmationRequested:
    return EInvoiceConfirmationRequested(
        client_id=command.client_id,
        confirmation_id=command.link.confirmation_id,
        purpose=purpose,
        email=command.email,
        token_hash=command.link.token_hash,
        expires_at=confirmation_expiry(command.at),
        requested_by=command.by,
        requested_at=command.at,
        notification=command.link.notification,
    )


def _give(state: EInvoice, command: GiveConsent) -> Sequence[DomainEvent]:
    if state.consent:
        raise Conflict("einvoice_consent_already_given", "the client already accepts e-invoices; change the address")
    if same_address(state.email, command.email):
        assert state.email is not None
        return [
            EInvoiceConsentGiven(
                client_id=command.client_id, email=state.email, given_by=command.by, given_at=command.at
            )
        ]
    return [_link_requested(command, "consent")]


def _change(state: EInvoice, command: RequestEmailChange) -> Sequence[DomainEvent]:
    if not state.consent:
        raise Conflict("einvoice_consent_required", "give the e-invoice consent first")
    if same_address(state.email, command.email):
        raise Invalid("einvoice_email_unchanged", "this is already the e-invoice address", field="email")
    return [_link_requested(command, "email_change")]


def _confirm(state: EInvoice, command: Confirm) -> Sequence[DomainEvent]:
    pending = state.pending
    if pending is None or pending.token_hash != command.token_hash:
        why = state.void.get(command.token_hash)
        if why is not None:
            raise Gone(f"confirmation_link_{why}", f"this confirmation link is no longer valid ({why})")
        raise NotFound("confirmation_link_invalid", "no such confirmation link")
    if command.at >= pending.expires_at:
        raise Gone("confirmation_link_expired", "this confirmation link has expired; ask for a new one")
    if pending.purpose == "consent":
        return [
            EInvoiceConsentGiven(
                client_id=command.client_id,
                email=pending.email,
                given_by=pending.requested_by,
                given_at=command.at,
                confirmation_id=pending.confirmation_id,
            )
        ]
    assert state.email is not None
    return [
        EInvoiceEmailChanged(
            client_id=command.client_id,
            email=pending.email,
            previous_email=state.email,
            requested_by=pending.requested_by,
            requested_at=pending.requested_at,
            changed_at=command.at,
            confirmation_id=pending.confirmation_id,
        )
    ]


def _withdraw(state: EInvoice, command: WithdrawConsent) -> Sequence[DomainEvent]:
    if not state.consent or state.email is None:
        raise Conflict("einvoice_consent_not_given", "the client has not accepted e-invoices")
    return [
        EInvoiceConsentWithdrawn(
            client_id=command.client_id,
            email=state.email,
            withdrawn_by=command.by,
            withdrawn_at=command.at,
            reason=command.reason,
        )
    ]


def decide(state: EInvoice, command: Command) -> Sequence[DomainEvent]:
    match command:
        case GiveConsent():
            return _give(state, command)
        case RequestEmailChange():
            return _change(state, command)
        case Confirm():
            return _confirm(state, command)
        case WithdrawConsent():
            return _withdraw(state, command)
    raise TypeError(f"unknown command {command!r}")


def _void_pending(state: EInvoice, why: str) -> dict[str, str]:
    void = dict(state.void)
    if state.pending is not None:
        void[state.pending.token_hash] = why
    return void


def evolve(state: EInvoice, event: DomainEvent) -> EInvoice:
    match event:
        case EInvoiceConfirmationRequested():
            pending = Pending(
                confirmation_id=event.confirmation_id,
                purpose=event.purpose,
                email=event.email,
                token_hash=event.token_hash,
                expires_at=event.expires_at,
                requested_by=event.requested_by,
                requested_at=event.requested_at,
            )
            return replace(state, pending=pending, void=_void_pending(state, "superseded"))
        case EInvoiceConsentGiven() | EInvoiceEmailChanged():
            used = state.pending is not None and state.pending.confirmation_id == event.confirmation_id
            void = _void_pending(state, "used" if used else "superseded")
            return EInvoice(consent=True, email=event.email, pending=None, void=void)
        case EInvoiceConsentWithdrawn():
            return EInvoice(consent=False, email=state.email, pending=None, void=_void_pending(state, "withdrawn"))
    return state


einvoice = Aggregate[EInvoice, Command](category="profile-einvoice", initial=EInvoice, decide=decide, evolve=evolve)
