"""Who may do what: the scope catalogue, the principal of a request, and the `_access` read model.

A request carries an access token (identity signs it; see libs/events/tokens.py) naming the person,
the session, the active client and the scopes. Every service also folds identity's access events
into its own `_access` read model, so a revoked session, a deactivated account or narrowed scopes
take effect on the next request in every service, without asking identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from libs.events.docstore import Collection, Document, Index
from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.errors import NotFound
from libs.events.projection import Projection
from libs.events.schemas.identity import (
    AccountDeactivated,
    AccountReactivated,
    ClientAccessChanged,
    ClientAccessGranted,
    ClientAccessRevoked,
    PersonErased,
    SessionRevoked,
)

SCOPES: Final[Mapping[str, tuple[str, str]]] = {
    "contracts:read": ("Umowy i harmonogramy", "Contracts and schedules"),
    "invoices:read": ("Faktury i rozliczenia", "Invoices and settlements"),
    "payments:create": ("Płatności online", "Online payments"),
    "documents:read": ("Dokumenty", "Documents"),
    "requests:read": ("Przeglądanie wniosków", "Viewing requests"),
    "requests:create": ("Składanie wniosków", "Filing requests"),
    "profile:read": ("Mój profil", "My profile"),
    "profile:edit": ("Edycja danych kontaktowych", "Editing contact data"),
    "subaccounts:manage": ("Zarządzanie subkontami", "Managing sub-accounts"),
}
"""The permission scopes a client's user may hold: Polish label, English label."""

ALL_SCOPES: Final = tuple(SCOPES)

ACCESS = Collection("_access", (Index.on("account_id", "kind"),))


@dataclass(frozen=True)
class Principal:
    """The person behind a request, acting for one client, with what it may do there."""

    account_id: str
    session_id: str
    client_id: str
    scopes: frozenset[str]
    contract_ids: frozenset[str] | None
    """None: every contract of the client."""

    @property
    def actor(self) -> str:
        return f"account:{self.account_id}"

    def may_see_contract(self, contract_id: str | None) -> bool:
        return self.contract_ids is None or (contract_id is not None and contract_id in self.contract_ids)

    def owned(self, doc: Document | None, what: str = "object") -> Document:
        """The document if it belongs to the active client (and allowed contracts); 404 otherwise,
        the same answer as for an id that does not exist."""
        if doc is None or doc.get("client_id") != self.client_id or not self.may_see_contract(doc.get("contract_id")):
            raise NotFound(f"{what}_not_found", f"no such {what}")
        return doc


def _keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    match event:
        case ClientAccessGranted() | ClientAccessChanged() | ClientAccessRevoked():
            return [f"grant:{event.account_id}:{event.client_id}"]
        case AccountDeactivated() | AccountReactivated() | PersonErased():
            return [f"account:{event.account_id}"]
        case SessionRevoked():
            return [f"session:{event.session_id}"]
    return []


def _fold(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    match event:
        case ClientAccessGranted():
            return {
                "kind": "grant",
                "account_id": event.account_id,
                "client_id": event.client_id,
                "client_name": event.client_name,
                "scopes": list(event.scopes),
                "contract_ids": list(event.contract_ids) if event.contract_ids is not None else None,
                "active": True,
            }
        case ClientAccessChanged():
            base = doc or {"kind": "grant", "account_id": event.account_id, "client_id": event.client_id}
            contract_ids = list(event.contract_ids) if event.contract_ids is not None else None
            return {**base, "scopes": list(event.scopes), "contract_ids": contract_ids, "active": True}
        case ClientAccessRevoked():
            base = doc or {"kind": "grant", "account_id": event.account_id, "client_id": event.client_id}
            return {**base, "scopes": [], "active": False}
        case AccountDeactivated() | AccountReactivated() | PersonErased():
            return {"kind": "account", "account_id": event.account_id, "active": isinstance(event, AccountReactivated)}
        case SessionRevoked():
            return {"kind": "session", "account_id": event.account_id, "revoked": True, "reason": event.reason}
    return doc or {}


access_projection = Projection(
    name="access",
    collection=ACCESS,
    sources=("identity",),
    handles=frozenset(
        cls.event_type
        for cls in (
            ClientAccessGranted,
            ClientAccessChanged,
            ClientAccessRevoked,
            AccountDeactivated,
            AccountReactivated,
            PersonErased,
            SessionRevoked,
        )
    ),
    keys=_keys,
    fold=_fold,
)
