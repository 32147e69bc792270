"""Identity's read models: pure folds. No hash, code or token is ever copied into them.

PersonErased leaves an account a tombstone without personal data (status "erased")."""

from __future__ import annotations

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.pii import ERASED, is_erased
from libs.events.schemas.contracts import ContractRegistered
from libs.events.schemas.identity import (
    AccountActivated,
    AccountDeactivated,
    AccountProvisioned,
    AccountReactivated,
    ClientAccessChanged,
    ClientAccessGranted,
    ClientAccessRevoked,
    LoginEmailChanged,
    PersonErased,
    PhoneChanged,
    SessionClientSwitched,
    SessionRefreshed,
    SessionRevoked,
    SessionStarted,
    SubAccountCreated,
)

ACCOUNTS = Collection("accounts", (Index.on("email", unique=True),))
SESSIONS = Collection("sessions", (Index.on("account_id"),))
GRANTS = Collection("grants", (Index.on("client_id", "subaccount"), Index.on("account_id")))
CLIENTS = Collection("clients")


def _types(*classes: type[DomainEvent]) -> frozenset[str]:
    return frozenset(cls.event_type for cls in classes)


def _email(account_id: str, email: str) -> str:
    """The address; once erased, still a value of its own: `email` has a unique index."""
    return f"{ERASED}:{account_id}" if is_erased(email) else email


def _fold_account(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    at = recorded.occurred_at.isoformat()
    base = doc or {}
    match event:
        case AccountProvisioned():
            return {
                **base,
                "account_id": event.account_id,
                "email": _email(event.account_id, str(event.email)),
                "first_name": event.first_name,
                "last_name": event.last_name,
                "phone": event.phone,
                "source": event.source,
                "status": base.get("status", "provisioned"),
                "provisioned_at": at,
            }
        case AccountActivated():
            return {**base, "status": "active", "activated_at": at}
        case AccountDeactivated():
            return {**base, "status": "deactivated", "deactivated_at": at}
        case AccountReactivated():
            return {**base, "status": "active" if base.get("activated_at") else "provisioned", "deactivated_at": None}
        case LoginEmailChanged():
            return {**base, "email": _email(event.account_id, str(event.new_email)), "email_changed_at": at}
        case PhoneChanged():
            return {**base, "phone": event.new_phone, "phone_changed_at": at}
        case PersonErased():
            kept = {key: value for key, value in base.items() if key not in ("first_name", "last_name", "phone")}
            return {**kept, "email": _email(event.account_id, ERASED), "status": "erased", "erased_at": at}
    return base


accounts = Projection(
    name="accounts",
    collection=ACCOUNTS,
    sources=("identity",),
    handles=_types(
        AccountProvisioned,
        AccountActivated,
        AccountDeactivated,
        AccountReactivated,
        LoginEmailChanged,
        PhoneChanged,
        PersonErased,
    ),
    keys=lambda event, _: [getattr(event, "account_id", "")],
    fold=_fold_account,
)


def _fold_session(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    at = recorded.occurred_at.isoformat()
    base = doc or {}
    match event:
        case SessionStarted():
            return {
                **base,
                "session_id": event.session_id,
                "account_id": event.account_id,
                "client_id": event.client_id,
                "started_at": at,
                "expires_at": event.expires_at.isoformat(),
                "revoked": base.get("revoked", False),
            }
        case SessionRefreshed():
            return {**base, "account_id": event.account_id, "client_id": event.client_id, "refreshed_at": at}
        case SessionClientSwitched():
            return {**base, "account_id": event.account_id, "client_id": event.client_id}
        case SessionRevoked():
            return {**base, "account_id": event.account_id, "revoked": True, "reason": event.reason, "revoked_at": at}
    return base


sessions = Projection(
    name="sessions",
    collection=SESSIONS,
    sources=("identity",),
    handles=_types(SessionStarted, SessionRefreshed, SessionClientSwitched, SessionRevoked),
    keys=lambda event, _: [getattr(event, "session_id", "")],
    fold=_fold_session,
)


def _fold_grant(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    at = recorded.occurred_at.isoformat()
    base = doc or {"subaccount": False}
    match event:
        case SubAccountCreated():
            return {
                **base,
                "account_id": event.account_id,
                "client_id": event.client_id,
                "subaccount": True,
                "created_by": event.created_by,
                "created_at": at,
            }
        case ClientAccessGranted():
            contract_ids = list(event.contract_ids) if event.contract_ids is not None else None
            return {
                **base,
                "account_id": event.account_id,
                "client_id": event.client_id,
                "client_name": event.client_name,
                "scopes": list(event.scopes),
                "contract_ids": contract_ids,
                "active": True,
                "granted_at": at,
            }
        case ClientAccessChanged():
            contract_ids = list(event.contract_ids) if event.contract_ids is not None else None
            return {**base, "scopes": list(event.scopes), "contract_ids": contract_ids, "changed_at": at}
        case ClientAccessRevoked():
            return {**base, "active": False, "revoked_at": at, "revoked_by": event.revoked_by}
    return base


def _grant_keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    match event:
        case SubAccountCreated() | ClientAccessGranted() | ClientAccessChanged() | ClientAccessRevoked():
            return [f"{event.client_id}:{event.account_id}"]
    return []


grants = Projection(
    name="grants",
    collection=GRANTS,
    sources=("identity",),
    handles=_types(SubAccountCreated, ClientAccessGranted, ClientAccessChanged, ClientAccessRevoked),
    keys=_grant_keys,
    fold=_fold_grant,
)


def _fold_client(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    match event:
        case ContractRegistered():
            known = set((doc or {}).get("contract_ids", []))
            return {
                "client_id": event.client.client_id,
                "name": event.client.name,
                "contract_ids": sorted(known | {event.contract_id}),
            }
    return doc or {}


clients = Projection(
    name="clients",
    collection=CLIENTS,
    sources=("contracts",),
    handles=_types(ContractRegistered),
    keys=lambda event, _: [event.client.client_id] if isinstance(event, ContractRegistered) else [],
    fold=_fold_client,
)

PROJECTIONS = (accounts, sessions, grants, clients)
